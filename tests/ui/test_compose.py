"""The compose window, driven like a person would: keys, drops, Ctrl+Return."""
# pytest-qt's QtBot methods are not annotated:
# mypy: disable-error-code="no-untyped-call"

from __future__ import annotations

import os
import time
from email import message_from_bytes
from email import policy as email_policy

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from clock import Clock
from PySide6.QtCore import QDateTime, QMimeData, QObject, QPointF, QSettings, Qt, QUrl, Signal
from PySide6.QtGui import QDragEnterEvent, QDragLeaveEvent, QDropEvent, QTextCharFormat
from PySide6.QtWidgets import QApplication, QMenu, QWidget
from pytestqt.qtbot import QtBot
from shiboken6 import isValid

from mailgui.core.accounts import Account
from mailgui.core.addresses import Mailbox
from mailgui.core.drafts import DraftStore, SavedDraft
from mailgui.core.message import Draft
from mailgui.core.paths import Profile
from mailgui.ui.compose import ComposeWindow
from mailgui.ui.context import AppContext
from mailgui.ui.outbox_service import OutboxHandle
from mailgui.ui.spelling import available as spelling_available


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

    def make(outbox: Any, **kwargs: Any) -> ComposeWindow:
        window = ComposeWindow(ctx, outbox, **kwargs)
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

    undoable: list[tuple[Any, ...]] = []
    window.undoable.connect(lambda *args: undoable.append(args))
    with qtbot.waitSignal(window.sent, timeout=10000) as sent:
        before = time.time()
        send_keys(qtbot, window)
        assert window.status_bar.label.text() == "Queuing…"
        assert not window.editor.isEnabled()

    assert len(handle.calls) == 1
    call = handle.calls[0]
    assert call.account == "Work"
    assert call.send_at is not None  # the default undo delay: 10 s
    assert before + 10 <= call.send_at <= time.time() + 10
    assert undoable == [(sent.args[0], "Work", call.draft, 10)]
    draft = call.draft
    assert draft.sender == Mailbox("Mia Example", "me@example.org")
    assert draft.to == [Mailbox("Bob Builder", "bob@example.org")]
    assert {type(m) for m in (draft.sender, *draft.to)} == {Mailbox}  # not plain tuples
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
    assert row.state == "scheduled"  # until the undo delay is over
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


def keys(window: ComposeWindow) -> list[str]:
    return [f.key for f in window.findings] if window.preflight.isVisible() else []


def test_no_recipients_is_in_the_preflight_panel_and_cannot_be_waived(
    qtbot: QtBot, make_window: Any, manual: ManualOutboxHandle
) -> None:
    window = make_window(manual)
    window.subject_edit.setText("Hi")
    assert window.send() is False
    assert keys(window) == ["recipients"]
    assert not window.preflight.send_anyway_button.isEnabled()
    assert window.focusWidget() is window.fix_button("recipients")
    assert window.send(force=True) is False  # "Send anyway" cannot skip this one
    assert manual.calls == []
    qtbot.keyClick(window.fix_button("recipients"), Qt.Key.Key_Return)
    assert not window.preflight.isVisible()
    assert window.focusWidget() is window.to_edit


def test_empty_subject_warns_inline_and_send_anyway_sends(
    qtbot: QtBot, make_window: Any, manual: ManualOutboxHandle
) -> None:
    window = make_window(manual)
    fill(qtbot, window, to="ann@example.org", body="no subject here")
    send_keys(qtbot, window)
    assert keys(window) == ["subject"]
    assert manual.calls == []
    assert QApplication.activeModalWidget() is None  # inline, not a pop-up

    # Enter keeps editing: sending past a warning is never the default.
    assert window.focusWidget() is window.preflight.keep_editing_button
    qtbot.keyClick(window.preflight.keep_editing_button, Qt.Key.Key_Return)
    assert manual.calls == [] and not window.preflight.isVisible()
    assert window.focusWidget() is window.subject_edit
    send_keys(qtbot, window)
    qtbot.keyClick(window.focusWidget(), Qt.Key.Key_Tab)  # the keyboard way to send anyway
    assert window.focusWidget() is window.preflight.send_anyway_button
    qtbot.keyClick(window.preflight.send_anyway_button, Qt.Key.Key_Return)
    assert len(manual.calls) == 1
    assert manual.calls[0][2].subject == ""
    assert not window.preflight.isVisible()


