"""Pictures in the text: chosen, pasted or dropped ones are read and decoded in the
thread pool (``inline_images``) and put where the cursor was; a reopened draft's
pictures show as placeholders until they are decoded. Plain text has none: going
plain turns them into attachments."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QTimer, Slot
from PySide6.QtGui import QImage, QTextCursor
from PySide6.QtWidgets import QFileDialog

from mailgui.core.message import InlineImage
from mailgui.ui.compose.base import ComposeBase
from mailgui.ui.drafts_view import pasted_folder
from mailgui.ui.inline_images import (
    LoadedImage,
    forget_image,
    insert_image,
    is_image_file,
    keep_picture,
    show_image,
    show_placeholder,
)
from mailgui.ui.plurals import english

__all__ = ["ImagesMixin"]


class ImagesMixin(ComposeBase):
    """The window's inline images (``_inline``: content id → image)."""

    @Slot()
    def _choose_images(self) -> None:
        paths, _ = QFileDialog.getOpenFileNames(
            self,
            self.tr("Insert pictures"),
            "",
            self.tr("Pictures (*.png *.jpg *.jpeg *.gif *.bmp *.webp)"),
        )
        if paths:
            self.insert_images(paths)

    def insert_images(self, paths: list[str] | list[Path], at: QTextCursor | None = None) -> None:
        """Read the pictures in the background and put them at ``at`` (the text cursor)
        when they are ready; typing goes on meanwhile."""
        if not self.body_edit.rich:
            self.add_attachments(paths)
            return
        for path in paths:
            request = self.image_loader.load_file(path)
            self._image_targets[request] = QTextCursor(at or self.body_edit.textCursor())
        self._show_image_progress()

    @Slot(QImage)
    def _on_image_pasted(self, picture: QImage) -> None:
        request = self.image_loader.load_image(picture)
        self._image_targets[request] = QTextCursor(self.body_edit.textCursor())
        self._show_image_progress()

    @Slot(list)
    def _on_files_pasted(self, files: list[str]) -> None:
        """Pictures pasted into rich text go into the text; other files are attached."""
        if self.body_edit.rich and files and all(is_image_file(f) for f in files):
            self.insert_images(files)
        else:
            self.add_attachments(files)

    def _show_image_progress(self) -> None:
        if self._token is None and self.image_loader.pending:
            self.status_bar.show_text(self.tr("Adding the picture…"))

    @Slot(int, object)
    def _on_image_loaded(self, request: int, loaded: LoadedImage) -> None:
        cid = self._reopening.pop(request, None)
        if cid is not None:  # a reopened draft's picture: in place of its placeholder
            self._unread.pop(cid, None)
            self._inline[cid] = loaded.image
            show_image(self.body_edit, loaded)
            self._after_image()
            return
        at = self._image_targets.pop(request, None)
        if not self.body_edit.rich:
            if loaded.path is not None:
                self.add_attachments([loaded.path])
            self._after_image()
            return
        self._inline[loaded.image.cid] = loaded
        insert_image(self.body_edit, loaded, at)
        self._dirty = True
        self._after_image()

    @Slot(int, str, str)
    def _on_image_failed(self, request: int, path: str, message: str) -> None:
        cid = self._reopening.pop(request, None)
        if cid is not None:  # unreadable now: left out, as the window says
            self._unread.pop(cid, None)
            self._inline.pop(cid, None)
            forget_image(self.body_edit, cid)
        self._image_targets.pop(request, None)
        if path and Path(path).is_file():
            self.add_attachments([path])  # it can still travel as a file
        self._show_error(message)
        self._after_image()

    def _after_image(self) -> None:
        if self._token is None and not self.image_loader.pending:
            self.status_bar.hide()
        if not self._unread and self.error_bar.label.text() == self._still_loading_text():
            self.error_bar.hide()  # they are all here now: Send works
        self._recheck()

    def _still_loading_text(self) -> str:
        return self.tr("The pictures of this draft are still loading; send again in a moment.")

    def _reopen_image(
        self,
        cid: str,
        filename: str,
        source: InlineImage | Callable[[], InlineImage | None],
        draft_id: str,
    ) -> None:
        """Before the HTML is set: a placeholder now (the text is editable at once),
        the picture when the pool has decoded it (``_on_image_loaded``)."""
        show_placeholder(self.body_edit, cid, filename)
        keep_in = pasted_folder(self._ctx, draft_id)  # if it cannot be shown
        self._reopening[self.image_loader.load_known(source, keep_in)] = cid

    def inline_images(self) -> list[InlineImage]:
        """The inline images still in the text, in order."""
        found = []
        for cid in self.body_edit.used_images():
            entry = self._inline.get(cid)
            if isinstance(entry, LoadedImage):
                found.append(entry.image)
            elif entry is not None:
                found.append(entry)
        return found

    def _images_to_attachments(self) -> None:
        """Going to plain text: pictures cannot stay in the text, so they become
        attachments (a pasted one is saved in the profile first) and the window says so."""
        images = self.inline_images() if self.body_edit.rich else []
        if not images:
            return
        folder = pasted_folder(self._ctx, self._saved.id)
        paths: list[Path] = []
        for image in images:
            entry = self._inline.get(image.cid)
            source = entry.path if isinstance(entry, LoadedImage) else None
            if source is not None and source.is_file():
                paths.append(source)
                continue
            try:
                target = keep_picture(image, folder, ".png")
            except OSError as exc:
                self._show_error(
                    self.tr("A picture could not be kept ({0}); check the disk.").format(
                        exc.strerror or exc
                    )
                )
                continue
            paths.append(target)
        self.add_attachments(paths)
        self.status_bar.show_text(
            english(
                self.tr(
                    "Plain text cannot show pictures: %n picture(s) became attachments.",
                    "",
                    len(paths),
                ),
                len(paths),
            )
        )
        QTimer.singleShot(5000, self, self._hide_saved_note)
