"""The accounts dialog signs in with OAuth2 against the real test authorization server
(``oauth2_server``) and a scripted browser: the "Sign in with" choice, "Sign in…" in a
worker (cancel, close mid-way, a tampered state), the client secret in the keyring,
discovery choosing Microsoft, and Test connection with a fresh access token.

Here rather than under tests/ui: these tests need this folder's fixtures."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import threading
import time
import urllib.parse
from collections.abc import Iterator
from typing import Any

import pytest
from oauth2_mock import MockOAuth2Server
from processes import Profile
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox
from test_oauth2_cli import valid_for

from mailgui.core import passwords
from mailgui.core.accounts import Account
from mailgui.core.paths import Profile as CoreProfile
from mailgui.core.sign_in import client_secret_slot
from mailgui.ui import connection_test, settings_finder, sign_in_worker
from mailgui.ui.accounts_dialog import AccountsDialog
from mailgui.ui.context import AppContext

WAIT_MS = 20_000


# --------------------------------------------------------------------------------------------
# fixtures
# --------------------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def background_jobs_end() -> Iterator[None]:
    """As tests/ui/conftest.py: no keyring job of one test ends in the next one."""
    yield
    from PySide6.QtCore import QCoreApplication, QEvent

    from mailgui.ui import background

    if QCoreApplication.instance() is None:
        return
    ended = background.wait(10_000)
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    background.deliver()
    QCoreApplication.processEvents()
    assert ended


@pytest.fixture
def ctx(keyring_profile: Profile) -> AppContext:
    home = keyring_profile.home
    core = CoreProfile(home / "config", home / "data", home / "state")
    core.ensure()
    return AppContext(core)


class Waiting:
    """A browser that opens nothing: the sign-in waits until it is cancelled."""

    def __init__(self) -> None:
        self.opened: list[str] = []
        self.event = threading.Event()

    def open(self, url: str) -> bool:
        self.opened.append(url)
        self.event.set()
        return True


@pytest.fixture
def opener() -> dict[str, Any]:
    """What the dialog's "browser" is: set ``opener["open"]`` in the test."""
    return {"open": None}


@pytest.fixture
def dialog(
    qtbot: Any, ctx: AppContext, opener: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> Iterator[AccountsDialog]:
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.StandardButton.Discard)
    dlg = AccountsDialog(ctx, open_browser=lambda url: opener["open"](url))
    qtbot.addWidget(dlg)
    dlg.resize(900, 560)
    dlg.show()
    settle(qtbot, dlg)
    yield dlg
    dlg.cancel_sign_in()
    dlg._tester.cancel()
    dlg._finder.cancel()
    assert sign_in_worker.wait_all(10_000)
    assert connection_test.wait_for_all(10_000)
    assert settings_finder.wait_all(10_000)


def settle(qtbot: Any, dlg: AccountsDialog) -> None:
    qtbot.waitUntil(lambda: not dlg.is_keyring_busy(), timeout=5000)


def choose(dlg: AccountsDialog, key: str) -> None:
    dlg.auth_combo.setCurrentIndex(dlg.auth_combo.findData(key))


def fill_issuer(
    dlg: AccountsDialog, server: MockOAuth2Server, *, name: str = "Work", port: int = 587
) -> None:
    dlg.add_account()
    dlg.name_edit.setText(name)
    dlg.email_edit.setText("ada@example.org")
    dlg.host_edit.setText("127.0.0.1")
    dlg.port_spin.setValue(port)
    choose(dlg, "issuer")
    dlg.issuer_edit.setText(server.issuer)
    dlg.client_id_edit.setText("mailgui-tests")


def sign_in(qtbot: Any, dlg: AccountsDialog) -> dict[str, Any]:
    with qtbot.waitSignal(dlg._signer.finished, timeout=WAIT_MS) as done:
        qtbot.mouseClick(dlg.sign_in_button, Qt.MouseButton.LeftButton)
    settle(qtbot, dlg)
    result: dict[str, Any] = done.args[0]
    return result


