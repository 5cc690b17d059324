"""One outbox, many processes at once (issue 13), with real processes and real servers.

A long-running sender (``mailgui agent``, or the desktop app itself) keeps its SQLite
connections open while dozens of short processes (``sendmail``, ``send --queue-only``,
``outbox list``, ``outbox flush``) open and close theirs on the same profile. When one
process silently loses its POSIX locks on the database (closing *any* descriptor of the
file drops them all), another believes it is the last user, checkpoints and deletes the
``-wal`` and ``-shm``: from then on the two write into different journals, and messages
the sender delivered stay ``queued`` for everyone else, or are sent twice.

The app is where issue 13 bit: it opens a second connection (sender thread) beside its
window's, and opening one used to close a descriptor of the file. The agent has a single
connection, so it was not affected; its runs guard the same contract for it.

So these tests check what a user would see and what the files say: every message arrives
exactly once (after a SIGKILL of the sender: at most one extra per kill), the outbox says
``sent`` for exactly the messages the server got, the database passes
``PRAGMA integrity_check`` and, watched all along, the long-running process never has a
deleted outbox file open.
"""

from __future__ import annotations

import json
import os
import re
import signal
import sqlite3
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Literal

import pytest
from dns_server import DnsServer
from helpers import BOB, SENDER, add_account, header
from processes import sender_lock_held
from smtp_servers import RecordingServer, SmtpServerFactory
from waiting import WAIT

from mailgui.core.paths import Profile as Paths

if TYPE_CHECKING:
    from processes import Profile

Kind = Literal["agent", "app"]

WAVES = 3  # rounds of concurrent short processes (a kill in each, in the crash tests)
AHEAD = 4  # `send --queue-only` before each round: the long-running sender is busy with them
PER_WAVE = 12  # short processes per round: a quarter of each kind
LAST_WAVE = 6  # `send --queue-only` at the end: only the long-running sender sends those
PARALLEL = 6  # short processes running at once
KILLS = 3  # SIGKILLs of the long-running sender in the crash tests
_LOG_LINE = r"^\S+ \S+ (\d+) INFO mailgui\.delivery: "
CONNECTED = re.compile(_LOG_LINE + r"connected to ", re.M)
DELIVERED = re.compile(_LOG_LINE + r"message \d+ sent via ", re.M)


# --------------------------------------------------------------------------------------------
# Watching the long-running process's descriptors
# --------------------------------------------------------------------------------------------


def deleted_outbox_files(pid: int) -> list[str]:
    """What ``/proc/PID/fd`` shows of the outbox's files that are deleted (the sign of this
    bug: SQLite never unlinks its -wal or -shm while a connection of its own is open)."""
    try:
        entries = os.listdir(f"/proc/{pid}/fd")
    except OSError:  # the process is gone
        return []
    found = []
    for entry in entries:
        try:
            target = os.readlink(f"/proc/{pid}/fd/{entry}")
        except OSError:
            continue
        if "outbox.sqlite3" in target and target.endswith(" (deleted)"):
            found.append(f"fd {entry} -> {target}")
    return found


class FdWatcher:
    """A thread that looks at the watched pids' descriptors every few milliseconds."""

    def __init__(self, interval: float = 0.02) -> None:
        self.interval = interval
        self.pids: set[int] = set()
        self.found: dict[tuple[int, str], float] = {}  # (pid, link) -> first seen (monotonic)
        self.scans = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="fd-watcher", daemon=True)

    def watch(self, pid: int) -> None:
        with self._lock:
            self.pids.add(pid)

    def forget(self, pid: int) -> None:
        with self._lock:
            self.pids.discard(pid)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            with self._lock:
                pids = list(self.pids)
            for pid in pids:
                for link in deleted_outbox_files(pid):
                    with self._lock:
                        self.found.setdefault((pid, link), time.monotonic())
            self.scans += 1

    @property
    def seen(self) -> bool:
        with self._lock:
            return bool(self.found)

    def __enter__(self) -> FdWatcher:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


# --------------------------------------------------------------------------------------------
# The long-running sender
# --------------------------------------------------------------------------------------------


