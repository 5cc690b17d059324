"""Compose: inline images in rich text, from file, drop and paste, to the test server."""
# pytest-qt's QtBot methods are not annotated:
# mypy: disable-error-code="no-untyped-call"

from __future__ import annotations

import os
import re
import threading
from pathlib import Path
from typing import Any

from PySide6.QtCore import QBuffer, QIODevice, QMimeData, Qt
from PySide6.QtGui import QColor, QImage, QTextCursor
from pytestqt.qtbot import QtBot
from shiboken6 import isValid
from test_compose import drop_files
from test_compose_identities import deliver, open_window, parse

from mailgui.core.accounts import Account
from mailgui.core.addresses import Mailbox
from mailgui.core.drafts import DraftStore, SavedDraft
from mailgui.core.message import Draft, InlineImage
from mailgui.ui import inline_images
from mailgui.ui.compose import ComposeWindow
from mailgui.ui.context import AppContext
from mailgui.ui.inline_images import LoadedImage, placeholder
from mailgui.ui.outbox_service import OutboxHandle


def png(path: Path, width: int = 40, height: int = 30, color: str = "#3366cc") -> bytes:
    image = QImage(width, height, QImage.Format.Format_RGB32)
    image.fill(QColor(color))
    assert image.save(str(path), "PNG")  # type: ignore[call-overload]
    return path.read_bytes()


def rich_window(
    qtbot: QtBot, ctx: AppContext, handle: OutboxHandle, windows: list[ComposeWindow], port: int
) -> ComposeWindow:
    ctx.accounts.save(
        Account("Work", "ada@example.org", display_name="Ada", host="127.0.0.1", port=port,
                security="none", timeout=3.0)
    )  # fmt: skip
    window = open_window(qtbot, ctx, handle, windows)
    window.set_rich_text(True)
    window.to_edit.setText("bob@example.net")
    window.subject_edit.setText("Look")
    return window


def wait_images(qtbot: QtBot, window: ComposeWindow, n: int) -> None:
    qtbot.waitUntil(lambda: len(window.inline_images()) == n, timeout=5000)


def test_an_inline_image_arrives_as_multipart_related_with_its_bytes(
    qtbot: QtBot,
    ctx: AppContext,
    handle: OutboxHandle,
    windows: list[ComposeWindow],
    smtp_server: Any,
    tmp_path: Path,
) -> None:
    server = smtp_server("none")
    window = rich_window(qtbot, ctx, handle, windows, server.port)
    data = png(tmp_path / "chart.png", 900, 300)
    window.body_edit.setFocus()
    qtbot.keyClicks(window.body_edit, "See: ")
    window.format_bar.image_action.setEnabled(True)
    window.insert_images([tmp_path / "chart.png"])
    assert window.status_bar.label.text() == "Adding the picture…"
    wait_images(qtbot, window, 1)
    assert not window.status_bar.isVisible()
    qtbot.keyClicks(window.body_edit, " done")  # typing goes on after the picture
    html = window.body_edit.html()
    assert re.search(r'See: <img src="cid:[^"]+" alt="chart.png" width="480"> done', html)

    with qtbot.waitSignal(window.sent, timeout=5000):
        assert window.send(force=True)
    deliver(ctx)
    (received,) = server.wait_for(1)
    msg = parse(received.data)
    assert msg.get_content_type() == "multipart/alternative"
    plain, related = msg.iter_parts()
    assert plain.get_content_type() == "text/plain"
    assert "cid:" not in plain.get_content()  # the picture's name, not a useless link
    assert "chart.png" in plain.get_content()
    assert related.get_content_type() == "multipart/related"
    html_part, image_part = related.iter_parts()
    assert html_part.get_content_type() == "text/html"
    (cid,) = re.findall(r'src="cid:([^"]+)"', html_part.get_content())
    assert image_part["Content-ID"] == f"<{cid}>"
    assert image_part.get_content_type() == "image/png"
    assert image_part.get_content_disposition() == "inline"
    assert image_part.get_content() == data  # the very bytes of the file