def row_shown(dlg: AccountsDialog, field: Any) -> bool:
    return bool(dlg.form.isRowVisible(field))


def shot(qtbot: Any, dlg: AccountsDialog, name: str, widget: Any = None) -> None:
    """A look at the dialog, for review (not compared with anything)."""
    if widget is not None:
        dlg._scroll.ensureWidgetVisible(widget)
    qtbot.wait(50)
    dlg.grab().save(f"/tmp/{name}.png")


# --------------------------------------------------------------------------------------------
# the form
# --------------------------------------------------------------------------------------------


def test_each_choice_shows_its_fields(dialog: AccountsDialog) -> None:
    dialog.add_account()
    assert dialog.sign_in_choice() == "password"
    assert row_shown(dialog, dialog.password_edit)
    for field in (dialog.issuer_edit, dialog.command_edit, dialog.client_id_edit):
        assert not row_shown(dialog, field)
    assert not row_shown(dialog, dialog._sign_in_row)

    for key in ("microsoft", "google", "issuer"):
        choose(dialog, key)
        assert not row_shown(dialog, dialog.password_edit), key
        assert row_shown(dialog, dialog.client_id_edit) and row_shown(dialog, dialog._sign_in_row)
        assert row_shown(dialog, dialog.issuer_edit) == (key == "issuer")
        assert not row_shown(dialog, dialog.command_edit)
        assert "optional" in dialog.username_edit.placeholderText()

    choose(dialog, "command")
    assert row_shown(dialog, dialog.command_edit)
    assert not row_shown(dialog, dialog.password_edit)
    assert not row_shown(dialog, dialog._sign_in_row)
    assert not row_shown(dialog, dialog.client_id_edit)

    dialog.delivery_combo.setCurrentIndex(dialog.delivery_combo.findData("direct"))
    assert not row_shown(dialog, dialog.auth_combo)
    assert not row_shown(dialog, dialog.command_edit)


def test_the_how_to_register_link_shows_the_steps(dialog: AccountsDialog) -> None:
    dialog.add_account()
    choose(dialog, "microsoft")
    assert not row_shown(dialog, dialog.client_id_steps)
    dialog.client_id_hint.linkActivated.emit("steps")
    assert row_shown(dialog, dialog.client_id_steps)
    assert "http://localhost" in dialog.client_id_steps.text()
    choose(dialog, "google")
    assert "Desktop app" in dialog.client_id_steps.text()
    dialog.client_id_hint.linkActivated.emit("steps")
    assert not row_shown(dialog, dialog.client_id_steps)


def test_saving_checks_the_issuer_and_the_client_id(
    qtbot: Any, dialog: AccountsDialog, oauth2_server: MockOAuth2Server, ctx: AppContext
) -> None:
    fill_issuer(dialog, oauth2_server)
    dialog.issuer_edit.setText("http://login.example.org")
    assert not dialog.save()
    assert "must start with https://" in dialog.message.text()
    dialog.issuer_edit.setText(oauth2_server.issuer)
    dialog.client_id_edit.clear()
    assert not dialog.save()
    assert "Client ID" in dialog.message.text() and "--client-id" not in dialog.message.text()
    choose(dialog, "microsoft")
    assert not dialog.save()
    assert "Microsoft" in dialog.message.text()
    choose(dialog, "command")
    dialog.command_edit.setText("get-token 'unclosed")
    assert not dialog.save()
    assert "quotes" in dialog.message.text()
    dialog.command_edit.setText("get-token --account work")
    assert dialog.save()
    settle(qtbot, dialog)
    saved = ctx.accounts.get("Work")
    assert saved.oauth2_token_command == "get-token --account work"
    assert saved.oauth2 == "" and saved.auth == "oauth2" and saved.username == ""