def test_send_anyway_by_mouse_and_escape_dismisses_the_panel(
    qtbot: QtBot, make_window: Any, manual: ManualOutboxHandle
) -> None:
    window = make_window(manual)
    fill(qtbot, window, to="ann@example.org")
    send_keys(qtbot, window)
    assert keys(window) == ["subject"]
    qtbot.keyClick(window.preflight.send_anyway_button, Qt.Key.Key_Escape)
    assert not window.preflight.isVisible()  # Esc dismissed the panel...
    assert window.isVisible()  # ...and did not close the window
    assert window.focusWidget() is window.subject_edit
    send_keys(qtbot, window)
    qtbot.mouseClick(window.preflight.send_anyway_button, Qt.MouseButton.LeftButton)
    assert len(manual.calls) == 1


def test_typing_a_subject_takes_it_off_the_panel(
    qtbot: QtBot, make_window: Any, manual: ManualOutboxHandle
) -> None:
    window = make_window(manual)
    fill(qtbot, window, to="ann@example.org")
    assert window.send() is False
    assert keys(window) == ["subject"]
    fill(qtbot, window, subject="Now with a subject")
    assert not window.preflight.isVisible()
    assert window.windowTitle() == "Now with a subject"


@pytest.mark.parametrize(
    "text",
    [
        "The report is attached.",
        "Siehe Anhang.",
        "Voici la pièce jointe.",
        "Te envío el adjunto.",
        "In allegato il file.",
    ],
)
def test_a_mentioned_attachment_with_no_file_is_flagged(
    qtbot: QtBot, make_window: Any, manual: ManualOutboxHandle, tmp_path: Path, text: str
) -> None:
    window = make_window(manual)
    fill(qtbot, window, to="ann@example.org", subject="Report")
    window.body_edit.setPlainText(text)  # QTest cannot type "è" or "í"
    assert window.send() is False
    assert keys(window) == ["attachment"]
    assert "no file is attached" in window.findings[0].text
    report = tmp_path / "report.pdf"
    report.write_bytes(b"%PDF")
    assert drop_files(window.body_edit.viewport(), [report])
    assert not window.preflight.isVisible()  # fixed: off the list at once
    assert window.send() is True


def test_quoted_mentions_do_not_count_and_findings_can_be_dismissed_one_by_one(
    qtbot: QtBot, make_window: Any, manual: ManualOutboxHandle
) -> None:
    window = make_window(manual)
    fill(qtbot, window, to="ann@example.org", body="> see the attached file\nThanks!")
    assert window.send() is False
    assert keys(window) == ["subject"]
    window.body_edit.append("Enclosed is my answer.")
    assert keys(window) == ["subject", "attachment"]
    window.preflight.findChild(QWidget, "dismiss_subject").click()
    assert keys(window) == ["attachment"]
    window.preflight.findChild(QWidget, "dismiss_attachment").click()
    assert not window.preflight.isVisible()
    assert window.send() is True  # both waived


def test_too_big_for_the_server_is_flagged_with_the_encoded_size(
    qtbot: QtBot, make_window: Any, manual: ManualOutboxHandle, tmp_path: Path
) -> None:
    window = make_window(manual)
    window.size_limit = 1_048_576  # 1.0 MB
    big = tmp_path / "video.mp4"
    big.write_bytes(b"v" * 900_000)  # fits raw, not once base64 adds a third
    fill(qtbot, window, to="ann@example.org", subject="Video", body="Here it is.")
    window.add_attachments([big])
    assert window.send() is False
    assert keys(window) == ["size"]
    assert "1.2 MB" in window.findings[0].text and "1.0 MB" in window.findings[0].text
    window.attachment_list.setCurrentRow(0)
    window.remove_selected_attachments()
    assert not window.preflight.isVisible()


