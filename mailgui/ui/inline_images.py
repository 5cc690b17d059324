"""Inline images for rich text: read and decoded in Qt's thread pool, never on the GUI
thread, so a 20 MB photo dropped into the body does not stop the typing.

A file (the Image… button, a drop, a pasted file) or pasted image data becomes a
``LoadedImage``: the bytes to send, under a fresh content id (sent in a
multipart/related next to the HTML, which names it ``cid:<id>``), and a copy scaled
down for the screen. Files are sent as they are; pasted data is encoded as PNG.

The images of a reopened draft (saved, or an undone message) keep their content ids:
the text shows a placeholder for each at once (``show_placeholder``), and the picture
replaces it when the pool has read and decoded it (``ImageLoader.load_known``).
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import (
    QBuffer,
    QByteArray,
    QCoreApplication,
    QIODevice,
    QObject,
    Qt,
    QUrl,
    Signal,
)
from PySide6.QtGui import QColor, QImage, QTextCursor, QTextDocument, QTextImageFormat

from mailgui.core.errors import describe_os_error
from mailgui.core.files import write_private
from mailgui.core.log import get_logger
from mailgui.core.message import InlineImage
from mailgui.ui import background
from mailgui.ui.rich_text import IMAGE_ALT, BodyEdit

__all__ = [
    "DISPLAY_WIDTH",
    "ImageLoader",
    "LoadedImage",
    "forget_image",
    "insert_image",
    "is_image_file",
    "show_image",
    "show_placeholder",
]

log = get_logger(__name__)

DISPLAY_WIDTH = 480  # widest an image is shown in the editor (and in the sent HTML)
MAX_IMAGE_BYTES = 50 * 1024 * 1024  # beyond this it is a file to attach, not a picture

# Magic numbers of the formats every mail reader shows.
_SIGNATURES = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
    (b"BM", "image/bmp"),
)
_EXTENSIONS = {".png", ".jpg", ".jpeg", ".gif", ".bmp", ".webp"}


def is_image_file(path: str | Path) -> bool:
    """By its name only (no reading here): worth trying as an inline image."""
    return Path(path).suffix.lower() in _EXTENSIONS


def sniff(data: bytes) -> str | None:
    """The content type from the first bytes, or None for formats we do not inline."""
    for magic, ctype in _SIGNATURES:
        if data.startswith(magic):
            return ctype
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


def new_cid() -> str:
    return f"{uuid.uuid4().hex}@mailgui"


@dataclass(frozen=True)
class LoadedImage:
    """An image ready for the editor: what is sent, and what is shown."""

    image: InlineImage
    display: QImage  # at most DISPLAY_WIDTH (×2 for sharp high-DPI screens) wide
    width: int  # the width it is shown at, in pixels
    path: Path | None = None  # the file it came from (None when pasted)


def _for_screen(picture: QImage) -> tuple[QImage, int]:
    width = min(picture.width(), DISPLAY_WIDTH)
    if picture.width() > 2 * DISPLAY_WIDTH:
        picture = picture.scaledToWidth(
            2 * DISPLAY_WIDTH, Qt.TransformationMode.SmoothTransformation
        )
    return picture, width


def _load_file(path: Path) -> LoadedImage | str:
    """Runs in the pool: the file read, checked and decoded, or a sentence saying why not."""
    try:
        size = path.stat().st_size
        if size > MAX_IMAGE_BYTES:
            return QCoreApplication.translate(
                "ImageLoader", "'{0}' is too big to show in the text; it was attached instead."
            ).format(path.name)
        data = path.read_bytes()
    except OSError as exc:
        return QCoreApplication.translate(
            "ImageLoader", "'{0}' cannot be read ({1}); check the file."
        ).format(path.name, describe_os_error(exc))
    ctype = sniff(data)
    picture = QImage.fromData(data)
    if ctype is None or picture.isNull():
        return QCoreApplication.translate(
            "ImageLoader", "'{0}' is not a picture mailgui can show; it was attached instead."
        ).format(path.name)
    display, width = _for_screen(picture)
    name = path.name
    return LoadedImage(InlineImage(new_cid(), data, ctype, name), display, width, path)


def _load_data(picture: QImage, number: int) -> LoadedImage | str:
    """Runs in the pool: pasted image data encoded as PNG."""
    array = QByteArray()
    buffer = QBuffer(array)
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    if not picture.save(buffer, "PNG"):  # type: ignore[call-overload]  # str at run time
        return QCoreApplication.translate("ImageLoader", "The pasted picture could not be used.")
    buffer.close()
    data = bytes(array.data())
    display, width = _for_screen(picture)
    name = f"pasted-image-{number}.png"
    return LoadedImage(InlineImage(new_cid(), data, "image/png", name), display, width)


def keep_picture(image: InlineImage, folder: Path, suffix: str) -> Path:
    """Write a picture of the text into ``folder`` as a file to attach: under its own
    name, else one made from its content id and ``suffix``. OSError when it cannot."""
    target = folder / (Path(image.filename).name or f"{image.cid.split('@')[0]}{suffix}")
    write_private(target, image.data)
    return target


@dataclass(frozen=True)
class _Unshown:
    """A draft's picture Qt cannot decode (HEIC from another client, say): kept as the
    file ``path`` so that it can travel as an attachment instead of being lost."""

    message: str
    path: str


def _decode(
    source: InlineImage | Callable[[], InlineImage | None], keep_in: Path | None = None
) -> LoadedImage | _Unshown | str:
    """Runs in the pool: a draft's own image (read first when ``source`` is a reader)
    decoded for the screen, under its content id. One that cannot be decoded is written
    into ``keep_in`` (when given) to be attached instead."""
    image = source if isinstance(source, InlineImage) else source()
    if image is None:
        return QCoreApplication.translate(
            "ImageLoader", "A picture of this draft is missing; it was left out of the text."
        )
    picture = QImage.fromData(image.data)
    if picture.isNull():
        name = image.filename or image.cid
        if keep_in is not None:
            try:
                target = keep_picture(image, keep_in, ".bin")
            except OSError as exc:
                log.warning("an unshowable picture could not be kept: %s", exc)
            else:
                return _Unshown(
                    QCoreApplication.translate(
                        "ImageLoader",
                        "'{0}' is not a picture mailgui can show; it was attached instead.",
                    ).format(name),
                    str(target),
                )
        return QCoreApplication.translate(
            "ImageLoader", "'{0}' is not a picture mailgui can show; it was left out of the text."
        ).format(name)
    display, width = _for_screen(picture)
    return LoadedImage(image, display, width)


_pasted = itertools.count(1)


class ImageLoader(QObject):
    """Loads images in the background for one compose window.

    Signals:
        loaded(int request, LoadedImage): ready to insert.
        failed(int request, str path, str message): not usable as a picture; ``path``
            is the file ("" for pasted data), which the window may attach instead.
    """

    loaded = Signal(int, object)
    failed = Signal(int, str, str)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._paths: dict[int, str] = {}  # requests in flight → their file ("" if pasted)

    def load_file(self, path: str | Path) -> int:
        file = Path(path)
        request = background.run(lambda: _safe(_load_file, file), self._on_done)
        self._paths[request] = str(path)
        return request

    def load_image(self, picture: QImage) -> int:
        copy = QImage(picture)  # implicitly shared: safe to read in another thread
        number = next(_pasted)
        request = background.run(lambda: _safe(_load_data, copy, number), self._on_done)
        self._paths[request] = ""
        return request

    def load_known(
        self,
        source: InlineImage | Callable[[], InlineImage | None],
        keep_in: Path | None = None,
    ) -> int:
        """Decode a draft's own image for the screen: one in memory (an undone
        message's), or one ``source`` reads in the pool (a saved draft's file). One
        that cannot be shown is written into ``keep_in`` and reported as failed with
        that path, for the window to attach."""
        request = background.run(lambda: _safe(_decode, source, keep_in), self._on_done)
        self._paths[request] = ""
        return request

    @property
    def pending(self) -> int:
        return len(self._paths)

    def _on_done(self, request: int, result: object) -> None:
        """In the GUI thread, and only while this loader exists (``background.run``)."""
        path = self._paths.pop(request)
        if isinstance(result, LoadedImage):
            self.loaded.emit(request, result)
        elif isinstance(result, _Unshown):
            self.failed.emit(request, result.path, result.message)
        else:
            self.failed.emit(request, path, str(result))


def _safe(function: object, *args: object) -> LoadedImage | str:
    try:
        return function(*args)  # type: ignore[operator,no-any-return]
    except Exception as exc:  # never let a pool task die silently
        log.exception("loading an image failed")
        return QCoreApplication.translate(
            "ImageLoader", "The picture could not be used ({0})."
        ).format(exc)


def insert_image(body: BodyEdit, loaded: LoadedImage, cursor: QTextCursor | None = None) -> None:
    """Show ``loaded`` in ``body`` at ``cursor`` (default: the text cursor)."""
    cid = loaded.image.cid
    body.images[cid] = loaded.display
    body.image_names[cid] = loaded.image.filename
    fmt = QTextImageFormat()
    fmt.setName(f"cid:{cid}")
    fmt.setWidth(loaded.width)
    fmt.setProperty(IMAGE_ALT, loaded.image.filename)
    fmt.setToolTip(loaded.image.filename)
    at = QTextCursor(cursor) if cursor is not None else body.textCursor()
    at.insertImage(fmt)
    body.setTextCursor(at)
    body.ensureCursorVisible()


_placeholder: QImage | None = None


def placeholder() -> QImage:
    """What the text shows while a picture is read: a plain grey 4:3 box."""
    global _placeholder
    if _placeholder is None:
        _placeholder = QImage(160, 120, QImage.Format.Format_RGB32)
        _placeholder.fill(QColor("#e4e4e4"))
    return _placeholder


def show_placeholder(body: BodyEdit, cid: str, filename: str) -> None:
    """Before the draft's HTML is set: its ``cid:`` image shows a placeholder, and
    stays in the text (and in the HTML written from it) until the picture comes."""
    body.images[cid] = placeholder()
    body.image_names[cid] = filename


def show_image(body: BodyEdit, loaded: LoadedImage) -> None:
    """Put the picture in place of its placeholder (same content id)."""
    cid = loaded.image.cid
    body.images[cid] = loaded.display
    body.image_names[cid] = loaded.image.filename
    doc = body.document()  # it keeps what loadResource gave: replace that, lay out again
    doc.addResource(QTextDocument.ResourceType.ImageResource, QUrl(f"cid:{cid}"), loaded.display)
    doc.markContentsDirty(0, doc.characterCount())


def forget_image(body: BodyEdit, cid: str) -> None:
    """A picture that could not be read: it leaves the HTML (and the message)."""
    body.images.pop(cid, None)
    body.image_names.pop(cid, None)
    doc = body.document()  # Qt shows its broken-picture icon, as for any unknown cid:
    doc.addResource(QTextDocument.ResourceType.ImageResource, QUrl(f"cid:{cid}"), QImage())
    doc.markContentsDirty(0, doc.characterCount())
