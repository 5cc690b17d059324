"""Short jobs on thread pools whose results come back to the GUI thread.

``run(job, receiver)`` starts ``job`` in a pool and returns a request id; in the GUI
thread, later, ``receiver(request, result)`` is called, unless the QObject the receiver
is a method of has been destroyed by then: that result is dropped.

Once it has its result, a job touches no QObject at all. Emitting from a pool thread
on a QObject that the GUI thread is destroying at that moment is a use-after-free, and
nothing a job could emit on is safe from that: a window can close, the application
deletes its children at quit, and PySide6 deletes every QObject that Python owns (a
parentless one too) before the application itself. That is how the app crashed when
a job ended as its requester went (issue 13). So a job appends its result to a queue
and writes one byte to a socket pair; in the GUI thread a QSocketNotifier reads it and
hands each result to its receiver, held weakly and checked with ``shiboken6.isValid``.

Every pool is made here (``pool``), so ``wait`` can wait for all of them: the tests do
after each test, and at quit (``aboutToQuit``) ``shutdown`` stops starting jobs and
gives the running ones a bounded wait before the application's objects are destroyed.
"""

from __future__ import annotations

import atexit
import inspect
import itertools
import socket
import threading
import time
import weakref
from collections import deque
from collections.abc import Callable
from typing import Any, TypeVar

import shiboken6
from PySide6.QtCore import QCoreApplication, QObject, QSocketNotifier, QThreadPool, Slot

from mailgui.core.log import get_logger

__all__ = ["deliver", "pool", "run", "shutdown", "wait"]

log = get_logger(__name__)

T = TypeVar("T")
Receiver = Callable[[int, Any], object]

QUIT_WAIT_MS = 3000  # at quit, for all running jobs together (each is bounded on its own)

_lock = threading.Lock()  # guards the four below; taken by pool threads and the GUI
_results: deque[tuple[int, object]] = deque()  # finished, not handed out yet
_wake_pending = False  # a byte is on its way to the relay
_closed = False  # quitting: nothing starts, nothing is handed out
_running = 0  # jobs started and not finished

_relay: _Relay | None = None
_receivers: dict[int, Callable[[], Receiver | None]] = {}  # GUI thread only
_pools: dict[str, QThreadPool] = {}
_requests = itertools.count(1)
_FAILED = object()  # the result of a job that raised


class _Wake:
    """A socket pair: pool threads write a byte, the GUI thread's notifier reads it."""

    def __init__(self) -> None:
        self.read_end, self.write_end = socket.socketpair()
        self.read_end.setblocking(False)
        self.write_end.setblocking(False)

    def ring(self) -> None:  # any thread
        try:
            self.write_end.send(b"\0")
        except OSError:  # full (a wake-up is pending anyway) or closed at exit
            pass

    def clear(self) -> None:  # GUI thread
        try:
            while self.read_end.recv(4096):
                pass
        except OSError:  # nothing left (BlockingIOError), or closed at exit
            pass


_wake = _Wake()


class _Relay(QObject):
    """In the GUI thread: hands out the results when the wake socket is readable."""

    def __init__(self) -> None:
        super().__init__()
        self._notifier = QSocketNotifier(_wake.read_end.fileno(), QSocketNotifier.Type.Read, self)
        self._notifier.activated.connect(self._woken)

    @Slot()
    def _woken(self) -> None:
        _wake.clear()
        deliver()


def _relay_instance() -> _Relay:
    global _relay
    if _relay is None or not shiboken6.isValid(_relay):
        _relay = _Relay()
        app = QCoreApplication.instance()
        if app is not None:
            app.aboutToQuit.connect(_on_quit)
    return _relay


def pool(name: str, max_threads: int) -> QThreadPool:
    """Our own pool called ``name`` (made on first use, with at most ``max_threads``
    threads), for work that must not take or wait for the threads of Qt's global pool."""
    found = _pools.get(name)
    if found is None or not shiboken6.isValid(found):
        # The application's child: its teardown waits for the pool's jobs, which by
        # then only drop their results (see _finish).
        found = QThreadPool(QCoreApplication.instance())
        found.setObjectName(f"mailgui-{name}")
        found.setMaxThreadCount(max_threads)
        _pools[name] = found
    return found


