"""The compose window, driven like a person would: keys, drops, Ctrl+Return."""
# pytest-qt's QtBot methods are not annotated:
# mypy: disable-error-code="no-untyped-call"

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QMimeData, QObject, QPointF, Qt, QUrl, Signal
from PySide6.QtGui import QDragEnterEvent, QDragLeaveEvent, QDropEvent
from PySide6.QtWidgets import QApplication, QWidget
from pytestqt.qtbot import QtBot
from shiboken6 import isValid

from mailgui.core.accounts import Account
from mailgui.core.addresses import Mailbox
from mailgui.core.message import Draft
from mailgui.core.paths import Profile
from mailgui.ui.compose import ComposeWindow
from mailgui.ui.context import AppContext
from mailgui.ui.outbox_service import OutboxHandle


class ManualOutboxHandle(QObject):
    """Records calls and answers only when the test says so."""

    queued = Signal(str, int)
    failed = Signal(str, str)

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[tuple[str, str, Draft, float | None]] = []

    def queue_draft(self, token: str, account: str, draft: Draft, send_at: float | None) -> None:
        self.calls.append((token, account, draft, send_at))


@dataclass
class Call:
    token: str
    account: str
    draft: Draft
    send_at: float | None


# --- fixtures ---------------------------------------------------------------------------


@pytest.fixture
def ctx(tmp_path: Path) -> AppContext:
    root = tmp_path / "home"
    profile = Profile(root / "config", root / "data", root / "state")
    profile.ensure()
    context = AppContext(profile)
    store = context.accounts
    store.save(
        Account(
            name="Work", email="me@example.org", display_name="Mia Example", host="smtp.example.org"
        )
    )
    store.save(Account(name="Home", email="mia@home.example", host="mail.home.example"))
    return context


@pytest.fixture
def handle(ctx: AppContext) -> Iterator[Any]:
    """The real OutboxHandle (its own thread, a real outbox), with calls recorded."""
    real: Any = OutboxHandle(ctx)
    real.start()
    calls: list[Call] = []
    original = real.queue_draft

    def recording(token: str, account: str, draft: Draft, send_at: float | None) -> None:
        calls.append(Call(token, account, draft, send_at))
        original(token, account, draft, send_at)

    real.queue_draft = recording
    real.calls = calls
    yield real
    assert real.shutdown()


@pytest.fixture
def manual() -> ManualOutboxHandle:
    return ManualOutboxHandle()


@pytest.fixture
def make_window(qtbot: QtBot, ctx: AppContext) -> Iterator[Any]:
    windows: list[ComposeWindow] = []

    def make(outbox: Any) -> ComposeWindow:
        window = ComposeWindow(ctx, outbox)
        windows.append(window)
        window.show()
        window.activateWindow()
        qtbot.waitExposed(window)
        qtbot.waitUntil(lambda: QApplication.activeWindow() is window, timeout=2000)
        return window

    yield make
    for window in windows:
        if isValid(window):
            window._done = True  # close without asking
            window.close()


def drop_files(target: QWidget, paths: list[Path]) -> bool:
    """Drag file URLs over ``target`` and drop them, as a file manager would.

    The events go to the window's QWindow, so Qt finds the widget under the point and
    delivers DragEnter and Drop to it like a real drag. Returns whether it was accepted.
    """
    window = target.window()
    handle = window.windowHandle()
    assert handle is not None
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    centre = target.rect().center()
    pos = QPointF(target.mapTo(window, centre))
    assert window.childAt(pos.toPoint()) is target or target is window
    args = (
        Qt.DropAction.CopyAction,
        mime,
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
    )
    enter = QDragEnterEvent(pos.toPoint(), *args)  # PySide6 < 6.12 takes a QPoint here
    QApplication.sendEvent(handle, enter)
    if not enter.isAccepted():
        QApplication.sendEvent(handle, QDragLeaveEvent())
        return False
    drop = QDropEvent(pos, *args)
    QApplication.sendEvent(handle, drop)
    return drop.isAccepted()


def fill(qtbot: QtBot, window: ComposeWindow, **fields: str) -> None:
    for name, text in fields.items():
        widget = getattr(window, f"{name}_edit")
        widget.setFocus()
        for number, line in enumerate(text.split("\n")):
            if number:
                qtbot.keyClick(widget, Qt.Key.Key_Return)  # keyClicks cannot type "\n"
            qtbot.keyClicks(widget, line)


def leave(qtbot: QtBot, widget: QWidget) -> None:
    """Tab out of a field, so its editingFinished fires as for a person."""
    widget.setFocus()
    qtbot.keyClick(widget, Qt.Key.Key_Tab)