def test_send_later_schedules_at_the_chosen_time_without_undo(
    qtbot: QtBot, make_window: Any, handle: Any, ctx: AppContext
) -> None:
    window = make_window(handle)
    undoable: list[Any] = []
    window.undoable.connect(lambda *args: undoable.append(args))
    fill(qtbot, window, to="ann@example.org", subject="Tomorrow", body="See you.")
    qtbot.keyClick(
        window.body_edit,
        Qt.Key.Key_Return,
        Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier,
    )
    assert window.schedule_bar.isVisible()
    assert window.focusWidget() is window.schedule_edit
    shown = window.schedule_edit.dateTime().toSecsSinceEpoch()
    assert time.time() + 3600 <= shown <= time.time() + 3600 + 900
    when = int(time.time()) + 86400
    window.schedule_edit.setDateTime(QDateTime.fromSecsSinceEpoch(when))
    with qtbot.waitSignal(window.sent, timeout=10000) as sent:
        window.schedule_button.click()
        assert window.status_bar.label.text() == "Scheduling…"
    assert handle.calls[0].send_at == when
    assert undoable == []
    with ctx.open_outbox() as outbox:
        row = outbox.get(sent.args[0])
    assert row.state == "scheduled"
    assert row.send_at == when


def test_send_later_presets_show_the_zone_and_enter_schedules(
    qtbot: QtBot, make_window: Any, manual: ManualOutboxHandle
) -> None:
    """ "Tomorrow morning" puts 08:00 tomorrow in the picker (what core.send_later
    says), the time zone is shown beside it, and Enter in the picker schedules."""
    from datetime import datetime, timedelta

    window = make_window(manual)
    fill(qtbot, window, to="ann@example.org", subject="Tomorrow", body="See you.")
    window.send_later_action.trigger()
    assert window.schedule_bar.zone.text()  # "UTC", "CET"...
    assert "time zone" in window.schedule_bar.zone.toolTip()
    assert window.schedule_bar.presets["hour"].isVisible()
    assert window.schedule_bar.presets["tomorrow"].toolTip().endswith("08:00")
    qtbot.mouseClick(window.schedule_bar.presets["tomorrow"], Qt.MouseButton.LeftButton)
    now = datetime.now().astimezone()
    morning = datetime.combine(now.date() + timedelta(days=1), datetime.min.time(), now.tzinfo)
    expected = int((morning + timedelta(hours=8)).timestamp())
    assert window.schedule_edit.dateTime().toSecsSinceEpoch() == expected
    assert window.focusWidget() is window.schedule_button
    window.schedule_edit.setFocus()
    qtbot.keyClick(window.schedule_edit, Qt.Key.Key_Return)
    assert len(manual.calls) == 1
    assert manual.calls[0][3] == expected


def test_send_later_refuses_a_time_in_the_past(
    qtbot: QtBot, make_window: Any, manual: ManualOutboxHandle
) -> None:
    clock = Clock(2_000_000_000.0)
    window = make_window(manual, clock=clock)
    fill(qtbot, window, to="ann@example.org", subject="Hi")
    window.send_later_action.trigger()
    clock.advance(3 * 3600)  # the person waited too long before choosing
    window.schedule_button.click()
    assert manual.calls == []
    assert window.error_bar.label.text() == "Choose a time in the future to send later."
    qtbot.keyClick(window.schedule_edit, Qt.Key.Key_Escape)
    assert not window.schedule_bar.isVisible()
    assert window.isVisible()


def test_undo_seconds_come_from_the_profile_and_zero_sends_at_once(
    qtbot: QtBot, ctx: AppContext, make_window: Any, manual: ManualOutboxHandle
) -> None:
    settings = QSettings(str(ctx.profile.config_dir / "compose.ini"), QSettings.Format.IniFormat)
    settings.setValue("compose/undo_send_seconds", 0)
    settings.sync()
    window = make_window(manual)
    assert window.undo_seconds == 0
    fill(qtbot, window, to="ann@example.org", subject="Now")
    assert window.send() is True
    assert manual.calls[0][3] is None


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
        "photo.jpg  (10 B)",
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

    def ask() -> str:
        asked.append(True)
        return "discard"

    window._ask_on_close = ask
    qtbot.keyClick(window.to_edit, Qt.Key.Key_Escape)
    assert asked == []
    assert not isValid(window) or not window.isVisible()


