#!/usr/bin/env python3
"""Flush over a slow link: mailgui, a raw smtplib loop and msmtp through a delay proxy.

    python benchmarks/slow_link.py [--quick] [--reps N] [--delays 0 20 50]
                                   [--servers aiosmtpd postfix] [--keep]

Also run by ``benchmarks/run`` as the figure ``slow-link``. Queued 2 KB messages (100,
40 with ``--quick``) go out over STARTTLS + AUTH PLAIN through a TCP relay on 127.0.0.1
that holds every chunk D ms in each direction (order kept, so a round trip costs 2·D),
to two servers: the benchmarks' aiosmtpd discard server (PIPELINING offered) and
Debian's Postfix as a private instance (submission with STARTTLS required, SASL through
a private Dovecot auth service, PIPELINING and CHUNKING offered, every message
discarded after the queue file is written). Side by side, per delay:

* ``mailgui outbox flush``, the whole process, on a profile whose account points at
  the relay (``--ca-file`` the run's CA);
* ``raw_smtplib.py``: one connection, STARTTLS, AUTH, ``sendmail`` per message (whole
  process too);
* Debian's ``msmtp``, one process per message (fewer messages: its cost per message
  does not depend on how many there are).

The relay counts *turns*: a burst from the client followed by a burst to the client,
seen at the client's end (where the client waits). Opening a connection counts two
(the TCP handshake, then the greeting the server sends once it is accepted), and the
relay delays it as much: upstream is opened 3·D after the client connects, so the
greeting arrives 4·D (two round trips) after the ``connect()``. Turns per message is
the count over the whole run divided by the messages. A second estimate comes from the
clock: (seconds at D − seconds at 0) ÷ (messages × round trip).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as c
from _common import Samples, fmt

# --- the delay proxy -------------------------------------------------------------------


@dataclass
class Counts:
    connections: int = 0
    turns: int = 0  # opening a connection counts 2, see the module docstring
    up_bytes: int = 0
    down_bytes: int = 0


class DelayProxy:
    """A TCP relay on 127.0.0.1 that delivers every chunk ``delay`` seconds after it
    was read, in each direction, in order (a link with a long wire and no bandwidth
    limit). Runs its own asyncio loop in a thread; the measured clients are other
    processes, so it never competes with them for a GIL."""

    def __init__(self) -> None:
        self.upstream = 0
        self.delay = 0.0
        self.counts = Counts()
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, daemon=True, name="delay-proxy")
        self._ready = threading.Event()
        self._server: asyncio.AbstractServer | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    def start(self) -> DelayProxy:
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("the delay proxy did not start")
        return self

    def stop(self) -> None:
        if not self._thread.is_alive():
            return

        async def close() -> None:
            if self._server is not None:
                self._server.close()
            for task in list(self._tasks):
                task.cancel()
            await asyncio.sleep(0)

        with contextlib.suppress(Exception):
            asyncio.run_coroutine_threadsafe(close(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    def route(self, upstream: int, delay_ms: float) -> None:
        """Relay to ``upstream`` with ``delay_ms`` each way; counters start again."""
        self.upstream = upstream
        self.delay = delay_ms / 1000
        self.counts = Counts()

    def __enter__(self) -> DelayProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)

        async def serve() -> None:
            self._server = await asyncio.start_server(self._client, "127.0.0.1", 0)
            self.port = self._server.sockets[0].getsockname()[1]
            self._ready.set()

        self._loop.run_until_complete(serve())
        self._loop.run_forever()
        self._loop.close()

    async def _client(self, creader: asyncio.StreamReader, cwriter: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        counts, delay = self.counts, self.delay
        counts.connections += 1
        counts.turns += 1  # the TCP handshake; the greeting is the next turn
        state = {"last": "up"}  # the connection's opening stands for the client's move
        try:
            await asyncio.sleep(3 * delay)  # SYN, SYN-ACK, ACK: then the server speaks
            sreader, swriter = await asyncio.open_connection("127.0.0.1", self.upstream)
            csock, ssock = cwriter.get_extra_info("socket"), swriter.get_extra_info("socket")
            for sock in (csock, ssock):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

            def read_up(n: int) -> None:
                counts.up_bytes += n
                state["last"] = "up"

            def deliver_down(n: int) -> None:
                counts.down_bytes += n
                if state["last"] == "up":
                    counts.turns += 1
                state["last"] = "down"

            await asyncio.gather(
                self._pump(creader, swriter, delay, csock, on_read=read_up),
                self._pump(sreader, cwriter, delay, ssock, on_deliver=deliver_down),
                return_exceptions=True,
            )
            for w in (cwriter, swriter):
                w.close()
        except (OSError, asyncio.CancelledError):
            cwriter.close()
        finally:
            self._tasks.discard(task)

    @staticmethod
    async def _pump(
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        delay: float,
        read_sock: Any,
        *,
        on_read: Callable[[int], None] | None = None,
        on_deliver: Callable[[int], None] | None = None,
    ) -> None:
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()

        async def feed() -> None:
            while True:
                quick_ack(read_sock)
                try:
                    data = await reader.read(65536)
                except OSError:
                    data = b""
                if data and on_read:
                    on_read(len(data))
                queue.put_nowait((loop.time() + delay, data))
                if not data:
                    return

        async def drain() -> None:
            while True:
                due, data = await queue.get()
                wait = due - loop.time()
                if wait > 0:
                    await asyncio.sleep(wait)
                if not data:
                    with contextlib.suppress(OSError):
                        if writer.can_write_eof():
                            writer.write_eof()
                    return
                if on_deliver:
                    on_deliver(len(data))
                writer.write(data)
                await writer.drain()

        feeder = asyncio.ensure_future(feed())
        try:
            await drain()
        finally:
            feeder.cancel()


_TCP_QUICKACK: int | None = getattr(socket, "TCP_QUICKACK", None)


def quick_ack(sock: Any) -> None:
    """ACK what arrives at once (Linux; the flag does not stick, so it is set before each
    read). The relay stands for a wire, which delays nothing but the data: a delayed ACK
    of its own (~40 ms) would hold back the next write of a sender that leaves Nagle on
    (aiosmtpd's replies to a pipelined envelope, msmtp's commands) on every turn."""
    if _TCP_QUICKACK is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.IPPROTO_TCP, _TCP_QUICKACK, 1)


# --- Postfix, a private instance -------------------------------------------------------

MASTER_CF = """\
{listen} inet n - n - - smtpd
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
smtp      unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
"""

DOVECOT_CONF = """\
base_dir = {root}/dovecot-run
state_dir = {root}/dovecot-state
log_path = {root}/dovecot.log
protocols =
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
passdb {{
  driver = passwd-file
  args = scheme=PLAIN {root}/users
}}
userdb {{
  driver = static
  args = uid=nobody gid=nogroup home=/nonexistent
}}
service auth {{
  unix_listener {root}/auth {{
    mode = 0666
  }}
}}
"""


class Postfix:
    """Debian's Postfix from a folder of its own (``postfix -c DIR start``), the
    submission role on one 127.0.0.1 port: STARTTLS required, AUTH only inside it
    through a private Dovecot's auth socket, relaying only for authenticated clients,
    every accepted message handed to discard(8). Stopped (with Dovecot) by ``stop``."""

    def __init__(self, root: Path, server_pem: Path) -> None:
        self.root = root
        self.server_pem = server_pem
        self.port = 0
        self.started = False
        self.dovecot_conf = root / "dovecot.conf"

    @staticmethod
    def available() -> str | None:
        """None, or why Postfix (with Dovecot for SASL) cannot run here."""
        for exe in ("postfix", "dovecot", "doveadm"):
            if shutil.which(exe) is None and not Path("/usr/sbin", exe).exists():
                return f"{exe} is not installed"
        if os.geteuid() != 0:
            return "a private Postfix instance needs root"
        return None

    def start(self) -> Postfix:
        root = self.root
        if root.exists():
            shutil.rmtree(root)
        root.mkdir(parents=True)
        root.chmod(0o755)
        self.port = c.free_closed_port()
        (root / "users").write_text(f"{c.USER}:{{PLAIN}}{c.PASSWORD}\n")
        self.dovecot_conf.write_text(DOVECOT_CONF.format(root=root))
        subprocess.run(["dovecot", "-c", str(self.dovecot_conf)], check=True, timeout=30)
        self.started = True
        for _ in range(100):
            if (root / "auth").exists():
                break
            time.sleep(0.05)
        else:
            raise RuntimeError(f"Dovecot's auth socket did not appear: {self._log('dovecot')}")
        conf = root / "conf"
        conf.mkdir()
        (root / "queue").mkdir()
        (root / "data").mkdir()
        shutil.chown(root / "data", "postfix", "postfix")
        shutil.copy(self.server_pem, conf / "server.pem")
        (conf / "server.pem").chmod(0o600)
        (conf / "master.cf").write_text(MASTER_CF.format(listen=f"127.0.0.1:{self.port}"))
        (conf / "main.cf").write_text(
            "\n".join(
                [
                    "compatibility_level = 3.6",
                    f"queue_directory = {root}/queue",
                    f"data_directory = {root}/data",
                    "mail_owner = postfix",
                    "setgid_group = postdrop",
                    "inet_interfaces = loopback-only",
                    "inet_protocols = ipv4",
                    "myhostname = postfix.bench.test",
                    "mydomain = bench.test",
                    "mydestination =",
                    "relay_domains =",
                    "mynetworks = 127.0.0.0/8",
                    "alias_maps =",
                    "alias_database =",
                    "local_recipient_maps =",
                    "default_transport = discard:benchmark",
                    "relay_transport = discard:benchmark",
                    "smtp_dns_support_level = disabled",
                    "smtpd_peername_lookup = no",
                    f"smtpd_tls_chain_files = {conf}/server.pem",
                    "smtpd_tls_security_level = encrypt",
                    "smtpd_tls_auth_only = yes",
                    "smtpd_tls_loglevel = 0",
                    "smtpd_sasl_auth_enable = yes",
                    "smtpd_sasl_type = dovecot",
                    f"smtpd_sasl_path = {root}/auth",
                    "smtpd_relay_restrictions = permit_sasl_authenticated, reject",
                    "smtpd_recipient_restrictions =",
                    "message_size_limit = 67108864",
                    f"maillog_file = {root}/postfix.log",
                    f"maillog_file_prefixes = {root}",
                    "",
                ]
            )
        )
        subprocess.run(["postfix", "-c", str(conf), "check"], check=False, capture_output=True)
        proc = subprocess.run(
            ["postfix", "-c", str(conf), "start"], capture_output=True, text=True, timeout=60
        )
        if proc.returncode != 0:
            raise RuntimeError(f"postfix start failed: {proc.stdout}{proc.stderr}")
        self._wait_for_banner()
        return self

    def _wait_for_banner(self) -> None:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=2) as s:
                    if s.recv(100).startswith(b"220"):
                        s.sendall(b"QUIT\r\n")
                        return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"Postfix did not answer on {self.port}: {self._log('postfix')}")

    def _log(self, which: str) -> str:
        path = self.root / f"{which}.log"
        return path.read_text(errors="replace")[-2000:] if path.exists() else "(no log)"

    def version(self) -> str:
        proc = subprocess.run(["postconf", "-d", "-h", "mail_version"], capture_output=True,
                              text=True, check=False)  # fmt: skip
        return f"Postfix {proc.stdout.strip()}"

    def stop(self) -> None:
        if not self.started:
            return
        conf = self.root / "conf"
        if (conf / "main.cf").exists():
            subprocess.run(["postfix", "-c", str(conf), "stop"], capture_output=True,
                           timeout=60, check=False)  # fmt: skip
        subprocess.run(["doveadm", "-c", str(self.dovecot_conf), "stop"], capture_output=True,
                       timeout=30, check=False)  # fmt: skip
        # Make sure nothing of either is left: master and dovecot write their pids here.
        for pidfile in (self.root / "queue" / "pid" / "master.pid",
                        self.root / "dovecot-run" / "master.pid"):  # fmt: skip
            with contextlib.suppress(OSError, ValueError):
                pid = int(pidfile.read_text().split()[0])
                for _ in range(50):
                    os.kill(pid, 0)
                    time.sleep(0.1)
                os.kill(pid, signal.SIGKILL)
        self.started = False

    def delivered(self) -> int:
        """Messages Postfix accepted (and discarded) since it started, from its log."""
        log = self.root / "postfix.log"
        if not log.exists():
            return 0
        return sum(1 for line in log.read_text(errors="replace").splitlines()
                   if "status=sent" in line and "discard" in line)  # fmt: skip

    def __enter__(self) -> Postfix:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


# --- the measurement -------------------------------------------------------------------


@dataclass
class Cell:
    """One client against one server at one delay: seconds per run and turns/message."""

    seconds: Samples = field(default_factory=Samples)
    rate: Samples = field(default_factory=Samples)
    turns: Samples = field(default_factory=Samples)
    count: int = 0


CLIENTS = ("mailgui", "raw", "msmtp")


class SlowLink:
    def __init__(self, bench: Any, proxy: DelayProxy, n: int, n_msmtp: int, reps: int) -> None:
        self.bench = bench
        self.proxy = proxy
        self.n = n
        self.n_msmtp = n_msmtp
        self.reps = reps
        self.root: Path = bench.root / "slow-link"
        self.root.mkdir(exist_ok=True)
        self.msmtp = shutil.which("msmtp")
        self.log: Callable[[str], None] = getattr(bench, "log", None) or _log
        # One profile for every server: the account points at the relay, whatever is
        # behind it. Queued once; each run flushes a fresh copy.
        self.template = bench.profile("slow-link-template", port=proxy.port)
        c.queue_messages(self.template, n)
        with contextlib.closing(sqlite3.connect(self.template / "data" / "outbox.sqlite3")) as db:
            self.message = self.root / "message.eml"
            self.message.write_bytes(
                db.execute("SELECT data FROM bodies ORDER BY id LIMIT 1").fetchone()[0]
            )
        rc = self.root / "msmtprc"
        rc.write_text(
            "defaults\ntls on\ntls_starttls on\n"
            f"tls_trust_file {bench.ca_pem}\nlogfile\ndomain localhost\n"
            f"account bench\nhost 127.0.0.1\nport {proxy.port}\nfrom {c.USER}\n"
            f"auth plain\nuser {c.USER}\npassword {c.PASSWORD}\ntimeout 30\n"
            "account default : bench\n"
        )
        rc.chmod(0o600)
        self.msmtprc = rc

    # One client's run: (seconds, messages).

    def run_mailgui(self) -> tuple[float, int]:
        home = c.copy_profile(self.template, self.root / "flush-run")
        took = c.timed([*c.mailgui_cmd(), "outbox", "flush"], self.bench.env(home))
        with contextlib.closing(sqlite3.connect(home / "data" / "outbox.sqlite3")) as db:
            sent = db.execute("SELECT COUNT(*) FROM messages WHERE state='sent'").fetchone()[0]
        if sent != self.n:
            raise RuntimeError(f"mailgui outbox flush sent {sent} of {self.n}")
        return took, self.n

    def run_raw(self) -> tuple[float, int]:
        started = time.perf_counter()
        c.run(
            [c.PYTHON, str(c.HERE / "raw_smtplib.py"), str(self.proxy.port),
             str(self.bench.ca_pem), str(self.message), str(self.n), c.USER, c.PASSWORD,
             c.RCPT],
            self.bench.env(self.root),
        )  # fmt: skip
        return time.perf_counter() - started, self.n

    def run_msmtp(self) -> tuple[float, int]:
        assert self.msmtp is not None
        data = self.message.read_bytes()
        env = self.bench.env(self.root)
        started = time.perf_counter()
        for _ in range(self.n_msmtp):
            argv = [self.msmtp, "-C", str(self.msmtprc), c.RCPT]
            proc = subprocess.run(
                argv, input=data, env=env, capture_output=True, timeout=120, check=False
            )
            if proc.returncode != 0:
                raise RuntimeError(f"msmtp failed: {proc.stderr.decode(errors='replace')}")
        return time.perf_counter() - started, self.n_msmtp

    def measure(self, server: str, upstream: int, delays: list[int]) -> dict[int, dict[str, Cell]]:
        runners: dict[str, Callable[[], tuple[float, int]]] = {
            "mailgui": self.run_mailgui, "raw": self.run_raw}  # fmt: skip
        if self.msmtp:
            runners["msmtp"] = self.run_msmtp
        cells: dict[int, dict[str, Cell]] = {d: {k: Cell() for k in runners} for d in delays}
        # A warm-up round at 0 ms (page cache, .pyc files, Postfix's processes), thrown away.
        for d in [-1, *delays]:
            reps = 1 if d < 0 else self.reps
            for rep in range(reps):
                for name, runner in runners.items():
                    self.proxy.route(upstream, max(d, 0))
                    took, count = runner()
                    if d < 0:
                        continue
                    cell = cells[d][name]
                    cell.seconds.add(took)
                    cell.rate.add(count / took)
                    cell.turns.add(self.proxy.counts.turns / count)
                    cell.count = count
                    self.log(
                        f"  {server} {2 * d} ms RTT rep {rep + 1} {name}: {count} in "
                        f"{took:.2f} s, {count / took:.1f}/s, "
                        f"{self.proxy.counts.turns / count:.2f} turns/msg "
                        f"({self.proxy.counts.connections} connections)"
                    )
        return cells


def _log(text: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


def clock_round_trips(cells: dict[int, dict[str, Cell]], name: str, d: int) -> float:
    """Round trips per message from the clock: extra seconds over 0 ms ÷ RTT ÷ messages."""
    if d == 0 or 0 not in cells or name not in cells[d]:
        return float("nan")
    cell, base = cells[d][name], cells[0][name]
    per_msg = cell.seconds.median / cell.count - base.seconds.median / base.count
    return per_msg / (2 * d / 1000)


def text_table(server: str, cells: dict[int, dict[str, Cell]]) -> str:
    head = ("server", "RTT", "client", "msgs", "seconds median [min–max]", "msgs/s",
            "mailgui ÷ this", "turns/msg (wire)", "RTT/msg (clock)")  # fmt: skip
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for d, row in cells.items():
        mg = row["mailgui"].rate.median
        for name, cell in row.items():
            label = {"mailgui": "mailgui outbox flush", "raw": "raw smtplib loop",
                     "msmtp": "msmtp, a process each"}[name]  # fmt: skip
            ratio = "—" if name == "mailgui" else f"{mg / cell.rate.median:.2f}×"
            secs = f"{cell.seconds.median:.2f} [{cell.seconds.lo:.2f}–{cell.seconds.hi:.2f}]"
            rtt = clock_round_trips(cells, name, d)
            lines.append(
                f"| {server} | {2 * d} ms | {label} | {cell.count} | {secs} | "
                f"{cell.rate.median:.1f} | {ratio} | {cell.turns.median:.2f} | "
                f"{'—' if rtt != rtt else f'{rtt:.2f}'} |"
            )
    return "\n".join(lines)


def figure(bench: Any, *, delays: list[int] | None = None,
           servers: list[str] | None = None) -> list[str]:  # fmt: skip
    """The slow-link figure on ``bench`` (run.py's Bench). Adds rows to its table and
    returns the detailed tables (one per server) as text."""
    from run import Row

    quick = bench.quick
    n = 40 if quick else 100
    n_msmtp = 10 if quick else 20
    reps = 1 if quick else min(bench.reps, 3)
    delays = delays if delays is not None else [0, 20, 50]
    servers = servers or ["aiosmtpd", "postfix"]
    log = getattr(bench, "log", None) or _log
    texts: list[str] = []
    with DelayProxy() as proxy:
        link = SlowLink(bench, proxy, n, n_msmtp, reps)
        if link.msmtp is None:
            log("  msmtp is not installed: its column is left out")
        for server in servers:
            if server == "aiosmtpd":
                log(f"slow link: {n} messages to aiosmtpd, RTT {[2 * d for d in delays]} ms")
                cells = link.measure("aiosmtpd", bench.server.port, delays)
                name = "aiosmtpd"
            else:
                why = Postfix.available()
                if why:
                    log(f"slow link: Postfix left out: {why}")
                    bench.add(Row("flush over a slow link to Postfix", why, "—", "—", "—", None))
                    continue
                # A folder of its own, outside the run's (mkdtemp makes that 0700): the
                # postfix and dovecot users must reach the queue and the auth socket.
                pf_root = Path(tempfile.mkdtemp(prefix="mailgui-postfix-"))
                pf = Postfix(pf_root / "instance", bench.server_pem)
                try:
                    pf_root.chmod(0o755)
                    pf.start()
                    name = pf.version()
                    log(f"slow link: {n} messages to {name}, RTT {[2 * d for d in delays]} ms")
                    cells = link.measure("postfix", pf.port, delays)
                finally:
                    pf.stop()
                    shutil.rmtree(pf_root, ignore_errors=True)
            texts.append(text_table(name, cells))
            for d, row in cells.items():
                mg = row["mailgui"]
                for other in ("raw", "msmtp"):
                    if other not in row:
                        continue
                    base = row[other]
                    ratio = mg.rate.median / base.rate.median
                    target = "≥ 3×" if other == "raw" else "≥ 10×"
                    judged = d == 20
                    what = (
                        "raw smtplib loop (one connection)"
                        if other == "raw"
                        else f"msmtp, one process per message ({base.count} per run)"
                    )
                    bench.add(
                        Row(
                            f"flush {mg.count} × 2 KB over a {2 * d} ms RTT link to {name}, "
                            f"whole process; turns/msg mailgui {mg.turns.median:.2f}, "
                            f"{other} {base.turns.median:.2f}",
                            spread(mg.rate, "msg/s"),
                            spread(base.rate, "msg/s") + " " + what,
                            f"{ratio:.2f}×",
                            target if judged else "—",
                            (ratio >= (3 if other == "raw" else 10)) if judged else None,
                        )
                    )
    return texts


def spread(s: Samples, unit: str) -> str:
    if unit == "msg/s":  # rates over a slow link are small: one decimal
        one = "{:.1f}/s".format
        return one(s.median) if len(s) == 1 else f"{one(s.median)} [{one(s.lo)}–{one(s.hi)}]"
    return fmt(s.median, unit)


@contextlib.contextmanager
def _workdir(keep: bool) -> Iterator[Path]:
    root = Path(tempfile.mkdtemp(prefix="mailgui-slow-link-"))
    try:
        yield root
    finally:
        if keep:
            print(f"kept {root}", file=sys.stderr)
        else:
            shutil.rmtree(root, ignore_errors=True)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="40 messages, one repetition")
    p.add_argument("--reps", type=int, help="repetitions (default 3, quick 1)")
    p.add_argument("--delays", type=int, nargs="+", default=[0, 20, 50],
                   help="ms added each way (default 0 20 50)")  # fmt: skip
    p.add_argument("--servers", nargs="+", choices=["aiosmtpd", "postfix"])
    p.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = p.parse_args()
    import run as r

    delays = sorted(set(args.delays) | {0})  # 0 ms is the clock estimate's baseline
    started = time.monotonic()
    with _workdir(args.keep) as root:
        bench = r.Bench(root, args.reps or (1 if args.quick else 3), args.quick)
        try:
            texts = figure(bench, delays=delays, servers=args.servers)
        finally:
            bench.close()
    took = time.monotonic() - started
    how = "benchmarks/slow_link.py" + (" --quick" if args.quick else "")
    print(f"Measured {time.strftime('%Y-%m-%d %H:%M')} with `{how}` ({took / 60:.1f} min)")
    print(f"on {r.machine()}.\n")
    print("\n\n".join(texts))
    print()
    print(r.table(bench.rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
