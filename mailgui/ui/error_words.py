"""The core's errors in the app's words: the fix a hint names (``core.hints``) said as
what to do in the window, not which command-line option to give, and the button that
does it ("Edit account", "Sign in again").

The texts are translatable (context "ErrorWords"). An error without a hint is shown as
the core wrote it: its sentence names no option.
"""

from __future__ import annotations

from typing import NamedTuple
from urllib.parse import quote, unquote

from PySide6.QtCore import QCoreApplication

from mailgui.core.errors import MailguiError
from mailgui.core.hints import Hint, Said
from mailgui.core.outbox import MessageRow

__all__ = ["Action", "action", "advice", "error_text", "row_error"]

SCHEME = "mailgui-fix"


def _tr(text: str) -> str:
    return QCoreApplication.translate("ErrorWords", text)


def _noop(text: str) -> str:
    """Marks a text for translation; ``_tr`` translates it when it is shown."""
    return text


# key -> the advice in the app's words (translated when shown)
_ADVICE: dict[str, str] = {
    "set-password": _noop("type it in the account's Password field"),
    "password-refused": _noop("check them and type the password again in the account"),
    "needs-login": _noop("give the account a user name and password"),
    "sign-in": _noop("sign in again"),
    "sign-in-device": _noop("sign in again"),
    "token-command": _noop("check what the account's token command prints"),
    "needs-encryption": _noop("choose STARTTLS or SSL/TLS under Security"),
    "check-security": _noop("check the port and Security settings (port 465 uses SSL/TLS)"),
    "port-465": _noop("Port 465 expects SSL/TLS, not STARTTLS: choose SSL/TLS under Security"),
    "port-587": _noop("Port 587 expects STARTTLS: choose STARTTLS under Security"),
    "try-starttls": _noop(
        "The server may not speak SSL/TLS on this port; try STARTTLS under Security"
    ),
    "ca-file": _noop("if the server uses a private CA, choose its certificate as CA file"),
    "give-host": _noop("fill in the Server field"),
    "client-id": _noop("type it in “Client ID” (“how to register one” says how to get one)"),
    "client-id-refused": _noop("check the Client ID and the application's registration"),
    "add-account": _noop("add it under Accounts"),
    "add-first-account": _noop("add one under Accounts"),
}


def advice(hint: Hint) -> str:
    """The fix, said for someone looking at the window."""
    text = _ADVICE.get(hint.key)
    return hint.cli() if text is None else _tr(text)


def _said(said: Said | None, fallback: str) -> str:
    return fallback if said is None else said.words(advice(said.hint))


def error_text(exc: MailguiError) -> str:
    """An error's sentence in the app's words."""
    return _said(exc.said, exc.message)


def row_error(row: MessageRow) -> str:
    """A message's last error in the app's words (empty when it has none)."""
    return _said(row.last_error_said, row.last_error or "")


class Action(NamedTuple):
    """A button that fixes what a hint names: ``kind`` is "edit-account", "sign-in" or
    "accounts"; ``account`` the account's name (empty for "accounts")."""

    kind: str
    account: str
    label: str

    def url(self) -> str:
        """The link that stands for the button in a text pane ("mailgui-fix:KIND/NAME")."""
        return f"{SCHEME}:{self.kind}/{quote(self.account, safe='')}"

    @classmethod
    def from_url(cls, url: str) -> Action | None:
        scheme, _, rest = url.partition(":")
        kind, _, account = rest.partition("/")
        if scheme != SCHEME or kind not in ("edit-account", "sign-in", "accounts"):
            return None
        return cls(kind, unquote(account), "")


def action(said: Said | None) -> Action | None:
    """The button for an error's fix (every hint names a setting, a login or an
    account), or None for an error without a hint."""
    if said is None:
        return None
    hint = said.hint
    if hint.key in ("sign-in", "sign-in-device"):
        return Action("sign-in", hint.account, _tr("Sign in again"))
    if hint.key in ("add-account", "add-first-account") or not hint.account:
        return Action("accounts", "", _tr("Accounts…"))
    return Action("edit-account", hint.account, _tr("Edit account"))  # a setting to change
