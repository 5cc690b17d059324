"""The generic worker-in-a-thread handle (``ui/worker_thread.py``) on its own: where
requests and results run, the bounded shutdown and its abort hook, and that nothing of a
worker reaches the GUI after ``shutdown``."""

from __future__ import annotations

import gc
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import shiboken6
from PySide6.QtCore import QCoreApplication, QObject, Signal, Slot
from pytestqt.qtbot import QtBot

from mailgui.ui import worker_thread
from mailgui.ui.worker_thread import WorkerThread

NAME = "mailgui-test-worker"
WAIT_MS = 5000


class Worker(QObject):
    """Signals: done(str text, int n), many(int)."""

    done = Signal(str, int)
    many = Signal(int)

    def __init__(self) -> None:
        super().__init__()
        self.log: list[tuple[str, int]] = []  # (what, thread id), in order
        self.release = threading.Event()
        self.stopping = threading.Event()

    def setup(self) -> None:
        self.log.append(("setup", threading.get_ident()))

    def teardown(self) -> None:
        self.log.append(("teardown", threading.get_ident()))

    def work(self, text: str, n: int) -> int:
        self.log.append(("work", threading.get_ident()))
        self.done.emit(text, n)
        return n + 1

    def burst(self, count: int) -> None:
        for i in range(count):
            self.many.emit(i)

    def block(self) -> None:
        """Until released: a session stuck in connect(), say."""
        self.log.append(("blocked", threading.get_ident()))
        self.release.wait(30)
        self.many.emit(-1)  # what a late answer would emit

    def abort(self) -> None:
        self.log.append(("abort", threading.get_ident()))
        self.release.set()


class Receiver(QObject):
    def __init__(self) -> None:
        super().__init__()
        self.got: list[Any] = []

    @Slot(int)
    def on_many(self, i: int) -> None:
        self.got.append(i)


@pytest.fixture
def handles(qtbot: QtBot) -> Iterator[list[WorkerThread[Worker]]]:
    made: list[WorkerThread[Worker]] = []
    yield made
    for handle in made:
        handle.worker.release.set()
        handle.shutdown(WAIT_MS)
    assert worker_thread.wait_all(WAIT_MS, NAME)


def make(
    handles: list[WorkerThread[Worker]], *, abort: bool = True, worker: Worker | None = None
) -> WorkerThread[Worker]:
    w = worker or Worker()
    handle = WorkerThread(
        w,
        NAME,
        setup=w.setup,
        teardown=w.teardown,
        interrupt=w.stopping.set,
        abort=w.abort if abort else None,
    )
    handles.append(handle)
    return handle


def test_requests_run_in_the_worker_thread_and_results_arrive_in_the_gui_thread(
    qtbot: QtBot, handles: list[WorkerThread[Worker]]
) -> None:
    gui = threading.get_ident()
    handle = make(handles)
    seen: list[tuple[str, int, int]] = []
    replies: list[tuple[int, int]] = []
    # A lambda: connected straight to the worker's signal it would run in the worker thread.
    handle.done.connect(lambda text, n: seen.append((text, n, threading.get_ident())))
    assert handle.post(handle.worker.work, "early", 1)  # before start: runs after setup
    handle.start()
    assert handle.is_running()
    with qtbot.waitSignal(handle.done, timeout=WAIT_MS):
        handle.post(
            handle.worker.work,
            "hello",
            41,
            reply=lambda r: replies.append((r, threading.get_ident())),
        )
    qtbot.waitUntil(lambda: len(replies) == 1, timeout=WAIT_MS)

    assert seen == [("early", 1, gui), ("hello", 41, gui)]
    assert replies == [(42, gui)]
    steps = [what for what, _ in handle.worker.log]
    assert steps == ["setup", "work", "work"]
    threads = {tid for _, tid in handle.worker.log}
    assert len(threads) == 1 and gui not in threads
    assert handle.worker.thread() is not QObject().thread()  # a new object: the GUI's


def test_shutdown_runs_teardown_in_the_thread_within_the_bound(
    qtbot: QtBot, handles: list[WorkerThread[Worker]]
) -> None:
    handle = make(handles)
    handle.start()
    handle.post(handle.worker.work, "x", 1)
    started = time.monotonic()
    assert handle.shutdown(timeout_ms=3000)
    assert time.monotonic() - started < 3
    assert not handle.is_running()
    assert handle.worker.stopping.is_set()  # the interrupt hook, before teardown
    log = handle.worker.log
    assert [what for what, _ in log] == ["setup", "work", "teardown"]  # posted work first
    assert log[-1][1] == log[0][1]  # teardown in the worker thread
    assert handle.closed and not handle.post(handle.worker.work, "late", 2)
    assert handle.shutdown()  # again: nothing to do


def test_a_handle_never_started_shuts_down_at_once(handles: list[WorkerThread[Worker]]) -> None:
    handle = make(handles)
    assert handle.shutdown(timeout_ms=0)
    handle.start()  # after shutdown: never starts
    assert not handle.is_running() and handle.worker.log == []


