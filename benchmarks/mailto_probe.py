"""``mailto:`` to typing (issue 19): how long a link takes to become a compose window
with the cursor in the body, ready for keystrokes. Real processes, offscreen Qt, a
throw-away profile with one account (as ``run.py`` builds them).

    python mailto_probe.py [--reps N] [--keep] [--tree DIR]   both figures, one table
    python mailto_probe.py app                   (child) the running app, watched
    python mailto_probe.py cold URL              (child) ``mailgui URL`` cold, watched

(a) running app: a ``mailgui`` started by ``app`` (``cli.main([])``, as the console
    script runs it) listens; the parent stamps just before it spawns the real
    ``mailgui mailto:...`` console script, and the app reports when the compose window
    it opened has painted with the body focused and an event posted to it was handled.
    Inside the app: from the instance socket's request read to that moment. The
    compose window is closed between repetitions; the first link to a fresh app (its
    compose code not imported yet) is reported on its own row.
(b) no app running: ``mailgui mailto:...`` cold to the same "ready", against the
    whole-window start of plain ``mailgui`` (``gui_probe.py start 0``: start → the
    whole main window painted with the outbox loaded), interleaved, ratio of medians.

The watch is put in by import hooks (as ``gui_probe.py`` does): mailgui imports in its
own order. Times are ``time.monotonic()`` (CLOCK_MONOTONIC, shared by all processes).
"Ready": the compose window handled an UpdateRequest/Paint while its body was the
focus widget (``QApplication.focusWidget()``; offscreen windows are activated), then a
zero timer after that paint pass posts an event to the window; handling it is "ready"
(a keystroke arriving at that moment would be handled then). The 300 ms after it are
watched with ``gui_probe.StallMeter``: deferred work that then blocks is reported.
"""

from __future__ import annotations

import argparse
import importlib.abc
import importlib.util
import json
import os
import queue
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

# The measured children (``app``, ``cold``) load nothing of the parent's: mailgui starts
# in them with what it imports itself (and gui_probe's watch helpers, loaded with Qt).
if __name__ != "__main__" or sys.argv[1:2] not in (["app"], ["cold"]):
    import _common as c
    from _common import Samples

URL = "mailto:bob@example.org?subject=x&body=y"
GOAL_RUNNING_S = 0.150
GOAL_COLD_RATIO = 1.3
SETTLE_MS = 300
# MAILTO_PROBE_PROFILE=FILE: cProfile the GUI thread from the compose window's import (or,
# imported already, its construction) to the end of the 300 ms after ready, into FILE.
PROFILE = os.environ.get("MAILTO_PROBE_PROFILE")


# --- the watch (in the measured process) -------------------------------------------------


def emit(doc: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(doc) + "\n")
    sys.stdout.flush()