def test_a_saved_account_shows_its_sign_in_again(
    qtbot: Any, dialog: AccountsDialog, ctx: AppContext
) -> None:
    ctx.accounts.save(
        Account("Mail", "ada@outlook.com", host="smtp-mail.outlook.com", oauth2="microsoft",
                oauth2_client_id="app-id", oauth2_scopes=("https://outlook.office.com/SMTP.Send",))
    )  # fmt: skip
    ctx.accounts.save(
        Account("Corp", "ada@corp.example", host="smtp.corp.example",
                oauth2="https://login.corp.example", oauth2_client_id="c")
    )  # fmt: skip
    dialog.select_account("Mail")
    settle(qtbot, dialog)
    assert dialog.sign_in_choice() == "microsoft"
    assert dialog.client_id_edit.text() == "app-id"
    assert dialog.sign_in_status.text() == "Not signed in"
    assert not dialog.sign_out_button.isVisible()
    assert not dialog.is_dirty()
    dialog.display_name_edit.setText("Ada")
    assert dialog.save()
    assert ctx.accounts.get("Mail").oauth2_scopes == ("https://outlook.office.com/SMTP.Send",)
    dialog.select_account("Corp")
    assert dialog.sign_in_choice() == "issuer"
    assert dialog.issuer_edit.text() == "https://login.corp.example"


# --------------------------------------------------------------------------------------------
# signing in against the real server
# --------------------------------------------------------------------------------------------


def test_sign_in_saves_signs_in_and_tests_the_connection(
    qtbot: Any,
    dialog: AccountsDialog,
    opener: dict[str, Any],
    oauth2_server: MockOAuth2Server,
    smtp_server: Any,
    ca_file: str,
    ctx: AppContext,
    browser: Any,
) -> None:
    smtp = smtp_server("starttls", tokens=valid_for(oauth2_server, "ada@example.org"),
                       oauth_mechanisms=("XOAUTH2",))  # fmt: skip
    opener["open"] = browser.open
    fill_issuer(dialog, oauth2_server, port=smtp.port)
    dialog.ca_edit.setText(ca_file)
    assert dialog.sign_in_status.text().startswith("Not signed in (Sign in… saves")
    signed: list[str] = []
    dialog.signedIn.connect(signed.append)
    result = sign_in(qtbot, dialog)  # saves first: a new account
    assert result == {"account": "Work", "ok": True, "cancelled": False, "error": ""}
    assert signed == ["Work"]
    saved = ctx.accounts.get("Work")
    assert saved.oauth2 == oauth2_server.issuer and saved.oauth2_client_id == "mailgui-tests"
    assert saved.username == "" and saved.sasl_user == "ada@example.org"
    stored = passwords.load("Work")
    assert stored and oauth2_server.token_requests("authorization_code")
    assert len(browser.opened) == 1
    # the profile's senders (this app's, an agent) hear of it: what waited goes out
    assert ctx.profile.credentials_stamp.exists()
    assert dialog.sign_in_status.text() == "✔ Signed in; sends as ada@example.org"
    assert dialog.sign_out_button.isVisible() and dialog.sign_in_button.isVisible()
    assert "Signed in to “Work”" in dialog.message.text()
    assert not row_shown(dialog, dialog._sign_in_link_row)  # the address is gone again
    assert stored not in dialog.message.text() + dialog.sign_in_status.text()
    shot(qtbot, dialog, "oauth2_signed_in", dialog.sign_in_button)

    # Test connection: a fresh access token from the grant, off the GUI thread.
    with qtbot.waitSignal(dialog._tester.finished, timeout=WAIT_MS) as tested:
        qtbot.mouseClick(dialog.test_button, Qt.MouseButton.LeftButton)
    assert tested.args[0]["ok"], tested.args[0]
    assert "Logged in as ada@example.org." in tested.args[0]["lines"]
    assert oauth2_server.token_requests("refresh_token")

    # The status is asked again for a fresh dialog on the same account.
    dialog.select_account("Work")
    settle(qtbot, dialog)
    assert dialog.sign_in_status.text().startswith("✔ Signed in")

    qtbot.mouseClick(dialog.sign_out_button, Qt.MouseButton.LeftButton)
    settle(qtbot, dialog)
    assert passwords.load("Work") is None
    assert dialog.sign_in_status.text() == "Not signed in"
    assert "Signed out" in dialog.message.text()