def test_escape_asks_whether_to_save_what_was_typed(
    qtbot: QtBot, make_window: Any, manual: ManualOutboxHandle, ctx: AppContext
) -> None:
    window = make_window(manual)
    fill(qtbot, window, body="a thought")
    draft_id = window.draft_id
    answers = ["keep", "save"]
    window._ask_on_close = lambda: answers.pop(0)
    qtbot.keyClick(window.body_edit, Qt.Key.Key_Escape)
    assert window.isVisible()  # "Keep writing"
    qtbot.keyClick(window.body_edit, Qt.Key.Key_Escape)
    assert answers == []
    assert not isValid(window) or not window.isVisible()
    (saved,) = DraftStore(ctx.profile.data_dir / "drafts").all()
    assert saved.id == draft_id
    assert saved.text == "a thought"
    assert saved.open is False  # closed on purpose: not a crash leftover


def test_discard_on_close_removes_the_autosaved_draft(
    qtbot: QtBot, make_window: Any, manual: ManualOutboxHandle, ctx: AppContext
) -> None:
    store = DraftStore(ctx.profile.data_dir / "drafts")
    window = make_window(manual)
    fill(qtbot, window, to="ann@example.org", body="never mind")
    window.autosave()
    assert [d.id for d in store.all()] == [window.draft_id]
    window._ask_on_close = lambda: "discard"
    window.close()
    assert store.all() == []


def test_autosave_ctrl_s_and_sending_removes_the_draft(
    qtbot: QtBot, make_window: Any, manual: ManualOutboxHandle, ctx: AppContext, tmp_path: Path
) -> None:
    store = DraftStore(ctx.profile.data_dir / "drafts")
    photo = tmp_path / "photo.jpg"
    photo.write_bytes(b"jpg")
    window = make_window(manual)
    window.autosave_timer.setInterval(50)
    window.autosave_timer.start()
    qtbot.wait(120)
    assert store.all() == []  # nothing written yet: nothing to keep
    window.bcc_action.trigger()
    fill(qtbot, window, to="Ann <ann@example.org>", bcc="bob@exa", subject="Trip")
    window.set_rich_text(True)
    fill(qtbot, window, body="Pack light")
    window.add_attachments([photo])
    qtbot.waitUntil(
        lambda: len(store.all()) == 1 and bool(store.all()[0].attachments), timeout=2000
    )
    saved = store.all()[0]
    assert (saved.account, saved.to, saved.bcc, saved.subject) == (
        "Work",
        "Ann <ann@example.org>",
        "bob@exa",  # kept as typed, even half-written
        "Trip",
    )
    assert saved.text == "Pack light"
    assert saved.html is not None and "Pack light" in saved.html
    assert saved.attachments == [str(photo)]
    assert saved.open is True

    window.autosave_timer.stop()
    fill(qtbot, window, bcc="mple.org")
    qtbot.keyClick(window.body_edit, Qt.Key.Key_S, Qt.KeyboardModifier.ControlModifier)
    assert store.load(window.draft_id).bcc == "bob@example.org"
    assert window.status_bar.label.text().startswith("Draft saved at ")

    assert window.send() is True
    assert len(store.all()) == 1  # until the outbox has it
    manual.queued.emit(manual.calls[0][0], 7)
    assert store.all() == []