class ComposeWatch:
    """Stamps one compose window from its construction to "ready" (see the module's
    docstring), then calls ``done(result)``."""

    def __init__(self, done: Any) -> None:
        self.done = done
        self.pending: dict[str, float] = {}  # stamps before the window exists
        self.profiler: Any = None
        self.new_modules: list[str] = []  # what importing the compose window loaded

    def attach(self, window: Any, stamps: dict[str, float]) -> None:
        from gui_probe import StallMeter
        from PySide6.QtCore import QCoreApplication, QEvent, QObject, QTimer
        from PySide6.QtWidgets import QApplication

        kinds = {"usable": QEvent.Type(QEvent.registerEventType()),
                 "ready": QEvent.Type(QEvent.registerEventType())}  # fmt: skip
        marks = {v: k for k, v in kinds.items()}
        result: dict[str, Any] = {**self.pending, **stamps}
        if self.new_modules:
            result["compose_modules"] = len(self.new_modules)
            if PROFILE:
                result["compose_module_names"] = self.new_modules
            self.new_modules = []
        self.pending = {}
        done = self.done
        watch = self

        class Filter(QObject):
            """Two marks: "usable" (the first paint pass, whatever has the focus, then
            a posted event handled) and "ready" (the same, with the body focused)."""

            stage = "wait-ready"
            meter: Any = None
            paints = 0
            finished = False

            def eventFilter(self, obj: QObject, event: QEvent) -> bool:
                kind = event.type()
                if kind in (QEvent.Type.UpdateRequest, QEvent.Type.Paint):
                    self.paints += 1
                    if "first_paint_seen" not in result:
                        result["first_paint_seen"] = time.monotonic()
                        result["focus_at_first_paint"] = _focus_name(window)
                        QTimer.singleShot(0, lambda: self.painted("painted", "usable"))
                    if self.stage == "wait-ready" and _body_focused(window):
                        self.stage = "painting"
                        QTimer.singleShot(0, lambda: self.painted("ready_paint", "ready"))
                return False

            def painted(self, mark: str, then: str) -> None:
                result[mark] = time.monotonic()
                if mark == "ready_paint":
                    result["paints_before_ready"] = self.paints
                QCoreApplication.postEvent(self, QEvent(kinds[then]))

            def event(self, event: QEvent) -> bool:
                mark = marks.get(event.type())
                if mark is None:
                    return super().event(event)
                result[mark] = time.monotonic()
                if mark == "usable":  # the body may never get the focus: give up
                    QTimer.singleShot(2000, self.finish)
                    return True
                self.meter = StallMeter()
                self.meter.start()
                QTimer.singleShot(SETTLE_MS, self.finish)
                return True

            def finish(self) -> None:
                if self.finished or (self.stage == "painting" and self.meter is None):
                    return
                self.finished = True
                if self.meter is not None:
                    self.meter.stop()
                    report = self.meter.report()
                    result["settle_stall_ms"] = report["worst_stall_ms"]
                    result["settle_gap_ms"] = report["worst_gap_ms"]
                    result["settle_ticks"] = report["ticks"]
                result["focus_at_end"] = _focus_name(window)
                window.removeEventFilter(self)
                if watch.profiler is not None:
                    watch.profiler.disable()
                    watch.profiler.dump_stats(PROFILE)
                    watch.profiler = None
                done(window, result)

        def _body_focused(w: Any) -> bool:
            return QApplication.focusWidget() is w.body_edit

        def _focus_name(w: Any) -> str:
            f = QApplication.focusWidget() or w.focusWidget()
            return f.objectName() or type(f).__name__ if f is not None else "none"

        watcher = Filter()
        window._probe_filter = watcher  # lives as long as the window
        window.installEventFilter(watcher)


class _Hooks(importlib.abc.MetaPathFinder):
    """Wrap, once loaded: ComposeWindow (construction, show) and InstanceServer._read."""

    def __init__(self, watch: ComposeWatch, *, announce: bool) -> None:
        self.watch = watch
        self.announce = announce
        self.names = {
            "mailgui.ui.compose.window",
            "mailgui.ui.instance_server",
            "mailgui.ui.main_window",
        }

    def find_spec(self, name: str, path: Any, target: Any = None) -> Any:
        if name not in self.names:
            return None
        self.names.discard(name)
        started = time.monotonic()
        before = set(sys.modules)
        if PROFILE and name == "mailgui.ui.compose.window":
            import cProfile

            self.watch.profiler = cProfile.Profile()
            self.watch.profiler.enable()
        sys.meta_path.remove(self)
        try:
            spec = importlib.util.find_spec(name)
        finally:
            if self.names:
                sys.meta_path.insert(0, self)
        assert spec is not None and spec.loader is not None
        load = spec.loader.exec_module
        watch = self.watch

        def exec_module(module: Any) -> None:
            load(module)
            if name == "mailgui.ui.main_window":
                _wrap_main(module.MainWindow, watch)
            elif name == "mailgui.ui.compose.window":
                watch.pending["compose_import_start"] = started
                watch.pending["compose_imported"] = time.monotonic()
                watch.new_modules = sorted(set(sys.modules) - before)
                _wrap_compose(module.ComposeWindow, watch)
            else:
                _wrap_server(module.InstanceServer, watch, self.announce)

        spec.loader.exec_module = exec_module  # type: ignore[method-assign]
        return spec


