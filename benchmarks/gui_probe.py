"""The GUI side of the benchmarks, one scenario per process (offscreen Qt).

    python gui_probe.py bare                 baseline: a bare QMainWindow script
    python gui_probe.py widgets              not a figure: the main window's widgets in
                                             plain PySide6, the floor for its first paint
    python gui_probe.py start [ROWS]         ``mailgui`` (cli.main, as the console script
                                             runs it) up to its first painted window; with
                                             ROWS, also until the outbox is painted and the
                                             table scrolled to its last (oldest) row
    python gui_probe.py flush COUNT          event-loop stalls while the main window's
                                             sender flushes COUNT queued messages
    python gui_probe.py attach FILE          stalls and peak RSS while the compose window
                                             attaches FILE and the sender sends it

The profile comes from MAILGUI_HOME. Every scenario prints one JSON object on its
last stdout line. Times are ``time.monotonic()`` (CLOCK_MONOTONIC, shared by all
processes), so the parent can measure from just before it started this process.

Stalls: a 5 ms precise QTimer records the gap between its ticks with a
QElapsedTimer; "longest stall" is the longest gap (a tick that is never late
shows 5 ms) minus the time the OS kept the GUI thread waiting for a CPU in that
gap (machine load, see ``cpu_wait_ms``); the plain gap is reported too.
"""

from __future__ import annotations

import gc
import importlib.abc
import importlib.util
import inspect
import itertools
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

TICK_MS = 5

# Qt is imported inside the scenarios: ``start`` must leave the order of imports to
# mailgui itself (PySide6 taxes every module imported after it, see README.md).


def emit(doc: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(doc) + "\n")
    sys.stdout.flush()


def cpu_wait_ms() -> float:
    """Milliseconds this thread has spent runnable but not running, waiting for a CPU
    (Linux schedstat). On a loaded machine the OS keeps the GUI thread off the CPU for
    tens of ms whatever the app does; that part of a gap is load, not our stall.
    Waiting for the GIL is not in it (a thread waiting for a lock is not runnable)."""
    try:
        with open("/proc/thread-self/schedstat") as f:
            return int(f.read().split()[1]) / 1e6
    except (OSError, IndexError, ValueError):
        return 0.0


class StallMeter:
    """Gaps between the ticks of a 5 ms timer on the GUI thread: ``worst_gap`` is the
    plain wall-clock figure, ``worst`` the same minus the time the OS kept the thread
    waiting for a CPU (the figure the target is checked against)."""

    def __init__(self) -> None:
        from PySide6.QtCore import QElapsedTimer, Qt, QTimer

        self.ticks: list[tuple[float, float]] = []
        self.clock = QElapsedTimer()
        self.timer = QTimer()
        self.timer.setTimerType(Qt.TimerType.PreciseTimer)
        self.timer.setInterval(TICK_MS)
        self.timer.timeout.connect(self._tick)

    def _tick(self) -> None:
        self.ticks.append((self.clock.nsecsElapsed() / 1e6, cpu_wait_ms()))

    def start(self) -> None:
        self.ticks.clear()
        self.clock.start()
        self._tick()
        self.timer.start()

    def stop(self) -> None:
        self.timer.stop()
        self._tick()  # a stall right before the stop counts too

    @property
    def gaps(self) -> list[tuple[float, float]]:
        """(wall ms, wall ms minus CPU wait) per tick."""
        pairs = zip(self.ticks, self.ticks[1:], strict=False)
        return [(b[0] - a[0], (b[0] - a[0]) - (b[1] - a[1])) for a, b in pairs]

    @property
    def worst(self) -> float:
        return round(max((g[1] for g in self.gaps), default=0.0), 1)

    @property
    def worst_gap(self) -> float:
        return round(max((g[0] for g in self.gaps), default=0.0), 1)

    def report(self) -> dict[str, Any]:
        gaps = self.gaps
        at = max(range(len(gaps)), key=lambda i: gaps[i][1], default=0)
        return {
            "worst_stall_ms": self.worst,
            "worst_gap_ms": self.worst_gap,
            "worst_stall_at_s": round(self.ticks[at][0] / 1000, 3) if gaps else None,
            "ticks": len(self.ticks),
        }