class Sender:
    """``mailgui agent`` or the app (``python -m mailgui``, offscreen) on ``profile``; can be
    killed and started again. Its output goes to files (a full pipe must not stall it)."""

    def __init__(self, profile: Profile, kind: Kind, watcher: FdWatcher, logs: Path) -> None:
        self.profile = profile
        self.kind = kind
        self.argv = [*profile.command, *(["agent"] if kind == "agent" else [])]
        self.watcher = watcher
        self.logs = logs
        self.proc: subprocess.Popen[bytes] | None = None
        self.pids: list[int] = []
        self.outputs: list[Path] = []
        self._files: list[IO[bytes]] = []

    def start(self) -> None:
        """Start it and wait until it holds the profile's sender lock (the app: its sender
        thread has opened its own outbox connection by then, beside the window's)."""
        path = self.logs / f"{self.kind}-{len(self.pids)}.out"
        out = path.open("wb")
        self._files.append(out)
        self.outputs.append(path)
        proc = subprocess.Popen(
            self.argv,
            env=self.profile.env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.proc = proc
        self.pids.append(proc.pid)
        self.watcher.watch(proc.pid)
        sender_lock_held(self.profile, proc, self.kind, self.output)

    def kill(self) -> None:
        """SIGKILL, and reap it (a zombie would still count as a live claimer)."""
        assert self.proc is not None and self.proc.poll() is None, self.output()
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=WAIT)
        self.watcher.forget(self.proc.pid)

    def stop(self) -> int:
        """SIGTERM and wait. The agent stops cleanly (exit 0); the app has no handler for
        it and dies at once, as when a session ends."""
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(timeout=WAIT)
        self.watcher.forget(self.proc.pid)
        return code

    def close(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=WAIT)
        for f in self._files:
            f.close()

    def output(self) -> str:
        return "".join(p.read_text(errors="replace") for p in self.outputs if p.exists())


@contextmanager
def long_running(profile: Profile, kind: Kind, watcher: FdWatcher, logs: Path) -> Iterator[Sender]:
    sender = Sender(profile, kind, watcher, logs)
    try:
        yield sender
    finally:
        sender.close()


# --------------------------------------------------------------------------------------------
# The short processes
# --------------------------------------------------------------------------------------------


def sendmail_input(subject: str) -> bytes:
    return (
        f"From: {SENDER}\r\nTo: {BOB}\r\nSubject: {subject}\r\n"
        f"Message-ID: <{subject.replace(' ', '.')}@shared.test>\r\n\r\n"
        f"Body of {subject}.\r\n"
    ).encode()


class Workload:
    """Runs the short processes, at most ``PARALLEL`` at once, and keeps every result."""

    def __init__(self, profile: Profile, pool: ThreadPoolExecutor) -> None:
        self.profile = profile
        self.pool = pool
        self.subjects: list[str] = []  # every message queued, in order of submission
        self.results: list[tuple[str, Future[tuple[int, str, str]]]] = []
        self._n = 0

    def _run(self, args: list[str], stdin: bytes | None = None) -> tuple[int, str, str]:
        if stdin is None:
            r = self.profile.run(*args, timeout=WAIT)
            return r.returncode, r.stdout, r.stderr
        rb = self.profile.run(*args, input=stdin, timeout=WAIT)
        return rb.returncode, rb.stdout.decode(errors="replace"), rb.stderr.decode(errors="replace")

    def submit(self, kind: str) -> Future[tuple[int, str, str]]:
        self._n += 1
        subject = f"{kind} {self._n:03d}"
        if kind == "send":
            args = ["send", "--queue-only", "--json", "--to", BOB, "--subject", subject,
                    "--body", f"Body of {subject}."]  # fmt: skip
            self.subjects.append(subject)
            future = self.pool.submit(self._run, args)
        elif kind == "sendmail":  # queues, then one try of its own
            self.subjects.append(subject)
            future = self.pool.submit(self._run, ["sendmail", "-t"], sendmail_input(subject))
        elif kind == "list":
            future = self.pool.submit(self._run, ["outbox", "list", "--json"])
        else:
            future = self.pool.submit(self._run, ["outbox", "flush", "--json"])
        self.results.append((f"{kind} #{self._n}", future))
        return future

    def wave(self, n: int = PER_WAVE) -> list[Future[tuple[int, str, str]]]:
        kinds = ("send", "sendmail", "list", "flush")
        return [self.submit(kinds[i % len(kinds)]) for i in range(n)]

    def problems(self) -> list[str]:
        """Every short process exits 0 and says nothing on stderr (recipient checks find
        the test's MX, so not even a warning); --json output parses."""
        found = []
        for label, future in self.results:
            code, out, err = future.result(timeout=WAIT)
            if code != 0 or err.strip():
                found.append(f"{label}: exit {code}: {err.strip()[-600:]}")
                continue
            if label.startswith(("send ", "list ", "flush ")):
                try:
                    json.loads(out)
                except ValueError:
                    found.append(f"{label}: not JSON: {out[:200]!r}")
        return found

    def flushed_ids(self) -> Counter[int]:
        """How many `outbox flush` runs reported each message as sent by them."""
        ids: Counter[int] = Counter()
        for label, future in self.results:
            code, out, _ = future.result(timeout=WAIT)
            if label.startswith("flush ") and code == 0:
                try:
                    docs = json.loads(out)
                except ValueError:
                    continue  # reported by problems()
                ids.update(m["id"] for m in docs if m["state"] == "sent")
        return ids