def _wrap_compose(cls: Any, watch: ComposeWatch) -> None:
    init, show = cls.__init__, cls.show

    def watched_init(self: Any, *args: Any, **kwargs: Any) -> None:
        self._probe_stamps = {"construct_start": time.monotonic()}
        if PROFILE and watch.profiler is None:  # the GUI thread, construction to settled
            import cProfile

            watch.profiler = cProfile.Profile()
            watch.profiler.enable()
        init(self, *args, **kwargs)
        self._probe_stamps["constructed"] = time.monotonic()

    def watched_show(self: Any) -> None:
        stamps = getattr(self, "_probe_stamps", {})
        stamps["show"] = time.monotonic()
        watch.attach(self, stamps)
        show(self)

    cls.__init__ = watched_init
    cls.show = watched_show


def _wrap_main(cls: Any, watch: ComposeWatch) -> None:
    """Stamps of the main window's build and of ``compose_mailto`` (the phases of a
    cold start), kept for the next compose window's report."""
    build, compose = cls.build, cls.compose_mailto

    def watched_build(self: Any, *args: Any, **kwargs: Any) -> Any:
        watch.pending.setdefault("main_build_start", time.monotonic())
        try:
            return build(self, *args, **kwargs)
        finally:
            watch.pending.setdefault("main_built", time.monotonic())

    def watched_compose(self: Any, *args: Any, **kwargs: Any) -> Any:
        watch.pending["compose_mailto"] = time.monotonic()
        return compose(self, *args, **kwargs)

    cls.build = watched_build
    cls.compose_mailto = watched_compose


def _wrap_server(cls: Any, watch: ComposeWatch, announce: bool) -> None:
    read, init = cls._read, cls.__init__

    def watched_init(self: Any, *args: Any, **kwargs: Any) -> None:
        init(self, *args, **kwargs)
        if announce:  # made after the whole window's build; let the start settle
            from PySide6.QtCore import QTimer

            QTimer.singleShot(500, lambda: emit({"listening": time.monotonic()}))

    cls.__init__ = watched_init

    def watched_read(self: Any, sock: Any) -> None:
        watch.pending["request_read"] = time.monotonic()
        read(self, sock)

    cls._read = watched_read


def _install(done: Any, *, announce: bool = False) -> ComposeWatch:
    watch = ComposeWatch(done)
    sys.meta_path.insert(0, _Hooks(watch, announce=announce))
    return watch


def child_app() -> None:
    """The running app: reports each compose window's stamps, then closes it."""
    from gui_probe import give_up_after

    give_up_after(900)
    count = [0]

    def done(window: Any, result: dict[str, Any]) -> None:
        count[0] += 1
        result["n"] = count[0]
        result["mailgui_dir"] = _mailgui_dir()
        emit(result)
        window._done = True  # close without the save prompt (as the tests do)
        window.close()

    _install(done, announce=True)
    from mailgui.cli import main

    raise SystemExit(main([]))


def _mailgui_dir() -> str:
    import mailgui

    return str(Path(mailgui.__file__).resolve().parent)


def child_cold(url: str) -> None:
    """``mailgui URL`` with no app running: one compose window, then quit."""
    from gui_probe import give_up_after

    give_up_after(120)

    def done(window: Any, result: dict[str, Any]) -> None:
        from PySide6.QtWidgets import QApplication

        result["mailgui_dir"] = _mailgui_dir()
        emit(result)
        window._done = True
        window.close()
        QApplication.quit()

    _install(done)
    from mailgui.cli import main

    raise SystemExit(main([url]))


