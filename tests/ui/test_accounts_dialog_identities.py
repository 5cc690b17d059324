"""The accounts dialog's Identities tab (own Reply-To and signature, more identities, each
field checked as typed) and direct-delivery accounts (the form says they are weaker)."""
# The fixtures come from test_accounts_dialog (imported below), and tests name them.
# ruff: noqa: F811

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox
from test_accounts_dialog import (  # noqa: F401  (fixtures)
    Questions,
    ctx,
    dialog,
    fill,
    home,
    keyring_file,
    questions,
    shot,
)

from mailgui.core.accounts import Account, AccountStore, Identity
from mailgui.ui.accounts_dialog import AccountsDialog
from mailgui.ui.accounts_dialog.widgets import CheckedLine
from mailgui.ui.context import AppContext

SHOTS = Path("/tmp/shots-accounts")


def type_into(qtbot: Any, edit: Any, text: str) -> None:
    edit.setFocus()
    edit.selectAll()
    if text:
        qtbot.keyClicks(edit, text)
    else:
        qtbot.keyClick(edit, Qt.Key.Key_Delete)


def test_identities_are_saved_with_the_account(
    qtbot: Any, dialog: AccountsDialog, ctx: AppContext
) -> None:
    dialog.show()
    qtbot.waitExposed(dialog)
    dialog.activateWindow()
    qtbot.waitUntil(dialog.isActiveWindow, timeout=2000)
    fill(qtbot, dialog)
    page = dialog.identities_page
    dialog.pages.setCurrentIndex(1)
    assert "Ada Lovelace <ada@example.org>" in page.own_label.text()
    type_into(qtbot, page.reply_to_edit, "Ada <replies@example.org>")
    page.signature_edit.setPlainText("Ada Lovelace  \nAnalytical Engines\n\n")
    assert not page.editor.isVisibleTo(page)  # nothing selected yet
    qtbot.mouseClick(page.add_button, Qt.MouseButton.LeftButton)
    assert page.editor.isVisibleTo(page) and page.email_edit.hasFocus()
    assert page.name_edit.text() == "Ada Lovelace"  # the account's name, to change
    type_into(qtbot, page.name_edit, "Ada (Support)")
    type_into(qtbot, page.email_edit, "support@example.org")
    type_into(qtbot, page.id_reply_to_edit, "tickets@example.org")
    page.id_signature_edit.setPlainText("The support team")
    assert page.list.item(0).text() == "Ada (Support) <support@example.org>"
    qtbot.mouseClick(page.add_button, Qt.MouseButton.LeftButton)
    type_into(qtbot, page.name_edit, "")
    type_into(qtbot, page.email_edit, "ada@lovelace.name")
    assert dialog.is_dirty()

    with qtbot.waitSignal(dialog.accountsChanged, timeout=1000):
        assert dialog.save()
    account = ctx.accounts.get("Work")
    assert account.reply_to == "Ada <replies@example.org>"
    assert account.signature == "Ada Lovelace\nAnalytical Engines"
    assert account.identities == (
        Identity("Ada (Support)", "support@example.org", "tickets@example.org", "The support team"),
        Identity("", "ada@lovelace.name", "", ""),
    )
    assert not dialog.is_dirty()

    # Shown again when the dialog opens; removing one and saving drops it.
    again = AccountsDialog(ctx)
    qtbot.addWidget(again)
    page = again.identities_page
    assert page.reply_to_edit.text() == "Ada <replies@example.org>"
    assert [page.list.item(i).text() for i in range(page.list.count())] == [
        "Ada (Support) <support@example.org>",
        "ada@lovelace.name",
    ]
    assert page.id_reply_to_edit.text() == "tickets@example.org"
    page.list.setCurrentRow(0)
    qtbot.mouseClick(page.remove_button, Qt.MouseButton.LeftButton)
    assert page.email_edit.text() == "ada@lovelace.name"
    assert again.is_dirty() and again.save()
    assert ctx.accounts.get("Work").identities == (Identity("", "ada@lovelace.name", "", ""),)


def test_identity_fields_are_checked_as_typed(
    qtbot: Any, dialog: AccountsDialog, ctx: AppContext
) -> None:
    dialog.show()
    qtbot.waitExposed(dialog)
    fill(qtbot, dialog)
    dialog.pages.setCurrentIndex(1)
    page = dialog.identities_page
    qtbot.mouseClick(page.add_button, Qt.MouseButton.LeftButton)

    type_into(qtbot, page.email_edit, "support@")
    assert not page.email.error.isVisible()  # not while typing...
    qtbot.waitUntil(page.email.error.isVisible, timeout=2000)  # ...but after a pause
    assert "has no domain" in page.email.error.text()
    assert "border" in page.email_edit.styleSheet()
    qtbot.keyClicks(page.email_edit, "example.org")  # fixing it clears it at once
    assert not page.email.error.isVisible() and page.email_edit.styleSheet() == ""

    type_into(qtbot, page.email_edit, "ada@example.org")  # the account's own address
    page.email_edit.editingFinished.emit()
    assert page.email.error.text() == "ada@example.org is already an identity of this account."
    type_into(qtbot, page.email_edit, "Support <support@example.org>")
    page.email_edit.editingFinished.emit()
    assert "the name goes in “Name”" in page.email.error.text()
    type_into(qtbot, page.email_edit, "support@example.org")

    type_into(qtbot, page.id_reply_to_edit, "not an address")
    page.id_reply_to_edit.editingFinished.emit()
    assert "Reply-To address" in page.id_reply_to.error.text()
    assert page.id_reply_to.error.isVisible()

    # Saving with a problem: back on that field, one sentence under the tabs, nothing saved.
    dialog.pages.setCurrentIndex(0)
    assert not dialog.save()
    assert dialog.pages.currentIndex() == 1
    assert page.id_reply_to_edit.hasFocus()
    assert dialog.message.isVisible() and dialog.message.text().startswith("✘ The Reply-To")
    assert not ctx.profile.accounts_file.exists()
    type_into(qtbot, page.id_reply_to_edit, "")
    assert not dialog.message.isVisible()  # editing clears the old complaint
    assert dialog.save()
    assert ctx.accounts.get("Work").identities[0].email == "support@example.org"


