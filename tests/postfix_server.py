"""Debian's Postfix as a private test server, for behaviour that is Postfix's own.

``PostfixServer`` runs ``postfix -c DIR`` from a folder of its own (the idea of
``benchmarks/slow_link.py``): plain SMTP on one free 127.0.0.1 port (port 25 is never
touched), relaying for 127.0.0.0/8 with no login, PIPELINING and CHUNKING (BDAT) offered
as Postfix does by default. Every accepted recipient's copy goes to pipe(8) running a
small script that writes it to ``arrived/`` (one file per recipient), so a test reads
what Postfix would have delivered. Recipients listed in ``REFUSED`` are refused at RCPT.

A policy service in this process (``Policy``) is asked at the end of every message
(``smtpd_end_of_data_restrictions``): it says DUNNO at once, or holds a message's final
reply for as long as a test wants (a server that has the whole message and has not
answered yet: the moment a message is "in doubt").

Needs root (Postfix's master runs as root) and the ``postfix`` package; ``unavailable()``
says why not, for a skip.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from smtp_servers import reserve_closed_port

REFUSED = {
    "refused@x.test": "REJECT 5.1.1 no such user here",
    "refused2@x.test": "REJECT 5.1.1 no such user here either",
}

MASTER_CF = """\
{listen} inet n - n - - smtpd
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
keep      unix  -       n       n       -       -       pipe
  user=nobody argv={keep} ${{queue_id}} ${{recipient}}
"""

# pipe(8) hands the message over with LF line ends; the script only stores it. The
# temporary name keeps a reader from seeing half a file.
KEEP_SH = """\
#!/bin/sh
set -e
cat >"{arrived}/.$1.$2"
mv "{arrived}/.$1.$2" "{arrived}/$1.$2"
"""


def unavailable() -> str | None:
    """None, or why a private Postfix cannot run here (a reason for pytest.skip)."""
    if shutil.which("postfix") is None and not Path("/usr/sbin/postfix").exists():
        return "Postfix is not installed (Debian: apt-get install postfix)"
    if os.geteuid() != 0:
        return "a private Postfix instance needs root"
    return None


@dataclass(frozen=True)
class Arrival:
    """One recipient's copy as Postfix delivered it."""

    queue_id: str
    recipient: str
    raw: bytes  # as pipe(8) wrote it: Postfix's Received header first, LF line ends

    @property
    def data(self) -> bytes:
        """The message as the client sent it: Postfix's own Received header taken off
        and CRLF line ends back (what pipe(8) turned into LF)."""
        lines = self.raw.split(b"\n")
        assert lines[0].startswith(b"Received: from "), lines[0]
        i = 1
        while lines[i][:1] in (b" ", b"\t"):
            i += 1
        return b"\r\n".join(lines[i:])