def test_select_account_with_sign_in_starts_signing_in(
    qtbot: Any,
    dialog: AccountsDialog,
    opener: dict[str, Any],
    oauth2_server: MockOAuth2Server,
    ctx: AppContext,
    browser: Any,
) -> None:
    """The main window's "Sign in again" button."""
    ctx.accounts.save(
        Account("Work", "ada@example.org", host="127.0.0.1", oauth2=oauth2_server.issuer,
                oauth2_client_id="mailgui-tests")
    )  # fmt: skip
    opener["open"] = browser.open
    with qtbot.waitSignal(dialog._signer.finished, timeout=WAIT_MS) as done:
        dialog.select_account("Work", sign_in=True)
    assert done.args[0]["ok"], done.args[0]
    assert passwords.load("Work")
    settle(qtbot, dialog)
    assert dialog.sign_in_status.text().startswith("✔ Signed in")


def test_cancel_while_the_browser_is_open(
    qtbot: Any, dialog: AccountsDialog, opener: dict[str, Any], oauth2_server: MockOAuth2Server
) -> None:
    waiting = Waiting()
    opener["open"] = waiting.open
    fill_issuer(dialog, oauth2_server)
    qtbot.mouseClick(dialog.sign_in_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: row_shown(dialog, dialog._sign_in_link_row), timeout=WAIT_MS)
    assert dialog.sign_in_status.text() == "Waiting for the browser…"
    assert dialog.cancel_sign_in_button.isVisible() and not dialog.sign_in_button.isVisible()
    assert waiting.opened == [dialog._sign_in_url]
    assert "the sign-in page" in dialog.sign_in_link.text()
    dialog.copy_link_button.click()
    from PySide6.QtGui import QGuiApplication

    assert QGuiApplication.clipboard().text() == waiting.opened[0]
    shot(qtbot, dialog, "oauth2_waiting", dialog.sign_in_link)

    with qtbot.waitSignal(dialog._signer.finished, timeout=1000) as done:
        qtbot.mouseClick(dialog.cancel_sign_in_button, Qt.MouseButton.LeftButton)
    assert done.args[0]["cancelled"]
    started = time.monotonic()
    assert sign_in_worker.wait_all(5000)  # the flow saw the Event
    assert time.monotonic() - started < 2
    settle(qtbot, dialog)
    assert "cancelled" in dialog.message.text() and not dialog.message.text().startswith("✘")
    assert dialog.sign_in_status.text() == "Not signed in"
    assert dialog.sign_in_button.isVisible() and not dialog.cancel_sign_in_button.isVisible()
    assert not row_shown(dialog, dialog._sign_in_link_row)
    assert passwords.load("Work") is None
    # The listener is closed: the redirect of the cancelled sign-in finds nobody.
    redirect = urllib.parse.parse_qs(urllib.parse.urlsplit(waiting.opened[0]).query)
    port = urllib.parse.urlsplit(redirect["redirect_uri"][0]).port
    import socket

    with pytest.raises(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
        pass


@pytest.mark.parametrize("how", ["close", "delete"])
def test_closing_the_dialog_while_signing_in(
    qtbot: Any,
    ctx: AppContext,
    oauth2_server: MockOAuth2Server,
    monkeypatch: pytest.MonkeyPatch,
    how: str,
) -> None:
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.StandardButton.Discard)
    waiting = Waiting()
    dlg = AccountsDialog(ctx, open_browser=waiting.open)
    dlg.show()
    settle(qtbot, dlg)
    fill_issuer(dlg, oauth2_server)
    qtbot.mouseClick(dlg.sign_in_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: bool(waiting.opened), timeout=WAIT_MS)
    assert dlg._signer.is_running()
    if how == "close":
        dlg.close()
    else:
        dlg.done(0)
        dlg.deleteLater()
    qtbot.wait(50)  # deliver what was queued for the dialog, if anything
    assert sign_in_worker.wait_all(5000), "a sign-in thread was left running"
    assert passwords.load("Work") is None