def test_dropped_and_pasted_pictures_go_into_the_text(
    qtbot: QtBot,
    ctx: AppContext,
    handle: OutboxHandle,
    windows: list[ComposeWindow],
    tmp_path: Path,
) -> None:
    window = rich_window(qtbot, ctx, handle, windows, 2525)
    png(tmp_path / "photo.png")
    assert drop_files(window.body_edit.viewport(), [tmp_path / "photo.png"])
    wait_images(qtbot, window, 1)
    assert window.attachments == []  # in the text, not attached

    pasted = QImage(20, 20, QImage.Format.Format_ARGB32)
    pasted.fill(QColor("red"))
    mime = QMimeData()
    mime.setImageData(pasted)
    assert window.body_edit.canInsertFromMimeData(mime)
    window.body_edit.insertFromMimeData(mime)
    wait_images(qtbot, window, 2)
    second = window.inline_images()[1]
    assert second.content_type == "image/png"
    assert QImage.fromData(second.data).pixelColor(5, 5) == QColor("red")

    # A file that is not a picture still becomes an attachment.
    notes = tmp_path / "notes.txt"
    notes.write_text("x")
    assert drop_files(window.body_edit.viewport(), [notes])
    assert window.attachments == [notes]


def test_not_a_picture_is_attached_instead_with_a_word(
    qtbot: QtBot,
    ctx: AppContext,
    handle: OutboxHandle,
    windows: list[ComposeWindow],
    tmp_path: Path,
) -> None:
    window = rich_window(qtbot, ctx, handle, windows, 2525)
    fake = tmp_path / "fake.png"
    fake.write_bytes(b"not a picture at all")
    window.insert_images([fake])
    qtbot.waitUntil(lambda: window.attachments == [fake], timeout=5000)
    assert "not a picture" in window.error_bar.label.text()
    assert window.inline_images() == []


def test_plain_text_turns_pictures_into_attachments(
    qtbot: QtBot,
    ctx: AppContext,
    handle: OutboxHandle,
    windows: list[ComposeWindow],
    tmp_path: Path,
) -> None:
    window = rich_window(qtbot, ctx, handle, windows, 2525)
    png(tmp_path / "photo.png")
    window.insert_images([tmp_path / "photo.png"])
    wait_images(qtbot, window, 1)
    mime = QMimeData()
    picture = QImage(8, 8, QImage.Format.Format_RGB32)
    picture.fill(QColor("green"))
    mime.setImageData(picture)
    window.body_edit.insertFromMimeData(mime)
    wait_images(qtbot, window, 2)

    window.set_rich_text(False)
    names = [p.name for p in window.attachments]
    assert names[0] == "photo.png"
    assert re.fullmatch(r"pasted-image-\d+\.png", names[1])
    assert window.attachments[1].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "\ufffc" not in window.body_edit.toPlainText()
    assert "became attachments" in window.status_bar.label.text()


def test_size_estimate_counts_inline_pictures(
    qtbot: QtBot,
    ctx: AppContext,
    handle: OutboxHandle,
    windows: list[ComposeWindow],
    tmp_path: Path,
) -> None:
    window = rich_window(qtbot, ctx, handle, windows, 2525)
    big = tmp_path / "big.bmp"
    image = QImage(400, 400, QImage.Format.Format_RGB32)
    image.fill(QColor("white"))
    assert image.save(str(big), "BMP")  # type: ignore[call-overload]
    size = big.stat().st_size
    window.insert_images([big])
    wait_images(qtbot, window, 1)
    window.size_limit = size + 1000  # fits raw, not once base64-encoded
    assert not window.send()
    assert [f.key for f in window.findings] == ["size"]


def test_a_rich_draft_keeps_its_pictures(
    qtbot: QtBot,
    ctx: AppContext,
    handle: OutboxHandle,
    windows: list[ComposeWindow],
    tmp_path: Path,
) -> None:
    window = rich_window(qtbot, ctx, handle, windows, 2525)
    data = png(tmp_path / "photo.png")
    window.insert_images([tmp_path / "photo.png"])
    wait_images(qtbot, window, 1)
    assert window.save_draft()
    store = DraftStore(ctx.profile.data_dir / "drafts")
    (saved,) = store.all()
    assert [i.data for i in store.load_images(saved)] == [data]

    again = open_window(qtbot, ctx, handle, windows)
    again.open_saved_draft(saved)
    wait_images(qtbot, again, 1)
    (image,) = again.inline_images()
    assert image.data == data
    assert again.body_edit.images[image.cid].width() == 40  # shown, not a broken icon
    store.delete(saved.id)
    assert not (ctx.profile.data_dir / "drafts" / f"{saved.id}.images").exists()