def send_keys(qtbot: QtBot, window: ComposeWindow) -> None:
    qtbot.keyClick(window.body_edit, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)


# --- tests ------------------------------------------------------------------------------


def test_from_lists_accounts_with_the_default_selected(make_window: Any, manual: Any) -> None:
    window = make_window(manual)
    items = [window.from_combo.itemText(i) for i in range(window.from_combo.count())]
    assert items == ["Mia Example <me@example.org> — Work", "mia@home.example — Home"]
    assert window.from_combo.currentData() == "Work"
    assert window.windowTitle() == "New message"


def test_send_queues_the_draft_with_attachment_and_hides_bcc(
    qtbot: QtBot, make_window: Any, handle: Any, ctx: AppContext, tmp_path: Path
) -> None:
    report = tmp_path / "report.pdf"
    report.write_bytes(b"%PDF-1.4 quarterly numbers\n" * 40)
    window = make_window(handle)

    fill(qtbot, window, to="Bob Builder <bob@example.org>", cc="carol@example.org")
    qtbot.keyClick(window.cc_edit, Qt.Key.Key_B, Qt.KeyboardModifier.NoModifier)  # a typo...
    qtbot.keyClick(window.cc_edit, Qt.Key.Key_Backspace)  # ...fixed
    window.bcc_action.trigger()
    assert window.bcc_edit.isVisible()
    fill(qtbot, window, bcc="secret@example.net", subject="Quarterly report")
    fill(qtbot, window, body="Hello Bob,\nthe numbers are attached.")
    assert drop_files(window.body_edit.viewport(), [report])  # dropped over the text
    assert window.attachments == [report]
    assert window.attachment_list.count() == 1
    assert window.attachment_list.item(0).text().startswith("report.pdf  (1.")
    assert window.windowTitle() == "Quarterly report"

    with qtbot.waitSignal(window.sent, timeout=10000) as sent:
        send_keys(qtbot, window)
        assert window.status_bar.label.text() == "Queuing…"
        assert not window.editor.isEnabled()

    assert len(handle.calls) == 1
    call = handle.calls[0]
    assert call.account == "Work"
    assert call.send_at is None
    draft = call.draft
    assert draft.sender == Mailbox("Mia Example", "me@example.org")
    assert draft.to == [Mailbox("Bob Builder", "bob@example.org")]
    assert draft.cc == [Mailbox("", "carol@example.org")]
    assert draft.bcc == [Mailbox("", "secret@example.net")]
    assert draft.subject == "Quarterly report"
    assert draft.text == "Hello Bob,\nthe numbers are attached."
    assert draft.attachments == [report]

    msg_id = sent.args[0]
    with ctx.open_outbox() as outbox:
        row = outbox.get(msg_id)
        body = outbox.body(msg_id)
    assert row.subject == "Quarterly report"
    assert row.account == "Work"
    assert b"Subject: Quarterly report" in body
    assert b'filename="report.pdf"' in body or b"filename=report.pdf" in body
    assert b"secret@example.net" not in body
    assert b"bob@example.org" in body
    qtbot.waitUntil(lambda: not isValid(window) or not window.isVisible())


def test_bad_address_blocks_send_until_fixed(
    qtbot: QtBot, make_window: Any, manual: ManualOutboxHandle
) -> None:
    window = make_window(manual)
    fill(qtbot, window, to="bob@", subject="Hi", body="text")
    leave(qtbot, window.to_edit)
    error = window.fields["to"].error
    assert error.isVisible()
    assert error.text() == (
        "The To address 'bob@' has no domain after '@'; write it as name@example.org."
    )
    assert "border: 1px solid" in window.to_edit.styleSheet()
    assert not window.send_action.isEnabled()

    send_keys(qtbot, window)
    assert window.send() is False
    assert manual.calls == []

    window.to_edit.setFocus()
    qtbot.keyClicks(window.to_edit, "example.org")
    assert not error.isVisible()  # cleared while typing, no need to leave the field
    assert window.to_edit.styleSheet() == ""
    assert window.send_action.isEnabled()
    send_keys(qtbot, window)
    assert len(manual.calls) == 1
    assert manual.calls[0][2].to == [Mailbox("", "bob@example.org")]


def test_a_bad_address_found_only_at_send_is_shown_and_focused(
    qtbot: QtBot, make_window: Any, manual: ManualOutboxHandle
) -> None:
    window = make_window(manual)
    fill(qtbot, window, to="ann@example.org", subject="Hi")
    window.body_edit.setFocus()
    window.cc_edit.setText("not an address")  # pasted, never left: no check yet
    assert not window.fields["cc"].error.isVisible()
    assert window.send() is False
    assert window.fields["cc"].error.isVisible()
    assert "The Cc address 'not an address'" in window.fields["cc"].error.text()
    assert window.focusWidget() is window.cc_edit
    assert manual.calls == []


