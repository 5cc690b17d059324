"""One worker QObject in a QThread of its own, and the GUI-side handle that owns both.

The worker pattern of STYLE.md, written once: the worker declares its signals, the handle
re-emits them in the GUI thread, requests go the other way as queued calls.

- ``handle.<signal>`` is the worker's signal of that name as the GUI sees it: a copy of
  the worker's signals, made once per worker class from the worker's own ``Signal``
  objects, lives in the GUI thread and re-emits what the worker emits. Receivers therefore
  run in the GUI thread whatever they are; a signal connected straight to a lambda or a
  ``partial`` would run them in the worker thread (PySide6 runs a slot that is not a
  QObject's method in the emitting thread).
- ``post(worker.method, *args, reply=callback)`` runs ``worker.method(*args)`` in the
  worker thread, after whatever was posted before; ``callback(result)`` then runs in the
  GUI thread (dropped if ``callback`` is a method of a QObject destroyed by then).
- ``start()`` starts the thread; its ``setup`` hook runs first, in the thread.
- ``shutdown(ms)``: the ``interrupt`` hook (GUI thread: set the worker's stopping flag),
  then, in the thread, after what was already posted, ``teardown`` and the end of its
  event loop; a bounded ``wait``; past the bound the ``abort`` hook (GUI thread: cut what
  blocks, a socket) and a second bounded wait. A thread that still runs is kept, with its
  worker, until it ends (destroying a running QThread aborts the process) and is cut off:
  nothing it emits reaches the GUI. After ``shutdown`` returns, no signal or reply of the
  worker is delivered any more (what was still queued for the GUI is dropped).
- ``stop()`` only asks: the thread ends once what was posted has run (one-shot jobs:
  ``post``, ``start``, ``stop``).

The worker (no parent) is moved into the thread and lives as long as the handle, never
shorter than its thread: every started handle is also referenced here until its thread
has ended and been joined, so dropping a handle never destroys a running thread, and the
worker never emits on a destroyed object (issue 13). Call every method of the handle from
the GUI thread.
"""

from __future__ import annotations

import inspect
import time
from collections.abc import Callable
from functools import partial
from typing import Any, Generic, TypeVar, TypeVarTuple

import shiboken6
from PySide6.QtCore import QCoreApplication, QObject, Qt, QThread, Signal, SignalInstance, Slot

from mailgui.core.log import get_logger

__all__ = ["WorkerThread", "wait_all"]

log = get_logger(__name__)

W = TypeVar("W", bound=QObject)
R = TypeVar("R")
Ts = TypeVarTuple("Ts")
Hook = Callable[[], object]

_live: list[WorkerThread[Any]] = []  # started handles whose thread has not been joined


class _Invoker(QObject):
    """Lives in the worker thread and runs what the handle posts, in order.

    Signals: call(fn, args, reply) (emitted by the handle), replied(reply, result)."""

    call = Signal(object, object, object)
    replied = Signal(object, object)

    def __init__(self, setup: Hook | None, teardown: Hook | None) -> None:
        super().__init__()
        self._setup = setup
        self._teardown = teardown
        self.call.connect(self._run, Qt.ConnectionType.QueuedConnection)

    @Slot()
    def started(self) -> None:
        if self._setup is not None:
            self._setup()

    @Slot(object, object, object)
    def _run(self, fn: Callable[..., Any], args: tuple[Any, ...], reply: Any) -> None:
        result = fn(*args)
        if reply is not None:
            self.replied.emit(reply, result)

    def end(self) -> None:
        """Posted last: the worker's teardown, then the end of the thread's event loop."""
        try:
            if self._teardown is not None:
                self._teardown()
        finally:
            self.thread().quit()


class _Signals(QObject):
    """In the GUI thread: the worker's signals re-emitted (subclasses made by
    ``_signals_class`` add them), and the replies to posted calls."""

    @Slot(object, object)
    def _deliver_reply(self, callback: Callable[[Any], object], result: object) -> None:
        if _alive(callback):
            callback(result)


_signal_classes: dict[type[QObject], tuple[type[_Signals], tuple[str, ...]]] = {}


def _signals_class(worker_class: type[QObject]) -> tuple[type[_Signals], tuple[str, ...]]:
    """A ``_Signals`` class holding ``worker_class``'s own ``Signal`` objects (those of
    its Python classes, not Qt's like ``destroyed``), and their names."""
    found = _signal_classes.get(worker_class)
    if found is None:
        signals: dict[str, Signal] = {}
        for klass in reversed(worker_class.__mro__):
            if klass.__module__.startswith(("PySide6.", "shiboken6")):
                continue
            signals.update((k, v) for k, v in vars(klass).items() if isinstance(v, Signal))
        made = type(f"{worker_class.__name__}Signals", (_Signals,), dict(signals))
        found = _signal_classes[worker_class] = (made, tuple(signals))
    return found


def _alive(callback: Callable[..., object]) -> bool:
    """False when ``callback`` is a method (or a partial of one) of a destroyed QObject."""
    while isinstance(callback, partial):
        callback = callback.func
    owner = getattr(callback, "__self__", None) if inspect.ismethod(callback) else None
    return not isinstance(owner, QObject) or shiboken6.isValid(owner)