def test_clean_html_still_drops_pasted_web_images(
    qtbot: QtBot, ctx: AppContext, handle: OutboxHandle, windows: list[ComposeWindow]
) -> None:
    window = rich_window(qtbot, ctx, handle, windows, 2525)
    mime = QMimeData()
    mime.setHtml('<p>hi <img src="https://tracker.example/x.gif"><img src="cid:forged@x"></p>')
    window.body_edit.insertFromMimeData(mime)
    assert "<img" not in window.body_edit.html()
    assert window.inline_images() == []
    assert window.body_edit.toPlainText().startswith("hi")
    qtbot.keyClick(window.body_edit, Qt.Key.Key_End)


def test_closing_while_a_picture_loads_is_harmless(
    qtbot: QtBot,
    ctx: AppContext,
    handle: OutboxHandle,
    windows: list[ComposeWindow],
    tmp_path: Path,
) -> None:
    window = rich_window(qtbot, ctx, handle, windows, 2525)
    png(tmp_path / "wide.png", 3000, 2000)
    window.insert_images([tmp_path / "wide.png"])
    window._done = True
    window.close()
    qtbot.waitUntil(lambda: not isValid(window), timeout=5000)
    other = rich_window(qtbot, ctx, handle, windows, 2525)
    other.insert_images([tmp_path / "wide.png"])
    wait_images(qtbot, other, 1)  # the closed window's answer went nowhere
    assert other.body_edit.images[other.inline_images()[0].cid].width() == 960  # 2× 480


# --- a reopened draft's pictures are read and decoded off the GUI thread -------------


def big_photo(n: int) -> InlineImage:
    """A large photo (random pixels: a few MB of JPEG that take a while to decode)."""
    width, height = 2400, 1600
    picture = QImage(os.urandom(width * height * 4), width, height, QImage.Format.Format_RGB32)
    buffer = QBuffer()
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    assert picture.save(buffer, "JPEG", 90)  # type: ignore[call-overload]
    data = bytes(buffer.data().data())
    assert len(data) > 2_000_000
    return InlineImage(f"photo{n}.{os.urandom(4).hex()}@mailgui", data, "image/jpeg", f"{n}.jpg")


def photos_html(photos: list[InlineImage]) -> str:
    imgs = "".join(f'<p><img src="cid:{p.cid}" alt="{p.filename}" width="480"></p>' for p in photos)
    return f"<html><body><p>Our holiday</p>{imgs}</body></html>"


class DecodeThreads:
    """Which thread decoded each picture: ``inline_images._decode``, wrapped while this
    records (the pool job calls it by its module name)."""

    def __init__(self) -> None:
        self.threads: dict[str, int] = {}
        self._real = real = inline_images._decode

        def decode(*args: Any) -> object:
            result = real(*args)
            if isinstance(result, LoadedImage):
                self.threads[result.image.cid] = threading.get_ident()
            return result

        inline_images._decode = decode  # type: ignore[assignment]

    def close(self) -> None:
        inline_images._decode = self._real  # type: ignore[assignment]


