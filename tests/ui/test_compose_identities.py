"""Compose: identities in From, their signatures and Reply-To, end to end to a test server."""
# pytest-qt's QtBot methods are not annotated:
# mypy: disable-error-code="no-untyped-call"

from __future__ import annotations

from email import message_from_bytes
from email import policy as email_policy
from email.message import EmailMessage
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from mailgui.core.accounts import Account, Identity
from mailgui.core.delivery import Delivery
from mailgui.core.drafts import DraftStore
from mailgui.core.outbox import Outbox
from mailgui.ui.compose import ComposeWindow
from mailgui.ui.context import AppContext
from mailgui.ui.outbox_service import OutboxHandle

WORK_SIG = "Ada Lovelace\nAnalytical Engines Ltd"
ROLE_SIG = "The Support Team"


def add_accounts(ctx: AppContext, port: int = 2525) -> None:
    ctx.accounts.save(
        Account(
            name="Work",
            email="ada@example.org",
            display_name="Ada Lovelace",
            host="127.0.0.1",
            port=port,
            security="none",
            timeout=3.0,
            signature=WORK_SIG,
            identities=(
                Identity("Support", "help@example.org", "tickets@example.org", ROLE_SIG),
                Identity("Ada Private", "ada.private@example.org"),
            ),
        )
    )
    ctx.accounts.save(
        Account(name="Home", email="ada@home.example", host="127.0.0.1", port=port,
                security="none", signature="Ada at home")
    )  # fmt: skip


def open_window(
    qtbot: QtBot, ctx: AppContext, outbox: Any, windows: list[ComposeWindow]
) -> ComposeWindow:
    window = ComposeWindow(ctx, outbox, undo_seconds=0)
    windows.append(window)
    window.show()
    window.activateWindow()
    qtbot.waitExposed(window)
    qtbot.waitUntil(lambda: QApplication.activeWindow() is window, timeout=2000)
    return window


def choose(window: ComposeWindow, text_start: str) -> None:
    combo = window.from_combo
    for index in range(combo.count()):
        if combo.itemText(index).startswith(text_start):
            combo.setCurrentIndex(index)
            return
    raise AssertionError(f"no From item starts with {text_start!r}")


def deliver(ctx: AppContext) -> None:
    with Outbox(ctx.profile.outbox_file) as box:
        Delivery(box, ctx.accounts).flush()


def parse(data: bytes) -> EmailMessage:
    msg = message_from_bytes(data, policy=email_policy.default)
    assert isinstance(msg, EmailMessage)
    return msg


def test_from_lists_every_identity_with_the_default_accounts_first_chosen(
    qtbot: QtBot, ctx: AppContext, windows: list[ComposeWindow], handle: OutboxHandle
) -> None:
    add_accounts(ctx)
    window = open_window(qtbot, ctx, handle, windows)
    combo = window.from_combo
    assert [combo.itemText(i) for i in range(combo.count())] == [
        "Ada Lovelace <ada@example.org> — Work",
        "Support <help@example.org> — Work",
        "Ada Private <ada.private@example.org> — Work",
        "ada@home.example — Home",
    ]
    assert combo.currentIndex() == 0
    assert window.current_identity() == Identity("Ada Lovelace", "ada@example.org", "", WORK_SIG)
    assert type(window.current_identity()) is Identity  # a plain tuple would compare equal
    # The signature waits below an empty first line; the cursor is on that line.
    assert window.body_edit.toPlainText() == "\n\n-- \n" + WORK_SIG
    assert window.body_edit.textCursor().position() == 0
    assert not window.is_modified()  # a signature alone is not worth a draft
    assert not window.reply_to_edit.isVisible()


def test_identity_signature_and_reply_to_reach_the_server(
    qtbot: QtBot,
    ctx: AppContext,
    windows: list[ComposeWindow],
    handle: OutboxHandle,
    smtp_server: Any,
) -> None:
    server = smtp_server("none")
    add_accounts(ctx, server.port)
    window = open_window(qtbot, ctx, handle, windows)
    choose(window, "Support")
    assert window.body_edit.toPlainText() == "\n\n-- \n" + ROLE_SIG  # swapped
    assert window.reply_to_edit.isVisible()  # the identity brings a Reply-To
    assert window.reply_to_edit.text() == "tickets@example.org"

    window.to_edit.setText("Bob <bob@example.net>")
    window.subject_edit.setText("Your ticket")
    window.body_edit.setFocus()
    qtbot.keyClicks(window.body_edit, "Fixed, thanks for waiting.")
    with qtbot.waitSignal(window.sent, timeout=5000):
        assert window.send(force=True)
    deliver(ctx)
    (received,) = server.wait_for(1)
    assert received.mail_from == "help@example.org"
    msg = parse(received.data)
    assert msg["From"] == "Support <help@example.org>"
    assert msg["Reply-To"] == "tickets@example.org"
    body = msg.get_content().replace("\r\n", "\n").rstrip("\n")
    assert body == "Fixed, thanks for waiting.\n\n-- \nThe Support Team"


