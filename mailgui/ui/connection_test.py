"""The accounts dialog's "Test connection": one SMTP session opened and closed
in a worker QObject moved to its own QThread, so the GUI never waits on the network.

The result is plain data (a dict), built by :func:`probe`, which is Qt-free and
can be unit-tested on its own:

- ``ok`` (bool): connected, encrypted as the account demands, logged in if it has
  a user name.
- ``lines`` (list[str]): what was learnt, in plain words, in order.
- ``error`` (str): the error sentence (empty when ok).
- ``cancelled`` (bool): the person pressed Cancel (a missed overall deadline is a
  failure, not a cancel).

The server's greeting is never shown: it arrives before any encryption, so nothing
in it can be trusted. Only facts mailgui checked itself (TLS version, certificate)
and the server's reply to AUTH, which comes inside TLS, are shown.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QCoreApplication, QObject, Signal

from mailgui.core.accounts import Account
from mailgui.core.credentials import Login
from mailgui.core.errors import AuthError, KeyringUnavailableError, MailguiError
from mailgui.core.sizes import human_size
from mailgui.core.transport import Session, SessionInfo
from mailgui.ui.error_words import error_text
from mailgui.ui.server_check import CheckRunner
from mailgui.ui.worker_thread import wait_all

# The stored password, or for an account that signs in with OAuth2 a ``Login`` with a
# fresh access token (``ByAuth``: a refresh, or the token command, runs in the lookup).
PasswordLookup = Callable[[], "str | Login | None"]

# Seconds added to the account's timeout for the whole test: each step already has
# the account's timeout (and a clearer message), this only catches a slow crawl.
DEADLINE_SLACK_S = 2.0


def _tr(text: str) -> str:
    return QCoreApplication.translate("ConnectionTester", text)


_SHORT_KEYS = {
    "commonName": "CN",
    "organizationName": "O",
    "organizationalUnitName": "OU",
    "countryName": "C",
    "stateOrProvinceName": "ST",
    "localityName": "L",
}


def short_name(dn: str | None) -> str:
    """'commonName=mail.example.org, organizationName=Example' -> 'CN=mail.example.org';
    without a CN, the organisation (and unit). Falls back to the text as given."""
    if not dn:
        return _tr("(no name)")
    parts: list[tuple[str, str]] = []
    for item in dn.split(", "):
        key, sep, value = item.partition("=")
        if not sep:
            return dn  # a value with ", " inside: show it all rather than guess
        parts.append((_SHORT_KEYS.get(key, key), value))
    keep = [p for p in parts if p[0] == "CN"]
    if not keep:
        keep = [p for p in parts if p[0] in ("O", "OU")] or parts
    return ", ".join(f"{k}={v}" for k, v in keep)


def describe(account: Account, info: SessionInfo, *, connected: bool) -> list[str]:
    """What a (possibly half-finished) session established, one sentence per line."""
    lines: list[str] = []
    if not connected:
        return lines
    lines.append(_tr("Connected to {0}.").format(account.server))
    if info.tls_version:
        lines.append(
            _tr("Encrypted with {0} ({1}); certificate verified.").format(
                info.tls_version, info.cipher or _tr("unknown cipher")
            )
        )
        if info.cert_subject:
            lines.append(
                _tr("Certificate: {0}, issued by {1}.").format(
                    short_name(info.cert_subject), short_name(info.cert_issuer)
                )
            )
    elif account.security == "none":
        lines.append(_tr("Not encrypted (security: none): anyone on the way can read it."))
    return lines


def probe(
    account: Account,
    password: str | Login | None,
    lookup: PasswordLookup | None = None,
    *,
    on_session: Callable[[Session], None] | None = None,
) -> dict[str, Any]:
    """Open and close one session; never raises. Blocking: call it off the GUI thread.

    ``lookup`` fetches the stored password, or the OAuth2 login, when ``password`` is
    None (keyring calls and token refreshes can block too, so they happen here).
    ``on_session`` receives the session before it connects, so another thread can
    ``abort()`` it.
    """
    result: dict[str, Any] = {"ok": False, "lines": [], "error": "", "cancelled": False}
    if account.direct:
        result["lines"] = [_tr("This account delivers straight to the recipients' servers.")]
        result["error"] = _tr("There is no server to test for direct delivery.")
        return result
    logs_in = account.auth != "none"
    credential = password
    if credential is None and logs_in and lookup is not None:
        try:
            credential = lookup()
        except KeyringUnavailableError:
            credential = None  # the session says what is missing
        except MailguiError as exc:  # OAuth2: not signed in, a refused refresh, the command
            result["lines"] = [_tr("No access token, so the server was not contacted.")]
            result["error"] = error_text(exc)
            return result
        except Exception as exc:  # a bug must not leave the dialog waiting forever
            result["error"] = _tr("The test stopped on an unexpected error ({0}: {1}).").format(
                type(exc).__name__, exc
            )
            return result
    session = Session(account, credential if logs_in else None)
    if on_session is not None:
        on_session(session)
    try:
        with session:
            info = session.open()
    except AuthError as exc:
        lines = describe(account, session.info, connected=True)
        if exc.code is None:  # refused by us before asking (no password, no AUTH offered)
            lines.append(_tr("Not logged in: {0}").format(error_text(exc)))
        else:
            words = exc.server_words or ""
            lines.append(_tr("Authentication refused by the server: {0}").format(words))
        result["lines"] = lines
        result["error"] = error_text(exc)
        return result
    except MailguiError as exc:
        # The greeting is recorded as soon as the server answered: we were connected.
        result["lines"] = describe(account, session.info, connected=bool(session.info.greeting))
        result["error"] = error_text(exc)
        return result
    except Exception as exc:  # a bug must not leave the dialog waiting forever
        result["error"] = _tr("The test stopped on an unexpected error ({0}: {1}).").format(
            type(exc).__name__, exc
        )
        return result
    lines = describe(account, info, connected=True)
    if info.authenticated_as:
        lines.append(_tr("Logged in as {0}.").format(info.authenticated_as))
    else:
        lines.append(_tr("Not logged in (no user name is set)."))
    if info.size_limit:
        lines.append(
            _tr("The server accepts messages up to {0}.").format(human_size(info.size_limit))
        )
    result["ok"] = True
    result["lines"] = lines
    return result


THREAD_NAME = "mailgui-connection-test"


def wait_for_all(timeout_ms: int = 5000) -> bool:
    """Wait for tests still closing. True when all have ended.

    Every tester thread is referenced (by ``worker_thread``) until it has ended: a
    cancelled test, or one whose dialog closed, ends only when its connection does."""
    return wait_all(timeout_ms, THREAD_NAME)


class ConnectionTester(CheckRunner):
    """Runs "Test connection" for one account at a time, off the GUI thread
    (``server_check``).

    Signals:
        started(): a test began.
        finished(dict): the result (see the module docstring); exactly once per
            ``start()``, also after ``cancel()`` (``cancelled`` True) or the deadline.
    """

    started = Signal()

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(THREAD_NAME, parent)

    def start(
        self,
        account: Account,
        password: str | Login | None,
        lookup: PasswordLookup | None = None,
    ) -> None:
        """Test ``account`` with ``password`` (or ``lookup()`` when None): a password,
        or the ``Login`` of an account that signs in with OAuth2."""
        self.run_check(
            lambda on_session: probe(account, password, lookup, on_session=on_session),
            account.timeout + DEADLINE_SLACK_S,
        )
        self.started.emit()

    def cancelled_text(self) -> str:
        return _tr("The test was cancelled.")

    def too_slow_text(self, seconds: float) -> str:
        return _tr(
            "The server did not finish the test within {0:g} seconds; check the "
            "server name and port, or raise the timeout."
        ).format(seconds)

    def early_result(self, error: str, *, cancelled: bool) -> dict[str, Any]:
        return {"ok": False, "lines": [], "error": error, "cancelled": cancelled}

    def shutdown(self, timeout_ms: int = 0) -> bool:
        """Cancel a running test and wait up to ``timeout_ms`` for every tester thread."""
        self.cancel()
        return wait_for_all(timeout_ms) if timeout_ms else True
