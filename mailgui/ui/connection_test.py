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

import threading
from collections.abc import Callable
from functools import partial
from typing import Any

from PySide6.QtCore import QCoreApplication, QObject, QTimer, Signal, Slot

from mailgui.core.accounts import Account
from mailgui.core.credentials import Login
from mailgui.core.errors import AuthError, KeyringUnavailableError, MailguiError
from mailgui.core.sizes import human_size
from mailgui.core.transport import Session, SessionInfo
from mailgui.ui.error_words import error_text
from mailgui.ui.worker_thread import WorkerThread, wait_all

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


class _ProbeWorker(QObject):
    """Lives in a tester thread and runs one probe; ``run`` returns its result."""

    def __init__(
        self, account: Account, password: str | Login | None, lookup: PasswordLookup | None
    ):
        super().__init__()
        self._account = account
        self._password = password
        self._lookup = lookup
        self._session: Session | None = None
        self._lock = threading.Lock()
        self._aborted = False

    def run(self) -> dict[str, Any]:
        result = probe(self._account, self._password, self._lookup, on_session=self._attach)
        self._password = None
        return result

    def _attach(self, session: Session) -> None:
        with self._lock:
            self._session = session
            aborted = self._aborted
        if aborted:
            session.abort()

    def abort(self) -> None:
        """From the GUI thread: cut the connection (a pending connect() ends by timeout)."""
        with self._lock:
            self._aborted = True
            session = self._session
        if session is not None:
            session.abort()


THREAD_NAME = "mailgui-connection-test"


def wait_for_all(timeout_ms: int = 5000) -> bool:
    """Wait for tests still closing. True when all have ended.

    Every tester thread is referenced (by ``worker_thread``) until it has ended: a
    cancelled test, or one whose dialog closed, ends only when its connection does."""
    return wait_all(timeout_ms, THREAD_NAME)


_QUIT_WAIT_MS = 60_000  # each step of a test has its own timeout: this is only a backstop
_quit_hooked = False


def _hook_quit() -> None:
    """Before the application goes away, let aborted tests end: a cancelled connect()
    returns only at its timeout, and Qt aborts the process if a running QThread dies."""
    global _quit_hooked
    app = QCoreApplication.instance()
    if app is not None and not _quit_hooked:
        app.aboutToQuit.connect(lambda: wait_for_all(_QUIT_WAIT_MS))
        _quit_hooked = True


class ConnectionTester(QObject):
    """Runs "Test connection" for one account at a time, off the GUI thread.

    Signals:
        started(): a test began.
        finished(dict): the result (see the module docstring); exactly once per
            ``start()``, also after ``cancel()`` (``cancelled`` True) or the deadline.
    """

    started = Signal()
    finished = Signal(dict)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._current: WorkerThread[_ProbeWorker] | None = None
        self._runs = 0
        # Session.abort() can only cut a socket that exists: a cancel that lands while
        # connect() is still returning would be lost, so cancelled tests are aborted
        # again every 50 ms until their thread has ended.
        self._aborting: list[WorkerThread[_ProbeWorker]] = []
        self._abort_timer = QTimer(self)
        self._abort_timer.setInterval(50)
        self._abort_timer.timeout.connect(self._abort_again)
        self._deadline = QTimer(self)
        self._deadline.setSingleShot(True)
        self._deadline.timeout.connect(self._timed_out)
        self._timeout_s = 0.0
        _hook_quit()

    def is_running(self) -> bool:
        return self._current is not None

    def start(
        self,
        account: Account,
        password: str | Login | None,
        lookup: PasswordLookup | None = None,
    ) -> None:
        """Test ``account`` with ``password`` (or ``lookup()`` when None): a password,
        or the ``Login`` of an account that signs in with OAuth2."""
        self.cancel()
        self._runs += 1
        worker = _ProbeWorker(account, password, lookup)
        thread = WorkerThread(worker, THREAD_NAME, abort=worker.abort)
        thread.post(worker.run, reply=partial(self._on_done, self._runs))
        self._current = thread
        self._timeout_s = account.timeout + DEADLINE_SLACK_S
        self._deadline.start(int(self._timeout_s * 1000))
        thread.start()
        thread.stop()  # ends once the probe has run
        self.started.emit()

    @Slot()
    def cancel(self) -> None:
        """Stop waiting now; the connection is cut and its thread ends on its own."""
        if self._current is not None:
            self._finish_early(_tr("The test was cancelled."), cancelled=True)

    @Slot()
    def _timed_out(self) -> None:
        if self._current is not None:
            self._finish_early(
                _tr(
                    "The server did not finish the test within {0:g} seconds; check the "
                    "server name and port, or raise the timeout."
                ).format(self._timeout_s),
                cancelled=False,
            )

    def _finish_early(self, error: str, *, cancelled: bool) -> None:
        thread = self._current
        assert thread is not None
        self._current = None
        thread.abort()
        self._aborting.append(thread)
        self._abort_timer.start()
        self._deadline.stop()
        self.finished.emit({"ok": False, "lines": [], "error": error, "cancelled": cancelled})

    @Slot()
    def _abort_again(self) -> None:
        self._aborting = [t for t in self._aborting if t.is_running()]
        for thread in self._aborting:
            thread.abort()
        if not self._aborting:
            self._abort_timer.stop()

    def _on_done(self, run: int, result: dict[str, Any]) -> None:
        if self._current is None or run != self._runs:
            return  # the late answer of a cancelled test
        self._current = None
        self._deadline.stop()
        self.finished.emit(result)

    def shutdown(self, timeout_ms: int = 0) -> bool:
        """Cancel a running test and wait up to ``timeout_ms`` for every tester thread."""
        self.cancel()
        return wait_for_all(timeout_ms) if timeout_ms else True