def test_no_recipients_is_said_under_to(make_window: Any, manual: ManualOutboxHandle) -> None:
    window = make_window(manual)
    window.subject_edit.setText("Hi")
    assert window.send() is False
    assert window.fields["to"].error.text() == "Add at least one recipient in To, Cc or Bcc."
    assert manual.calls == []


def test_empty_subject_warns_inline_and_send_anyway_sends(
    qtbot: QtBot, make_window: Any, manual: ManualOutboxHandle
) -> None:
    window = make_window(manual)
    fill(qtbot, window, to="ann@example.org", body="no subject here")
    send_keys(qtbot, window)
    assert window.subject_bar.isVisible()
    assert manual.calls == []
    assert QApplication.activeModalWidget() is None  # inline, not a pop-up

    assert window.focusWidget() is window.send_anyway_button
    qtbot.keyClick(window.send_anyway_button, Qt.Key.Key_Return)  # the keyboard way
    assert len(manual.calls) == 1
    assert manual.calls[0][2].subject == ""
    assert not window.subject_bar.isVisible()


def test_send_anyway_by_mouse_and_escape_dismisses_the_warning(
    qtbot: QtBot, make_window: Any, manual: ManualOutboxHandle
) -> None:
    window = make_window(manual)
    fill(qtbot, window, to="ann@example.org")
    send_keys(qtbot, window)
    assert window.subject_bar.isVisible()
    qtbot.keyClick(window.send_anyway_button, Qt.Key.Key_Escape)
    assert not window.subject_bar.isVisible()  # Esc dismissed the question...
    assert window.isVisible()  # ...and did not close the window
    assert window.focusWidget() is window.subject_edit
    send_keys(qtbot, window)
    qtbot.mouseClick(window.send_anyway_button, Qt.MouseButton.LeftButton)
    assert len(manual.calls) == 1


def test_typing_a_subject_dismisses_the_warning(
    qtbot: QtBot, make_window: Any, manual: ManualOutboxHandle
) -> None:
    window = make_window(manual)
    fill(qtbot, window, to="ann@example.org")
    assert window.send() is False
    assert window.subject_bar.isVisible()
    fill(qtbot, window, subject="Now with a subject")
    assert not window.subject_bar.isVisible()
    assert window.windowTitle() == "Now with a subject"


def test_failure_reenables_and_shows_the_message_inline(
    qtbot: QtBot, make_window: Any, manual: ManualOutboxHandle
) -> None:
    window = make_window(manual)
    fill(qtbot, window, to="ann@example.org", subject="Hi")
    send_keys(qtbot, window)
    token = manual.calls[0][0]
    assert not window.editor.isEnabled()
    window.close()  # refused while the outbox is storing it
    assert window.isVisible()

    manual.failed.emit("someone-else", "Not for this window.")
    assert not window.editor.isEnabled()
    manual.failed.emit(token, "The attachment 'x.pdf' cannot be read; attach it again.")
    assert window.editor.isEnabled()
    assert window.send_action.isEnabled()
    assert window.error_bar.isVisible()
    assert window.error_bar.label.text() == (
        "The attachment 'x.pdf' cannot be read; attach it again."
    )
    assert not window.status_bar.isVisible()

    send_keys(qtbot, window)
    assert len(manual.calls) == 2
    assert not window.error_bar.isVisible()
    with qtbot.waitSignal(window.sent) as sent:
        manual.queued.emit(manual.calls[1][0], 42)
    assert sent.args == [42]


def test_attachments_are_listed_removable_and_folders_refused(
    qtbot: QtBot, make_window: Any, manual: ManualOutboxHandle, tmp_path: Path
) -> None:
    a = tmp_path / "a.txt"
    a.write_text("a" * 2048)
    b = tmp_path / "photo.jpg"
    b.write_bytes(b"\xff" * 10)
    window = make_window(manual)
    assert not window.attachment_list.isVisible()

    assert drop_files(window.subject_edit, [a, b, a])  # the same file twice: attached once
    assert window.attachments == [a, b]
    assert window.attachment_list.isVisible()
    assert [window.attachment_list.item(i).text() for i in range(2)] == [
        "a.txt  (2.0 kB)",
        "photo.jpg  (10 bytes)",
    ]

    assert drop_files(window.to_edit, [tmp_path])
    assert window.attachments == [a, b]
    assert window.error_bar.isVisible()
    assert "is a folder; only files can be attached" in window.error_bar.label.text()
    assert window.to_edit.text() == ""  # the drop did not land as text

    window.attachment_list.setFocus()
    window.attachment_list.setCurrentRow(0)
    qtbot.keyClick(window.attachment_list, Qt.Key.Key_Delete)
    assert window.attachments == [b]
    window.attachment_list.setCurrentRow(0)
    window.remove_attachment_action.trigger()  # the context menu's "Remove"
    assert window.attachments == []
    assert not window.attachment_list.isVisible()


