"""Undo send and Send later, end to end: compose window → outbox → sender → test server."""
# pytest-qt's QtBot methods are not annotated:
# mypy: disable-error-code="no-untyped-call"

from __future__ import annotations

import time
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from clock import Clock
from PySide6.QtCore import QSettings, Qt
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot
from shiboken6 import isValid
from test_compose import drop_files

from mailgui.core.accounts import Account, AccountStore
from mailgui.core.addresses import Mailbox
from mailgui.core.delivery import Delivery
from mailgui.core.drafts import DraftStore
from mailgui.core.message import Draft
from mailgui.core.outbox import Outbox
from mailgui.ui.compose import ComposeWindow
from mailgui.ui.context import AppContext
from mailgui.ui.main_window import MainWindow


def setup_profile(ctx: AppContext, port: int, undo: int) -> None:
    AccountStore(ctx.profile.accounts_file).save(
        Account("work", "me@example.org", display_name="Mia", host="127.0.0.1", port=port,
                security="none", timeout=3.0)
    )  # fmt: skip
    settings = QSettings(str(ctx.profile.config_dir / "compose.ini"), QSettings.Format.IniFormat)
    settings.setValue("compose/undo_send_seconds", undo)
    settings.sync()


_EARLIER: set[int] = set()  # compose windows other tests left behind


def compose_windows() -> list[ComposeWindow]:
    return [
        w
        for w in QApplication.topLevelWidgets()
        if isinstance(w, ComposeWindow) and isValid(w) and w.isVisible() and id(w) not in _EARLIER
    ]


def open_compose(qtbot: QtBot, w: MainWindow) -> ComposeWindow:
    _EARLIER.update(id(c) for c in compose_windows())
    w.new_message()
    qtbot.waitUntil(lambda: len(compose_windows()) == 1, timeout=3000)
    return compose_windows()[0]


def write(window: ComposeWindow) -> None:
    window.to_edit.setText("Bob <bob@example.org>")
    window.bcc_action.trigger()
    window.bcc_edit.setText("boss@example.org")
    window.subject_edit.setText("Lunch")
    window.body_edit.setPlainText("Noon at the usual place?")