def test_a_saved_draft_opens_as_it_was(
    make_window: Any, manual: ManualOutboxHandle, ctx: AppContext, tmp_path: Path
) -> None:
    photo = tmp_path / "photo.jpg"
    photo.write_bytes(b"jpg")
    saved = SavedDraft(
        account="Home",
        to="ann@example.org",
        bcc="bob@example.org",
        subject="Trip",
        text="Pack light",
        html="<p>Pack <b>light</b></p>",
        attachments=[str(photo), str(tmp_path / "gone.pdf")],
        open=False,
    )
    DraftStore(ctx.profile.data_dir / "drafts").save(saved)
    window = make_window(manual)
    window.open_saved_draft(saved)
    assert window.draft_id == saved.id
    assert window.from_combo.currentData() == "Home"
    assert window.bcc_edit.isVisible() and window.bcc_edit.text() == "bob@example.org"
    assert window.rich_action.isChecked()
    assert "<b>light</b>" in window.body_edit.html()
    assert window.attachments == [photo]
    assert "'gone.pdf' does not exist." in window.error_bar.label.text()
    assert DraftStore(ctx.profile.data_dir / "drafts").load(saved.id).open is True


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
    window.set_rich_text(True)
    window.body_edit.setHtml(
        "<p>Hello Bob,</p><p>the numbers for <b>Q3</b> are attached:</p>"
        "<ul><li>revenue up 4%</li><li>costs <i>flat</i></li></ul><p>Mia</p>"
    )
    shot(qtbot, window, "/tmp/compose_filled.png")

    window.cc_edit.setText("dave@example,com")
    leave(qtbot, window.cc_edit)
    assert window.fields["cc"].error.isVisible()
    shot(qtbot, window, "/tmp/compose_error.png")

    window.cc_edit.clear()
    window.subject_edit.clear()
    window.size_limit = 2_500_000  # the photo fits raw, not base64-encoded
    window.send()
    assert keys(window) == ["subject", "attachment", "size"] or keys(window) == [
        "subject",
        "size",
    ]
    shot(qtbot, window, "/tmp/compose_preflight.png")
    window.size_limit = None
    window.dismiss_finding("size")

    window.send_later_action.trigger()
    shot(qtbot, window, "/tmp/compose_sendlater.png")
    qtbot.keyClick(window.schedule_edit, Qt.Key.Key_Escape)

    window.subject_edit.setText("Quarterly report")
    window.send()
    shot(qtbot, window, "/tmp/compose_queuing.png")
    manual.failed.emit(
        manual.calls[-1][0],
        "The attachment 'team-photo.jpg' cannot be read (permission denied); "
        "check the file and attach it again.",
    )
    shot(qtbot, window, "/tmp/compose_failed.png")


# --- rich text ----------------------------------------------------------------------------


def test_rich_text_formats_become_clean_html_with_a_plain_alternative(
    qtbot: QtBot, make_window: Any, manual: ManualOutboxHandle, ctx: AppContext
) -> None:
    from mailgui.core.message import build

    window = make_window(manual)
    assert not window.rich_action.isChecked()  # plain text until the person switches
    assert not window.format_bar.bold_action.isVisible()
    window.rich_action.trigger()
    assert window.format_bar.bold_action.isVisible()
    fill(qtbot, window, to="ann@example.org", subject="Plan")
    body = window.body_edit
    body.setFocus()
    qtbot.keyClicks(body, "Hello ")
    qtbot.keyClick(body, Qt.Key.Key_B, Qt.KeyboardModifier.ControlModifier)
    qtbot.keyClicks(body, "team")
    qtbot.keyClick(body, Qt.Key.Key_B, Qt.KeyboardModifier.ControlModifier)
    assert not window.format_bar.bold_action.isChecked()
    qtbot.keyClick(body, Qt.Key.Key_Return)
    window.format_bar.bullets_action.trigger()
    qtbot.keyClicks(body, "first")
    qtbot.keyClick(body, Qt.Key.Key_Return)
    qtbot.keyClicks(body, "second")
    qtbot.keyClick(body, Qt.Key.Key_Return)
    qtbot.keyClick(body, Qt.Key.Key_Return)  # an empty item ends the list
    bar = window.format_bar
    bar.bullets_action.trigger() if bar.bullets_action.isChecked() else None
    window.format_bar.quote_action.trigger()
    qtbot.keyClicks(body, "wise words")
    qtbot.keyClick(body, Qt.Key.Key_Return)
    window.format_bar.quote_action.trigger()
    window.format_bar.size_combo.setCurrentIndex(window.format_bar.size_combo.findData(18))
    window.format_bar.size_combo.activated.emit(window.format_bar.size_combo.currentIndex())
    qtbot.keyClicks(body, "Big")
    window.format_bar.size_combo.setCurrentIndex(
        window.format_bar.size_combo.findData(round(body.font().pointSizeF()))
    )
    window.format_bar.size_combo.activated.emit(window.format_bar.size_combo.currentIndex())
    qtbot.keyClicks(body, " see ")
    window.format_bar.insert_link("https://example.org/plan")

    assert window.send(force=True) is True
    draft = manual.calls[0][2]
    assert draft.text is None
    html = draft.html
    assert html is not None
    assert "<p>Hello <b>team</b></p>" in html
    assert "<ul>\n<li>first</li>\n<li>second</li>\n</ul>" in html
    assert "<blockquote>\n<p>wise words</p>\n</blockquote>" in html
    assert '<span style="font-size:18pt">Big</span>' in html
    assert '<a href="https://example.org/plan">https://example.org/plan</a>' in html
    assert "qt-" not in html and 'style=" ' not in html  # none of Qt's own CSS

    msg = message_from_bytes(build(draft).data, policy=email_policy.default)
    plain = msg.get_body(("plain",)).get_content()
    assert "Hello **team**" in plain
    assert "* first" in plain
    assert "> wise words" in plain
    assert msg.get_body(("html",)).get_content().count("<b>team</b>") == 1

    settings = QSettings(str(ctx.profile.config_dir / "compose.ini"), QSettings.Format.IniFormat)
    assert str(settings.value("compose/rich_text")).lower() == "true"  # remembered


