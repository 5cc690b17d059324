#!/usr/bin/env python3
"""Run every mailgui benchmark and print one table of ratios measured in this run.

    python benchmarks/run.py [--quick] [--reps N] [--only NAME ...] [--record]
                             [--keep] [--list]

Use the interpreter of a virtualenv that has mailgui installed with its test extras
(``pip install -e '.[test]'``); ``benchmarks/run`` picks one for you. Everything
runs on 127.0.0.1 in a temporary folder (``--keep`` leaves it for inspection).
Each figure is measured several times, mailgui and its baseline interleaved, and
reported as median [min–max]; ratios are ratios of medians. ``--record`` writes the
table, with today's date, into benchmarks/README.md. See that file for what each
figure measures and which guarantees held while it was taken.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import platform
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as c
import slow_link
from _common import Samples, fmt

MB = 1024 * 1024


@dataclass
class Row:
    figure: str
    mailgui: str
    baseline: str
    ratio: str
    target: str
    ok: bool | None  # None: informative, no target

    @property
    def verdict(self) -> str:
        return "info" if self.ok is None else ("pass" if self.ok else "FAIL")


def spread(s: Samples, unit: str) -> str:
    if len(s) == 1:
        return fmt(s.median, unit)
    return f"{fmt(s.median, unit)} [{fmt(s.lo, unit)}–{fmt(s.hi, unit)}]"


def log(text: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


class Bench:
    def __init__(self, root: Path, reps: int, quick: bool) -> None:
        self.root = root
        self.reps = reps
        self.quick = quick
        self.rows: list[Row] = []
        self.xdg = root / "xdg"  # one plaintext keyring for every profile of this run
        self.ca_pem, self.server_pem = c.make_certs(root / "certs")
        self.server = c.DiscardServer(self.server_pem).start()
        self.closed_port = c.free_closed_port()
        # DNS (the CLI's recipient checks) only ever asks the discard server's DNS.
        self.dns = f"127.0.0.1:{self.server.dns_port}"
        self._flush_rate: Samples | None = None

    def add(self, row: Row) -> None:
        self.rows.append(row)
        log(f"  {row.figure}: {row.mailgui} | {row.baseline} | {row.ratio} | {row.verdict}")

    def env(self, home: Path, **extra: str) -> dict[str, str]:
        return c.bench_env(home, self.xdg, MAILGUI_NAMESERVER=self.dns, **extra)

    def profile(self, name: str, *, port: int | None = None, password: bool = True) -> Path:
        """A fresh profile with the account 'bench' (STARTTLS + AUTH to the discard
        server, or to ``port``)."""
        home = self.root / name
        if home.exists():
            shutil.rmtree(home)
        c.add_account(self.env(home), port or self.server.port, self.ca_pem, password=password)
        return home

    def close(self) -> None:
        self.server.stop()

    # --- 1. GUI start ----------------------------------------------------------------

    def probe(self, env: dict[str, str], *args: str) -> dict:
        """Run gui_probe.py; its times become seconds since just before the spawn."""
        started = time.monotonic()
        proc = subprocess.run(
            [c.PYTHON, str(c.HERE / "gui_probe.py"), *args],
            env=env,
            capture_output=True,
            timeout=600,
            check=False,
        )
        if proc.returncode != 0:
            raise RuntimeError(
                f"gui_probe {' '.join(args)} failed ({proc.returncode}):\n"
                f"{proc.stderr.decode(errors='replace')[-3000:]}"
            )
        doc = json.loads(proc.stdout.decode().strip().splitlines()[-1])
        for key in ("first_paint", "ready_paint", "end_paint", "usable"):
            if key in doc:
                doc[key] -= started
        return doc

    def gui_start(self) -> None:
        log("GUI start to first painted window")
        home = self.profile("gui-start", port=self.closed_port)
        env = self.env(home)
        bare, app, whole, block = Samples(), Samples(), Samples(), Samples()
        bare_use, use, use_wait, use_stall = Samples(), Samples(), Samples(), Samples()
        floor = Samples()
        for i in range(self.reps + 1):
            bd = self.probe(env, "bare")
            m = self.probe(env, "start", "0")  # "0": also until the outbox is shown
            fl = self.probe(env, "widgets")
            if i:  # the first round warms the page cache and writes .pyc files
                floor.add(fl["usable"])
                bare.add(bd["first_paint"])
                app.add(m["first_paint"])
                whole.add(m["ready_paint"])
                block.add(m.get("build_block_ms", 0.0) / 1000)
                bare_use.add(bd["usable"])
                use.add(m["usable"])
                use_wait.add(m["probe_wait_ms"])
                use_stall.add(m["settle_stall_ms"])
        ratio = app.median / bare.median
        self.add(
            Row(
                "GUI start → first window painted (offscreen): the window's empty frame, "
                "titled 'Opening the outbox…'",
                spread(app, "s"),
                spread(bare, "s") + " bare QMainWindow",
                f"{ratio:.2f}×",
                "≤ 1.3×",
                ratio <= 1.3,
            )
        )
        self.add(
            Row(
                "  then built and painted with menus, toolbar and the (empty) outbox "
                "(info: the whole window; the frame does not answer input while it is "
                f"built: {spread(block, 's')} from its paint to the whole window's)",
                spread(whole, "s"),
                spread(bare, "s") + " bare QMainWindow",
                f"{whole.median / bare.median:.2f}×",
                "—",
                None,
            )
        )
        ratio = use.median / bare_use.median
        self.add(
            Row(
                "GUI start → the window a person can use: whole window painted with the "
                "outbox loaded, then an event posted behind what the start queued is "
                f"handled (it waited {use_wait.median:.1f} ms "
                f"[{use_wait.lo:.1f}–{use_wait.hi:.1f}]; longest stall in the 300 ms "
                f"after: {spread(use_stall, 'ms')})",
                spread(use, "s"),
                spread(bare_use, "s") + " bare QMainWindow, same probe",
                f"{ratio:.2f}×",
                "≤ 1.3× (issue 19)",
                ratio <= 1.3,
            )
        )
        self.add(
            Row(
                "  the same widgets in plain PySide6, no mailgui code, no outbox, no threads "
                "(info: the floor for this window; `gui_probe.py widgets`)",
                spread(floor, "s"),
                spread(bare_use, "s") + " bare QMainWindow, same probe",
                f"{floor.median / bare_use.median:.2f}×",
                "—",
                None,
            )
        )

    # --- 2. CLI start ----------------------------------------------------------------

    def qt_modules(self, env: dict[str, str], args: list[str], stdin: bytes | None) -> list[str]:
        """Run the CLI in-process in a fresh interpreter; list the Qt modules it loaded."""
        out = self.root / "qt-modules.json"
        code = (
            "import sys, json\n"
            "from mailgui.cli import main\n"
            "try:\n"
            f"    main({args!r})\n"
            "except SystemExit:\n"
            "    pass\n"
            "mods = sorted(m for m in sys.modules if m.split('.')[0] in ('PySide6', 'shiboken6'))\n"
            f"open({str(out)!r}, 'w').write(json.dumps(mods))\n"
        )
        subprocess.run([c.PYTHON, "-c", code], env=env, input=stdin, capture_output=True,
                       check=False)  # fmt: skip
        return list(json.loads(out.read_text()))

    def cli_start(self) -> None:
        log("CLI start: --version and sendmail")
        home = self.profile("cli-start", port=self.closed_port)
        env = self.env(home)
        mail = (
            b"From: bench@example.org\nTo: bob@example.org\nSubject: cron job done\n\n"
            + c.text_of_size(1500).encode()
        )
        base_cmd = [c.PYTHON, "-c", "import smtplib, email"]
        version_cmd = [*c.mailgui_cmd(), "--version"]
        sendmail_cmd = [*c.mailgui_cmd(), "sendmail", "-odq", "bob@example.org"]
        try_cmd = [*c.mailgui_cmd(), "sendmail", "bob@example.org"]
        queue_args = ["send", "--queue-only", "--to", c.RCPT, "--subject", "cron job done",
                      "--body", "All good."]  # fmt: skip
        queue_cmd = [*c.mailgui_cmd(), *queue_args]
        base, version, sendmail, tried, queue = (Samples() for _ in range(5))
        for i in range(self.reps * 2 + 1):  # cheap: twice the repetitions
            b = c.timed(base_cmd, env)
            v = c.timed(version_cmd, env)
            s = c.timed(sendmail_cmd, env, input=mail)
            t = c.timed(try_cmd, env, input=mail)
            q = c.timed(queue_cmd, env)
            if i:
                base.add(b)
                version.add(v)
                sendmail.add(s)
                tried.add(t)
                queue.add(q)
        qt_version = self.qt_modules(env, ["--version"], None)
        qt_sendmail = self.qt_modules(env, ["sendmail", "-odq", "bob@example.org"], mail)
        qt_tried = self.qt_modules(env, ["sendmail", "bob@example.org"], mail)
        qt_queue = self.qt_modules(env, queue_args, None)
        with sqlite3.connect(home / "data" / "outbox.sqlite3") as db:
            states = dict(db.execute("SELECT state, COUNT(*) FROM messages GROUP BY state"))
        if states.get("sent"):
            raise RuntimeError(f"sendmail was to queue only, yet sent something: {states}")
        for label, s, qt in (
            ("`mailgui --version`", version, qt_version),
            ("`mailgui sendmail -odq` (queue only)", sendmail, qt_sendmail),
            ("  `mailgui sendmail` (info: queued, then its one try finds the server down)",
             tried, qt_tried),
            ("  `mailgui send --queue-only` (info: recipient DNS check included)", queue,
             qt_queue),
        ):  # fmt: skip
            ratio = s.median / base.median
            qt_text = "no Qt" if not qt else f"Qt loaded: {', '.join(qt[:3])}"
            judged = s is version or s is sendmail
            self.add(
                Row(
                    f"{label}, {qt_text}",
                    spread(s, "s"),
                    spread(base, "s") + " `import smtplib, email`",
                    f"{ratio:.2f}×",
                    "≤ 1.5×, no Qt" if judged else "—",
                    (ratio <= 1.5 and not qt) if judged else None,
                )
            )

    # --- 3 and 4. flush ----------------------------------------------------------------

    def flush_template(self, n: int) -> Path:
        tpl = self.profile("flush-template")
        c.queue_messages(tpl, n)
        return tpl

    def message_file(self, tpl: Path) -> Path:
        path = self.root / "message.eml"
        with contextlib.closing(sqlite3.connect(tpl / "data" / "outbox.sqlite3")) as db:
            first = db.execute("SELECT data FROM bodies ORDER BY id LIMIT 1").fetchone()
            path.write_bytes(first[0])
        return path

    def raw_loop(self, msg: Path, n: int) -> tuple[float, float]:
        """(seconds in the loop, seconds of the whole process)"""
        started = time.perf_counter()
        proc = c.run(
            [c.PYTHON, str(c.HERE / "raw_smtplib.py"), str(self.server.port), str(self.ca_pem),
             str(msg), str(n), c.USER, c.PASSWORD, c.RCPT],
            self.env(self.root),
        )  # fmt: skip
        return float(proc.stdout), time.perf_counter() - started

    def flush(self) -> None:
        n = 300
        log(f"flush {n} messages over STARTTLS (mailgui, raw smtplib)")
        tpl = self.flush_template(n)
        msg = self.message_file(tpl)
        raw, mg, raw_proc, cli_proc = Samples(), Samples(), Samples(), Samples()
        for i in range(self.reps + 1):
            loop, whole = self.raw_loop(msg, n)
            home = c.copy_profile(tpl, self.root / "flush-run")
            proc = c.run([c.PYTHON, str(c.HERE / "mailgui_flush.py"), str(n)], self.env(home))
            home = c.copy_profile(tpl, self.root / "flush-run")
            cli = c.timed([*c.mailgui_cmd(), "outbox", "flush"], self.env(home))
            with contextlib.closing(sqlite3.connect(home / "data" / "outbox.sqlite3")) as db:
                sent = db.execute("SELECT COUNT(*) FROM messages WHERE state='sent'").fetchone()[0]
            if sent != n:
                raise RuntimeError(f"mailgui outbox flush sent {sent} of {n}")
            if i:
                raw.add(n / loop)
                raw_proc.add(n / whole)
                mg.add(n / float(proc.stdout))
                cli_proc.add(n / cli)
        self._flush_rate = mg
        ratio = mg.median / raw.median
        self.add(
            Row(
                f"flush {n} queued 2 KB messages, STARTTLS+AUTH, one connection (rate)",
                spread(mg, "msg/s"),
                spread(raw, "msg/s") + " raw smtplib loop",
                f"{ratio:.2f}×",
                "≥ 0.8×",
                ratio >= 0.8,
            )
        )
        ratio = cli_proc.median / raw_proc.median
        self.add(
            Row(
                "  same, whole process: `mailgui outbox flush` vs the raw script (rate)",
                spread(cli_proc, "msg/s"),
                spread(raw_proc, "msg/s") + " raw smtplib script",
                f"{ratio:.2f}×",
                "≥ 0.8×",  # issue 19
                ratio >= 0.8,
            )
        )
        commit = self.fsync_floor(tpl)
        per_raw = 1000 / raw.median  # ms per message, raw loop
        bound = per_raw / (per_raw + commit)
        self.add(
            Row(
                "  best rate ratio possible with one durable commit per message, the rule "
                "before outcomes were committed lazily (raw ms/msg ÷ (raw ms/msg + mean "
                "commit ms))",
                f"{bound:.2f}×",
                f"{per_raw:.2f} ms/msg raw",
                "—",
                "—",
                None,
            )
        )

    def fsync_floor(self, tpl: Path) -> float:
        """What one durable (synchronous=FULL) WAL commit costs on this disk: the floor
        under the per-message cost of any sender that records each outcome durably."""
        home = c.copy_profile(tpl, self.root / "fsync-floor")
        db = sqlite3.connect(home / "data" / "outbox.sqlite3", isolation_level=None)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=FULL")
        times = Samples()
        for msg_id in range(1, 301):
            started = time.perf_counter()
            db.execute("BEGIN IMMEDIATE")
            db.execute("UPDATE messages SET updated_at = ? WHERE id = ?", (time.time(), msg_id))
            db.execute("COMMIT")
            times.add((time.perf_counter() - started) * 1000)
        db.close()
        mean = statistics.mean(times.values)
        self.add(
            Row(
                "  disk floor: one synchronous=FULL WAL commit (ms)",
                f"{times.median:.2f} ms [{times.lo:.2f}–{times.hi:.2f}], mean {mean:.2f}",
                "—",
                "—",
                "—",
                None,
            )
        )
        return mean

    def msmtp(self) -> None:
        exe = shutil.which("msmtp")
        n = 100 if self.quick else 300
        if exe is None:
            self.add(Row("msmtp, one process per message", "msmtp not installed",
                                 "—", "—", "mailgui ≥ 5×", None))  # fmt: skip
            return
        log(f"{n} messages through msmtp, one process each")
        tpl = self.root / "flush-template"
        msg = self.root / "message.eml"
        rc = self.root / "msmtprc"
        rc.write_text(
            "defaults\ntls on\ntls_starttls on\n"
            f"tls_trust_file {self.ca_pem}\nlogfile\ndomain localhost\n"
            f"account bench\nhost 127.0.0.1\nport {self.server.port}\nfrom {c.USER}\n"
            f"auth plain\nuser {c.USER}\npassword {c.PASSWORD}\n"
            "account default : bench\n"
        )
        rc.chmod(0o600)
        data = msg.read_bytes()
        env = self.env(tpl)
        rates = Samples()
        for _ in range(2 if self.quick else 3):
            started = time.perf_counter()
            for _ in range(n):
                subprocess.run([exe, "-C", str(rc), c.RCPT], input=data, env=env, check=True)
            rates.add(n / (time.perf_counter() - started))
        assert self._flush_rate is not None
        ratio = self._flush_rate.median / rates.median
        version = subprocess.run([exe, "--version"], capture_output=True, text=True).stdout
        self.add(
            Row(
                f"same messages through {version.split(chr(10))[0]}, one process per "
                f"message ({n} per run)",
                spread(self._flush_rate, "msg/s") + " (mailgui flush)",
                spread(rates, "msg/s") + " msmtp",
                f"{ratio:.1f}× faster",
                "mailgui ≥ 5× faster",
                ratio >= 5,
            )
        )

    # --- 5 and 7. GUI stalls and memory -------------------------------------------------

    def gui_flush_stall(self) -> None:
        n = 300
        log(f"GUI stalls while the sender flushes {n} messages")
        stalls, gaps, rates = Samples(), Samples(), Samples()
        for _ in range(max(2, self.reps - 2)):
            home = self.profile("gui-flush")
            doc = self.probe(self.env(home), "flush", str(n))
            stalls.add(doc["worst_stall_ms"])
            gaps.add(doc["worst_gap_ms"])
            rates.add(n / doc["seconds"])
        self.add(
            Row(
                f"longest GUI event-loop stall while the sender flushes {n} messages "
                f"(wall-clock gap incl. machine load: {spread(gaps, 'ms')}; "
                f"flush at {fmt(rates.median, 'msg/s')})",
                spread(stalls, "ms"),
                "0 ms",
                "—",
                "≤ 50 ms",
                stalls.hi <= 50,
            )
        )

    def gui_attach(self) -> None:
        log("GUI: attach and send a 25 MiB file (stalls, peak RSS)")
        path = self.root / "attachment.bin"
        with path.open("wb") as f:
            for _ in range(25):
                f.write(os.urandom(MB))
        stalls, gaps, extra, idle, took = Samples(), Samples(), Samples(), Samples(), Samples()
        for _ in range(max(2, self.reps - 2)):
            home = self.profile("gui-attach")
            doc = self.probe(self.env(home), "attach", str(path))
            stalls.add(doc["worst_stall_ms"])
            gaps.add(doc["worst_gap_ms"])
            idle.add(doc["idle_kb"] / 1024)
            extra.add((doc["peak_kb"] - doc["idle_kb"]) * 1024 / MB)
            took.add(doc["seconds"])
        self.add(
            Row(
                "longest GUI event-loop stall while attaching and sending a 25 MiB file "
                f"(wall-clock gap: {spread(gaps, 'ms')}; queued and sent in "
                f"{fmt(took.median, 's')})",
                spread(stalls, "ms"),
                "0 ms",
                "—",
                "≤ 50 ms",
                stalls.hi <= 50,
            )
        )
        per = extra.median / 25
        self.add(
            Row(
                "peak RSS above idle while sending a 25 MiB attachment (GUI process)",
                f"+{spread(extra, 'MB')}",
                f"idle {spread(idle, 'MB')}",
                f"{per:.1f} × 25 MiB",
                "≤ idle + 4 × 25 MiB",
                extra.hi <= 4 * 25,
            )
        )
        self.cli_attach_rss(path)

    def cli_attach_rss(self, path: Path) -> None:
        """The same file through `mailgui send`: peak RSS of the CLI process (info)."""
        home = self.profile("cli-attach")
        env = self.env(home)
        code = (
            "import resource, subprocess, sys\n"
            "p = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL)\n"
            "print(p.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
        )
        peaks, bases = Samples(), Samples()
        for _ in range(2):
            base = c.run([c.PYTHON, "-c", code, *c.mailgui_cmd(), "outbox", "list"], env)
            send = c.run(
                [c.PYTHON, "-c", code, *c.mailgui_cmd(), "send", "--to", c.RCPT, "--subject",
                 "25 MiB", "--body", "Here it is.", "--attach", str(path)],
                env,
            )  # fmt: skip
            rc, kb = send.stdout.split()
            if rc != b"0":
                raise RuntimeError(f"mailgui send --attach exited with {rc!r}")
            peaks.add(int(kb) / 1024)
            bases.add(int(base.stdout.split()[1]) / 1024)
        extra = Samples([p - b for p, b in zip(peaks.values, bases.values, strict=True)])
        self.add(
            Row(
                "  same file with `mailgui send --attach` (CLI process, peak RSS above "
                "`outbox list`)",
                f"+{spread(extra, 'MB')}",
                f"`outbox list` {spread(bases, 'MB')}",
                f"{extra.median / 25:.1f} × 25 MiB",
                "—",
                None,
            )
        )

    # --- 6. a big outbox --------------------------------------------------------------

    def big_outbox(self) -> None:
        n = 10_000
        log(f"open the main window on {n} messages and scroll to the end")
        empty = self.profile("gui-empty", port=self.closed_port)
        big = self.profile("gui-big", port=self.closed_port)
        c.queue_messages(big, n, body_size=600, subject="Backlog")
        # A backlog after an outage: every message deferred until later, so the sender
        # leaves them alone and the Outbox tab shows all of them.
        later = time.time() + 6 * 3600
        with contextlib.closing(sqlite3.connect(big / "data" / "outbox.sqlite3")) as db:
            db.execute(
                "UPDATE messages SET state = 'deferred', attempts = 3, next_attempt_at = ?, "
                "last_error = 'The server at 127.0.0.1 refused the connection; it will be "
                "tried again later.'",
                (later,),
            )
            db.commit()
        env_empty, env_big = self.env(empty), self.env(big)
        ready_e, ready_b, end_b, stall_b, gap_b, block_b = (Samples() for _ in range(6))
        for i in range(self.reps + 1):
            e = self.probe(env_empty, "start", "0")
            b = self.probe(env_big, "start", str(n))
            if b["rows"] != n:
                raise RuntimeError(f"the window showed {b['rows']} of {n} rows")
            if i:
                ready_e.add(e["ready_paint"])
                ready_b.add(b["ready_paint"])
                end_b.add(b["end_paint"])
                stall_b.add(b["worst_stall_ms"])
                gap_b.add(b["worst_gap_ms"])
                block_b.add(b.get("build_block_ms", 0.0))
                log(
                    f"  repetition {i}: longest stall {b['worst_stall_ms']} ms, "
                    f"{b['worst_stall_at_s']} s after the whole window's first paint"
                )
        ratio = ready_b.median / ready_e.median
        self.add(
            Row(
                f"open the main window on {n:,} messages (start → outbox painted)",
                spread(ready_b, "s"),
                spread(ready_e, "s") + " empty outbox",
                f"{ratio:.2f}×",
                "≤ 1.5×",
                ratio <= 1.5,
            )
        )
        self.add(
            Row(
                f"  then scroll to the end: longest stall from the whole window's first "
                f"paint on (wall-clock gap: {spread(gap_b, 'ms')}; start → last row "
                f"painted: {fmt(end_b.median, 's')}; before it, the frame waited "
                f"{spread(block_b, 'ms')} for the build, shown in the GUI start row)",
                spread(stall_b, "ms"),
                "0 ms",
                "—",
                "no stall > 50 ms",
                stall_b.hi <= 50,
            )
        )

    # --- 8. queue 1000 through the CLI, list them -------------------------------------

    def big_outbox_100k(self) -> None:
        """100 000 deferred messages (``big_outbox.py``: its own profiles, cached in
        /tmp/mailgui-big-outbox), the GUI and ``outbox list --json``, issue 19."""
        n = 100_000
        log(f"a big outbox: {n:,} messages (big_outbox.py)")
        out = self.root / "big-outbox.json"
        subprocess.run(
            [c.PYTHON, str(c.HERE / "big_outbox.py"), "--n", str(n),
             "--reps", str(max(3, self.reps // 2)), "--json", str(out)],
            check=True, stdout=subprocess.DEVNULL,
        )  # fmt: skip
        r = json.loads(out.read_text())
        ms = {k: Samples() for k in ("list", "empty", "ready", "end", "stall", "gap")}
        keys = {"list_ms": "list", "list_empty_ms": "empty", "big_ready_paint": "ready",
                "big_end_paint": "end", "big_worst_stall_ms": "stall",
                "big_worst_gap_ms": "gap"}  # fmt: skip
        for key, into in keys.items():
            for v in r[key]:
                ms[into].add(v / 1000)
        self.add(
            Row(
                f"open the main window on {n:,} messages and scroll to the end: longest "
                f"stall (wall-clock gap: {spread(ms['gap'], 's')}; start → first rows "
                f"painted {spread(ms['ready'], 's')}, → last row {spread(ms['end'], 's')})",
                spread(ms["stall"], "s"),
                "0 ms",
                "—",
                "no stall > 50 ms",
                ms["stall"].hi <= 0.050,
            )
        )
        self.add(
            Row(
                f"`mailgui outbox list --json` of {n:,} messages (whole process)",
                spread(ms["list"], "s"),
                spread(ms["empty"], "s") + " empty outbox",
                f"{ms['list'].median / ms['empty'].median:.0f}×",
                "list ≤ 2 s",
                ms["list"].hi <= 2.0,
            )
        )

    def cli_list(self) -> None:
        n = 1000
        via_cli = 100 if self.quick else n
        log(f"queue {via_cli} messages through `mailgui send --queue-only`, then list")
        home = self.profile("cli-list", port=self.closed_port)
        env = self.env(home)
        body = c.text_of_size(1500)
        per = Samples()

        def one(i: int) -> float:
            return c.timed(
                [*c.mailgui_cmd(), "send", "--queue-only", "--to", c.RCPT, "--subject",
                 f"Nightly report {i}", "--body", body],
                env,
            )  # fmt: skip

        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(2) as pool:  # two cores: two at a time
            for took in pool.map(one, range(via_cli)):
                per.add(took)
        if via_cli < n:
            c.queue_messages(home, n - via_cli, body_size=1500, subject="Nightly report")
        lists = Samples()
        for i in range(self.reps + 1):
            proc_started = time.perf_counter()
            proc = c.run([*c.mailgui_cmd(), "outbox", "list", "--json"], env)
            took = time.perf_counter() - proc_started
            count = len(json.loads(proc.stdout))
            if count != n:
                raise RuntimeError(f"outbox list --json listed {count} of {n}")
            if i:
                lists.add(took)
        how = "through the CLI" if via_cli == n else f"({via_cli} through the CLI)"
        self.add(
            Row(
                f"queue {n:,} messages {how}, then `outbox list --json` (whole process)",
                spread(lists, "s"),
                "—",
                "—",
                "list ≤ 1 s",
                lists.hi <= 1.0,
            )
        )
        self.add(
            Row(
                "  one `mailgui send --queue-only` while queueing them (2 at a time)",
                spread(per, "s"),
                "—",
                "—",
                "—",
                None,
            )
        )


FIGURES: dict[str, Callable[[Bench], None]] = {
    "gui-start": Bench.gui_start,
    "cli-start": Bench.cli_start,
    "flush": Bench.flush,
    "msmtp": Bench.msmtp,
    "gui-flush": Bench.gui_flush_stall,
    "gui-attach": Bench.gui_attach,
    "big-outbox": Bench.big_outbox,
    "cli-list": Bench.cli_list,
    "big-outbox-100k": Bench.big_outbox_100k,
    "slow-link": lambda bench: print_texts(slow_link.figure(bench)),
}


def print_texts(texts: list[str]) -> None:
    """The slow-link figure's own tables (per server, delay and client), to stderr
    with the log; the rows of the main table carry the ratios."""
    for text in texts:
        log("\n" + text)


def table(rows: list[Row]) -> str:
    head = ("figure", "mailgui median [min–max]", "baseline median [min–max]", "ratio",
            "target", "result")  # fmt: skip
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        cells = (r.figure, r.mailgui, r.baseline, r.ratio, r.target, r.verdict)
        lines.append("| " + " | ".join(x.replace("|", "\\|") for x in cells) + " |")
    return "\n".join(lines)


def machine() -> str:
    cpus = os.cpu_count()
    try:
        load = os.getloadavg()[0]
    except OSError:
        load = float("nan")
    import PySide6

    return (
        f"{platform.platform()}, {cpus} CPUs, Python {platform.python_version()}, "
        f"PySide6 {PySide6.__version__}, load average {load:.1f} at the end"
    )


def record(text: str) -> None:
    readme = c.HERE / "README.md"
    start, end = "<!-- results:start -->", "<!-- results:end -->"
    doc = readme.read_text()
    if start not in doc or end not in doc:
        raise SystemExit(f"{readme} has no {start} ... {end} block to replace")
    before, rest = doc.split(start, 1)
    _, after = rest.split(end, 1)
    readme.write_text(before + start + "\n" + text + "\n" + end + after)


@contextlib.contextmanager
def workdir(keep: bool) -> Iterator[Path]:
    root = Path(tempfile.mkdtemp(prefix="mailgui-bench-"))
    try:
        yield root
    finally:
        if keep:
            print(f"kept {root}", file=sys.stderr)
        else:
            shutil.rmtree(root, ignore_errors=True)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="fewer repetitions and messages")
    p.add_argument("--reps", type=int, help="repetitions per figure (default 7, quick 3)")
    p.add_argument("--only", nargs="+", choices=list(FIGURES), help="run only these")
    p.add_argument("--record", action="store_true", help="write the table into README.md")
    p.add_argument("--keep", action="store_true", help="keep the temporary folder")
    p.add_argument("--list", action="store_true", help="list the figures and exit")
    args = p.parse_args()
    if args.list:
        print("\n".join(FIGURES))
        return 0
    reps = args.reps or (3 if args.quick else 7)
    chosen = args.only or list(FIGURES)
    if "msmtp" in chosen and "flush" not in chosen:
        chosen.insert(chosen.index("msmtp"), "flush")
    started = time.monotonic()
    with workdir(args.keep) as root:
        bench = Bench(root, reps, args.quick)
        try:
            for name in FIGURES:
                if name in chosen:
                    FIGURES[name](bench)
        finally:
            bench.close()
    took = time.monotonic() - started
    when = dt.date.today().isoformat()
    text = (
        f"Measured {when} with `benchmarks/run{' --quick' if args.quick else ''}` "
        f"({reps} repetitions, {took / 60:.1f} min) on {machine()}.\n\n" + table(bench.rows)
    )
    print(text)
    if args.record:
        record(text)
    return 0 if all(r.ok is not False for r in bench.rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
