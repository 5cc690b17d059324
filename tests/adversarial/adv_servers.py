"""Hostile SMTP servers for the adversarial suite (plain module; fixtures in conftest.py).

:class:`HostileServer` is a small threaded raw-socket SMTP server that can really do TLS
(implicit TLS, or a real handshake after STARTTLS, with trustme certificates) and misbehave
in the ways the NO STARTTLS study (Poddebniak et al., USENIX Security 2021) and the
fault-injection cases need: strip STARTTLS, answer it with an error or with 250, inject
replies into the packet that carries "220 ready", offer different capabilities before and
after TLS, dribble replies one byte at a time, flood garbage, close mid-reply, and answer
421 / 451 / drop the line at random (``fault``).

It records every byte it receives tagged with whether the session was encrypted at that
moment, so a test can prove that no AUTH, MAIL or message byte ever crossed in plaintext.
"""

from __future__ import annotations

import contextlib
import re
import select
import socket
import ssl
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

LOCALHOST = "127.0.0.1"
_POLL = 0.05

TlsMode = Literal["none", "starttls", "implicit"]
AfterStarttls = Literal["tls", "plain", "inject"]
Fault = Callable[[str, str], "str | None"]
"""``fault(stage, line) -> None | "421" | "451" | "550" | "drop"``; stages: connect, EHLO,
MAIL, RCPT, DATA (``line``: the command), body (drop only: the line goes away mid-body),
dot (the reply to the final dot).
A message is *accepted* (counted in ``accepted_ids``) only when its 250 was sent."""

_MSG_ID = re.compile(rb"^Message-ID:[ \t]*(<[^>\r\n]*>)", re.IGNORECASE | re.MULTILINE)


def message_id_of(data: bytes) -> str:
    m = _MSG_ID.search(data)
    assert m is not None, data[:400]
    return m.group(1).decode()


@dataclass(frozen=True)
class Chunk:
    tls: bool
    data: bytes


class _Gone(Exception):
    """The peer went away, or the server is stopping."""


class _Conn:
    def __init__(self, sock: socket.socket, server: HostileServer) -> None:
        self.sock: socket.socket = sock
        self.server = server
        self.tls = False
        self.buf = bytearray()
        sock.settimeout(_POLL)
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def _recv(self) -> bytes:
        while not self.server._stopping.is_set():
            try:
                data = self.sock.recv(65536)
            except TimeoutError:
                continue
            except (OSError, ssl.SSLError):
                break
            if not data:
                break
            self.server._record_bytes(self.tls, data)
            return data
        raise _Gone

    def readline(self) -> bytes:
        while (end := self.buf.find(b"\n")) < 0:
            self.buf += self._recv()
        line = bytes(self.buf[: end + 1])
        del self.buf[: end + 1]
        return line

    def send(self, data: bytes) -> None:
        if self.server.dribble is not None:
            for i in range(len(data)):
                self._sendall(data[i : i + 1])
                if self.server.dribble:
                    time.sleep(self.server.dribble)
        else:
            self._sendall(data)

    def _sendall(self, data: bytes) -> None:
        deadline = time.monotonic() + 10.0
        while data:
            if self.server._stopping.is_set() or time.monotonic() > deadline:
                raise _Gone
            try:
                sent = self.sock.send(data)
            except TimeoutError:
                continue
            except (OSError, ssl.SSLError) as exc:
                raise _Gone from exc
            data = data[sent:]

    def start_tls(self) -> bool:
        """Server side of a TLS handshake; False (recorded) when the client gave up."""
        assert self.server.context is not None
        leftover = bytes(self.buf)
        if leftover:  # a client pipelining past STARTTLS: record it, never use it
            self.server._note(f"plaintext after STARTTLS: {leftover!r}")
        self.buf.clear()
        self.sock.settimeout(5.0)
        try:
            self.sock = self.server.context.wrap_socket(self.sock, server_side=True)
        except (OSError, ssl.SSLError) as exc:
            self.server._tls_failed(exc)
            return False
        self.sock.settimeout(_POLL)
        self.tls = True
        return True

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)
        with contextlib.suppress(OSError):
            self.sock.close()