def wait_until(app: Any, predicate: Any, timeout: float, what: str) -> None:
    """Run the event loop (a real one, as the app's) until ``predicate()``, checked
    every 20 ms: keep it cheap, it runs on the GUI thread being measured."""
    from PySide6.QtCore import QEventLoop, QTimer

    if predicate():
        return
    deadline = time.monotonic() + timeout
    loop = QEventLoop()
    timed_out = []

    def check() -> None:
        if predicate():
            loop.quit()
        elif time.monotonic() > deadline:
            timed_out.append(True)
            loop.quit()

    timer = QTimer()
    timer.timeout.connect(check)
    timer.start(20)
    loop.exec()
    timer.stop()
    if timed_out:
        raise SystemExit(f"gui_probe: timed out waiting for {what}")


def rss_kb(field: str = "VmRSS") -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"no {field} in /proc/self/status")


# --- start-up ---------------------------------------------------------------------------


def paint_watch(app: Any, rows: int | None, window: Any) -> Any:
    """A PaintWatch (defined here, so that importing this file loads no Qt)."""
    from PySide6.QtCore import QCoreApplication, QEvent, QObject, QTimer

    PROBE = QEvent.Type(QEvent.registerEventType())

    class PaintWatch(QObject):
        """Stamps the end of the first paint of a main window, and (``rows``) the first
        paint that shows the outbox, then scrolls to the end and stamps when the last
        row is painted. With no rows or ``rows == 0``, once painted (the bare window,
        or the outbox shown) it stamps when a posted event is handled ("usable") and
        measures stalls for 300 ms more. Quits the application afterwards."""

        paint_types = (QEvent.Type.UpdateRequest, QEvent.Type.Paint)

        def __init__(self, app: Any, rows: int | None, window: Any) -> None:
            super().__init__()
            self.app = app
            self.rows = rows
            self.result: dict[str, Any] = {}
            self.window = window
            self.meter: StallMeter | None = None
            self.stage = "first"
            self.scroller = QTimer()
            self.scroller.setInterval(16)
            self.scroller.timeout.connect(self._scroll)

        def eventFilter(self, obj: QObject, event: QEvent) -> bool:
            # Installed on the main window only: Qt paints every dirty widget of a
            # window while the window handles its UpdateRequest (or Paint), so a
            # zero timer started here fires when that paint pass is over.
            if event.type() in self.paint_types:
                if self.stage == "first":
                    self.stage = "first-painting"
                    QTimer.singleShot(0, self._first_painted)
                elif self.stage == "wait-built" and self.window.built:
                    self.stage = "built-painting"
                    QTimer.singleShot(0, self._built_painted)
                elif self.stage == "wait-ready" and self._ready():
                    self.stage = "ready-painting"
                    QTimer.singleShot(0, self._ready_painted)
                elif self.stage == "wait-end" and self._at_end():
                    self.stage = "end-painting"
                    QTimer.singleShot(0, self._end_painted)
            return False

        def _first_painted(self) -> None:
            self.result["first_paint"] = time.monotonic()
            if self.rows is None:
                self._answer_input()
                return
            if not getattr(self.window, "built", True):  # the frame: the rest comes next
                self.stage = "wait-built"
                return
            self._built_painted()

        def _built_painted(self) -> None:
            """The whole window has painted once: from here on the stall meter runs
            (it always started at the whole window's first paint). The time from the
            frame's paint to this one, which the build takes, is reported on its own."""
            self.result["built_paint"] = time.monotonic()
            self.result["build_block_ms"] = round(
                (self.result["built_paint"] - self.result["first_paint"]) * 1000, 1
            )
            self.meter = StallMeter()
            self.meter.start()
            self.stage = "wait-ready"
            self.window.update()  # the state may already be final: paint once more

        def _ready(self) -> bool:
            """The outbox service has answered and the window shows it."""
            w = self.window
            if not w.lbl_count.text():
                return False
            return self.rows == 0 or w.proxy.rowCount() > 0

        def _ready_painted(self) -> None:
            self.result["ready_paint"] = time.monotonic()
            if self.rows == 0:
                self.result["end_paint"] = self.result["ready_paint"]
                self._answer_input()
                return
            self.stage = "wait-end"
            self.scroller.start()
            self._scroll()

        def _answer_input(self) -> None:
            """The window is painted: post an event, as input arrives, behind whatever
            the start has queued; "usable" is when the event loop gets to it. Then 300 ms
            more with the stall meter on: a window that answers once and then blocks (on
            work posted for after the paint) is not ready either."""
            self.result["probe_posted"] = time.monotonic()
            QCoreApplication.postEvent(self, QEvent(PROBE))

        def event(self, event: QEvent) -> bool:
            if event.type() != PROBE:
                return super().event(event)
            self.result["usable"] = time.monotonic()
            self.result["probe_wait_ms"] = round(
                (self.result["usable"] - self.result["probe_posted"]) * 1000, 1
            )
            self.stage = "settle"
            if self.meter is None:
                self.meter = StallMeter()
                self.meter.start()
            self.result["settle_from"] = self.meter.clock.nsecsElapsed() / 1e6
            QTimer.singleShot(300, self._finish)
            return True

        def _scroll(self) -> None:
            self.window.table.scrollToBottom()
            if self._at_end():  # already there: make sure a paint comes to stamp it
                self.window.table.viewport().update()

        def _at_end(self) -> bool:
            w = self.window
            if w.proxy.rowCount() < self.rows:
                return False
            if self.rows == 0:
                return True
            last = w.proxy.rowCount() - 1
            table = w.table
            bottom = table.rowAt(table.viewport().height() - 1)
            visible = bottom == last or (bottom == -1 and table.rowAt(0) != -1)
            return visible and w.proxy.id_at(last) == 1  # the oldest message

        def _end_painted(self) -> None:
            self.result["end_paint"] = time.monotonic()
            self.scroller.stop()
            self.stage = "settle"
            QTimer.singleShot(300, self._finish)  # stalls right after the end count too

        def _finish(self) -> None:
            if self.meter is not None:
                self.meter.stop()
                self.result.update(self.meter.report())
                if "settle_from" in self.result:  # the longest stall after "usable"
                    start = self.result.pop("settle_from")
                    ticks = self.meter.ticks
                    after = [
                        (b[0] - a[0]) - (b[1] - a[1])
                        for a, b in itertools.pairwise(ticks)
                        if b[0] >= start
                    ]
                    self.result["settle_stall_ms"] = round(max(after, default=0.0), 1)
            self.result["rows"] = self.window.proxy.rowCount() if self.rows else 0
            self.stage = "done"
            emit(self.result)
            self.window.removeEventFilter(self)
            # exit(), not quit(): quit() closes the windows first, and with messages
            # waiting the main window asks whether to quit and stays (the 10 000-row run
            # then waited for give_up_after).
            self.app.exit(0)

    watch = PaintWatch(app, rows, window)
    window.installEventFilter(watch)
    return watch