def test_a_reopened_draft_shows_at_once_and_its_pictures_are_decoded_in_the_pool(
    qtbot: QtBot,
    ctx: AppContext,
    handle: OutboxHandle,
    windows: list[ComposeWindow],
    smtp_server: Any,
) -> None:
    server = smtp_server("none")
    rich_window(qtbot, ctx, handle, windows, server.port)  # the account
    photos = [big_photo(n) for n in (1, 2, 3)]
    store = DraftStore(ctx.profile.data_dir / "drafts")
    saved = SavedDraft(
        account="Work", to="bob@example.net", subject="Photos", text="Our holiday",
        html=photos_html(photos), open=False,
    )  # fmt: skip
    store.save_images(saved, photos)
    store.save(saved)
    decoded = DecodeThreads()
    try:
        window = ComposeWindow(ctx, handle, undo_seconds=0)
        windows.append(window)
        window.open_saved_draft(store.load(saved.id))  # as File → Drafts opens one
        window.show()
        # Shown with the text and a placeholder per picture; no event was processed
        # yet, so nothing decoded can have reached the window.
        assert window.isVisible() and window.body_edit.toPlainText().startswith("Our holiday")
        assert [window.body_edit.images[p.cid] for p in photos] == [placeholder()] * 3
        assert len(store.load_images(store.load(saved.id))) == 3  # the draft keeps them
        assert not window.send(force=True)  # not before the pictures are back
        assert window.error_bar.label.text() == (
            "The pictures of this draft are still loading; send again in a moment."
        )
        cursor = window.body_edit.textCursor()
        cursor.movePosition(QTextCursor.MoveOperation.Start)
        window.body_edit.setTextCursor(cursor)
        qtbot.keyClicks(window.body_edit, "Look! ")  # editable at once

        qtbot.waitUntil(lambda: len(window.inline_images()) == 3, timeout=10_000)
        assert window.error_bar.isHidden()  # the "still loading" sentence went with them
    finally:
        decoded.close()
    assert [i.data for i in window.inline_images()] == [p.data for p in photos]
    for photo in photos:
        assert window.body_edit.images[photo.cid].width() == 960  # 2× 480, decoded
    assert set(decoded.threads) == {p.cid for p in photos}
    assert threading.get_ident() not in decoded.threads.values()  # never the GUI thread
    assert window.body_edit.toPlainText().startswith("Look! Our holiday")

    with qtbot.waitSignal(window.sent, timeout=5000):
        assert window.send(force=True)
    deliver(ctx)
    (received,) = server.wait_for(1)
    related = parse(received.data).get_body(preferencelist=("related",))
    assert related is not None
    _html, *images = related.iter_parts()
    assert [part.get_content() for part in images] == [p.data for p in photos]


def test_an_undone_message_shows_at_once_and_its_pictures_come_from_the_pool(
    qtbot: QtBot, ctx: AppContext, handle: OutboxHandle, windows: list[ComposeWindow]
) -> None:
    rich_window(qtbot, ctx, handle, windows, 2525)
    photos = [big_photo(n) for n in (1, 2)]
    draft = Draft(
        sender=Mailbox("Ada", "ada@example.org"),
        to=[Mailbox("", "bob@example.net")],
        subject="Photos",
        html=photos_html(photos),
        inline_images=photos,
    )
    decoded = DecodeThreads()
    try:
        window = open_window(qtbot, ctx, handle, windows)
        window.prefill("Work", draft)  # as Undo brings a message back
        assert [window.body_edit.images[p.cid] for p in photos] == [placeholder()] * 2
        assert window.inline_images() == photos  # the bytes are here: Send would carry them
        qtbot.waitUntil(
            lambda: all(window.body_edit.images[p.cid].width() == 960 for p in photos),
            timeout=10_000,
        )
    finally:
        decoded.close()
    assert set(decoded.threads) == {p.cid for p in photos}
    assert threading.get_ident() not in decoded.threads.values()


def test_a_reopened_picture_that_cannot_be_shown_travels_as_an_attachment(
    qtbot: QtBot, ctx: AppContext, handle: OutboxHandle, windows: list[ComposeWindow]
) -> None:
    """A draft's picture Qt cannot decode (HEIC from another mail client, say) is not
    lost: it leaves the text, the window says so, and its bytes become an attachment,
    which the next autosave keeps."""
    rich_window(qtbot, ctx, handle, windows, 2525)
    heic = InlineImage("photo.1@mailgui", b"\x00\x00\x00\x18ftypheic not for Qt", "image/heic",
                       "IMG_0001.HEIC")  # fmt: skip
    store = DraftStore(ctx.profile.data_dir / "drafts")
    saved = SavedDraft(
        account="Work", to="bob@example.net", subject="Phone photo", text="See",
        html=f'<html><body><p>See</p><p><img src="cid:{heic.cid}"></p></body></html>',
        open=False,
    )  # fmt: skip
    store.save_images(saved, [heic])
    store.save(saved)
    window = ComposeWindow(ctx, handle, undo_seconds=0)
    windows.append(window)
    window.open_saved_draft(store.load(saved.id))
    qtbot.waitUntil(lambda: len(window.attachments) == 1, timeout=10_000)
    (kept,) = window.attachments
    assert Path(kept).name == "IMG_0001.HEIC" and Path(kept).read_bytes() == heic.data
    assert "IMG_0001.HEIC" in window.error_bar.label.text()
    assert "attached instead" in window.error_bar.label.text()
    assert window.inline_images() == []
    assert window.save_draft()
    assert store.load(saved.id).attachments == [str(kept)]