class HostileServer:
    """A scripted SMTP server on 127.0.0.1 that can do real TLS. See the module docstring.

    Replies are raw bytes (CRLF included) so a test controls every octet. ``replies``
    overrides the reply to a verb ("." is the final dot) for every occurrence;
    ``hangup_after`` lists verbs (and "greeting") after whose reply the line is closed.
    """

    def __init__(
        self,
        *,
        tls: TlsMode = "none",
        context: ssl.SSLContext | None = None,
        greeting: bytes = b"220 hostile.example ESMTP\r\n",
        ehlo_plain: Sequence[str] = ("PIPELINING", "SIZE 10240000", "STARTTLS"),
        ehlo_tls: Sequence[str] = ("PIPELINING", "SIZE 10240000", "AUTH PLAIN LOGIN"),
        starttls_reply: bytes = b"220 2.0.0 Ready to start TLS\r\n",
        after_starttls: AfterStarttls = "tls",
        inject: bytes = b"",
        replies: dict[str, bytes] | None = None,
        hangup_after: Sequence[str] = (),
        dribble: float | None = None,
        fault: Fault | None = None,
        keep_bodies: bool = True,
        record_bytes: bool = True,
        data_delay: float = 0.0,
    ) -> None:
        if tls != "none" and context is None:
            raise ValueError("TLS needs a server context")
        self.host = LOCALHOST
        self.port = 0
        self.tls_mode = tls
        self.context = context
        self.greeting = greeting
        self.ehlo_plain = list(ehlo_plain)
        self.ehlo_tls = list(ehlo_tls)
        self.starttls_reply = starttls_reply
        self.after_starttls = after_starttls
        self.inject = inject
        self.replies = {k.upper(): v for k, v in (replies or {}).items()}
        self.hangup_after = {k.upper() for k in hangup_after}
        self.dribble = dribble
        self.fault = fault
        self.keep_bodies = keep_bodies
        self.record_bytes = record_bytes
        self.data_delay = data_delay
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._listener: socket.socket | None = None
        self._threads: list[threading.Thread] = []
        self._open: set[_Conn] = set()
        self._errors: list[BaseException] = []
        self.chunks: list[Chunk] = []
        self.commands: list[tuple[bool, str]] = []
        self.accepted: list[bytes] = []
        self.accepted_ids: Counter[str] = Counter()
        self.received_ids: Counter[str] = Counter()
        self.tls_errors: list[str] = []
        self.notes: list[str] = []
        self.connections = 0

    # -- what was seen ------------------------------------------------------------------

    @property
    def plaintext(self) -> bytes:
        """Every byte received while the session was not encrypted."""
        with self._lock:
            return b"".join(c.data for c in self.chunks if not c.tls)

    @property
    def encrypted(self) -> bytes:
        with self._lock:
            return b"".join(c.data for c in self.chunks if c.tls)

    def verbs(self, *, tls: bool | None = None) -> list[str]:
        with self._lock:
            return [
                line.split(" ", 1)[0].split(":", 1)[0].upper()
                for t, line in self.commands
                if tls is None or t == tls
            ]

    def wait_for(self, n: int, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while sum(self.received_ids.values()) < n:
            assert time.monotonic() < deadline, f"{self!r}: fewer than {n} messages"
            time.sleep(0.01)

    # -- life cycle ---------------------------------------------------------------------

    def start(self) -> HostileServer:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.bind((LOCALHOST, 0))
        listener.listen(64)
        listener.settimeout(_POLL)
        self._listener = listener
        self.port = listener.getsockname()[1]
        self._spawn(self._accept_loop)
        return self

    def stop(self) -> None:
        self._stopping.set()
        with self._lock:
            threads = list(self._threads)
            conns = list(self._open)
        for conn in conns:
            conn.close()
        for thread in threads:
            thread.join(timeout=5)
        if self._listener is not None:
            self._listener.close()
        if self._errors:
            raise RuntimeError(f"{self!r} crashed") from self._errors[0]

    def __repr__(self) -> str:
        return f"<HostileServer {self.tls_mode} {self.host}:{self.port}>"

    # -- internals ----------------------------------------------------------------------

    def _spawn(self, target: Callable[..., None], *args: object) -> None:
        thread = threading.Thread(target=self._guarded, args=(target, *args), daemon=True)
        with self._lock:
            self._threads = [t for t in self._threads if t.is_alive()]
            self._threads.append(thread)
        thread.start()

    def _guarded(self, target: Callable[..., None], *args: object) -> None:
        try:
            target(*args)
        except _Gone:
            pass
        except BaseException as exc:
            with self._lock:
                self._errors.append(exc)

    def _record_bytes(self, tls: bool, data: bytes) -> None:
        if self.record_bytes:
            with self._lock:
                self.chunks.append(Chunk(tls, data))

    def _note(self, text: str) -> None:
        with self._lock:
            self.notes.append(text)

    def _tls_failed(self, exc: BaseException) -> None:
        with self._lock:
            self.tls_errors.append(f"{type(exc).__name__}: {exc}")

    def _accept_loop(self) -> None:
        assert self._listener is not None
        while not self._stopping.is_set():
            try:
                sock, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            conn = _Conn(sock, self)
            with self._lock:
                self.connections += 1
                self._open.add(conn)
            self._spawn(self._serve, conn)

    def _serve(self, conn: _Conn) -> None:
        try:
            self._session(conn)
        finally:
            with self._lock:
                self._open.discard(conn)
            conn.close()

    def _fault(self, stage: str, line: str = "") -> str | None:
        return self.fault(stage, line) if self.fault is not None else None

    def _faulted(self, conn: _Conn, stage: str, line: str = "") -> bool | None:
        """Apply a fault: None = none; True = the session is over; False = replied, go on."""
        what = self._fault(stage, line)
        if what is None:
            return None
        if what == "drop":
            return True
        if what == "421":
            conn.send(b"421 4.3.2 Service shutting down\r\n")
            return True
        conn.send(
            b"451 4.3.0 Try again later\r\n"
            if what == "451"
            else b"550 5.7.1 Refused by policy\r\n"
        )
        return False

    def _session(self, conn: _Conn) -> None:
        if self.tls_mode == "implicit" and not conn.start_tls():
            return
        if self._faulted(conn, "connect"):
            return
        conn.send(self.greeting)
        if self.greeting.startswith(b"421") or "GREETING" in self.hangup_after:
            return
        in_mail = False
        while True:
            raw = conn.readline()
            text = raw.rstrip(b"\r\n").decode("utf-8", "replace")
            if self.record_bytes:  # off for load tests: the record would grow the process
                with self._lock:
                    self.commands.append((conn.tls, text))
            verb = text.split(" ", 1)[0].split(":", 1)[0].upper()
            if verb in self.replies:
                conn.send(self.replies[verb])
                if self.replies[verb].startswith(b"421") or verb in self.hangup_after:
                    return
                continue
            if verb in ("EHLO", "MAIL", "RCPT", "DATA"):
                done = self._faulted(conn, verb, text)
                if done:
                    return
                if done is False:
                    continue
            if verb in ("EHLO", "HELO"):
                caps = self.ehlo_tls if conn.tls else self.ehlo_plain
                if verb == "HELO":
                    caps = []
                lines = ["hostile.example", *caps]
                conn.send(
                    b"".join(
                        f"250{'-' if i < len(lines) - 1 else ' '}{line}\r\n".encode()
                        for i, line in enumerate(lines)
                    )
                )
            elif verb == "STARTTLS":
                if conn.tls:
                    conn.send(b"503 5.5.1 TLS already active\r\n")
                    continue
                conn.send(self.starttls_reply)
                if not self.starttls_reply.startswith(b"220"):
                    continue
                if self.after_starttls == "plain":
                    continue  # pretend, and go on in plaintext
                if self.after_starttls == "inject":
                    # Wait for the ClientHello, then put plaintext in front of our
                    # ServerHello: a man in the middle writing into the stream.
                    select.select([conn.sock], [], [], 5.0)
                    conn._sendall(self.inject)
                if not conn.start_tls():
                    return
            elif verb == "AUTH":
                conn.send(b"235 2.7.0 Authentication successful\r\n")
            elif verb == "MAIL":
                in_mail = True
                conn.send(b"250 2.1.0 Ok\r\n")
            elif verb == "RCPT":
                conn.send(b"250 2.1.5 Ok\r\n" if in_mail else b"503 5.5.1 MAIL first\r\n")
            elif verb == "DATA":
                conn.send(b"354 End data with <CR><LF>.<CR><LF>\r\n")
                body = self._body(conn)
                if body is None:
                    return
                in_mail = False
                if self.data_delay:
                    time.sleep(self.data_delay)
                done = self._faulted(conn, "dot")
                if done:
                    return
                if done is False:
                    continue
                if "." in self.replies:
                    conn.send(self.replies["."])
                    if "." in self.hangup_after:
                        return
                    continue
                with self._lock:
                    if self.keep_bodies:
                        self.accepted.append(body)
                    self.accepted_ids[message_id_of(body)] += 1
                conn.send(b"250 2.0.0 Ok: queued\r\n")
            elif verb in ("RSET", "NOOP"):
                in_mail = verb == "NOOP" and in_mail
                conn.send(b"250 2.0.0 Ok\r\n")
            elif verb == "QUIT":
                conn.send(b"221 2.0.0 Bye\r\n")
                return
            else:
                conn.send(b"502 5.5.2 Command not recognized\r\n")

    def _body(self, conn: _Conn) -> bytes | None:
        """The DATA body, dot-unstuffed (None: the fault hook dropped the line)."""
        lines: list[bytes] = []
        drop_mid = self._fault("body") == "drop"
        while (line := conn.readline()) != b".\r\n":
            lines.append(line[1:] if line.startswith(b".") else line)
            if drop_mid and len(lines) > 3:
                return None
        body = b"".join(lines)
        with self._lock:
            self.received_ids[message_id_of(body)] += 1
        return body