def test_pasted_web_html_is_sanitised_and_plain_mode_takes_text_only(
    qtbot: QtBot, make_window: Any, manual: ManualOutboxHandle
) -> None:
    window = make_window(manual)
    window.set_rich_text(True)
    mime = QMimeData()
    mime.setHtml(
        "<html><head><style>p{color:red}</style><script>alert(1)</script></head><body>"
        '<p style="color:red;font-family:Comic Sans MS"><b>Bold</b> and '
        '<a href="javascript:alert(1)">bad link</a> and <a href="https://ok.example/">good</a>'
        '<img src="https://tracker.example/pixel.gif"></p><table><tr><td>cell</td></tr></table>'
        "</body></html>"
    )
    mime.setText("Bold and bad link and good cell")
    window.body_edit.insertFromMimeData(mime)
    html = window.body_edit.html()
    assert "<b>Bold</b>" in html
    assert '<a href="https://ok.example/">good</a>' in html
    for bad in ("script", "alert", "javascript", "img", "tracker", "color", "Comic", "table"):
        assert bad not in html
    assert "bad link" in html and "cell" in html  # the words stay

    window.set_rich_text(False)
    assert not window.body_edit.acceptRichText()
    assert window.body_edit.toPlainText().startswith("Bold and bad link and good")
    window.body_edit.clear()
    window.body_edit.insertFromMimeData(mime)
    assert window.body_edit.toPlainText() == "Bold and bad link and good cell"
    window.subject_edit.setText("s")
    window.to_edit.setText("ann@example.org")
    assert window.send() is True
    draft = manual.calls[0][2]
    assert draft.html is None
    assert draft.text == "Bold and bad link and good cell"


def test_pasting_files_attaches_them(
    make_window: Any, manual: ManualOutboxHandle, tmp_path: Path
) -> None:
    report = tmp_path / "notes.txt"
    report.write_text("notes")
    window = make_window(manual)
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(report))])
    window.body_edit.insertFromMimeData(mime)
    assert window.attachments == [report]
    assert window.body_edit.toPlainText() == ""


def test_a_rich_draft_reopens_as_rich_text(make_window: Any, manual: ManualOutboxHandle) -> None:
    window = make_window(manual)
    draft = Draft(
        sender=Mailbox("", "me@example.org"),
        to=[Mailbox("", "ann@example.org")],
        subject="Back",
        html="<p>Hi <b>Ann</b></p><ul><li>one</li></ul>",
    )
    window.prefill("Home", draft)
    assert window.rich_action.isChecked()
    assert window.from_combo.currentData() == "Home"
    html = window.body_edit.html()
    assert "<p>Hi <b>Ann</b></p>" in html and "<li>one</li>" in html


