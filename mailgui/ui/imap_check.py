"""The accounts dialog's incoming-server "Test" and "Load folders": one IMAP session
(``core.imap``) opened, its folders listed and closed, in a worker QObject in its own
QThread, so the GUI never waits on the network, the keyring or a token refresh.

The result is plain data (a dict), built by :func:`check_imap`, which never raises:

- ``ok`` (bool): connected, encrypted, certificate verified, logged in, folders listed.
- ``lines`` (list[str]): what was learnt, in plain words, in order.
- ``error`` (str): the error sentence (empty when ok).
- ``cancelled`` (bool): the person pressed Cancel (or the dialog closed).
- ``folders`` (list[str]): the selectable folders by their readable names.
- ``sent`` (str | None): the folder "Automatic" files in (``\\Sent``, else a known name).
- ``sent_flagged`` (bool): ``sent`` is the one the server marks ``\\Sent``.

As for SMTP, nothing the server says before encryption is shown; the login uses the
account's credentials (the typed or stored password, or an OAuth2 access token).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QCoreApplication, QObject

from mailgui.core.accounts import Account
from mailgui.core.credentials import Login, as_login
from mailgui.core.errors import KeyringUnavailableError, MailguiError
from mailgui.core.imap.session import ImapSession
from mailgui.ui.connection_test import short_name
from mailgui.ui.error_words import error_text
from mailgui.ui.server_check import CheckRunner
from mailgui.ui.worker_thread import wait_all

__all__ = ["THREAD_NAME", "ImapChecker", "check_imap", "wait_for_all"]

CredentialLookup = Callable[[], "str | Login | None"]
DEADLINE_SLACK_S = 2.0
THREAD_NAME = "mailgui-imap-check"


def _tr(text: str) -> str:
    return QCoreApplication.translate("ImapChecker", text)


def _unexpected(exc: BaseException) -> str:
    return _tr("The test stopped on an unexpected error ({0}: {1}).").format(
        type(exc).__name__, exc
    )


def _empty() -> dict[str, Any]:
    return {
        "ok": False,
        "lines": [],
        "error": "",
        "cancelled": False,
        "folders": [],
        "sent": None,
        "sent_flagged": False,
    }


def _secured(session: ImapSession) -> list[str]:
    info = session.info
    lines = [_tr("Connected to {0}.").format(session.where)]
    if info.tls_version:
        lines.append(
            _tr("Encrypted with {0} ({1}); certificate verified ({2}).").format(
                info.tls_version,
                info.cipher or _tr("unknown cipher"),
                short_name(info.cert_subject),
            )
        )
    return lines


def check_imap(
    account: Account,
    credential: str | Login | None,
    lookup: CredentialLookup | None = None,
    *,
    on_session: Callable[[ImapSession], None] | None = None,
) -> dict[str, Any]:
    """Log in to the account's IMAP server and list its folders; never raises.
    Blocking: call it off the GUI thread. ``lookup`` fetches the stored password (or
    the OAuth2 login) when ``credential`` is None; ``on_session`` receives the session
    before it connects, so another thread can ``abort()`` it."""
    from mailgui.core.imap.folders import find_sent, list_folders
    from mailgui.core.imap_filer import imap_settings

    result = _empty()
    try:
        settings = imap_settings(account)
    except MailguiError as exc:
        result["error"] = error_text(exc)
        return result
    if credential is None and lookup is not None:
        try:
            credential = lookup()
        except KeyringUnavailableError:
            credential = None  # the session says that a login is needed
        except MailguiError as exc:  # OAuth2: not signed in, a refused refresh...
            result["lines"] = [_tr("No access token, so the server was not contacted.")]
            result["error"] = error_text(exc)
            return result
        except Exception as exc:  # a bug must not leave the dialog waiting
            result["error"] = _unexpected(exc)
            return result
    login = None  # no user name: the server's "requires a login" says what to do
    if account.auth != "none":
        login = as_login(account._replace(username=account.sasl_user), credential)
    # a refused login says the fix in the window's words ("type the password again")
    session = ImapSession(settings, login, fix=account.login_fix)
    if on_session is not None:
        on_session(session)
    try:
        with session:
            info = session.open()
            folders = [f for f in list_folders(session) if f.selectable]
    except MailguiError as exc:  # refused login, TLS, folders: its sentence says it
        result["lines"] = _secured(session) if session.info.tls_version else []
        result["error"] = error_text(exc)
        return result
    except Exception as exc:
        result["error"] = _unexpected(exc)
        return result
    lines = _secured(session)
    if info.authenticated_as:
        lines.append(_tr("Logged in as {0}.").format(info.authenticated_as))
    sent = find_sent(folders)
    if sent is None:
        lines.append(
            _tr(
                "No folder is marked as Sent, and none has a usual name (such as Sent): "
                "choose a folder for the copies, or None."
            )
        )
    elif "\\sent" in sent.flags:
        lines.append(_tr("The server marks “{0}” as its Sent folder.").format(sent.name))
    else:
        lines.append(_tr("“{0}” is taken as the Sent folder (by its name).").format(sent.name))
    result.update(
        ok=True,
        lines=lines,
        folders=[f.name for f in folders],
        sent=sent.name if sent else None,
        sent_flagged=bool(sent and "\\sent" in sent.flags),
    )
    return result


def wait_for_all(timeout_ms: int = 5000) -> bool:
    """Wait for checks still closing (a cancelled one ends when its connection does)."""
    return wait_all(timeout_ms, THREAD_NAME)


class ImapChecker(CheckRunner):
    """Runs one incoming-server check at a time, off the GUI thread (``server_check``).

    Signals:
        finished(dict): the result (see the module docstring); exactly once per
            ``start()``, also after ``cancel()`` (``cancelled`` True) or the deadline.
    """

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(THREAD_NAME, parent)

    def start(
        self,
        account: Account,
        credential: str | Login | None,
        lookup: CredentialLookup | None = None,
    ) -> None:
        self.run_check(
            lambda on_session: check_imap(account, credential, lookup, on_session=on_session),
            # connect, STARTTLS, login, LIST: each has the account's timeout
            2 * account.timeout + DEADLINE_SLACK_S,
        )

    def cancelled_text(self) -> str:
        return _tr("The test was cancelled.")

    def too_slow_text(self, seconds: float) -> str:
        return _tr(
            "The IMAP server did not answer within {0:g} seconds; check the server "
            "name and port, or raise the timeout."
        ).format(seconds)

    def early_result(self, error: str, *, cancelled: bool) -> dict[str, Any]:
        result = _empty()
        result.update(error=error, cancelled=cancelled)
        return result