def test_rich_text_signature_is_escaped_html(
    qtbot: QtBot, ctx: AppContext, windows: list[ComposeWindow], handle: OutboxHandle
) -> None:
    ctx.accounts.save(
        Account("Work", "ada@example.org", host="127.0.0.1", port=2525, security="none",
                signature="Ada <b>not bold</b> & co")
    )  # fmt: skip
    window = open_window(qtbot, ctx, handle, windows)
    window.set_rich_text(True)
    html = window.body_edit.html()
    assert "<p>-- </p>" in html
    assert "<p>Ada &lt;b&gt;not bold&lt;/b&gt; &amp; co</p>" in html


def test_swapping_from_swaps_only_an_untouched_signature(
    qtbot: QtBot, ctx: AppContext, windows: list[ComposeWindow], handle: OutboxHandle
) -> None:
    add_accounts(ctx)
    window = open_window(qtbot, ctx, handle, windows)
    body = window.body_edit
    body.setFocus()
    qtbot.keyClicks(body, "Hello")
    choose(window, "Support")
    assert body.toPlainText() == "Hello\n\n-- \n" + ROLE_SIG
    choose(window, "Ada Private")  # an empty signature: no separator either
    assert body.toPlainText() == "Hello\n"
    assert window.reply_to_edit.text() == ""  # the identity's Reply-To went with it
    choose(window, "ada@home.example")
    assert body.toPlainText() == "Hello\n\n-- \nAda at home"

    # Edited by hand: it is the person's text now, and stays whatever From says.
    cursor = body.textCursor()
    cursor.movePosition(cursor.MoveOperation.End)
    body.setTextCursor(cursor)
    qtbot.keyClicks(body, ", back on Monday")
    choose(window, "Ada Lovelace")
    assert body.toPlainText() == "Hello\n\n-- \nAda at home, back on Monday"


def test_a_typed_reply_to_is_kept_when_from_changes(
    qtbot: QtBot, ctx: AppContext, windows: list[ComposeWindow], handle: OutboxHandle
) -> None:
    add_accounts(ctx)
    window = open_window(qtbot, ctx, handle, windows)
    window.reply_to_action.trigger()
    assert window.reply_to_edit.isVisible()
    assert window.reply_to_edit.hasFocus()
    qtbot.keyClicks(window.reply_to_edit, "desk@example.org")
    assert not window.reply_to_action.isEnabled()  # never hide where replies go
    choose(window, "Support")
    assert window.reply_to_edit.text() == "desk@example.org"
    window.reply_to_edit.clear()
    assert window.reply_to_action.isEnabled()
    window.reply_to_action.trigger()
    assert not window.reply_to_edit.isVisible()


def test_a_bad_reply_to_is_marked_and_blocks_send(
    qtbot: QtBot, ctx: AppContext, windows: list[ComposeWindow], handle: OutboxHandle
) -> None:
    add_accounts(ctx)
    window = open_window(qtbot, ctx, handle, windows)
    window.reply_to_action.trigger()
    qtbot.keyClicks(window.reply_to_edit, "desk@example,org")
    qtbot.keyClick(window.reply_to_edit, Qt.Key.Key_Tab)
    error = window.reply_to_field.error
    assert error.isVisible()
    assert "Reply-To address" in error.text()
    assert not window.send_action.isEnabled()
    window.reply_to_edit.setText("desk@example.org")
    assert not error.isVisible()
    assert window.send_action.isEnabled()


def test_a_draft_remembers_the_identity_and_reply_to(
    qtbot: QtBot, ctx: AppContext, windows: list[ComposeWindow], handle: OutboxHandle
) -> None:
    add_accounts(ctx)
    window = open_window(qtbot, ctx, handle, windows)
    choose(window, "Support")
    window.reply_to_edit.setText("queue@example.org")
    window.subject_edit.setText("Later")
    assert window.save_draft()
    (saved,) = DraftStore(ctx.profile.data_dir / "drafts").all()
    assert (saved.account, saved.identity) == ("Work", "help@example.org")
    assert saved.reply_to == "queue@example.org"

    again = open_window(qtbot, ctx, handle, windows)
    again.open_saved_draft(saved)
    assert again.from_combo.currentText() == "Support <help@example.org> — Work"
    assert again.reply_to_edit.text() == "queue@example.org"
    assert again.reply_to_edit.isVisible()
    assert again.body_edit.toPlainText() == "\n\n-- \n" + ROLE_SIG  # not twice


def test_an_undone_or_edited_message_reopens_with_its_identity(
    qtbot: QtBot, ctx: AppContext, windows: list[ComposeWindow], handle: OutboxHandle
) -> None:
    from mailgui.core.addresses import Mailbox
    from mailgui.core.message import Draft

    add_accounts(ctx)
    window = open_window(qtbot, ctx, handle, windows)
    draft = Draft(
        sender=Mailbox("Support", "help@example.org"),
        to=[Mailbox("", "bob@example.net")],
        reply_to=[Mailbox("", "queue@example.org")],
        subject="Again",
        text="Body\n\n-- \n" + ROLE_SIG,
    )
    window.prefill("Work", draft)
    assert window.from_combo.currentText() == "Support <help@example.org> — Work"
    assert window.reply_to_edit.text() == "queue@example.org"
    assert window.body_edit.toPlainText() == "Body\n\n-- \n" + ROLE_SIG