def test_priority_and_read_receipt_options(
    qtbot: QtBot, make_window: Any, manual: ManualOutboxHandle, ctx: AppContext
) -> None:
    window = make_window(manual)
    assert window.options_button.text() == "Options"
    window.options_button.priority_actions["high"].trigger()
    window.options_button.receipt_action.trigger()
    assert window.options_button.text() == "Options: High priority, Read receipt"
    fill(qtbot, window, to="ann@example.org", subject="Urgent")
    window.autosave()
    saved = DraftStore(ctx.profile.data_dir / "drafts").load(window.draft_id)
    assert (saved.priority, saved.read_receipt) == ("high", True)
    assert window.send() is True
    draft = manual.calls[0][2]
    assert (draft.priority, draft.read_receipt) == ("high", True)

    again = make_window(manual)
    again.prefill("Work", draft)
    assert again.priority == "high" and again.options_button.receipt_action.isChecked()


# --- spelling -----------------------------------------------------------------------------


def _underlined(window: ComposeWindow) -> list[str]:
    block = window.body_edit.document().begin()
    words = []
    while block.isValid():
        for r in block.layout().formats():
            if r.format.underlineStyle() == QTextCharFormat.UnderlineStyle.SpellCheckUnderline:
                words.append(block.text()[r.start : r.start + r.length])
        block = block.next()
    return words


@pytest.mark.skipif(not spelling_available(), reason="pyspellchecker is not installed")
def test_misspelled_words_are_underlined_and_corrected_from_the_menu(
    qtbot: QtBot, make_window: Any, manual: ManualOutboxHandle
) -> None:
    window = make_window(manual)
    speller = window.speller
    assert speller is not None
    window.body_edit.setPlainText(
        "Helo Bob, the SMTP report is atached: see https://example.org/fo or bob@exmple.org\n"
        "> quoted teh text is left alone"
    )
    if speller.checker is None:
        with qtbot.waitSignal(speller.ready, timeout=10000):
            pass
    assert _underlined(window) == ["Helo", "atached"]

    menu = QMenu()
    cursor = window.body_edit.textCursor()
    cursor.setPosition(window.body_edit.toPlainText().index("atached") + 2)
    actions = window.body_edit.add_spelling_actions(menu, cursor)
    texts = [a.text() for a in actions]
    assert "attached" in texts
    assert texts[-1] == "Add “atached” to the dictionary"
    next(a for a in actions if a.text() == "attached").trigger()
    assert "the SMTP report is attached:" in window.body_edit.toPlainText()
    assert _underlined(window) == ["Helo"]

    cursor.setPosition(1)
    window.body_edit.add_spelling_actions(menu, cursor)[-1].trigger()  # learn "Helo"
    assert _underlined(window) == []
    window.options_button.spelling_action.trigger()  # off
    window.body_edit.append("Anothr")
    assert _underlined(window) == []


# --- completion -----------------------------------------------------------------------------


def test_addresses_used_before_complete_the_part_being_typed(
    qtbot: QtBot, make_window: Any, manual: ManualOutboxHandle
) -> None:
    window = make_window(manual)
    fill(qtbot, window, to="Bob Builder <bob@example.org>", cc="carol@example.org", subject="Hi")
    assert window.send() is True
    manual.queued.emit(manual.calls[0][0], 1)  # remembered once it is in the outbox

    window = make_window(manual)
    popup = window.completion.completer.popup()
    fill(qtbot, window, cc="dave@example.org, bu")  # a word of the name works too
    assert popup.isVisible()
    assert window.completion.model.stringList() == ["Bob Builder <bob@example.org>"]
    qtbot.keyClick(popup, Qt.Key.Key_Down)
    qtbot.keyClick(popup, Qt.Key.Key_Return)
    assert window.cc_edit.text() == "dave@example.org, Bob Builder <bob@example.org>, "
    assert not popup.isVisible()

    qtbot.keyClicks(window.cc_edit, "b")  # already in the field: not offered again
    assert not popup.isVisible()
    qtbot.keyClicks(window.to_edit, "CA")
    assert window.completion.model.stringList() == ["carol@example.org"]