class WorkerThread(QObject, Generic[W]):
    """The GUI thread's handle on ``worker``, which runs in a QThread named ``name``.

    Signals: those of the worker class, by the same names (``handle.done`` re-emits
    ``worker.done`` in the GUI thread); see the module docstring for the rest.
    Hooks: ``setup`` and ``teardown`` run in the worker thread, first and last;
    ``interrupt`` and ``abort`` in the GUI thread, when stopping and when stopping takes
    longer than the bound.
    """

    def __init__(
        self,
        worker: W,
        name: str,
        parent: QObject | None = None,
        *,
        setup: Hook | None = None,
        teardown: Hook | None = None,
        interrupt: Hook | None = None,
        abort: Hook | None = None,
    ) -> None:
        super().__init__(parent)
        if worker.parent() is not None:
            raise ValueError("a worker moved to a thread cannot have a parent")
        self._worker = worker
        self._interrupt = interrupt
        self._abort = abort
        self._closed = False
        self._started = False
        self._thread = QThread()  # no parent: kept (in _live) until it has ended
        self._thread.setObjectName(name)
        self._invoker = _Invoker(setup, teardown)
        worker.moveToThread(self._thread)
        self._invoker.moveToThread(self._thread)
        self._thread.started.connect(self._invoker.started)
        klass, names = _signals_class(type(worker))
        self._signals = klass(self)
        self._signal_names = frozenset(names)
        self._links: list[tuple[SignalInstance, SignalInstance | Callable[..., object]]] = [
            (getattr(worker, n), getattr(self._signals, n)) for n in names
        ]
        self._links.append((self._invoker.replied, self._signals._deliver_reply))
        for signal, slot in self._links:
            signal.connect(slot)

    def __getattr__(self, name: str) -> SignalInstance:
        """The worker's signal ``name``, re-emitted in the GUI thread."""
        if name not in self.__dict__.get("_signal_names", ()):
            raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")
        found: SignalInstance = getattr(self.__dict__["_signals"], name)
        return found

    @property
    def worker(self) -> W:
        """The worker: post its methods; touch nothing else of it from the GUI thread."""
        return self._worker

    @property
    def name(self) -> str:
        return str(self._thread.objectName())

    @property
    def closed(self) -> bool:
        """``stop`` or ``shutdown`` was called: nothing more is posted."""
        return self._closed

    def start(self) -> None:
        """Start the thread (once; not after ``stop``): ``setup`` runs first in it, then
        what was posted before, in order."""
        if self._closed or self._started:
            return
        _reap()
        self._started = True
        _live.append(self)
        self._thread.start()

    def is_running(self) -> bool:
        return bool(self._thread.isRunning())

    def post(
        self,
        fn: Callable[[*Ts], R],
        *args: *Ts,
        reply: Callable[[R], object] | None = None,
    ) -> bool:
        """Run ``fn(*args)`` in the worker thread after what was posted before, then
        ``reply(result)`` in the GUI thread. False (nothing posted) once stopping."""
        if self._closed or self._thread.isFinished():
            return False
        self._invoker.call.emit(fn, args, reply)
        return True

    def stop(self) -> None:
        """Let the thread end once what was posted has run (without waiting for it)."""
        if self._closed:
            return
        self._closed = True
        if self._interrupt is not None:
            self._interrupt()
        self._invoker.call.emit(self._invoker.end, (), None)

    def abort(self) -> None:
        """Run the ``abort`` hook now (GUI thread): cut what the worker is blocked on."""
        if self._abort is not None:
            self._abort()

    def wait(self, timeout_ms: int) -> bool:
        """Wait up to ``timeout_ms`` for the thread to end; True when it has (or never
        started)."""
        return bool(self._thread.wait(max(0, timeout_ms)))

    def shutdown(self, timeout_ms: int = 3000, abort_wait_ms: int | None = None) -> bool:
        """Stop the thread, waiting at most ``timeout_ms``, then (with an ``abort`` hook)
        abort and wait ``abort_wait_ms`` more (default: ``timeout_ms``). True when it
        ended; after this returns, nothing of the worker reaches the GUI any more."""
        self.stop()
        ended = not self._thread.isRunning() or self.wait(timeout_ms)
        if not ended and self._abort is not None:
            log.info("the %s thread did not stop within %d ms: aborting", self.name, timeout_ms)
            self.abort()
            ended = self.wait(timeout_ms if abort_wait_ms is None else abort_wait_ms)
        if not ended:
            log.warning("the %s thread did not stop in time; it is left to end", self.name)
            for signal, slot in self._links:
                signal.disconnect(slot)
        if shiboken6.isValid(self._signals):
            QCoreApplication.removePostedEvents(self._signals)  # queued for the GUI
        _reap()
        return ended


def _reap() -> None:
    """Let go of the handles whose thread has ended, joined first (GUI thread)."""
    ended = [h for h in _live if h._thread.isFinished() and h._thread.wait(1000)]
    if ended:
        _live[:] = [h for h in _live if all(h is not e for e in ended)]


def wait_all(timeout_ms: int, name: str | None = None) -> bool:
    """Wait (``timeout_ms`` in all) for every started thread, or those called ``name``,
    to end. True when none of them is left running."""
    deadline = time.monotonic() + timeout_ms / 1000
    for handle in list(_live):
        if name is None or handle.name == name:
            handle.wait(int((deadline - time.monotonic()) * 1000))
    _reap()
    return all(name is not None and h.name != name for h in _live)
