"""Signing in with OAuth2 in the accounts dialog: the "Sign in with" choice (a
password, Microsoft, Google, another OAuth2 server, a token command), the client id
and secret, and "Sign in…", which runs the browser flow in a worker
(``ui.sign_in_worker``) while the dialog shows the sign-in address and a Cancel.

"Sign in…" saves the form first when it is new or changed, as Save does (with the
same checks): the grant is kept under the account's name and is only good for the
issuer and client id it was made with, so signing in with settings that are never
saved would leave a grant that matches nothing. A person who typed an address and
chose Microsoft expects one click to be enough, not a Save they must know about.

Every keyring call (is it signed in, the client secret, signing out) goes through the
dialog's keyring thread (``passwords``), in order with the saves before it.
"""

from __future__ import annotations

import html
import itertools
import shlex
import urllib.parse
from typing import Any

from PySide6.QtCore import Qt, Slot
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSizePolicy,
    QWidget,
)

from mailgui.core import passwords
from mailgui.core.accounts import Account
from mailgui.core.addresses import check_text
from mailgui.core.errors import InputError, KeyringUnavailableError, MailguiError
from mailgui.core.oauth2.providers import DEFAULT_CLIENT_IDS, PRESETS, is_loopback
from mailgui.core.sign_in import client_secret_slot, oauth2_settings
from mailgui.ui.accounts_dialog.base import DialogBase
from mailgui.ui.accounts_dialog.widgets import AMBER, GREEN, GREY, plain_label, styled
from mailgui.ui.error_words import error_text

__all__ = ["AUTH_CHOICES", "GRANT_CHOICES", "PROVIDER_HOSTS", "SignInMixin", "auth_choice"]

AUTH_CHOICES = ("password", "microsoft", "google", "issuer", "command")
GRANT_CHOICES = ("microsoft", "google", "issuer")  # signed in with "Sign in…"

# Discovery's servers of the providers that want OAuth2 (core/providers.py).
PROVIDER_HOSTS = {
    "smtp.office365.com": "microsoft",
    "smtp-mail.outlook.com": "microsoft",
    "smtp.gmail.com": "google",
}

_NO_OAUTH2: dict[str, Any] = {
    "oauth2": "",
    "oauth2_client_id": "",
    "oauth2_scopes": (),
    "oauth2_token_command": "",
}
_lookups = itertools.count(1)  # tokens of status look-ups: a later one wins


def auth_choice(account: Account) -> str:
    """Which "Sign in with" choice shows ``account``."""
    if account.oauth2_token_command:
        return "command"
    if account.oauth2.lower() in PRESETS:
        return account.oauth2.lower()
    if account.oauth2:
        return "issuer"
    return "password"


def _grant_of(account: Account | None) -> tuple[str, str] | None:
    """What the grant in the account's keyring slot was made for (None: no grant)."""
    if account is None or auth_choice(account) not in GRANT_CHOICES:
        return None
    return (account.oauth2, account.oauth2_client_id)


def _slot_kind(account: Account) -> str:
    """What the keyring slot named after the account holds: a password, a grant, none."""
    if account.direct:
        return "none"
    choice = auth_choice(account)
    if choice in GRANT_CHOICES:
        return "grant"
    return "password" if choice == "password" and account.username else "none"


def _ignore(_result: object) -> None:
    pass