def test_a_tampered_state_is_refused_in_the_windows_words(
    qtbot: Any,
    dialog: AccountsDialog,
    opener: dict[str, Any],
    oauth2_server: MockOAuth2Server,
    browser: Any,
) -> None:
    browser.rewrite = lambda url: url.replace("state=", "state=x")
    opener["open"] = browser.open
    fill_issuer(dialog, oauth2_server)
    result = sign_in(qtbot, dialog)
    assert not result["ok"] and not result["cancelled"]
    text = dialog.message.text()
    assert text.startswith("✘ ")
    assert "state did not match" in text and "sign in again" in text
    assert "mailgui account login" not in text
    assert passwords.load("Work") is None
    assert dialog.sign_in_status.text() == "Not signed in"
    shot(qtbot, dialog, "oauth2_refused")


def test_no_keyring_says_so_before_the_browser_opens(
    qtbot: Any, dialog: AccountsDialog, opener: dict[str, Any], oauth2_server: MockOAuth2Server
) -> None:
    waiting = Waiting()
    opener["open"] = waiting.open
    dialog._store_kind = "none"
    fill_issuer(dialog, oauth2_server)
    qtbot.mouseClick(dialog.sign_in_button, Qt.MouseButton.LeftButton)
    assert "No password store" in dialog.message.text()
    assert not dialog._signer.is_running() and waiting.opened == []


# --------------------------------------------------------------------------------------------
# the keyring slots
# --------------------------------------------------------------------------------------------


def test_the_client_secret_goes_to_the_keyring_and_follows_the_account(
    qtbot: Any, dialog: AccountsDialog, ctx: AppContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    dialog.add_account()
    dialog.name_edit.setText("Gmail")
    dialog.email_edit.setText("ada@gmail.com")
    dialog.host_edit.setText("smtp.gmail.com")
    choose(dialog, "google")
    dialog.client_id_edit.setText("123.apps.googleusercontent.com")
    dialog.client_secret_edit.setText("GOCSPX-secret")
    assert dialog.is_dirty()
    assert dialog.save()
    settle(qtbot, dialog)
    assert passwords.load(client_secret_slot("Gmail")) == "GOCSPX-secret"
    assert dialog.client_secret_edit.text() == ""
    assert "stored in the keyring" in dialog.client_secret_edit.placeholderText()
    assert ctx.accounts.get("Gmail").oauth2 == "google"

    dialog.name_edit.setText("Google")  # renamed: the secret moves with it
    assert dialog.save()
    settle(qtbot, dialog)
    assert passwords.load(client_secret_slot("Google")) == "GOCSPX-secret"
    assert passwords.load(client_secret_slot("Gmail")) is None

    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.StandardButton.Yes)
    dialog.remove_account()
    settle(qtbot, dialog)
    assert passwords.load(client_secret_slot("Google")) is None


def test_switching_from_a_password_to_oauth2_drops_the_password(
    qtbot: Any, dialog: AccountsDialog, ctx: AppContext
) -> None:
    """The grant lives in the slot the password used: an old password there would read
    as "signed in" and be sent to the token endpoint as a refresh token."""
    ctx.accounts.save(Account("Mail", "ada@outlook.com", host="smtp-mail.outlook.com",
                              username="ada@outlook.com"))  # fmt: skip
    passwords.store("Mail", "old-password")
    dialog.select_account("Mail")
    settle(qtbot, dialog)
    choose(dialog, "microsoft")
    dialog.client_id_edit.setText("app-id")
    assert dialog.password_edit.text() == ""
    assert dialog.save()
    settle(qtbot, dialog)
    assert passwords.load("Mail") is None
    assert dialog.sign_in_status.text() == "Not signed in"

    passwords.store("Mail", "a-grant")  # as if signed in; then the client id changes
    dialog.client_id_edit.setText("another-app")
    assert dialog.save()
    settle(qtbot, dialog)
    assert passwords.load("Mail") is None  # a grant is only good for its own client