def test_own_reply_to_is_checked_too(qtbot: Any, dialog: AccountsDialog, ctx: AppContext) -> None:
    fill(qtbot, dialog)
    page = dialog.identities_page
    type_into(qtbot, page.reply_to_edit, "replies@")
    assert not dialog.save()
    assert "Reply-To" in page.reply_to.error.text() and "has no domain" in dialog.message.text()
    assert not ctx.profile.accounts_file.exists()


def test_checked_line_waits_for_a_pause(qtbot: Any) -> None:
    from PySide6.QtWidgets import QLineEdit

    edit = QLineEdit()
    qtbot.addWidget(edit)
    checked = CheckedLine(edit, lambda text: "" if text == "ok" else "not ok")
    qtbot.keyClicks(edit, "o")
    assert checked.error_text == ""
    qtbot.waitUntil(lambda: checked.error_text == "not ok", timeout=2000)
    qtbot.keyClicks(edit, "k")
    assert checked.error_text == ""


def test_direct_account_says_it_is_weaker(
    qtbot: Any, dialog: AccountsDialog, ctx: AppContext, questions: Questions
) -> None:
    dialog.show()
    qtbot.waitExposed(dialog)
    fill(qtbot, dialog)
    combo = dialog.delivery_combo
    assert [combo.itemText(i) for i in range(combo.count())] == [
        "Your provider's mail server (recommended)",
        "Directly to each recipient's server (no relay)",
    ]
    assert not dialog.direct_warning.isVisible()
    combo.setCurrentIndex(combo.findData("direct"))
    warning = dialog.direct_warning.text()
    assert dialog.direct_warning.isVisible()
    for words in (
        "weaker than sending through your provider's server",
        "STARTTLS",
        "certificates are not checked",
        "rejected as spam",
        "block outbound port 25",
    ):
        assert words in warning
    for widget in (
        dialog.host_edit,
        dialog.security_combo,
        dialog.port_spin,
        dialog.username_edit,
        dialog.password_edit,
        dialog.ca_edit,
        dialog.ca_browse,
        dialog.test_button,
    ):
        assert not widget.isVisible()
    assert dialog.save()
    account = ctx.accounts.get("Work")
    assert account.direct and account.host == "" and account.username == ""
    assert account.server == "direct delivery"

    # Back to a relay: the server fields return, and the form needs them again.
    combo.setCurrentIndex(combo.findData("relay"))
    assert dialog.host_edit.isVisible() and not dialog.direct_warning.isVisible()
    dialog.host_edit.clear()
    assert not dialog.save()
    assert "fill in the Server field" in dialog.message.text()
    questions.fallback = QMessageBox.StandardButton.Discard  # closing with unsaved edits


def test_a_direct_account_from_the_command_line_shows_the_warning(
    qtbot: Any, ctx: AppContext, questions: Questions
) -> None:
    AccountStore(ctx.profile.accounts_file).save(Account("d", "me@example.org", direct=True))
    dlg = AccountsDialog(ctx)
    qtbot.addWidget(dlg)
    dlg.show()
    qtbot.waitExposed(dlg)
    assert dlg.is_direct() and dlg.direct_warning.isVisible()
    assert not dlg.host_edit.isVisible() and not dlg.test_button.isVisible()
    assert not dlg.is_dirty()
    dlg.test_connection()  # no button, but a shortcut could still reach it
    assert "no server of its own to test" in dlg.message.text()
    questions.fallback = QMessageBox.StandardButton.Discard


def test_screenshots_identities_and_direct(
    qtbot: Any, ctx: AppContext, questions: Questions
) -> None:
    SHOTS.mkdir(exist_ok=True)
    store = AccountStore(ctx.profile.accounts_file)
    store.save(
        Account(
            "Work",
            "ada@example.org",
            host="smtp.example.org",
            display_name="Ada Lovelace",
            reply_to="Ada <replies@example.org>",
            signature="Ada Lovelace\nAnalytical Engines",
            identities=(
                Identity(
                    "Ada (Support)",
                    "support@example.org",
                    "tickets@example.org",
                    "The support team",
                ),
                Identity("", "ada@lovelace.name"),
            ),
        )
    )
    store.save(Account("Direct", "ada@home.example", display_name="Ada", direct=True))
    dlg = AccountsDialog(ctx)
    qtbot.addWidget(dlg)
    dlg.show()
    qtbot.waitExposed(dlg)
    dlg.pages.setCurrentIndex(1)
    shot(qtbot, dlg, str(SHOTS / "test_identities.png"))
    page = dlg.identities_page
    page.email_edit.setText("support@")
    page.email.validate()
    shot(qtbot, dlg, str(SHOTS / "test_identity_error.png"))
    page.email_edit.setText("support@example.org")
    page.email.validate()
    questions.fallback = QMessageBox.StandardButton.Discard
    dlg.list.setCurrentRow(1)
    dlg.pages.setCurrentIndex(0)
    assert dlg.is_direct()
    shot(qtbot, dlg, str(SHOTS / "test_direct.png"))