def by_subject(out: str) -> dict[str, dict[str, Any]]:
    """``outbox list --json`` output by subject."""
    return {m["subject"]: m for m in json.loads(out)}


def integrity(path: Path) -> list[str]:
    """``PRAGMA integrity_check`` on a read-only connection (nothing else has it open)."""
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            return [str(row[0]) for row in db.execute("PRAGMA integrity_check")]
        finally:
            db.close()
    except sqlite3.Error as exc:  # "file is not a database", "malformed": a finding too
        return [f"{type(exc).__name__}: {exc}"]


def logged(log: Path, what: re.Pattern[str], pids: list[int]) -> int:
    """How many ``what`` lines the profile's log has from these processes."""
    try:
        text = log.read_text(errors="replace")
    except FileNotFoundError:
        return 0
    wanted = {str(p) for p in pids}
    return sum(1 for m in what.finditer(text) if m.group(1) in wanted)


# --------------------------------------------------------------------------------------------
# The scenario
# --------------------------------------------------------------------------------------------


def run_scenario(
    profile: Profile,
    server: RecordingServer,
    dns: DnsServer,
    tmp_path: Path,
    kind: Kind,
    kills: int,
) -> None:
    assert kills <= WAVES  # one kill per round at most
    profile.env["MAILGUI_NAMESERVER"] = dns.address
    dns.add("example.org", "MX", "10 mx.example.org.").add("mx.example.org", "A", "127.0.0.1")
    add_account(profile, server, "--timeout", "10")  # a loaded machine must not defer one
    paths = Paths.from_env(profile.env)
    started = time.monotonic()

    with ExitStack() as stack:
        watcher = stack.enter_context(FdWatcher())
        sender = stack.enter_context(long_running(profile, kind, watcher, tmp_path))
        pool = stack.enter_context(ThreadPoolExecutor(max_workers=PARALLEL))
        work = Workload(profile, pool)
        sender.start()
        for w in range(WAVES):
            # Messages only the long-running sender will take (no flush runs now); the
            # round starts once it connected to send them, so it writes while the short
            # processes open and close the outbox, and a kill finds it mid-batch.
            pid = sender.pids[-1]
            sessions = logged(paths.log_file, CONNECTED, [pid])
            for f in [work.submit("send") for _ in range(AHEAD)]:
                f.result(timeout=WAIT)
            deadline = time.monotonic() + 8
            while logged(paths.log_file, CONNECTED, [pid]) == sessions:
                if time.monotonic() > deadline or watcher.seen:
                    break  # it fails below; do not make the failure slow too
                time.sleep(0.005)
            if w < kills:
                sender.kill()
            futures = work.wave()
            if w < kills:
                sender.start()  # while the round's processes run
            for f in futures:
                f.result(timeout=WAIT * 2)
        # Only the long-running sender sends these: nothing else is left to try them.
        for _ in range(LAST_WAVE):
            work.submit("send")
        for _, f in work.results:
            f.result(timeout=WAIT * 2)
        expected = set(work.subjects)

        def all_sent() -> bool:  # another short process (its failure is reported below)
            code, out, _ = work.submit("list").result(timeout=WAIT)
            states = by_subject(out) if code == 0 else {}
            return all(states.get(s, {}).get("state") == "sent" for s in expected)

        # Bounded: shorter once the bug's sign has been seen (the result is known then).
        deadline = time.monotonic() + WAIT
        while not all_sent() and time.monotonic() < deadline:
            if watcher.seen:
                deadline = min(deadline, time.monotonic() + 3)
            time.sleep(0.2)
        exit_code = sender.stop()
        pool.shutdown(wait=True)
    took = time.monotonic() - started

    # Everything has ended: what the outbox, the file and the server say now.
    final = profile.run("outbox", "list", "--json", timeout=WAIT)
    states = by_subject(final.stdout) if final.returncode == 0 else {}
    checked = integrity(paths.outbox_file)
    got = Counter(header(m.data, "Subject") or "" for m in server.messages)
    ids_on_wire = {header(m.data, "Subject"): header(m.data, "Message-ID") for m in server.messages}
    by_sender = logged(paths.log_file, DELIVERED, sender.pids)
    output = sender.output()

    problems: list[str] = []
    for (pid, link), at in sorted(watcher.found.items()):
        problems.append(
            f"pid {pid} ({kind}) had a deleted outbox file open, {at - started:.1f} s into "
            f"the run: {link}"
        )
    problems += work.problems()
    if final.returncode != 0:
        problems.append(f"the last outbox list: exit {final.returncode}: {final.stderr.strip()}")
    if checked != ["ok"]:
        problems.append(f"integrity_check: {checked[:5]}")
    lost = sorted(expected - set(states))
    if lost:
        problems.append(f"queued but no longer in the outbox: {lost}")
    missing = sorted(s for s in expected if got[s] == 0)
    if missing:
        problems.append(f"never delivered: {missing}")
    twice = {s: n for s, n in got.items() if n > 1}
    if sum(n - 1 for n in twice.values()) > kills:
        problems.append(f"delivered more than once ({kills} kills): {twice}")
    strangers = sorted(set(got) - expected)
    if strangers:
        problems.append(f"delivered but never queued: {strangers}")
    for subject in sorted(expected & set(states)):
        row = states[subject]
        if (row["state"] == "sent") != (got[subject] > 0):
            problems.append(
                f"{subject!r} is {row['state']!r} in the outbox (attempts {row['attempts']}, "
                f"{row['last_error']!r}) but the server got it {got[subject]} time(s)"
            )
        elif got[subject] and ids_on_wire[subject] != row["message_id"]:
            problems.append(f"{subject!r}: Message-ID {ids_on_wire[subject]} on the wire, "
                            f"{row['message_id']} in the outbox")  # fmt: skip
    for msg_id, n in work.flushed_ids().items():  # (flushes are never killed)
        if n > 1:
            problems.append(f"message {msg_id} was sent by {n} flushes")
    if kind == "agent" and exit_code != 0:
        problems.append(f"the agent exited {exit_code} on SIGTERM")
    if "Traceback" in output:
        problems.append(f"the {kind} printed a traceback:\n{output[-2000:]}")
    if by_sender == 0:  # or the test proved nothing about the long-running process
        problems.append(f"the {kind} sent nothing itself")
    print(
        f"{kind}, {kills} kill(s): {len(expected)} messages, {len(work.results)} short "
        f"processes, {by_sender} sent by the {kind}, {sum(got.values())} deliveries, "
        f"{watcher.scans} fd scans, {took:.1f} s"
    )
    assert not problems, "\n".join(problems)


@pytest.mark.slow
@pytest.mark.timeout(90)
@pytest.mark.parametrize("kills", [0, KILLS], ids=["running", "killed-mid-run"])
@pytest.mark.parametrize("kind", ["agent", "app"])
def test_a_long_running_sender_and_many_short_processes_share_the_outbox(
    kind: Kind,
    kills: int,
    dns_server: DnsServer,
    profile: Profile,
    smtp_server: SmtpServerFactory,
    tmp_path: Path,
) -> None:
    """Killed mid-run (SIGKILL, then started again, KILLS times): nothing is lost, and
    at most one message per kill is delivered twice."""
    run_scenario(profile, smtp_server("none"), dns_server, tmp_path, kind, kills=kills)