def give_up_after(seconds: float) -> None:
    """A scenario that hangs is a failed measurement, not a stuck benchmark run."""

    def fail() -> None:
        sys.stderr.write(f"gui_probe: gave up after {seconds:g} s\n")
        sys.stderr.flush()
        os._exit(3)

    import threading

    timer = threading.Timer(seconds, fail)
    timer.daemon = True
    timer.start()


class _WatchMainWindow(importlib.abc.MetaPathFinder):
    """Import hook: once mailgui.ui.main_window is loaded, its MainWindow.show()
    first installs the paint watch on the running QApplication. mailgui itself
    then starts exactly as the console script starts it, imports in its own order."""

    def __init__(self, rows: int | None) -> None:
        self.rows = rows
        self.watch: Any = None

    def find_spec(self, name: str, path: Any, target: Any = None) -> Any:
        if name != "mailgui.ui.main_window":
            return None
        sys.meta_path.remove(self)
        spec = importlib.util.find_spec(name)
        assert spec is not None and spec.loader is not None
        load = spec.loader.exec_module

        def exec_module(module: Any) -> None:
            load(module)
            show = module.MainWindow.show

            def watched_show(window: Any) -> None:
                from PySide6.QtWidgets import QApplication

                self.watch = paint_watch(QApplication.instance(), self.rows, window)
                show(window)

            module.MainWindow.show = watched_show

        spec.loader.exec_module = exec_module  # type: ignore[method-assign]
        return spec


def scenario_start(rows: int | None) -> None:
    hook = _WatchMainWindow(rows)
    sys.meta_path.insert(0, hook)
    from mailgui.cli import main

    code = main([])
    stage = hook.watch.stage if hook.watch is not None else "no window"
    if code != 0 or stage != "done":
        raise SystemExit(f"gui_probe: mailgui exited with {code} at stage {stage}")