# --- the parent ---------------------------------------------------------------------------


class Lines:
    """A child's stdout, one JSON object a line, read in a thread."""

    def __init__(self, proc: subprocess.Popen[bytes]) -> None:
        self.q: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self.proc = proc
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        assert self.proc.stdout is not None
        for raw in self.proc.stdout:
            line = raw.decode(errors="replace").strip()
            if line.startswith("{"):
                self.q.put(json.loads(line))
        self.q.put(None)

    def get(self, timeout: float) -> dict[str, Any]:
        doc = self.q.get(timeout=timeout)
        if doc is None:
            raise RuntimeError(f"the child exited ({self.proc.wait()})")
        return doc


def spread(s: Samples, scale: float = 1000.0, unit: str = "ms") -> str:
    return f"{s.median * scale:.0f} {unit} [{s.lo * scale:.0f}–{s.hi * scale:.0f}]"


def log(text: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


def make_profile(root: Path, name: str, env_of: Any, port: int, ca: Path) -> Path:
    home = root / name
    c.add_account(env_of(home), port, ca)
    return home


def measure_running(env: dict[str, str], reps: int, errors: Path) -> dict[str, Any]:
    with errors.open("wb") as err:  # Qt's offscreen plugin says a lot: never a full pipe
        app = subprocess.Popen(
            [c.PYTHON, str(HERE / "mailto_probe.py"), "app"],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=err,
        )
    lines = Lines(app)
    total, inside, construct, settle, usable = Samples(), Samples(), Samples(), Samples(), Samples()
    second_part = Samples()
    first: dict[str, Any] = {}
    docs: list[dict[str, Any]] = []
    try:
        try:
            lines.get(60)  # listening
        except (queue.Empty, RuntimeError):
            raise RuntimeError(f"the app did not listen: {errors.read_text()[-3000:]}") from None
        for i in range(reps + 1):
            time.sleep(0.3)  # an idle app, as when a link is clicked
            started = time.monotonic()
            argv = [*c.mailgui_cmd(), URL]
            second = subprocess.Popen(
                argv,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
            )
            doc = since(lines.get(60), started)
            _, said = second.communicate(timeout=30)
            if second.returncode != 0:
                raise RuntimeError(f"{argv} exited with {second.returncode}: {said[-2000:]!r}")
            docs.append(doc)
            log(f"  running #{i}: {describe(doc, 'request_read')}")
            if i == 0:
                first = doc
                continue
            second_part.add(doc["request_read"])
            usable.add(doc["usable"])
            construct.add(doc["constructed"] - doc["construct_start"])
            if "ready" in doc:
                total.add(doc["ready"])
                inside.add(doc["ready"] - doc["request_read"])
                settle.add(doc["settle_stall_ms"] / 1000)
    finally:
        app.terminate()
        try:
            app.wait(20)
        except subprocess.TimeoutExpired:
            app.kill()
            app.wait()
    return {
        "total": total,
        "inside": inside,
        "construct": construct,
        "settle": settle,
        "usable": usable,
        "first": first,
        "docs": docs,
        "second": second_part,
    }


def since(doc: dict[str, Any], started: float) -> dict[str, Any]:
    """Monotonic stamps (floats) become seconds since ``started``."""
    return {
        k: v - started if isinstance(v, float) and not k.endswith("_ms") else v
        for k, v in doc.items()
    }


def describe(doc: dict[str, Any], inside_from: str) -> str:
    ms = {k: round(v * 1000) for k, v in doc.items() if isinstance(v, float) and abs(v) < 100}
    steps = (
        "main_build_start",
        "main_built",
        "compose_mailto",
        "compose_import_start",
        "compose_imported",
        "request_read",
        "construct_start",
        "constructed",
        "show",
        "first_paint_seen",
    )
    text = " → ".join(f"{k} {ms[k]}" for k in steps if k in ms) + "; "
    text += (
        f"painted+usable {doc['usable'] * 1000:.0f} ms (focus {doc['focus_at_first_paint']} "
        f"at first paint, {doc['focus_at_end']} at the end); "
    )
    if "ready" not in doc:
        return text + "the body never had the focus"
    return text + (
        f"ready {doc['ready'] * 1000:.0f} ms, from {inside_from} "
        f"{(doc['ready'] - doc[inside_from]) * 1000:.0f} ms; settle stall "
        f"{doc['settle_stall_ms']} ms"
    )


def probe(args: list[str], env: dict[str, str], script: str) -> dict[str, Any]:
    started = time.monotonic()
    proc = subprocess.run(
        [c.PYTHON, str(HERE / script), *args],
        env=env,
        capture_output=True,
        timeout=300,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(
            f"{script} {' '.join(args)} failed ({proc.returncode}):\n"
            f"{proc.stderr.decode(errors='replace')[-3000:]}"
        )
    return since(json.loads(proc.stdout.decode().strip().splitlines()[-1]), started)


def measure_cold(root: Path, template: Path, env_of: Any, reps: int) -> dict[str, Any]:
    cold, whole, usable, settle = Samples(), Samples(), Samples(), Samples()
    inside, cold_usable = Samples(), Samples()
    for i in range(reps + 1):
        # A fresh copy each time: no state (drafts, window state) from the last round.
        home = c.copy_profile(template, root / "cold")
        env = env_of(home)
        m = probe(["cold", URL], env, "mailto_probe.py")
        home = c.copy_profile(template, root / "start")
        s = probe(["start", "0"], env_of(home), "gui_probe.py")
        log(f"  cold #{i}: {describe(m, 'construct_start')}; plain start: whole window "
            f"{s['ready_paint'] * 1000:.0f} ms")  # fmt: skip
        if i == 0:
            continue
        cold_usable.add(m["usable"])
        if "ready" in m:
            cold.add(m["ready"])
            inside.add(m["ready"] - m["construct_start"])
            settle.add(m["settle_stall_ms"] / 1000)
        whole.add(s["ready_paint"])
        usable.add(s["usable"])
    return {
        "cold": cold,
        "cold_usable": cold_usable,
        "whole": whole,
        "usable": usable,
        "settle": settle,
        "inside": inside,
    }


def parent(reps: int, keep: bool, tree: Path | None = None) -> int:
    root = Path(tempfile.mkdtemp(prefix="mailto-probe-"))
    xdg = root / "xdg"
    ca, server_pem = c.make_certs(root / "certs")
    server = c.DiscardServer(server_pem).start()
    dns = f"127.0.0.1:{server.dns_port}"
    extra = {"PYTHONPATH": str(tree)} if tree is not None else {}

    def env_of(home: Path) -> dict[str, str]:
        return c.bench_env(home, xdg, MAILGUI_NAMESERVER=dns, **extra)

    try:
        template = make_profile(root, "template", env_of, server.port, ca)
        # Byte-code caches (PYTHONPYCACHEPREFIX, new for each run) written before anything
        # is timed, as an installed app has them.
        probe(["cold", URL], env_of(c.copy_profile(template, root / "warm")), "mailto_probe.py")
        log(f"running app, {reps} repetitions (+1 first link, reported apart)")
        home = c.copy_profile(template, root / "running")
        running = measure_running(env_of(home), reps, root / "app-stderr.txt")
        log(f"no app running, {reps} repetitions (+1 warm-up), interleaved with plain start")
        cold = measure_cold(root, template, env_of, reps)
    finally:
        server.stop()
        if not keep:
            shutil.rmtree(root, ignore_errors=True)
        else:
            log(f"kept {root}")
    total, first = running["total"], running["first"]
    print(f"mailgui measured: {first.get('mailgui_dir')}")
    never = f"never (focus in {running['docs'][-1]['focus_at_end']})"
    ratio = cold["cold"].median / cold["whole"].median if len(cold["cold"]) else None
    first_ready = (
        f"{first['ready'] * 1000:.0f} ms; {(first['ready'] - first['request_read']) * 1000:.0f} ms"
        if "ready" in first
        else never
    )
    first_import = (first.get("compose_imported", 0) - first.get("compose_import_start", 0)) * 1e3
    rows = [
        (
            "mailto: to a running app → compose painted with the body focused, then a "
            f"posted event handled ({len(total)} of {len(running['usable'])} links ready)",
            spread(total) if len(total) else never,
            f"≤ {GOAL_RUNNING_S * 1000:.0f} ms",
            len(total) == len(running["usable"]) and total.median <= GOAL_RUNNING_S,
        ),
        (
            "  of it the second process: spawn → its request read by the app",
            spread(running["second"]),
            "—",
            None,
        ),
        (
            "  of it inside the app: request read from the socket → ready",
            spread(running["inside"]) if len(total) else "—",
            "—",
            None,
        ),
        (
            "  compose painted (whatever has the focus) → posted event handled",
            spread(running["usable"]),
            "—",
            None,
        ),
        ("  of it ComposeWindow() itself", spread(running["construct"]), "—", None),
        (
            "  longest stall in the 300 ms after ready (CPU wait taken out)",
            spread(running["settle"]) if len(total) else "—",
            "—",
            None,
        ),
        (
            "  the first link to a fresh app (its compose code imported then): ready; "
            "of it inside the app",
            f"{first_ready} (compose import {first_import:.0f} ms)",
            "—",
            None,
        ),
        (
            "no app running: `mailgui mailto:…` → compose ready, against plain `mailgui` → "
            "whole window painted with the outbox loaded (gui_probe `start 0`)",
            f"{spread(cold['cold']) if len(cold['cold']) else never} vs "
            f"{spread(cold['whole'])}: " + (f"{ratio:.2f}×" if ratio else "—"),
            f"≤ {GOAL_COLD_RATIO}×",
            ratio is not None
            and len(cold["cold"]) == len(cold["cold_usable"])
            and ratio <= GOAL_COLD_RATIO,
        ),
        (
            "  compose painted (whatever has the focus) → posted event handled",
            spread(cold["cold_usable"]),
            "—",
            None,
        ),
        (
            "  of it ComposeWindow() → ready; longest stall in the 300 ms after ready",
            f"{spread(cold['inside'])}; {spread(cold['settle'])}" if len(cold["cold"]) else "—",
            "—",
            None,
        ),
        (
            "  plain `mailgui` → its probe event handled (gui_probe's 'usable')",
            spread(cold["usable"]),
            "—",
            None,
        ),
    ]
    print("| figure | median [min–max] | target | result |\n|---|---|---|---|")
    for figure, value, target, ok in rows:
        verdict = "info" if ok is None else ("pass" if ok else "FAIL")
        print(f"| {figure} | {value} | {target} | {verdict} |")
    return 0 if all(ok is not False for *_, ok in rows) else 1


def main() -> None:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    if len(sys.argv) > 1 and sys.argv[1] == "app":
        child_app()
    elif len(sys.argv) > 2 and sys.argv[1] == "cold":
        child_cold(sys.argv[2])
    else:
        ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
        ap.add_argument("--reps", type=int, default=7)
        ap.add_argument("--keep", action="store_true")
        ap.add_argument(
            "--tree",
            type=Path,
            help="measure the mailgui package in this folder (say, a copy of the tree "
            "before a change) instead of the installed one: PYTHONPATH for every process",
        )
        args = ap.parse_args()
        if args.tree is not None:
            args.tree = args.tree.resolve()
            if not (args.tree / "mailgui" / "__init__.py").is_file():
                raise SystemExit(f"{args.tree} holds no mailgui package")
        raise SystemExit(parent(args.reps, args.keep, args.tree))


if __name__ == "__main__":
    main()