class SignInMixin(DialogBase):
    """The dialog's "Sign in with" rows and its sign-in status, button and worker."""

    # --- building ---------------------------------------------------------------------

    def _add_auth_choice_rows(self, form: QFormLayout) -> None:
        """The choice and the fields that say where tokens come from."""
        self.auth_combo = QComboBox()
        for key, text in zip(
            AUTH_CHOICES,
            (
                self.tr("Password"),
                self.tr("Microsoft (Outlook.com, Microsoft 365)"),
                self.tr("Google"),
                self.tr("Other OAuth2 server"),
                self.tr("Token command"),
            ),
            strict=True,
        ):
            self.auth_combo.addItem(text, key)
        self.auth_combo.setToolTip(
            self.tr(
                "Outlook.com and Microsoft 365 take no password for sending, and Gmail only "
                "an app password: such accounts sign in with the provider in your browser."
            )
        )
        self.auth_combo.currentIndexChanged.connect(self._auth_choice_changed)
        self.issuer_edit = QLineEdit()
        self.issuer_edit.setPlaceholderText(self.tr("https://login.example.org (the issuer URL)"))
        self.command_edit = QLineEdit()
        self.command_edit.setPlaceholderText(self.tr("a command that prints an access token"))
        self.command_edit.setToolTip(
            self.tr(
                "Run without a shell; the first line it prints is the access token. "
                "Nothing is stored."
            )
        )
        form.addRow(self.tr("Sign in &with:"), self.auth_combo)
        form.addRow(self.tr("Issuer URL:"), self.issuer_edit)
        form.addRow(self.tr("To&ken command:"), self.command_edit)

    def _add_oauth2_rows(self, form: QFormLayout) -> None:
        """Client id and secret, and the sign-in status with its buttons."""
        self.client_id_edit = QLineEdit()
        self.client_id_hint = styled(QLabel(), GREY)
        self.client_id_hint.setTextFormat(Qt.TextFormat.RichText)  # our own text only
        self.client_id_hint.setWordWrap(True)
        self.client_id_hint.setText(
            self.tr(
                "The ID of an application you registered with the provider; "
                '<a href="steps">how to register one</a> (README: “Registering an '
                "OAuth2 application”)."
            )
        )
        self.client_id_hint.linkActivated.connect(self._toggle_client_id_steps)
        self.client_id_hint.setMinimumWidth(360)
        self.client_id_steps = plain_label()
        self.client_id_steps.setMinimumWidth(360)
        self.client_id_steps.hide()
        self.client_secret_edit = QLineEdit()
        self.client_secret_edit.setEchoMode(QLineEdit.EchoMode.Password)
        self.sign_in_status = QLabel()
        self.sign_in_status.setTextFormat(Qt.TextFormat.PlainText)
        self.sign_in_status.setSizePolicy(
            QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred
        )
        self.sign_in_button = QPushButton(self.tr("Si&gn in…"))
        self.sign_in_button.setAutoDefault(False)
        self.sign_in_button.clicked.connect(self.start_sign_in)
        self.sign_out_button = QPushButton(self.tr("Sign out"))
        self.sign_out_button.setAutoDefault(False)
        self.sign_out_button.clicked.connect(self.sign_out)
        self.cancel_sign_in_button = QPushButton(self.tr("Cancel"))
        self.cancel_sign_in_button.setAutoDefault(False)
        self.cancel_sign_in_button.clicked.connect(self.cancel_sign_in)
        self.cancel_sign_in_button.hide()
        # Each row is a widget of its own: QFormLayout.setRowVisible shows and hides the
        # row's widgets, which must not fight with the buttons shown and hidden inside.
        self._sign_in_row = QWidget()
        row = QHBoxLayout(self._sign_in_row)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.sign_in_status, 1)
        row.addWidget(self.cancel_sign_in_button)
        row.addWidget(self.sign_in_button)
        row.addWidget(self.sign_out_button)
        # The sign-in address, for a browser that did not open: a link and a copy.
        self.sign_in_link = QLabel()
        self.sign_in_link.setTextFormat(Qt.TextFormat.RichText)  # the URL is escaped
        self.sign_in_link.setWordWrap(True)
        self.sign_in_link.setOpenExternalLinks(True)
        self.sign_in_link.setTextInteractionFlags(
            Qt.TextInteractionFlag.LinksAccessibleByMouse
            | Qt.TextInteractionFlag.LinksAccessibleByKeyboard
            | Qt.TextInteractionFlag.TextSelectableByMouse
        )
        self.sign_in_link.setMinimumWidth(300)
        self.copy_link_button = QPushButton(self.tr("Copy link"))
        self.copy_link_button.setAutoDefault(False)
        self.copy_link_button.clicked.connect(self._copy_sign_in_url)
        self._sign_in_link_row = QWidget()
        link_row = QHBoxLayout(self._sign_in_link_row)
        link_row.setContentsMargins(0, 0, 0, 0)
        link_row.addWidget(self.sign_in_link, 1)
        link_row.addWidget(self.copy_link_button, 0, Qt.AlignmentFlag.AlignTop)
        self._sign_in_url = ""
        self._status_token = 0
        self._sign_in_pending = 0  # a sign-in waiting for its settings from the keyring

        form.addRow(self.tr("Client ID:"), self.client_id_edit)
        form.addRow("", self.client_id_hint)
        form.addRow("", self.client_id_steps)
        form.addRow(self.tr("Client secret:"), self.client_secret_edit)
        form.addRow(self.tr("Sign-in:"), self._sign_in_row)
        form.addRow("", self._sign_in_link_row)
        label = form.labelForField(self._sign_in_row)
        if isinstance(label, QLabel):
            label.setBuddy(self.sign_in_button)
        for edit in (self.issuer_edit, self.command_edit, self.client_id_edit):
            edit.textChanged.connect(self._connection_settings_changed)

    # --- the form as values ---------------------------------------------------------

    def sign_in_choice(self) -> str:
        return str(self.auth_combo.currentData())

    def _uses_grant(self) -> bool:
        return not self.is_direct() and self.sign_in_choice() in GRANT_CHOICES

    def _load_sign_in(self, account: Account) -> None:
        """Show how ``account`` signs in (called by ``_load`` while it loads)."""
        choice = auth_choice(account)
        self.auth_combo.setCurrentIndex(self.auth_combo.findData(choice))
        self.issuer_edit.setText(account.oauth2 if choice == "issuer" else "")
        self.command_edit.setText(account.oauth2_token_command)
        self.client_id_edit.setText(account.oauth2_client_id)
        self.client_secret_edit.clear()
        self.client_id_steps.hide()
        self._show_sign_in_url("")

    def _sign_in_values(self) -> tuple[Any, ...]:
        return (
            self.sign_in_choice(),
            self.issuer_edit.text(),
            self.command_edit.text(),
            self.client_id_edit.text(),
        )

    def _apply_sign_in_values(self, values: tuple[Any, ...]) -> None:
        choice, issuer, command, client_id = values
        self.auth_combo.setCurrentIndex(max(self.auth_combo.findData(choice), 0))
        self.issuer_edit.setText(issuer)
        self.command_edit.setText(command)
        self.client_id_edit.setText(client_id)

    def _sign_in_fields(self, base: Account) -> dict[str, Any]:
        """The form's sign-in settings as Account fields; raises InputError."""
        choice = self.sign_in_choice()
        before = auth_choice(base)
        if self.is_direct() or choice == "password":
            return dict(_NO_OAUTH2)
        if choice == "command":
            command = check_text("token command", self.command_edit.text().strip())
            try:
                words = shlex.split(command)
            except ValueError as exc:
                raise InputError(
                    self.tr("The token command cannot be read ({0}); check its quotes.").format(exc)
                ) from None
            if not words:
                raise InputError(
                    self.tr("Type the command that prints an access token in “Token command”.")
                )
            # An account set up with both (the command line allows it) keeps its issuer.
            keep = before == "command"
            return {
                "oauth2": base.oauth2 if keep else "",
                "oauth2_client_id": base.oauth2_client_id if keep else "",
                "oauth2_scopes": base.oauth2_scopes if keep else (),
                "oauth2_token_command": command,
            }
        issuer = choice if choice != "issuer" else self._issuer_from_form()
        client_id = check_text("client ID", self.client_id_edit.text().strip())
        if not client_id and not DEFAULT_CLIENT_IDS.get(issuer):
            provider = self.auth_combo.currentText() if choice != "issuer" else issuer
            raise InputError(
                self.tr(
                    "Signing in with {0} needs the client ID of an application you "
                    "registered there; type it in “Client ID” (“how to register one” "
                    "under it says how)."
                ).format(provider)
            )
        return {
            "oauth2": issuer,
            "oauth2_client_id": client_id,
            # scopes are the preset's or the command line's: kept while the issuer is
            "oauth2_scopes": base.oauth2_scopes if base.oauth2 == issuer else (),
            "oauth2_token_command": "",
        }

    def _issuer_from_form(self) -> str:
        issuer = self.issuer_edit.text().strip().rstrip("/")
        url = urllib.parse.urlsplit(issuer)
        if not issuer:
            raise InputError(self.tr("Type the OAuth2 server's address in “Issuer URL”."))
        if not url.hostname or not (
            url.scheme == "https" or (url.scheme == "http" and is_loopback(url.hostname))
        ):
            raise InputError(
                self.tr(
                    "The issuer URL {0} is not usable: it must start with https:// (http:// "
                    "only for a server on this computer)."
                ).format(issuer)
            )
        return issuer

    # --- reactions --------------------------------------------------------------------

    @Slot(int)
    def _auth_choice_changed(self, _index: int) -> None:
        if self.sign_in_choice() != "password":
            self.password_edit.clear()  # never stored for an account that signs in
        self._update_security_ui()
        self._connection_settings_changed()

    def _update_sign_in_ui(self) -> None:
        """Which rows show, for the choice (called by ``_update_security_ui``)."""
        direct = self.is_direct()
        choice = self.sign_in_choice()
        grant = not direct and choice in GRANT_CHOICES
        self.form.setRowVisible(self.auth_combo, not direct)
        self.form.setRowVisible(self.issuer_edit, not direct and choice == "issuer")
        self.form.setRowVisible(self.command_edit, not direct and choice == "command")
        self.form.setRowVisible(self.password_edit, not direct and choice == "password")
        for field in (self.client_id_edit, self.client_id_hint, self.client_secret_edit):
            self.form.setRowVisible(field, grant)
        self.form.setRowVisible(self.client_id_steps, grant and self._steps_open())
        self.form.setRowVisible(self._sign_in_row, grant)
        self.form.setRowVisible(self._sign_in_link_row, grant and bool(self._sign_in_url))
        self.username_edit.setPlaceholderText(
            self.tr("optional: your email address is used")
            if not direct and choice != "password"
            else ""
        )
        preset_id = DEFAULT_CLIENT_IDS.get(choice)
        self.client_id_edit.setPlaceholderText(
            self.tr("optional: mailgui's own is used") if preset_id else ""
        )
        if grant and self._steps_open():
            self.client_id_steps.setText(self._registration_steps(choice))
        self._update_sign_in_buttons()

    def _steps_open(self) -> bool:
        return bool(self.client_id_steps.property("open"))

    @Slot(str)
    def _toggle_client_id_steps(self, _link: str) -> None:
        self.client_id_steps.setProperty("open", not self._steps_open())
        self._update_sign_in_ui()

    def _registration_steps(self, choice: str) -> str:
        if choice == "microsoft":
            return self.tr(
                "In the Microsoft Entra admin center (entra.microsoft.com): App registrations "
                "→ New registration, for “Accounts in any organizational directory and "
                "personal Microsoft accounts”; add the platform “Mobile and desktop "
                "applications” with the redirect URI http://localhost; under API "
                "permissions add SMTP.Send and offline_access. Its “Application (client) "
                "ID” goes here."
            )
        if choice == "google":
            return self.tr(
                "In the Google Cloud console (console.cloud.google.com): create a project, "
                "enable the Gmail API, set up the OAuth consent screen with the scope "
                "https://mail.google.com/, then Credentials → Create credentials → OAuth "
                "client ID of type “Desktop app”. Its client ID goes here, its client "
                "secret below. In “Testing” mode only listed test users can sign in, and "
                "they must sign in again every 7 days."
            )
        return self.tr(
            "Register mailgui as a public (native) client with your OAuth2 server, with a "
            "loopback redirect (http://127.0.0.1, any port) and the scopes sending mail "
            "needs; its client ID goes here."
        )

    def _update_sign_in_buttons(self) -> None:
        running = self._sign_in_busy()
        self.cancel_sign_in_button.setVisible(running)
        self.sign_in_button.setVisible(not running)
        self.sign_in_button.setEnabled(self._uses_grant())
        signed_in = bool(self.sign_in_status.property("signedIn"))
        self.sign_out_button.setVisible(not running and signed_in)

    def _sign_in_busy(self) -> bool:
        return self._signer.is_running() or bool(self._sign_in_pending)

    # --- the status: asked of the keyring -------------------------------------------------

    def _update_sign_in_status(self) -> None:
        """Signed in or not (asked in the keyring thread), and whether a client secret
        is stored; shown for the saved account when it signs in with a grant."""
        self._status_token = token = next(_lookups)
        self.client_secret_edit.setPlaceholderText(self.tr("optional (Google asks for one)"))
        account = self._current
        if self._sign_in_busy():
            return
        if account is None or _grant_of(account) is None:
            self._show_status(None, account)
            return
        self._set_status(self.tr("…"), GREY, signed_in=False)
        name = account.name

        def lookup() -> tuple[int, bool | None, bool]:
            from mailgui.core.oauth2.tokens import is_signed_in

            try:
                secret = passwords.load(client_secret_slot(name)) is not None
            except KeyringUnavailableError:
                secret = False
            try:
                return token, is_signed_in(name), secret
            except Exception:  # a backend's own error: say "not signed in"
                return token, False, secret

        self._run_keyring(lookup, self._sign_in_status_known)

    def _sign_in_status_known(self, answer: tuple[int, bool | None, bool]) -> None:
        token, signed_in, secret = answer
        if token != self._status_token or self._sign_in_busy():
            return
        if secret:
            self.client_secret_edit.setPlaceholderText(
                self.tr("stored in the keyring — type to replace")
            )
        self._show_status(signed_in, self._current)

    def _show_status(self, signed_in: bool | None, account: Account | None) -> None:
        if signed_in:
            assert account is not None
            self._set_status(
                self.tr("✔ Signed in; sends as {0}").format(account.sasl_user), GREEN, True
            )
        elif account is None or _grant_of(account) is None or self.is_dirty():
            self._set_status(self.tr("Not signed in (Sign in… saves the account first)"), GREY)
        else:
            self._set_status(self.tr("Not signed in"), AMBER)

    def _set_status(self, text: str, colour: str, signed_in: bool = False) -> None:
        self.sign_in_status.setText(text)
        styled(self.sign_in_status, colour)
        self.sign_in_status.setProperty("signedIn", signed_in)
        self._update_sign_in_buttons()

    # --- signing in -----------------------------------------------------------------------

    @Slot()
    def start_sign_in(self) -> None:
        """Save the form if it is new or changed, then sign in in the browser."""
        if self._sign_in_busy():
            return
        self._clear_message()
        if not self._uses_grant():
            self._show_message(
                self.tr("Choose Microsoft, Google or another OAuth2 server under “Sign in with”."),
                error=True,
            )
            return
        if self._store_kind == "none":
            self._show_message(
                self.tr(
                    "No password store (keyring) is available, so mailgui could not keep the "
                    "sign-in; set up a keyring (or use a token command) and try again."
                ),
                error=True,
            )
            return
        if (self._current is None or self.is_dirty()) and not self.save():
            return  # the reason is shown under the form
        account = self._current
        assert account is not None
        self._sign_in_pending = pending = next(_lookups)
        self._set_status(self.tr("Getting ready to sign in…"), GREY)

        def settings() -> tuple[int, Any]:
            try:  # the client secret is in the keyring: read here, after the save
                return pending, oauth2_settings(account)
            except MailguiError as exc:
                return pending, error_text(exc)
            except Exception as exc:  # a job must not raise
                return pending, f"{type(exc).__name__}: {exc}"

        self._run_keyring(settings, self._start_flow)

    def _start_flow(self, answer: tuple[int, Any]) -> None:
        pending, settings = answer
        if pending != self._sign_in_pending:
            return  # cancelled (or the dialog moved on) while the keyring answered
        self._sign_in_pending = 0
        account = self._current
        if account is None or isinstance(settings, str) or settings is None:
            self._show_message(
                str(settings or self.tr("The account does not sign in with OAuth2.")), error=True
            )
            self._update_sign_in_status()
            return
        self._signer.start(settings, account.name)
        self._set_status(self.tr("Waiting for the browser…"), GREY)
        self.cancel_sign_in_button.setFocus()

    @Slot()
    def cancel_sign_in(self) -> None:
        """Stop the running sign-in (nothing is stored)."""
        if self._sign_in_pending:
            self._sign_in_pending = 0
            self._sign_in_finished({"account": "", "ok": False, "cancelled": True, "error": ""})
        self._signer.cancel()  # finished(cancelled) follows at once

    @Slot(str, str)
    def _sign_in_url_ready(self, _account: str, url: str) -> None:
        self._show_sign_in_url(url)

    def _show_sign_in_url(self, url: str) -> None:
        self._sign_in_url = url
        if url:
            self.sign_in_link.setText(
                self.tr(
                    'If no browser opened, open <a href="{0}">the sign-in page</a> yourself '
                    "(Copy link, then paste it in a browser)."
                ).format(html.escape(url, quote=True))
            )
            self.sign_in_link.setToolTip(url)
        else:
            self.sign_in_link.clear()
            self.sign_in_link.setToolTip("")
        self.form.setRowVisible(self._sign_in_link_row, self._uses_grant() and bool(url))

    @Slot()
    def _copy_sign_in_url(self) -> None:
        if self._sign_in_url:
            QGuiApplication.clipboard().setText(self._sign_in_url)

    @Slot(dict)
    def _sign_in_finished(self, result: dict[str, Any]) -> None:
        self._show_sign_in_url("")
        account = str(result.get("account", ""))
        if result.get("ok"):
            self._show_message(
                self.tr("Signed in to “{0}”; the sign-in is kept in the keyring.").format(account)
            )
            self.signedIn.emit(account)
        elif result.get("cancelled"):
            self._show_message(self.tr("The sign-in was cancelled; nothing was stored."))
        else:
            self._show_message(str(result.get("error", "")), error=True)
        if self._current is not None and self._current.name == account and result.get("ok"):
            self._status_token = next(_lookups)
            self._show_status(True, self._current)
        else:
            self._update_sign_in_status()
        self._update_sign_in_buttons()

    @Slot()
    def sign_out(self) -> None:
        """Forget the account's grant (the provider may keep it until it expires)."""
        account = self._current
        if account is None or self._sign_in_busy():
            return
        name = account.name

        def forget() -> str:
            from mailgui.core.oauth2.tokens import sign_out

            sign_out(name)
            self._ctx.credentials().forget(name)  # and the access token the app holds
            return name

        self._clear_message()
        self._run_keyring(forget, self._signed_out)

    def _signed_out(self, name: str) -> None:
        self._show_message(
            self.tr("Signed out of “{0}”; sending needs a new sign-in.").format(name)
        )
        self._update_sign_in_status()
        self.accountsChanged.emit()

    # --- saving: the keyring slots --------------------------------------------------------

    def _save_sign_in_secrets(self, original: Account | None, account: Account) -> None:
        """After a save, before the password is stored: drop what the account's keyring
        slot held when it no longer fits (a password once the account signs in with
        OAuth2, a grant once the issuer or client id changed), carry the client secret
        over a rename, and store a typed client secret."""
        secret = self.client_secret_edit.text() if _grant_of(account) else ""
        self.client_secret_edit.clear()
        stale = original is not None and (
            (_slot_kind(original) != _slot_kind(account) and _slot_kind(original) != "none")
            or (_grant_of(original) is not None and _grant_of(original) != _grant_of(account))
        )
        old = original.name if original is not None else account.name
        name = account.name

        def job() -> str:
            if stale:
                passwords.forget(name)
            if old != name:
                try:
                    moved = passwords.load(client_secret_slot(old))
                    if moved is not None and not secret:
                        passwords.store(client_secret_slot(name), moved)
                except KeyringUnavailableError:
                    pass
                passwords.forget(client_secret_slot(old))
            if secret:
                try:
                    passwords.store(client_secret_slot(name), secret)
                except KeyringUnavailableError:
                    return "no-keyring"
            return ""

        self._run_keyring(job, self._sign_in_secrets_saved)

    def _sign_in_secrets_saved(self, problem: str) -> None:
        if problem == "no-keyring":
            self._show_message(
                self.tr(
                    "Saved without the client secret: no password store (keyring) is "
                    "available to keep it."
                ),
                error=True,
            )

    def _forget_client_secret(self, name: str) -> None:
        self._run_keyring(lambda: passwords.forget(client_secret_slot(name)), _ignore)

    # --- discovery ------------------------------------------------------------------------

    def _propose_sign_in(self, host: str) -> str:
        """After Find settings filled ``host``: choose the sign-in its provider wants,
        and say why (an empty string when it wants nothing special)."""
        preset = PROVIDER_HOSTS.get(host.lower().rstrip("."))
        if preset is None or self.sign_in_choice() == preset:
            return ""
        if self.sign_in_choice() == "command":
            return ""  # the person's own token source: not second-guessed
        self.auth_combo.setCurrentIndex(self.auth_combo.findData(preset))
        if host.lower().startswith("smtp-mail.outlook"):
            return self.tr(
                "Outlook.com takes no password for sending, so “Sign in with” is set to Microsoft."
            )
        if preset == "microsoft":
            return self.tr(
                "Microsoft 365 stops taking passwords for sending at the end of 2026, so "
                "“Sign in with” is set to Microsoft."
            )
        return self.tr(
            "Google takes a password only as an app password, so “Sign in with” is set to "
            "Google (choose Password to use an app password)."
        )

    # --- from outside ----------------------------------------------------------------------

    def _sign_in_requested(self) -> None:
        """``select_account(name, sign_in=True)``: the error's "Sign in again"."""
        account = self._current
        if account is None:
            return
        choice = auth_choice(account)
        if choice in GRANT_CHOICES:
            self.start_sign_in()
        elif choice == "command":
            self._show_message(
                self.tr(
                    "This account gets its access tokens from its token command; check what "
                    "it prints."
                ),
                error=True,
            )
            self.command_edit.setFocus()
        else:
            self.password_edit.setFocus()
