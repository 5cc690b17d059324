"""The accounts dialog's "Sign in…": the OAuth2 browser flow (``core.oauth2.sign_in``)
in a worker QObject moved to its own QThread, so the GUI never waits on the browser,
the listener or the token endpoint.

The flow listens for the browser's redirect for minutes; Cancel (or closing the
dialog) sets its ``cancel`` Event, which it looks at every 0.2 s, so its thread ends
within a moment (or, in the middle of a token request, at that request's timeout).
Results are plain data:

- ``account`` (str): the account signed in.
- ``ok`` (bool): the grant is in the keyring.
- ``cancelled`` (bool): the person cancelled; nothing was stored.
- ``error`` (str): the error in the GUI's words (empty when ok or cancelled).
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, Any

import shiboken6
from PySide6.QtCore import QCoreApplication, QObject, Signal

from mailgui.core.errors import MailguiError
from mailgui.ui.error_words import error_text
from mailgui.ui.worker_thread import WorkerThread
from mailgui.ui.worker_thread import wait_all as _wait_all

if TYPE_CHECKING:
    from mailgui.core.oauth2.providers import OAuth2Settings
    from mailgui.core.paths import Profile

__all__ = ["THREAD_NAME", "SignInRunner", "cancel_all", "wait_all"]

THREAD_NAME = "mailgui-sign-in"
BROWSER_WAIT_S = 300.0  # how long the browser gets, as ``mailgui account login``
_QUIT_WAIT_MS = 15_000  # a cancelled flow ends in 0.2 s, or at its request's timeout

Opener = Callable[[str], object]


def wait_all(timeout_ms: int = 10_000) -> bool:
    """Let cancelled sign-ins end (True when none is left running)."""
    return _wait_all(timeout_ms, THREAD_NAME)


class _SignIn(QObject):
    """Lives in a sign-in thread and runs one flow; ``run`` returns its result.

    Signals:
        urlReady(str): the authorization URL, once the listener waits for it (for a
            browser that did not open).
    """

    urlReady = Signal(str)

    def __init__(
        self,
        settings: OAuth2Settings,
        account: str,
        cancel: threading.Event,
        open_browser: Opener | None,
        timeout: float,
        profile: Profile | None = None,
    ) -> None:
        super().__init__()
        self._profile = profile
        self._settings = settings
        self._account = account
        self._cancel = cancel
        self._open_browser = open_browser
        self._timeout = timeout

    def run(self) -> dict[str, Any]:
        from mailgui.core.oauth2 import SignInCancelled, sign_in

        result: dict[str, Any] = {
            "account": self._account,
            "ok": False,
            "cancelled": False,
            "error": "",
        }
        opener = {} if self._open_browser is None else {"open_browser": self._open_browser}
        try:
            sign_in(
                self._settings,
                self._account,
                show_url=self.urlReady.emit,
                timeout=self._timeout,
                cancel=self._cancel,
                **opener,  # type: ignore[arg-type]
            )
        except SignInCancelled:
            result["cancelled"] = True
        except MailguiError as exc:
            result["error"] = error_text(exc)
        except Exception as exc:  # a bug must not leave the dialog waiting forever
            result["error"] = QCoreApplication.translate(
                "SignInRunner", "Signing in stopped on an unexpected error ({0}: {1})."
            ).format(type(exc).__name__, exc)
        else:
            result["ok"] = True
            if self._profile is not None:  # the waiting messages go out by themselves
                from mailgui.core.flush_schedule import credentials_changed

                credentials_changed(self._profile)
        if self._cancel.is_set() and not result["ok"]:
            result["cancelled"], result["error"] = True, ""
        return result


_quit_hooked = False
_cancels: weakref.WeakSet[threading.Event] = weakref.WeakSet()  # of every flow started


def cancel_all() -> None:
    """Cancel every sign-in still waiting (at quit: a flow waits minutes otherwise)."""
    for cancel in list(_cancels):
        cancel.set()


def _at_quit() -> None:
    cancel_all()
    wait_all(_QUIT_WAIT_MS)


def _hook_quit() -> None:
    """Before the application goes away, cancel the flows and let them end (Qt aborts
    the process when a running QThread is destroyed)."""
    global _quit_hooked
    app = QCoreApplication.instance()
    if app is not None and not _quit_hooked:
        app.aboutToQuit.connect(_at_quit)
        _quit_hooked = True


class SignInRunner(QObject):
    """Signs one account in at a time, off the GUI thread.

    ``open_browser`` replaces the system browser (tests: a scripted one); None is
    Python's ``webbrowser``, which honours ``$BROWSER``. With ``profile``, a sign-in
    tells the profile's senders (``flush_schedule.credentials_changed``).

    Signals:
        urlReady(str, str): account, the sign-in URL (show it: the browser may not open).
        finished(dict): the result (see the module docstring), exactly once per
            ``start()``, also after ``cancel()`` (``cancelled`` True, at once).
    """

    urlReady = Signal(str, str)
    finished = Signal(dict)

    def __init__(
        self,
        parent: QObject | None = None,
        *,
        open_browser: Opener | None = None,
        profile: Profile | None = None,
    ):
        super().__init__(parent)
        self.profile = profile
        self.open_browser = open_browser
        self.timeout = BROWSER_WAIT_S
        self._runs = 0
        self._running: tuple[int, str, threading.Event] | None = None
        _hook_quit()

    def is_running(self) -> bool:
        return self._running is not None

    def account(self) -> str | None:
        """The account being signed in, or None."""
        return None if self._running is None else self._running[1]

    def start(self, settings: OAuth2Settings, account: str) -> None:
        """Sign ``account`` in with ``settings`` (read off the GUI thread: the client
        secret is in the keyring). A running sign-in is cancelled first."""
        self.cancel()
        self._runs += 1
        cancel = threading.Event()
        _cancels.add(cancel)
        worker = _SignIn(settings, account, cancel, self.open_browser, self.timeout, self.profile)
        thread = WorkerThread(worker, THREAD_NAME)
        thread.urlReady.connect(partial(self._url_ready, self._runs))
        thread.post(worker.run, reply=partial(self._on_done, self._runs))
        self._running = (self._runs, account, cancel)
        thread.start()
        thread.stop()  # ends once the flow has run (kept until then)

    def cancel(self) -> None:
        """Stop waiting now: the flow sees its Event within 0.2 s and stores nothing."""
        running, self._running = self._running, None
        if running is not None:
            _run, account, cancel = running
            cancel.set()
            self.finished.emit({"account": account, "ok": False, "cancelled": True, "error": ""})

    def _url_ready(self, run: int, url: str) -> None:
        if not shiboken6.isValid(self):
            return  # the dialog went away with its runner
        if self._running is not None and self._running[0] == run:
            self.urlReady.emit(self._running[1], url)

    def _on_done(self, run: int, result: dict[str, Any]) -> None:
        if self._running is None or self._running[0] != run:
            return  # the late answer of a cancelled sign-in
        self._running = None
        self.finished.emit(result)