def test_testing_an_account_that_is_not_signed_in(
    qtbot: Any, dialog: AccountsDialog, oauth2_server: MockOAuth2Server, smtp_server: Any
) -> None:
    smtp = smtp_server("starttls", tokens=valid_for(oauth2_server, "ada@example.org"))
    fill_issuer(dialog, oauth2_server, port=smtp.port)
    assert dialog.save()
    with qtbot.waitSignal(dialog._tester.finished, timeout=WAIT_MS) as tested:
        dialog.test_connection()
    result = tested.args[0]
    assert not result["ok"]
    assert "not signed in" in result["error"] and "sign in again" in result["error"]
    assert "mailgui account login" not in result["error"]
    assert smtp.connections == 0  # no token: the server was not contacted


# --------------------------------------------------------------------------------------------
# discovery and layout
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("address", "choice"), [("ada@outlook.com", "microsoft"), ("ada@gmail.com", "google")]
)
def test_find_settings_chooses_the_providers_sign_in(
    qtbot: Any, dialog: AccountsDialog, address: str, choice: str
) -> None:
    """By the address's domain, from the provider table: no DNS needed (it is refused)."""
    dialog.add_account()
    dialog.email_edit.setText(address)
    with qtbot.waitSignal(dialog._finder.finished, timeout=WAIT_MS):
        dialog.find_button.click()
    assert dialog.host_edit.text() in ("smtp-mail.outlook.com", "smtp.gmail.com")
    assert dialog.sign_in_choice() == choice
    assert dialog.username_edit.text() == ""  # the address is the SASL user
    assert "“Sign in with” is set to" in dialog.message.text()
    assert row_shown(dialog, dialog._sign_in_row) and not row_shown(dialog, dialog.password_edit)
    shot(qtbot, dialog, f"oauth2_found_{choice}", dialog.sign_in_button)


def test_find_settings_leaves_a_token_command_alone(qtbot: Any, dialog: AccountsDialog) -> None:
    dialog.add_account()
    dialog.email_edit.setText("ada@outlook.com")
    choose(dialog, "command")
    with qtbot.waitSignal(dialog._finder.finished, timeout=WAIT_MS):
        dialog.find_button.click()
    assert dialog.sign_in_choice() == "command"


def test_find_settings_and_test_connection_stay_in_view_with_oauth2(
    qtbot: Any, dialog: AccountsDialog
) -> None:
    dialog.add_account()
    choose(dialog, "issuer")
    dialog.client_id_hint.linkActivated.emit("steps")
    qtbot.waitExposed(dialog)
    for button in (dialog.find_button, dialog.test_button, dialog.save_button):
        assert button.isVisibleTo(dialog)
        where = button.mapTo(dialog, button.rect().bottomRight())
        assert dialog.rect().contains(where), button.text()
    shot(qtbot, dialog, "oauth2_issuer_form", dialog.client_id_steps)


def test_no_secret_reaches_the_screen(
    qtbot: Any,
    dialog: AccountsDialog,
    opener: dict[str, Any],
    oauth2_server: MockOAuth2Server,
    browser: Any,
) -> None:
    opener["open"] = browser.open
    fill_issuer(dialog, oauth2_server)
    assert sign_in(qtbot, dialog)["ok"]
    grant = passwords.load("Work")
    assert grant
    from PySide6.QtWidgets import QLabel, QLineEdit

    shown = [w.text() for w in dialog.findChildren(QLabel)]
    shown += [w.text() + w.placeholderText() for w in dialog.findChildren(QLineEdit)]
    assert all(grant not in text for text in shown)
