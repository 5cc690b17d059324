"""Compose: inline images in rich text, from file, drop and paste, to the test server."""
# pytest-qt's QtBot methods are not annotated:
# mypy: disable-error-code="no-untyped-call"

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from PySide6.QtCore import QMimeData, Qt
from PySide6.QtGui import QColor, QImage
from pytestqt.qtbot import QtBot
from shiboken6 import isValid
from test_compose import drop_files
from test_compose_identities import deliver, open_window, parse

from mailgui.core.accounts import Account
from mailgui.core.drafts import DraftStore
from mailgui.ui.compose import ComposeWindow
from mailgui.ui.context import AppContext
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
    window.image_action.setEnabled(True)
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
