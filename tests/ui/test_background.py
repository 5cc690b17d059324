"""Background jobs whose requester is destroyed before they end (issue 13): their results
are dropped, nothing crashes, nothing is logged; and a quit with jobs in flight ends
cleanly (in a subprocess, since it takes the application down)."""
# pytest-qt's QtBot methods are not annotated:
# mypy: disable-error-code="no-untyped-call"

from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest
from dns_server import DnsServer
from PySide6.QtCore import QCoreApplication, QEvent, QObject
from pytestqt.qtbot import QtBot
from shiboken6 import isValid
from test_compose_recipients import type_address, window_for

from mailgui.ui import background, recipient_warnings, spelling
from mailgui.ui.compose import ComposeWindow
from mailgui.ui.context import AppContext
from mailgui.ui.outbox_service import OutboxHandle
from mailgui.ui.recipient_warnings import DomainChecker

HELD = ("held.test", "held2.test")


@pytest.fixture
def held(dns_server: DnsServer, monkeypatch: pytest.MonkeyPatch) -> DnsServer:
    """A DNS server that keeps the look-ups of ``HELD`` unanswered until ``release()``
    (neither domain exists: once answered, each gets a "does not exist" warning). The
    checks wait up to 10 s for an answer instead of 1.5, so a slow machine cannot turn
    a held look-up into a timeout before the test releases it."""
    monkeypatch.setattr(recipient_warnings, "CHECK_TIMEOUT", 10.0)
    for domain in HELD:
        dns_server.hold(domain)
    return dns_server


@pytest.fixture
def applied(monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, bool]]:
    """Every domain-check result handed to a checker: (the checker's id, whether its
    C++ side still existed then)."""
    calls: list[tuple[int, bool]] = []
    real = DomainChecker._on_done

    def on_done(self: DomainChecker, request: int, findings: Any) -> None:
        calls.append((id(self), isValid(self)))
        real(self, request, findings)

    monkeypatch.setattr(DomainChecker, "_on_done", on_done)
    return calls


def start_held_checks(qtbot: QtBot, server: DnsServer, window: ComposeWindow) -> None:
    before = {domain: server.asked(domain, "MX") for domain in HELD}
    type_address(qtbot, window, ", ".join(f"bob@{domain}" for domain in HELD))
    assert all(window.checker.is_running(domain) for domain in HELD)
    # In flight: each job has sent its query and waits for the answer.
    qtbot.waitUntil(lambda: all(server.asked(d, "MX") > before[d] for d in HELD), timeout=5000)


def process_deferred_deletes() -> None:
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)


@pytest.mark.parametrize("how", ["deleteLater", "close"])
def test_a_window_closed_while_its_checks_run_gets_none_of_their_results(
    qtbot: QtBot,
    ctx: AppContext,
    handle: OutboxHandle,
    windows: list[ComposeWindow],
    held: DnsServer,
    applied: list[tuple[int, bool]],
    caplog: pytest.LogCaptureFixture,
    how: str,
) -> None:
    """deleteLater: the window is gone before its checks end, and gets none of their
    results. close: it closes (and is deleted whenever Qt gets to it) as they end;
    whatever it gets, it gets while it exists. The other window gets all of its own."""
    caplog.set_level(logging.WARNING)
    staying = window_for(qtbot, ctx, handle, windows)  # asks the same, and stays open
    start_held_checks(qtbot, held, staying)
    closing = window_for(qtbot, ctx, handle, windows)
    start_held_checks(qtbot, held, closing)
    staying_id, closing_id = id(staying.checker), id(closing.checker)

    if how == "deleteLater":
        closing.deleteLater()
        process_deferred_deletes()
        assert not isValid(closing)
    else:
        closing._done = True  # no save prompt
        assert closing.close()  # WA_DeleteOnClose: deleted when the event loop runs

    held.release()  # the answers go out; the jobs end and queue their results
    assert background.wait(5000)
    qtbot.waitUntil(lambda: not staying.checker.is_running(), timeout=5000)
    qtbot.wait(50)  # anything else still queued, the deferred delete included
    assert not isValid(closing)

    assert (closing_id, False) not in applied  # never a result for a dead checker
    if how == "deleteLater":
        assert (closing_id, True) not in applied
    assert [call for call in applied if call[0] == staying_id] == [(staying_id, True)] * 2
    warning = staying.fields["to"].warning.text()
    assert all(f"The domain {d} does not exist" in warning for d in HELD)
    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []


def test_a_window_closed_as_its_results_arrive_does_not_crash(
    qtbot: QtBot,
    ctx: AppContext,
    handle: OutboxHandle,
    windows: list[ComposeWindow],
    held: DnsServer,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The same race many times, the window going in every phase of a job's end: while
    it runs, as it queues its result, before the result is handed out."""
    caplog.set_level(logging.WARNING)
    held.release()  # answered at once: the jobs end while the windows go
    for n in range(20):
        window = window_for(qtbot, ctx, handle, windows)
        type_address(qtbot, window, f"bob@a{n}.test, ann@b{n}.test, cy@c{n}.test")
        qtbot.wait(n % 5)  # 0-4 ms: before, during, after the answers
        if n % 2:
            window.deleteLater()
        else:
            window._done = True
            window.close()
        process_deferred_deletes()
    assert background.wait(5000)
    qtbot.wait(50)
    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []


def test_a_window_closed_while_its_word_list_loads_gets_nothing(
    qtbot: QtBot,
    ctx: AppContext,
    handle: OutboxHandle,
    windows: list[ComposeWindow],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The spell check's word list loads in the background too; it used to come back
    through a signal emitted from its own thread on an object of the window, which
    crashed when the window had gone first."""
    pytest.importorskip("spellchecker")
    caplog.set_level(logging.WARNING)
    gate, loading = threading.Event(), threading.Event()
    real = spelling._checker

    def held_load(language: str) -> Any:
        loading.set()
        gate.wait(10)
        return real(language)

    monkeypatch.setattr(spelling, "_checker", held_load)
    staying = window_for(qtbot, ctx, handle, windows)
    closing = window_for(qtbot, ctx, handle, windows)
    assert loading.wait(5)
    assert staying.speller is not None and staying.speller.checker is None
    closing.deleteLater()
    process_deferred_deletes()
    assert not isValid(closing)

    with qtbot.waitSignal(staying.speller.ready, timeout=10_000):
        gate.set()
    assert background.wait(5000)
    qtbot.wait(20)
    assert staying.speller.is_misspelled("wrold")  # the live window has its word list
    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []


class Receiver(QObject):
    def __init__(self) -> None:
        super().__init__()
        self.got: list[tuple[int, object, int]] = []

    def on_done(self, request: int, result: object) -> None:
        self.got.append((request, result, threading.get_ident()))


def test_results_reach_live_receivers_in_the_gui_thread_and_skip_destroyed_ones(
    qtbot: QtBot,
) -> None:
    gate = threading.Event()
    kept, dropped, collected = Receiver(), Receiver(), Receiver()
    job_threads: list[int] = []

    def job() -> str:
        job_threads.append(threading.get_ident())
        gate.wait(5)
        return "done"

    first = background.run(job, kept.on_done)
    background.run(job, dropped.on_done)
    background.run(job, collected.on_done)
    dropped.deleteLater()
    process_deferred_deletes()
    assert not isValid(dropped)
    del collected  # garbage: held weakly, so no longer there either
    gate.set()
    assert background.wait(5000)
    qtbot.waitUntil(lambda: bool(kept.got), timeout=5000)
    qtbot.wait(20)
    assert kept.got == [(first, "done", threading.get_ident())]  # the GUI thread's
    assert threading.get_ident() not in job_threads


@pytest.mark.expect_error_log("a background job failed")
def test_a_job_that_raises_is_logged_and_its_receiver_not_called(
    qtbot: QtBot, caplog: pytest.LogCaptureFixture
) -> None:
    receiver = Receiver()

    def job() -> None:
        raise ValueError("broken job")

    background.run(job, receiver.on_done)
    assert background.wait(5000)
    qtbot.wait(20)
    assert receiver.got == []
    (record,) = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert record.getMessage() == "a background job failed"


def test_only_the_modules_own_pools_are_taken(qtbot: QtBot) -> None:
    from PySide6.QtCore import QThreadPool

    stray = QThreadPool()
    with pytest.raises(ValueError, match=r"background\.pool\(\)"):
        background.run(lambda: None, pool=stray)
    assert background.pool("test-pool", 1) is background.pool("test-pool", 1)


# --- quitting with jobs in flight (a subprocess: it takes the application down) ----------

QUIT_SCRIPT = r"""
import faulthandler, random, sys, threading, time
faulthandler.enable()
from PySide6.QtCore import QObject, QTimer
from PySide6.QtWidgets import QApplication, QWidget
from mailgui.ui import background

how, seed = sys.argv[1], int(sys.argv[2])
random.seed(seed)
app = QApplication(sys.argv[:1])

class Window(QWidget):
    def __init__(self):
        super().__init__()
        self.got = 0
    def on_done(self, request, result):
        self.got += 1
        self.setWindowTitle(str(result))

windows = [Window() for _ in range(24)]
checks = background.pool("recipient-checks", 8)
started = threading.Event()

def job(seconds):
    started.set()
    end = time.monotonic() + seconds
    while time.monotonic() < end:  # busy, as a decode or a DNS answer's parsing is
        pass
    return [seconds]

# Qt's global pool: a few short jobs; the checks' pool: jobs that end all through the
# application's teardown (which waits for the global pool first, then deletes its
# children: the pools, and in the old code the relay they emitted on).
for n, window in enumerate(windows):
    if n % 4:
        background.run(lambda s=random.uniform(0, 0.3): job(s), window.on_done, checks)
    else:
        background.run(lambda s=random.uniform(0, 0.05): job(s), window.on_done)
started.wait(5)
for window in windows[::3]:  # some windows go first
    window.deleteLater()
if how == "quit":  # as the app quits: aboutToQuit, then exec() returns
    QTimer.singleShot(random.randint(0, 50), app.quit)
    app.exec()
    print("after quit:", background.run(lambda: job(0.1), windows[1].on_done), flush=True)
else:  # the application destroyed at once, jobs still running (no aboutToQuit)
    time.sleep(random.uniform(0, 0.05))
    app.shutdown()
print("teardown done", flush=True)
"""


@pytest.mark.parametrize("how", ["quit", "teardown"])
def test_quitting_with_jobs_in_flight_ends_cleanly(tmp_path: Path, how: str) -> None:
    script = tmp_path / "quit_with_jobs.py"
    script.write_text(QUIT_SCRIPT)
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    for seed in range(5):
        run = subprocess.run(
            [sys.executable, str(script), how, str(seed)],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
            cwd=Path(__file__).resolve().parents[2],
        )
        assert "Segmentation fault" not in run.stderr, run.stderr
        assert "Traceback" not in run.stderr, run.stderr
        assert run.returncode == 0, run.stderr
        assert "teardown done" in run.stdout


def test_quit_waits_for_running_jobs_within_its_bound() -> None:
    """``shutdown`` returns once the running jobs end, well before its bound."""
    code = r"""
import sys, time
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication
from mailgui.ui import background
app = QApplication(sys.argv[:1])
ended = []
background.run(lambda: (time.sleep(0.3), ended.append(1)))
QTimer.singleShot(0, app.quit)
start = time.monotonic()
app.exec()  # aboutToQuit: background.shutdown()
took = time.monotonic() - start
assert ended == [1], ended
assert took < background.QUIT_WAIT_MS / 1000, took
assert background.run(lambda: ended.append(2)) > 0 and background.wait(1000)
assert ended == [1], "a job started after quit"
print("ok")
"""
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    run = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "ok"
