"""One check of a server at a time, off the GUI thread, with Cancel and a deadline.

The accounts dialog's "Test connection" (``connection_test``) and its incoming-server
Test (``imap_check``) are the same machine around a different blocking check: the check
runs in a thread of its own; ``cancel()`` and the deadline answer at once
(``finished`` with ``cancelled`` or an error) and cut the connection, which ends its
thread; a late answer is dropped; the application waits for such threads before it
quits (Qt aborts the process when a running QThread is destroyed).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from functools import partial
from typing import Any, Protocol

from PySide6.QtCore import QCoreApplication, QObject, QTimer, Signal, Slot

from mailgui.ui.worker_thread import WorkerThread, wait_all

__all__ = ["Abortable", "Check", "CheckRunner", "hook_quit"]

_QUIT_WAIT_MS = 60_000  # every step of a check has its own timeout: only a backstop
_hooked: set[str] = set()  # thread names whose checks the application waits for at quit


class Abortable(Protocol):
    def abort(self) -> None: ...


# A blocking check: it hands each session it opens to its argument (so another thread
# can abort it) and returns its result; it never raises.
Check = Callable[[Callable[[Any], None]], dict[str, Any]]


def hook_quit(thread_name: str) -> None:
    """Before the application goes away, let the aborted checks of ``thread_name`` end:
    a cancelled connect() returns only at its timeout."""
    app = QCoreApplication.instance()
    if app is not None and thread_name not in _hooked:
        app.aboutToQuit.connect(lambda: wait_all(_QUIT_WAIT_MS, thread_name))
        _hooked.add(thread_name)


class _CheckWorker(QObject):
    """Lives in a check thread and runs one check; ``run`` returns its result."""

    def __init__(self, check: Check) -> None:
        super().__init__()
        self._check: Check | None = check
        self._session: Abortable | None = None
        self._lock = threading.Lock()
        self._aborted = False

    def run(self) -> dict[str, Any]:
        check = self._check
        assert check is not None
        try:
            return check(self._attach)
        finally:
            self._check = None  # and with it the password or token it holds

    def _attach(self, session: Abortable) -> None:
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


class CheckRunner(QObject):
    """Runs one check at a time. Subclasses say what an early end reads like.

    Signals:
        finished(dict): the result; exactly once per ``run_check()``, also after
            ``cancel()`` (``cancelled`` True) or the deadline.
    """

    finished = Signal(dict)

    def __init__(self, thread_name: str, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._thread_name = thread_name
        self._current: WorkerThread[_CheckWorker] | None = None
        self._runs = 0
        # An abort can only cut a socket that exists: a cancel that lands while
        # connect() is still returning would be lost, so cancelled checks are aborted
        # again every 50 ms until their thread has ended.
        self._aborting: list[WorkerThread[_CheckWorker]] = []
        self._abort_timer = QTimer(self)
        self._abort_timer.setInterval(50)
        self._abort_timer.timeout.connect(self._abort_again)
        self._deadline = QTimer(self)
        self._deadline.setSingleShot(True)
        self._deadline.timeout.connect(self._timed_out)
        self._timeout_s = 0.0
        hook_quit(thread_name)

    def is_running(self) -> bool:
        return self._current is not None

    def run_check(self, check: Check, deadline_s: float) -> None:
        """Run ``check`` (cancelling one still running); stop waiting for it after
        ``deadline_s`` seconds."""
        self.cancel()
        self._runs += 1
        worker = _CheckWorker(check)
        thread = WorkerThread(worker, self._thread_name, abort=worker.abort)
        thread.post(worker.run, reply=partial(self._on_done, self._runs))
        self._current = thread
        self._timeout_s = deadline_s
        self._deadline.start(int(self._timeout_s * 1000))
        thread.start()
        thread.stop()  # ends once the check has run

    # --- what the subclasses say --------------------------------------------------------

    def cancelled_text(self) -> str:
        raise NotImplementedError

    def too_slow_text(self, seconds: float) -> str:
        raise NotImplementedError

    def early_result(self, error: str, *, cancelled: bool) -> dict[str, Any]:
        raise NotImplementedError

    # --- ending ---------------------------------------------------------------------------

    @Slot()
    def cancel(self) -> None:
        """Stop waiting now; the connection is cut and its thread ends on its own."""
        if self._current is not None:
            self._finish_early(self.cancelled_text(), cancelled=True)

    @Slot()
    def _timed_out(self) -> None:
        if self._current is not None:
            self._finish_early(self.too_slow_text(self._timeout_s), cancelled=False)

    def _finish_early(self, error: str, *, cancelled: bool) -> None:
        thread = self._current
        assert thread is not None
        self._current = None
        thread.abort()
        self._aborting.append(thread)
        self._abort_timer.start()
        self._deadline.stop()
        self.finished.emit(self.early_result(error, cancelled=cancelled))

    @Slot()
    def _abort_again(self) -> None:
        self._aborting = [t for t in self._aborting if t.is_running()]
        for thread in self._aborting:
            thread.abort()
        if not self._aborting:
            self._abort_timer.stop()

    def _on_done(self, run: int, result: dict[str, Any]) -> None:
        if self._current is None or run != self._runs:
            return  # the late answer of a cancelled check
        self._current = None
        self._deadline.stop()
        self.finished.emit(result)