def _pools_now() -> list[QThreadPool]:
    pools = [QThreadPool.globalInstance()]
    pools += [p for p in _pools.values() if shiboken6.isValid(p)]
    return pools


def _weak(receiver: Receiver) -> Callable[[], Receiver | None]:
    """A getter for ``receiver`` that answers None once its object is gone: a bound
    method is held weakly, and a QObject's is dropped once its C++ side is destroyed."""
    if not inspect.ismethod(receiver):
        return lambda: receiver  # a plain function or partial has no owner to outlive
    ref = weakref.WeakMethod(receiver)

    def get() -> Receiver | None:
        method = ref()
        if method is None:
            return None
        owner = method.__self__
        if isinstance(owner, QObject) and not shiboken6.isValid(owner):
            return None
        return method

    return get


def run(
    job: Callable[[], T],
    receiver: Callable[[int, T], object] | None = None,
    pool: QThreadPool | None = None,
) -> int:
    """Start ``job`` in ``pool`` (Qt's global pool by default; others come from
    :func:`pool`) and return its request id. Call from the GUI thread. ``receiver``,
    usually a method of the QObject that asked (held weakly; a plain function is held
    as it is), gets ``(request, result)`` in the GUI thread if that object still exists
    then. ``job`` must not raise (one that does is logged, its receiver never called)."""
    request = next(_requests)
    _relay_instance()
    if pool is not None and all(pool is not p for p in _pools.values()):
        raise ValueError("background.run takes the pools made by background.pool()")
    global _running
    with _lock:
        if _closed:
            log.debug("quitting: background job %d not started", request)
            return request
        _running += 1
    if receiver is not None:
        _receivers[request] = _weak(receiver)
    (pool or QThreadPool.globalInstance()).start(lambda: _finish(request, job))
    return request


def _finish(request: int, job: Callable[[], object]) -> None:
    """In a pool thread: run the job, queue its result, ring the GUI thread (once for
    however many results are waiting). No Qt object is touched here."""
    global _wake_pending, _running
    try:
        result = job()
    except Exception:
        log.exception("a background job failed")
        result = _FAILED
    with _lock:
        _running -= 1
        if _closed:
            return
        _results.append((request, result))
        if _wake_pending:
            return
        _wake_pending = True
    _wake.ring()


def deliver() -> None:
    """Hand every finished result to its receiver, in the GUI thread (the relay does
    this when woken; the tests may call it directly)."""
    global _wake_pending
    with _lock:
        _wake_pending = False
        ready = list(_results)
        _results.clear()
    for request, result in ready:
        get = _receivers.pop(request, None)
        receiver = get() if get is not None else None
        if receiver is None or result is _FAILED:
            continue  # nobody asked, or whoever asked is gone
        try:
            receiver(request, result)
        except Exception:  # one receiver's bug must not keep the others' results
            log.exception("handling the result of background job %d failed", request)


def wait(timeout_ms: int = QUIT_WAIT_MS) -> bool:
    """Wait (``timeout_ms`` in all) for the jobs of every pool, queued ones included.
    True when none is left. Their results are then queued for the next ``deliver``."""
    deadline = time.monotonic() + timeout_ms / 1000
    for each in _pools_now():
        left = max(0, int((deadline - time.monotonic()) * 1000))
        if not each.waitForDone(left):
            return False
    with _lock:
        return _running == 0


def shutdown(timeout_ms: int = QUIT_WAIT_MS) -> bool:
    """At quit: start no more jobs, wait up to ``timeout_ms`` for the running ones, and
    hand out no more results (their windows are going). True when all ended."""
    global _closed
    with _lock:
        _closed = True
        _results.clear()
    _receivers.clear()
    ended = wait(timeout_ms)
    if not ended:
        log.warning("background jobs still running at quit after %d ms", timeout_ms)
    return ended


def _on_quit() -> None:
    shutdown()


@atexit.register
def _at_exit() -> None:
    # Without aboutToQuit (a script, the tests): results of jobs still running while
    # the interpreter ends go nowhere, and no pool thread touches the relay again.
    global _closed
    with _lock:
        _closed = True