class Policy:
    """A Postfix policy service (SMTPD_POLICY_README) on 127.0.0.1: DUNNO to every
    request, except while ``hold()`` is in force: then requests wait, unanswered, until
    ``release()``. ``asked`` counts the requests; ``held`` is set once one waits."""

    def __init__(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self.asked = 0
        self.held = threading.Event()
        self._go = threading.Event()
        self._go.set()
        self._lock = threading.Lock()
        self._hold_from: int | None = None
        threading.Thread(target=self._accept, daemon=True, name="postfix-policy").start()

    def hold(self, after: int = 0) -> None:
        """Answer ``after`` more requests, then hold the ones after them."""
        with self._lock:
            self._hold_from = self.asked + after
            self.held.clear()
            self._go.clear()

    def release(self) -> None:
        with self._lock:
            self._hold_from = None
        self._go.set()

    def close(self) -> None:
        self.release()
        self._listener.close()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        buf = b""
        with conn:
            while True:
                try:
                    chunk = conn.recv(65536)
                except OSError:
                    return
                if not chunk:
                    return
                buf += chunk
                while b"\n\n" in buf:  # a request ends with an empty line
                    _, buf = buf.split(b"\n\n", 1)
                    self._wait_turn()
                    try:
                        conn.sendall(b"action=DUNNO\n\n")
                    except OSError:
                        return

    def _wait_turn(self) -> None:
        with self._lock:
            n, self.asked = self.asked, self.asked + 1
            hold = self._hold_from is not None and n >= self._hold_from
        if hold:
            self.held.set()
            self._go.wait()


class PostfixServer:
    """A private Postfix on 127.0.0.1 (see the module docstring). Use as a context
    manager, or ``start``/``stop``."""

    host = "127.0.0.1"

    def __init__(self, *, ehlo_without: tuple[str, ...] = ()) -> None:
        """``ehlo_without``: extensions not to offer (e.g. ``("chunking",)``, as many
        servers are set up), by Postfix's own ``smtpd_discard_ehlo_keywords``."""
        self.ehlo_without = ehlo_without
        # Not under pytest's tmp folders (0700): the postfix and nobody users must reach
        # the queue and the arrivals.
        self.root = Path(tempfile.mkdtemp(prefix="mailgui-pf-"))
        self.root.chmod(0o755)
        self.arrived = self.root / "arrived"
        self.policy = Policy()
        self.port = 0
        self._conf = self.root / "conf"
        self._started = False

    def start(self) -> PostfixServer:
        sock = reserve_closed_port()  # a free port, held until Postfix takes it
        self.port = sock.getsockname()[1]
        sock.close()
        self.arrived.mkdir()
        shutil.chown(self.arrived, "nobody", "nogroup")
        keep = self.root / "keep.sh"
        keep.write_text(KEEP_SH.format(arrived=self.arrived))
        keep.chmod(0o755)
        for sub in ("conf", "queue", "data"):
            (self.root / sub).mkdir()
        shutil.chown(self.root / "data", "postfix", "postfix")
        (self._conf / "refused").write_text("".join(f"{a} {r}\n" for a, r in REFUSED.items()))
        master = MASTER_CF.format(listen=f"{self.host}:{self.port}", keep=keep)
        (self._conf / "master.cf").write_text(master)
        (self._conf / "main.cf").write_text(self._main_cf())
        self._postfix("start")
        self._started = True
        self._wait_for_banner()
        return self

    def _main_cf(self) -> str:
        root, conf = self.root, self._conf
        return "\n".join(
            [
                "compatibility_level = 3.6",
                f"queue_directory = {root}/queue",
                f"data_directory = {root}/data",
                "mail_owner = postfix",
                "setgid_group = postdrop",
                "inet_interfaces = loopback-only",
                "inet_protocols = ipv4",
                "myhostname = postfix.test.invalid",
                "mydomain = test.invalid",
                "mydestination =",
                "mynetworks = 127.0.0.0/8",
                "alias_maps =",
                "alias_database =",
                "default_transport = keep",
                "relay_transport = keep",
                "keep_destination_recipient_limit = 1",  # one file per recipient
                "smtp_dns_support_level = disabled",
                "smtpd_peername_lookup = no",
                # Headers as the client wrote them: no rewriting for any client.
                "local_header_rewrite_clients =",
                f"smtpd_recipient_restrictions = check_recipient_access texthash:{conf}/refused",
                f"smtpd_end_of_data_restrictions = check_policy_service "
                f"inet:127.0.0.1:{self.policy.port}",
                "smtpd_policy_service_timeout = 300s",
                "message_size_limit = 67108864",
                f"smtpd_discard_ehlo_keywords = {', '.join(self.ehlo_without)}",
                f"maillog_file = {root}/postfix.log",
                f"maillog_file_prefixes = {root}",
                "",
            ]
        )

    def _postfix(self, verb: str) -> None:
        proc = subprocess.run(
            ["postfix", "-c", str(self._conf), verb], capture_output=True, text=True, timeout=60
        )
        if proc.returncode != 0 and verb == "start":
            raise RuntimeError(f"postfix start failed: {proc.stdout}{proc.stderr}{self.log()}")

    def _wait_for_banner(self) -> None:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            with (
                contextlib.suppress(OSError),
                socket.create_connection((self.host, self.port), timeout=2) as s,
            ):
                if s.recv(100).startswith(b"220"):
                    s.sendall(b"QUIT\r\n")
                    return
            time.sleep(0.1)
        raise RuntimeError(f"Postfix did not answer on port {self.port}: {self.log()}")

    def log(self) -> str:
        path = self.root / "postfix.log"
        return path.read_text(errors="replace")[-3000:] if path.exists() else "(no log)"

    def log_lines(self) -> list[str]:
        path = self.root / "postfix.log"
        return path.read_text(errors="replace").splitlines() if path.exists() else []

    def arrivals(self) -> list[Arrival]:
        """Every copy delivered so far, oldest first."""
        found = []
        for path in sorted(self.arrived.glob("[!.]*"), key=lambda p: p.stat().st_mtime_ns):
            queue_id, _, recipient = path.name.partition(".")
            found.append(Arrival(queue_id, recipient, path.read_bytes()))
        return found

    def wait_for(self, n: int, *, where: bytes | None = None, timeout: float = 20) -> list[Arrival]:
        """At least ``n`` arrivals (those whose data contains ``where``, bytes, if given)."""
        deadline = time.monotonic() + timeout
        while True:
            got = [a for a in self.arrivals() if where is None or where in a.raw]
            if len(got) >= n or time.monotonic() > deadline:
                return got
            time.sleep(0.05)

    def stop(self) -> None:
        self.policy.close()
        if self._started:
            self._postfix("stop")
            self._started = False
            # stop asks master to go; make sure it went (its pid is in the queue folder).
            with contextlib.suppress(OSError, ValueError):
                pidfile = self.root / "queue" / "pid" / "master.pid"
                pid = int(pidfile.read_text().split()[0])
                for _ in range(50):
                    os.kill(pid, 0)
                    time.sleep(0.1)
                os.kill(pid, signal.SIGKILL)
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> PostfixServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"<PostfixServer {self.host}:{self.port}>"