def scenario_bare() -> None:
    from PySide6.QtWidgets import QApplication, QMainWindow

    app = QApplication(sys.argv[:1])
    window = QMainWindow()
    window.setWindowTitle("bare")
    window.resize(1100, 640)
    watch = paint_watch(app, None, window)
    window.show()
    app.exec()
    if watch.stage != "done":
        raise SystemExit(f"gui_probe: the bare window stopped at stage {watch.stage}")


def scenario_widgets() -> None:
    """Not a benchmark figure: the floor for this window in PySide6. mailgui's main
    window as plain Qt (no mailgui code, no outbox, no threads): menus with shortcuts, a
    toolbar with mailgui's own icons, four tabs, an empty table over a filter model, the
    empty-state label, the details pane in a splitter, a status bar; one paint."""
    from PySide6.QtCore import QAbstractTableModel, QSortFilterProxyModel, Qt
    from PySide6.QtGui import QAction, QIcon, QKeySequence
    from PySide6.QtWidgets import (
        QApplication,
        QLabel,
        QMainWindow,
        QSplitter,
        QTabBar,
        QTableView,
        QTextBrowser,
        QVBoxLayout,
        QWidget,
    )

    class Model(QAbstractTableModel):
        def rowCount(self, parent: Any = None) -> int:
            return 0

        def columnCount(self, parent: Any = None) -> int:
            return 7

        def data(self, index: Any, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
            return None

    icons = Path(__file__).resolve().parent.parent / "mailgui" / "resources" / "actions"
    app = QApplication(sys.argv[:1])
    window = QMainWindow()
    window.setWindowTitle("widgets")
    window.resize(1100, 640)
    watch = paint_watch(app, None, window)
    window.show()

    def build() -> None:
        names = ["mail-message-new", "mail-send", "document-edit", "view-refresh"]
        names += ["mail-send-receive", "edit-delete", "system-users"]
        actions = []
        for i, name in enumerate(names):
            action = QAction(name, window)
            action.setShortcut(QKeySequence(f"Ctrl+{i + 1}"))
            action.setIcon(QIcon(str(icons / f"{name}.svg")))
            actions.append(action)
        bar = window.menuBar()
        for title in ("&File", "&View", "&Message", "&Help"):
            bar.addMenu(title).addActions(actions[:3])
        tb = window.addToolBar("Main")
        tb.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        tb.addActions(actions)
        tabs = QTabBar()
        for label in ("Outbox", "Scheduled", "Failed", "Sent"):
            tabs.addTab(label)
        proxy = QSortFilterProxyModel(window)
        proxy.setSourceModel(Model(window))
        table = QTableView()
        table.setModel(proxy)
        table.viewport()
        table.hide()  # empty: the label instead
        empty = QLabel("Nothing is waiting to be sent.")
        empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        details = QTextBrowser()
        details.setPlaceholderText("Select a message to see its history and headers.")
        top = QWidget()
        lay = QVBoxLayout(top)
        for widget in (tabs, table, empty):
            lay.addWidget(widget)
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(top)
        split.addWidget(details)
        window.setCentralWidget(split)
        sb = window.statusBar()
        sb.addWidget(QLabel("Idle"), 1)
        sb.addPermanentWidget(QLabel("Nothing to send"))
        sb.addPermanentWidget(QLabel("● Online"))

    build()
    app.exec()
    if watch.stage != "done":
        raise SystemExit(f"gui_probe: the widgets window stopped at stage {watch.stage}")


# --- the running app ---------------------------------------------------------------------


def _main_window(app: Any) -> Any:
    from mailgui.core.paths import Profile
    from mailgui.ui.context import AppContext
    from mailgui.ui.main_window import MainWindow

    profile = Profile.from_env()
    profile.ensure()
    ctx = AppContext(profile)
    window = MainWindow(ctx, watch_network=False)
    return ctx, window


def _states(window: Any) -> list[str]:
    model = window.model
    return [model.index(r, 0).data(model.ROW_ROLE).state for r in range(model.rowCount())]


def scenario_flush(count: int) -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from _common import queue_messages
    from PySide6.QtWidgets import QApplication

    from mailgui.ui.app import tune_interpreter

    app = QApplication(sys.argv[:1])
    _ctx, w = _main_window(app)
    w.mail_sender.set_online(False)  # hold the messages until the measurement runs
    w.show()
    wait_until(app, lambda: bool(w.lbl_count.text()), 20, "the outbox to load")
    queue_messages(Path(os.environ["MAILGUI_HOME"]), count)
    wait_until(app, lambda: w.model.rowCount() == count, 60, f"{count} rows")
    tune_interpreter()  # as app.run() does after start-up
    counts: dict[str, int] = {}
    w.outbox.countsChanged.connect(counts.update)
    meter = StallMeter()
    meter.start()
    started = time.monotonic()
    w.mail_sender.set_online(True)
    # Cheap to check (the counts the window is sent), then once: every row shows "sent".
    wait_until(app, lambda: counts.get("sent") == count, 120, "every message to be sent")
    wait_until(app, lambda: set(_states(w)) == {"sent"}, 30, "every row to show it")
    took = time.monotonic() - started
    meter.stop()
    w.shutdown()
    emit({**meter.report(), "seconds": took})


def scenario_attach(path: str) -> None:
    from PySide6.QtWidgets import QApplication

    from mailgui.ui.app import tune_interpreter
    from mailgui.ui.compose import ComposeWindow

    app = QApplication(sys.argv[:1])
    ctx, w = _main_window(app)
    w.show()
    wait_until(app, lambda: bool(w.lbl_count.text()), 20, "the outbox to load")
    tune_interpreter()
    settle = time.monotonic() + 1.5  # the sender's first (empty) flush, first paints
    wait_until(app, lambda: time.monotonic() > settle, 5, "the window to settle")
    gc.collect()
    idle = rss_kb()
    try:  # reset the peak (VmHWM) to the current RSS
        Path("/proc/self/clear_refs").write_text("5")
        hwm_reset = True
    except OSError:
        hwm_reset = False
    # The compose window is open and filled in before the measurement: opening a window
    # is not what this figure is about; attaching the file and sending it is.
    undo = {"undo_seconds": 0}
    if "undo_seconds" not in inspect.signature(ComposeWindow).parameters:
        undo = {}
    compose = ComposeWindow(ctx, w.outbox, **undo)  # no undo-send grace period (a wait)
    compose.show()
    compose.to_edit.setText("bob@example.org")
    compose.subject_edit.setText("The 25 MB file")
    compose.body_edit.setPlainText("Here it is.\n")
    settle = time.monotonic() + 0.5
    wait_until(app, lambda: time.monotonic() > settle, 5, "the compose window to settle")
    stamps: dict[str, float] = {}
    w.outbox.queued.connect(lambda *_: stamps.setdefault("queued", time.monotonic()))
    w.mail_sender.progress.connect(lambda *_: stamps.setdefault("first_progress", time.monotonic()))
    w.mail_sender.messageChanged.connect(lambda *_: stamps.setdefault("outcome", time.monotonic()))
    meter = StallMeter()
    meter.start()
    started = time.monotonic()
    compose.add_attachments([path])
    stamps["attached"] = time.monotonic()
    if not compose.send():
        raise SystemExit("gui_probe: the compose window refused to send")
    stamps["send_returned"] = time.monotonic()
    wait_until(app, lambda: _states(w) == ["sent"], 300, "the attachment to be sent")
    took = time.monotonic() - started
    meter.stop()
    peak = rss_kb("VmHWM")
    w.shutdown()
    emit(
        {
            **meter.report(),
            "seconds": took,
            **{f"{k}_s": round(v - started, 3) for k, v in stamps.items()},
            "idle_kb": idle,
            "peak_kb": peak,
            "hwm_reset": hwm_reset,
        }
    )


def main() -> None:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    give_up_after(300)
    mode, *args = sys.argv[1:]
    if mode == "bare":
        scenario_bare()
    elif mode == "widgets":
        scenario_widgets()
    elif mode == "start":
        scenario_start(int(args[0]) if args else None)
    elif mode == "flush":
        scenario_flush(int(args[0]))
    elif mode == "attach":
        scenario_attach(args[0])
    else:
        raise SystemExit(f"gui_probe: unknown scenario {mode!r}")


if __name__ == "__main__":
    main()
