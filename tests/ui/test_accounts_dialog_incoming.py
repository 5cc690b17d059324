"""The accounts dialog's "Incoming server (for the Sent copy)": Test and Load folders log
in to a real Dovecot (tests/imap_server.py) off the GUI thread, the Sent folder is chosen
from its folders, and Save writes what ``mailgui account add --imap-*`` would."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from typing import Any

import pytest
import trustme
from dns_server import DnsServer
from imap_server import Dovecot, ImapUser, dovecot_missing
from processes import Profile
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox

from mailgui.core.accounts import AccountStore
from mailgui.ui import imap_check, settings_finder
from mailgui.ui.accounts_dialog import AccountsDialog
from mailgui.ui.context import AppContext

CHECK_MS = 20_000


@pytest.fixture(scope="module")
def dovecot(ca: trustme.CA) -> Iterator[Dovecot]:
    reason = dovecot_missing()
    if reason:
        pytest.skip(reason)
    server = Dovecot(ca)
    try:
        server.start()
        yield server
    finally:
        server.close()


@pytest.fixture
def dialog(
    qtbot: Any, ctx: AppContext, monkeypatch: pytest.MonkeyPatch
) -> Iterator[AccountsDialog]:
    # closing a filled-in form asks whether to discard it: yes, never a modal
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.StandardButton.Discard)
    dlg = AccountsDialog(ctx)
    qtbot.addWidget(dlg)
    dlg.show()
    yield dlg
    dlg._imap_checker.cancel()
    dlg._finder.cancel()
    assert imap_check.wait_for_all(10_000)
    assert settings_finder.wait_all(10_000)


def fill(
    dlg: AccountsDialog,
    dovecot: Dovecot,
    user: ImapUser,
    *,
    password: str | None = None,
    security: str = "tls",
    name: str = "Work",
) -> None:
    dlg.add_account()
    dlg.name_edit.setText(name)
    dlg.email_edit.setText(user.name)
    dlg.host_edit.setText("127.0.0.1")  # the outgoing server: not contacted here
    dlg.username_edit.setText(user.name)
    dlg.password_edit.setText(user.password if password is None else password)
    dlg.ca_edit.setText(dovecot.ca_file)
    dlg.imap_host_edit.setText(dovecot.host)
    dlg.imap_security_combo.setCurrentIndex(dlg.imap_security_combo.findData(security))
    dlg.imap_port_spin.setValue(dovecot.tls_port if security == "tls" else dovecot.starttls_port)


def folder_items(dlg: AccountsDialog) -> list[str]:
    combo = dlg.sent_folder_combo
    return [str(combo.itemData(i)) for i in range(combo.count()) if combo.itemData(i)]


def choose_folder(dlg: AccountsDialog, data: str) -> None:
    """As a person picks it from the list (``activated`` is the user's signal)."""
    combo = dlg.sent_folder_combo
    index = combo.findData(data)
    assert index >= 0, folder_items(dlg)
    combo.setCurrentIndex(index)
    combo.activated.emit(index)


def test_test_logs_in_lists_folders_and_save_writes_the_account(
    qtbot: Any, dialog: AccountsDialog, dovecot: Dovecot, ctx: AppContext, profile: Profile
) -> None:
    user = dovecot.add_user(("Sent", "Archive", "Projekte Zürich"))
    fill(dialog, dovecot, user)
    assert folder_items(dialog) == ["auto", "none"]  # nothing asked yet
    with qtbot.waitSignal(dialog._imap_checker.finished, timeout=CHECK_MS):
        dialog.imap_test_button.click()
        # the GUI did not wait: busy, with a Cancel, the buttons off
        assert dialog.imap_busy_label.isVisible()
        assert dialog.imap_cancel_button.isVisible()
        assert not dialog.imap_test_button.isEnabled()
        assert not dialog.load_folders_button.isEnabled()
    result = dialog.last_imap_result
    assert result is not None and result["ok"], result
    text = dialog.imap_result.text()
    assert text.startswith("✔ The incoming server works.")
    assert f"Logged in as {user.name}." in text
    assert "certificate verified" in text
    assert "The server marks “Sent” as its Sent folder." in text
    assert not dialog.imap_busy_label.isVisible()
    assert dialog.imap_test_button.isEnabled()
    # the folder list came from the server; "Automatic" says which one it is there
    assert folder_items(dialog) == ["auto", "none", "INBOX", "Archive", "Projekte Zürich", "Sent"]
    assert dialog.sent_folder_combo.itemText(0) == "Automatic (“Sent” on this server)"
    assert dialog.sent_folder_combo.currentData() == "auto"

    choose_folder(dialog, "Projekte Zürich")
    assert dialog.save()
    saved = AccountStore(ctx.profile.accounts_file).get("Work")
    assert saved.imap_host == dovecot.host
    assert saved.imap_port == dovecot.tls_port  # not 993: kept
    assert saved.imap_security == "tls"
    assert saved.sent_folder == "Projekte Zürich"
    assert saved.sent_copy_folder == "Projekte Zürich"
    # what the command line reads from the same file
    shown = profile.run("account", "show", "Work", "--json")
    assert shown.returncode == 0, shown.stderr
    doc = json.loads(shown.stdout)
    assert (doc["imap_host"], doc["imap_port"], doc["sent_folder"]) == (
        dovecot.host,
        dovecot.tls_port,
        "Projekte Zürich",
    )
    # shown again as saved
    dialog._reload(select="Work")
    assert dialog.imap_host_edit.text() == dovecot.host
    assert dialog.sent_folder_combo.currentData() == "Projekte Zürich"
    assert not dialog.is_dirty()


def test_wrong_password_is_said_in_words(
    qtbot: Any, dialog: AccountsDialog, dovecot: Dovecot
) -> None:
    user = dovecot.add_user(("Sent", "Archive"))
    fill(dialog, dovecot, user, password="not-the-password")
    with qtbot.waitSignal(dialog._imap_checker.finished, timeout=CHECK_MS):
        dialog.imap_test_button.click()
    result = dialog.last_imap_result
    assert result is not None and not result["ok"]
    text = dialog.imap_result.text()
    assert text.startswith("✘ The incoming server test failed.\n")
    assert "refused" in text.lower() and "password" in text.lower(), text
    assert "not-the-password" not in text
    assert "--password-stdin" not in text and "mailgui account" not in text  # the app's words
    assert "certificate verified" in text  # how far it got
    assert folder_items(dialog) == ["auto", "none"]  # nothing listed


def test_load_folders_with_the_stored_password_over_starttls(
    qtbot: Any, dialog: AccountsDialog, dovecot: Dovecot, ctx: AppContext
) -> None:
    user = dovecot.add_user(("Gesendet", "Archive"))  # no \Sent folder: a known name
    fill(dialog, dovecot, user, security="starttls")
    assert dialog.imap_port_spin.value() == dovecot.starttls_port
    with qtbot.waitSignal(dialog.accountsChanged, timeout=CHECK_MS):
        assert dialog.save()  # the password goes to the keyring, in its thread
    assert dialog.password_edit.text() == ""
    with qtbot.waitSignal(dialog._imap_checker.finished, timeout=CHECK_MS):
        dialog.load_folders_button.click()
    result = dialog.last_imap_result
    assert result is not None and result["ok"], result
    assert result["sent"] == "Gesendet" and not result["sent_flagged"]
    text = dialog.imap_result.text()
    assert text.startswith("✔ 3 folders loaded: choose where the copies go.")
    assert "“Gesendet” is taken as the Sent folder (by its name)." in text
    assert folder_items(dialog) == ["auto", "none", "INBOX", "Archive", "Gesendet"]
    saved = AccountStore(ctx.profile.accounts_file).get("Work")
    assert (saved.imap_security, saved.sent_folder) == ("starttls", "")  # no choice made


@pytest.fixture
def silent_server() -> Iterator[int]:
    """A port that takes the connection and never says a word."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(4)
    yield sock.getsockname()[1]
    sock.close()


def test_cancel_and_close_while_the_server_does_not_answer(
    qtbot: Any, dialog: AccountsDialog, dovecot: Dovecot, silent_server: int
) -> None:
    """Cancel frees the form at once and cuts the connection even while the greeting is
    awaited (inside imaplib's constructor): the test's thread ends well before the
    account's timeout."""
    user = dovecot.add_user(())
    fill(dialog, dovecot, user)
    dialog.imap_port_spin.setValue(silent_server)
    dialog.timeout_spin.setValue(30)
    with qtbot.waitSignal(dialog._imap_checker.finished, timeout=2_000):
        dialog.imap_test_button.click()
        qtbot.wait(200)
        dialog.imap_cancel_button.click()
    assert dialog.last_imap_result is not None and dialog.last_imap_result["cancelled"]
    assert dialog.imap_result.text() == "– The test was cancelled."
    assert dialog.imap_test_button.isEnabled()
    assert imap_check.wait_for_all(5_000)  # cut, not left to the 30 s timeout
    assert dialog.imap_result.text() == "– The test was cancelled."  # late answer dropped
    assert dialog.imap_result.text() == "– The test was cancelled."

    # closing the dialog in the middle of a test: nothing waits, nothing is left behind
    dialog.imap_test_button.click()
    qtbot.wait(200)
    assert dialog._imap_checker.is_running()
    dialog.done(0)
    assert not dialog._imap_checker.is_running()
    assert imap_check.wait_for_all(5_000)


def test_direct_delivery_has_no_incoming_server(qtbot: Any, dialog: AccountsDialog) -> None:
    dialog.add_account()
    assert dialog.imap_host_edit.isVisibleTo(dialog)
    assert not dialog.imap_test_button.isEnabled()  # no server yet
    dialog.delivery_combo.setCurrentIndex(dialog.delivery_combo.findData("direct"))
    assert not dialog.imap_host_edit.isVisibleTo(dialog)
    assert not dialog.imap_test_button.isVisibleTo(dialog)
    assert not dialog.imap_busy_label.isVisibleTo(dialog)


def test_find_settings_fills_the_incoming_server_and_says_why_none(
    qtbot: Any, dialog: AccountsDialog, dns_server: DnsServer, ctx: AppContext
) -> None:
    dns_server.add("corp.test", "MX", "1 aspmx.l.google.com.")
    dialog.add_account()
    dialog.name_edit.setText("Corp")
    dialog.email_edit.setText("ada@corp.test")
    with qtbot.waitSignal(dialog._finder.finished, timeout=15_000):
        dialog.find_button.click()
    assert dialog.host_edit.text() == "smtp.gmail.com"
    assert dialog.imap_host_edit.text() == "imap.gmail.com"
    assert dialog.imap_port_spin.value() == 993
    assert dialog.imap_security_combo.currentData() == "tls"
    assert dialog.sent_folder_combo.currentData() == "none"
    why = "Gmail / Google Workspace puts what you send in its Sent folder itself"
    assert why in dialog.sent_note.text()
    assert dialog.sent_note.isVisible()
    assert "Incoming server imap.gmail.com:993, with no Sent copy" in dialog.message.text()

    # choosing a copy anyway is possible, and warned about
    choose_folder(dialog, "auto")
    assert "appears there twice" in dialog.sent_note.text()
    choose_folder(dialog, "none")
    dialog.username_edit.setText("ada@corp.test")
    dialog.auth_combo.setCurrentIndex(dialog.auth_combo.findData("password"))
    assert dialog.save()
    saved = AccountStore(ctx.profile.accounts_file).get("Corp")
    assert (saved.imap_host, saved.imap_port, saved.sent_folder) == ("imap.gmail.com", 0, "none")
    assert saved.sent_copy_folder is None


def test_a_stored_default_folder_follows_the_provider(qtbot: Any, dialog: AccountsDialog) -> None:
    """An account saved without a choice ("") shows what it means: None at Gmail,
    Automatic elsewhere; typing another server changes it while nothing was chosen."""
    dialog.add_account()
    dialog.host_edit.setText("smtp.example.org")
    dialog.imap_host_edit.setText("imap.example.org")
    assert dialog.sent_folder_combo.currentData() == "auto"
    assert not dialog.sent_note.isVisibleTo(dialog)
    dialog.host_edit.setText("smtp.gmail.com")
    assert dialog.sent_folder_combo.currentData() == "none"
    assert dialog.sent_note.isVisibleTo(dialog)
    choose_folder(dialog, "auto")
    dialog.host_edit.setText("smtp.example.org")
    assert dialog.sent_folder_combo.currentData() == "auto"  # chosen: kept
    assert dialog._incoming_fields(direct=False)["sent_folder"] == "auto"


def test_tab_walks_the_incoming_server_once_it_has_a_name(
    qtbot: Any, dialog: AccountsDialog
) -> None:
    dialog.add_account()
    dialog.imap_host_edit.setText("imap.example.org")
    dialog.activateWindow()
    qtbot.waitUntil(dialog.isActiveWindow, timeout=2000)
    dialog.ca_browse.setFocus()
    expected = [
        dialog.imap_host_edit,
        dialog.imap_security_combo,
        dialog.imap_port_spin,
        dialog.sent_folder_combo,
        dialog.load_folders_button,
        dialog.imap_test_button,  # Cancel is hidden while nothing runs
        dialog.limit_spins[0],
    ]
    seen = []
    for _ in expected:
        qtbot.keyClick(dialog.focusWidget(), Qt.Key.Key_Tab)
        seen.append(dialog.focusWidget())
    assert seen == expected


def test_oauth2_token_logs_in_as_for_smtp(
    qtbot: Any, dialog: AccountsDialog, dovecot: Dovecot
) -> None:
    """An account that signs in with OAuth2 (here a token command) logs in to IMAP with
    a fresh access token from the app's credentials, fetched in the check's thread."""
    user = dovecot.add_user(("Sent",))
    token = dovecot.issue_token(user)
    fill(dialog, dovecot, user, password="")
    dialog.username_edit.clear()  # the SASL user is then the address
    dialog.auth_combo.setCurrentIndex(dialog.auth_combo.findData("command"))
    dialog.command_edit.setText(f"echo {token}")
    with qtbot.waitSignal(dialog._imap_checker.finished, timeout=CHECK_MS):
        dialog.imap_test_button.click()
    result = dialog.last_imap_result
    assert result is not None and result["ok"], result
    assert f"Logged in as {user.name}." in dialog.imap_result.text()
    assert token not in dialog.imap_result.text()

    dovecot.revoke(token)
    with qtbot.waitSignal(dialog._imap_checker.finished, timeout=CHECK_MS):
        dialog.imap_test_button.click()
    assert dialog.last_imap_result is not None and not dialog.last_imap_result["ok"]
    assert token not in dialog.imap_result.text()