def test_a_worker_blocked_past_the_bound_gets_the_abort_hook(
    qtbot: QtBot, handles: list[WorkerThread[Worker]]
) -> None:
    handle = make(handles)
    handle.start()
    handle.post(handle.worker.block)
    qtbot.waitUntil(lambda: "blocked" in [w for w, _ in handle.worker.log], timeout=WAIT_MS)
    started = time.monotonic()
    assert handle.shutdown(timeout_ms=300, abort_wait_ms=WAIT_MS)
    took = time.monotonic() - started
    assert 0.3 <= took < 3
    steps = [what for what, _ in handle.worker.log]
    assert steps == ["setup", "blocked", "abort", "teardown"]
    gui = threading.get_ident()
    assert dict((w, t) for w, t in handle.worker.log)["abort"] == gui  # a GUI-thread hook


def test_a_thread_that_outlives_shutdown_is_kept_and_cut_off(
    qtbot: QtBot, handles: list[WorkerThread[Worker]]
) -> None:
    """No abort hook, a worker that does not end: shutdown says so after its bound, the
    thread lives on (a destroyed running QThread would abort the process) and what it
    emits later goes nowhere, also not to a receiver deleted meanwhile."""
    handle = make(handles, abort=False)
    receiver = Receiver()
    late: list[int] = []
    handle.many.connect(receiver.on_many)
    handle.many.connect(late.append)
    handle.start()
    handle.post(handle.worker.block)
    qtbot.waitUntil(lambda: "blocked" in [w for w, _ in handle.worker.log], timeout=WAIT_MS)
    assert not handle.shutdown(timeout_ms=200)
    assert handle.is_running()
    shiboken6.delete(receiver)
    handle.worker.release.set()
    assert handle.wait(WAIT_MS)
    QCoreApplication.processEvents()
    assert late == []
    assert [what for what, _ in handle.worker.log] == ["setup", "blocked", "teardown"]


def test_dropping_a_running_handle_keeps_its_thread(qtbot: QtBot) -> None:
    """The module holds every started handle until its thread has ended: letting go of
    one whose thread runs does not destroy that thread (which would abort the process)."""
    worker = Worker()
    handle = WorkerThread(worker, NAME, abort=worker.abort)
    handle.start()
    handle.post(worker.block)
    handle.stop()
    qtbot.waitUntil(lambda: "blocked" in [w for w, _ in worker.log], timeout=WAIT_MS)
    del handle
    gc.collect()
    worker.release.set()
    assert worker_thread.wait_all(WAIT_MS, NAME)
    assert [what for what, _ in worker.log] == ["blocked"]


def test_nothing_queued_is_delivered_after_shutdown(
    qtbot: QtBot, handles: list[WorkerThread[Worker]]
) -> None:
    """Signals the worker emitted before it stopped but that the GUI thread had not
    handled yet (it was waiting in shutdown) are dropped, as are replies: not handed to
    a receiver deleted right after shutdown, nor to any other."""
    handle = make(handles)
    receiver = Receiver()
    seen: list[int] = []
    replies: list[object] = []
    handle.many.connect(receiver.on_many)
    handle.many.connect(seen.append)
    handle.start()
    handle.post(handle.worker.burst, 500, reply=replies.append)
    assert handle.shutdown(timeout_ms=WAIT_MS)  # the GUI thread handled none of them yet
    shiboken6.delete(receiver)
    QCoreApplication.processEvents()
    assert seen == [] and replies == []


def test_a_reply_to_a_destroyed_object_is_dropped(
    qtbot: QtBot, handles: list[WorkerThread[Worker]]
) -> None:
    handle = make(handles)
    receiver = Receiver()
    kept = Receiver()
    handle.start()
    with qtbot.waitSignal(handle.done, timeout=WAIT_MS):
        handle.post(handle.worker.work, "a", 1, reply=receiver.on_many)
        handle.post(handle.worker.work, "b", 2, reply=kept.on_many)
        shiboken6.delete(receiver)
    qtbot.waitUntil(lambda: kept.got == [3], timeout=WAIT_MS)


def test_one_shot_jobs_end_their_thread(qtbot: QtBot, handles: list[WorkerThread[Worker]]) -> None:
    """post, start, stop: the thread ends on its own once the job ran."""
    handle = make(handles)
    replies: list[object] = []
    handle.post(handle.worker.work, "once", 1, reply=replies.append)
    handle.start()
    handle.stop()
    assert handle.wait(WAIT_MS)
    qtbot.waitUntil(lambda: replies == [2], timeout=WAIT_MS)
    assert [what for what, _ in handle.worker.log] == ["setup", "work", "teardown"]


def test_only_the_workers_signals_are_exposed(handles: list[WorkerThread[Worker]]) -> None:
    handle = make(handles)
    assert handle.done is not handle.worker.done  # re-emitted in the GUI thread
    with pytest.raises(AttributeError):
        handle.work  # noqa: B018  # a method: post it instead
    with pytest.raises(AttributeError):
        handle.nothing  # noqa: B018
    parent = QObject()
    child = Worker()
    child.setParent(parent)
    with pytest.raises(ValueError, match="parent"):
        WorkerThread(child, NAME)