def test_bcc_toggle_hides_only_an_empty_field(
    qtbot: QtBot, make_window: Any, manual: ManualOutboxHandle
) -> None:
    window = make_window(manual)
    assert not window.bcc_edit.isVisible()
    window.bcc_action.trigger()
    assert window.bcc_edit.isVisible()
    qtbot.keyClicks(window.bcc_edit, "x@example.org")
    assert not window.bcc_action.isEnabled()  # hiding would hide who gets the message
    window.bcc_edit.clear()
    assert window.bcc_action.isEnabled()
    window.bcc_action.trigger()
    assert not window.bcc_edit.isVisible()


def test_tab_order(make_window: Any, manual: ManualOutboxHandle) -> None:
    window = make_window(manual)
    window.bcc_action.trigger()
    order = []
    widget: QWidget | None = window.from_combo
    for _ in range(6):
        assert widget is not None
        order.append(widget)
        widget = widget.nextInFocusChain()
        while widget is not None and not (
            widget.focusPolicy() & Qt.FocusPolicy.TabFocus and widget.isVisible()
        ):
            widget = widget.nextInFocusChain()
    assert order == [
        window.from_combo,
        window.to_edit,
        window.cc_edit,
        window.bcc_edit,
        window.subject_edit,
        window.body_edit,
    ]


def test_escape_closes_an_empty_window_at_once(
    qtbot: QtBot, make_window: Any, manual: ManualOutboxHandle
) -> None:
    window = make_window(manual)
    asked: list[bool] = []

    def confirm() -> bool:
        asked.append(True)
        return True

    window._confirm_discard = confirm
    qtbot.keyClick(window.to_edit, Qt.Key.Key_Escape)
    assert asked == []
    assert not isValid(window) or not window.isVisible()


def test_escape_asks_before_discarding_what_was_typed(
    qtbot: QtBot, make_window: Any, manual: ManualOutboxHandle
) -> None:
    window = make_window(manual)
    fill(qtbot, window, body="a thought")
    answers = [False, True]
    window._confirm_discard = lambda: answers.pop(0)
    qtbot.keyClick(window.body_edit, Qt.Key.Key_Escape)
    assert window.isVisible()  # "Keep writing"
    qtbot.keyClick(window.body_edit, Qt.Key.Key_Escape)
    assert answers == []
    assert not isValid(window) or not window.isVisible()


# --- screenshots ------------------------------------------------------------------------


def shot(qtbot: QtBot, widget: QWidget, path: str) -> None:
    qtbot.wait(30)  # let pending layout requests run, as they would before a paint
    assert widget.grab().save(path)


def test_screenshots(
    qtbot: QtBot, make_window: Any, manual: ManualOutboxHandle, tmp_path: Path
) -> None:
    window = make_window(manual)
    window.resize(720, 520)
    shot(qtbot, window, "/tmp/compose_empty.png")

    files = [tmp_path / "Quarterly report Q3.pdf", tmp_path / "team-photo.jpg"]
    files[0].write_bytes(b"x" * 184_320)
    files[1].write_bytes(b"y" * 2_400_000)
    window.bcc_action.trigger()
    fill(
        qtbot,
        window,
        to="Bob Builder <bob@example.org>, carol@example.org",
        bcc="boss@example.org",
        subject="Quarterly report",
        body="Hello Bob,\n\nthe numbers for Q3 are attached.\n\nMia",
    )
    window.add_attachments(files)
    shot(qtbot, window, "/tmp/compose_filled.png")

    window.cc_edit.setText("dave@example,com")
    leave(qtbot, window.cc_edit)
    assert window.fields["cc"].error.isVisible()
    shot(qtbot, window, "/tmp/compose_error.png")

    window.cc_edit.clear()
    window.subject_edit.clear()
    window.send()
    shot(qtbot, window, "/tmp/compose_nosubject.png")

    window.subject_edit.setText("Quarterly report")
    window.send()
    shot(qtbot, window, "/tmp/compose_queuing.png")
    manual.failed.emit(
        manual.calls[-1][0],
        "The attachment 'team-photo.jpg' cannot be read (permission denied); "
        "check the file and attach it again.",
    )
    shot(qtbot, window, "/tmp/compose_failed.png")