@pytest.mark.parametrize("how", ["button", "ctrl+z"])
def test_undo_within_the_delay_sends_nothing_and_reopens_the_message(
    qtbot: QtBot, ctx: AppContext, smtp_server: Any, how: str
) -> None:
    server = smtp_server("none")
    setup_profile(ctx, server.port, undo=3)
    w = MainWindow(ctx, watch_network=False)
    qtbot.addWidget(w)
    w.show()
    try:
        compose = open_compose(qtbot, w)
        assert compose.undo_seconds == 3
        write(compose)
        with qtbot.waitSignal(compose.sent, timeout=5000) as sent:
            assert compose.send()
        msg_id = sent.args[0]
        qtbot.waitUntil(lambda: not compose_windows(), timeout=3000)
        notice = w.undo_notice
        assert notice.isVisible()
        assert notice.msg_id == msg_id
        assert notice.label.text() in ("Sending in 3 s", "Sending in 2 s")
        assert w.grab().save("/tmp/main_undo.png")

        if how == "button":
            notice.undo_button.click()
        else:
            w.activateWindow()  # a window shortcut: the outbox window has the keyboard
            qtbot.waitUntil(lambda: QApplication.activeWindow() is w, timeout=3000)
            qtbot.keyClick(w, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
        assert not notice.isVisible()
        qtbot.waitUntil(lambda: len(compose_windows()) == 1, timeout=5000)
        back = compose_windows()[0]
        assert back.to_edit.text() == "Bob <bob@example.org>"
        assert back.bcc_edit.text() == "boss@example.org"
        assert back.bcc_edit.isVisible()
        assert back.subject_edit.text() == "Lunch"
        assert back.body_edit.toPlainText() == "Noon at the usual place?"
        assert "undone" in w.statusBar().currentMessage()
        # It left the outbox: it is a saved draft at once, not only after an autosave
        # (a crash in between would lose it).
        (kept,) = DraftStore(ctx.profile.data_dir / "drafts").all()
        assert (kept.id, kept.subject, kept.open) == (back.draft_id, "Lunch", True)

        qtbot.wait(4000)  # past the time it would have left
        assert server.messages == []
        with Outbox(ctx.profile.outbox_file) as box:
            assert box.get_many([msg_id]) == []
        back._done = True
        back.close()
    finally:
        assert w.shutdown()


def test_after_the_delay_it_is_sent_and_undo_says_it_is_too_late(
    qtbot: QtBot, ctx: AppContext, smtp_server: Any, tmp_path: Path
) -> None:
    """Typed in rich text, a file dropped on the window, Send: what the server gets."""
    server = smtp_server("none")
    setup_profile(ctx, server.port, undo=1)
    menu = tmp_path / "menu.pdf"
    menu.write_bytes(b"%PDF-1.4\n" + bytes(range(256)) * 8)
    w = MainWindow(ctx, watch_network=False)
    qtbot.addWidget(w)
    w.show()
    try:
        compose = open_compose(qtbot, w)
        compose.activateWindow()  # keyboard shortcuts go to the active window
        qtbot.waitUntil(lambda: QApplication.activeWindow() is compose, timeout=2000)
        write(compose)
        compose.set_rich_text(True)
        compose.body_edit.clear()
        compose.body_edit.setFocus()
        qtbot.keyClicks(compose.body_edit, "Noon at the ")
        qtbot.keyClick(compose.body_edit, Qt.Key.Key_B, Qt.KeyboardModifier.ControlModifier)
        qtbot.keyClicks(compose.body_edit, "usual")
        qtbot.keyClick(compose.body_edit, Qt.Key.Key_B, Qt.KeyboardModifier.ControlModifier)
        qtbot.keyClicks(compose.body_edit, " place? Menu attached.")
        assert drop_files(compose.body_edit.viewport(), [menu])
        with qtbot.waitSignal(compose.sent, timeout=5000) as sent:
            qtbot.keyClick(
                compose.body_edit, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier
            )
        (received,) = server.wait_for(1, timeout=10)
        assert sorted(received.rcpt_tos) == ["bob@example.org", "boss@example.org"]
        msg = message_from_bytes(received.data, policy=policy.default)
        assert isinstance(msg, EmailMessage)
        assert msg["From"] == "Mia <me@example.org>"
        assert msg["Bcc"] is None
        assert b"boss@example.org" not in received.data
        html_part = msg.get_body(("html",))
        plain_part = msg.get_body(("plain",))
        assert html_part is not None and plain_part is not None
        assert "Noon at the <b>usual</b> place? Menu attached." in html_part.get_content()
        assert plain_part.get_content().strip() == "Noon at the **usual** place? Menu attached."
        (attachment,) = list(msg.iter_attachments())
        assert attachment.get_filename() == "menu.pdf"
        assert attachment.get_content() == menu.read_bytes()
        # The server's EHLO SIZE (aiosmtpd announces 32 MiB) is kept for pre-flight.
        again = ComposeWindow(ctx, w.outbox)
        qtbot.addWidget(again)
        assert again.size_limit == 33_554_432
        again._done = True
        qtbot.waitUntil(lambda: not w.undo_notice.isVisible(), timeout=3000)

        # A click that raced the sender: the outbox refuses, the notice says so.
        draft = Draft(sender=Mailbox("", "me@example.org"), to=[Mailbox("", "bob@example.org")])
        w.undo_notice.offer(sent.args[0], "work", draft, 5)
        messages: list[str] = []
        w.undo_notice.message.connect(messages.append)
        w.undo_notice.undo_button.click()
        qtbot.waitUntil(lambda: bool(messages), timeout=3000)
        assert messages == ["Too late to undo: the message had already left the outbox."]
        assert w.statusBar().currentMessage() == messages[0]
        assert compose_windows() == []
    finally:
        assert w.shutdown()


def test_a_scheduled_message_goes_out_at_its_time(
    qtbot: QtBot, ctx: AppContext, smtp_server: Any
) -> None:
    """Send later through the real compose window and outbox thread, then delivery
    with an injected clock: nothing before the chosen time, the message at it."""
    from PySide6.QtCore import QDateTime

    from mailgui.ui.outbox_service import OutboxHandle

    server = smtp_server("none")
    setup_profile(ctx, server.port, undo=10)
    handle = OutboxHandle(ctx)
    handle.start()
    try:
        compose = ComposeWindow(ctx, handle)
        qtbot.addWidget(compose)
        write(compose)
        compose.send_later_action.trigger()
        when = int(time.time()) + 2 * 86400
        compose.schedule_edit.setDateTime(QDateTime.fromSecsSinceEpoch(when))
        with qtbot.waitSignal(compose.sent, timeout=5000) as sent:
            compose.schedule_button.click()
        msg_id = sent.args[0]
    finally:
        assert handle.shutdown()

    clock = Clock(time.time())
    with Outbox(ctx.profile.outbox_file, clock=clock) as box:
        delivery = Delivery(box, ctx.accounts, clock=clock)
        assert box.get(msg_id).state == "scheduled"
        delivery.flush()
        assert server.messages == []
        clock.now = when - 60
        delivery.flush()
        assert server.messages == []
        clock.now = when + 1
        delivery.flush()
        assert box.get(msg_id).state == "sent"
    assert server.wait_for(1)[0].rcpt_tos == ["bob@example.org", "boss@example.org"]
