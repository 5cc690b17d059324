"""SMTP servers for mailgui's tests (plain module, the fixtures live in conftest.py).

Two kinds of server, both on 127.0.0.1 and both recording what they saw:

* :class:`RecordingServer` is a real, standards-following aiosmtpd server (plain, STARTTLS or
  implicit TLS, optional AUTH) with :class:`Faults` to inject realistic error replies. Use it
  to prove that mailgui *sends correctly*.
* :class:`FakeServer` is a tiny scripted raw-socket server for the behaviour no real server
  library will produce on request: never greeting, hanging, stripping STARTTLS, dropping the
  line after the final dot. Use it to prove that mailgui *fails safely*.

Everything a server records is recorded *before* it answers, so once a client has its reply
(or has seen the disconnect) the record is already there; ``wait_for`` is only needed when the
client runs in another process or thread.

Note: this file shadows the (deprecated, removed in 3.12) stdlib module ``smtpd`` for code
running under pytest, because pytest puts ``tests/`` first on ``sys.path``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import ssl
import threading
import time
import weakref
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, NoReturn, Protocol

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import (
    SMTP,
    AuthResult,
    Envelope,
    LoginPassword,
    Session,
    TLSSetupException,
)

if TYPE_CHECKING:
    import trustme

__all__ = [
    "AUTH_REQUIRED",
    "DEFAULT_EHLO",
    "LOCALHOST",
    "CertName",
    "FakeServer",
    "FakeServerFactory",
    "Faults",
    "Received",
    "RecordingServer",
    "Scripted",
    "Security",
    "SmtpServerFactory",
    "reserve_closed_port",
    "server_ssl_context",
]

LOCALHOST = "127.0.0.1"

_log = logging.getLogger(__name__)

Security = Literal["none", "starttls", "tls"]
"""``none``: plaintext; ``starttls``: STARTTLS offered and required; ``tls``: SMTPS."""

CertName = Literal["good", "other-ca", "wrong-host"]
"""Which server certificate to present (see the certificate fixtures in conftest.py)."""

Scripted = str | Sequence[str] | None
"""A scripted reply: None = normal behaviour, a str = always this reply, a list = one item per
occurrence (consumed in order), then normal behaviour again."""

AUTH_REQUIRED = "530 5.7.0 Authentication required"


class _Script:
    """Run-time state of one :data:`Scripted` reply; thread-safe, copies the caller's list."""

    def __init__(self, spec: Scripted) -> None:
        self._always = spec if isinstance(spec, str) else None
        self._queue: deque[str] = deque() if spec is None or isinstance(spec, str) else deque(spec)
        self._lock = threading.Lock()

    def next(self) -> str | None:
        """The reply to use for this occurrence, or None for normal behaviour."""
        if self._always is not None:
            return self._always
        with self._lock:
            return self._queue.popleft() if self._queue else None

    def could_be(self, prefix: str) -> bool:
        """Whether any scripted reply starts with ``prefix`` (for validating arguments)."""
        return any(r.startswith(prefix) for r in ([self._always] if self._always else self._queue))


class _Countdown:
    """``bool | int`` switch: True = always, False/0 = never, n = the first n occurrences."""

    def __init__(self, spec: bool | int) -> None:
        self._always = spec is True
        self._left = 0 if isinstance(spec, bool) else max(spec, 0)
        self._lock = threading.Lock()

    def take(self) -> bool:
        if self._always:
            return True
        with self._lock:
            if self._left > 0:
                self._left -= 1
                return True
            return False


def _is_positive(reply: str) -> bool:
    return reply[:1] == "2"


def server_ssl_context(cert: trustme.LeafCert) -> ssl.SSLContext:
    """A server-side TLS context presenting ``cert`` (client certificates not requested)."""
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(ctx)
    return ctx


def reserve_closed_port() -> socket.socket:
    """A socket bound to a free 127.0.0.1 port but not listening: connecting is refused.

    Keep the socket open while the port is in use (nobody else can take the port), close it
    afterwards. Read the port with ``sock.getsockname()[1]``.
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind((LOCALHOST, 0))
    return sock


# --------------------------------------------------------------------------------------------
# RecordingServer (aiosmtpd)
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Received:
    """One message a :class:`RecordingServer` accepted (or received before dropping the line).

    ``data`` is aiosmtpd's ``envelope.original_content``: the bytes between the 354 reply and
    the terminating ``CRLF.CRLF``, with each CRLF-terminated line's single leading "." removed
    (dot-unstuffed) and nothing else touched: CRLF line ends are kept (the body ends with the
    CRLF that precedes the final dot), bare LF/CR bytes are kept as they came.
    """

    mail_from: str
    rcpt_tos: list[str]
    mail_options: list[str]
    """MAIL FROM parameters as aiosmtpd passes them: UPPER-CASED, e.g. ``["SIZE=42"]``."""
    data: bytes
    tls: bool
    """Whether the session was encrypted (STARTTLS or implicit TLS) when the data arrived."""
    login: str | None
    """The user that authenticated on this connection, None without AUTH."""


@dataclass
class Faults:
    """Replies to inject into a :class:`RecordingServer`.

    Each reply field is None (normal behaviour), a str (used every time) or a list of str
    (one per occurrence, in order, then normal behaviour). A 2xx reply given here is used as
    the reply text but the command still succeeds normally.
    """

    mail_reply: Scripted = None
    """Reply to MAIL FROM, e.g. "451 4.3.0 Try again later", "550 5.7.1 Sender rejected"."""
    rcpt_replies: Mapping[str, Scripted] = field(default_factory=dict)
    """Per recipient address (case-insensitive), the reply to its RCPT TO; others accepted."""
    data_reply: Scripted = None
    """Reply to the final dot; a message answered with a non-2xx reply is not recorded."""
    drop_after_dot: bool | int = False
    """Close the connection after the final dot without replying (an int: only for the first
    n messages). The message is recorded anyway: that is the "maybe sent" case."""
    size_limit: int | None = None
    """Advertise ``SIZE n`` and enforce it (aiosmtpd's data_size_limit); None keeps aiosmtpd's
    default of 33554432 (advertised too); 0 advertises no SIZE and accepts any size."""


class _Handler:
    """aiosmtpd handler: authentication, fault injection and recording for one server."""

    def __init__(self, owner: RecordingServer, users: Mapping[str, str] | None, faults: Faults):
        self._owner = owner
        self._users = dict(users) if users is not None else None
        self._mail = _Script(faults.mail_reply)
        self._rcpt = {addr.lower(): _Script(r) for addr, r in faults.rcpt_replies.items()}
        self._data = _Script(faults.data_reply)
        self._drop = _Countdown(faults.drop_after_dot)

    def authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
    ) -> AuthResult:
        """aiosmtpd ``authenticator``: check PLAIN/LOGIN credentials against ``users``."""
        if not isinstance(auth_data, LoginPassword) or self._users is None:
            return AuthResult(success=False, handled=False)
        login = auth_data.login.decode("utf-8", "replace")
        ok = self._users.get(login) == auth_data.password.decode("utf-8", "replace")
        self._owner._record_auth(login, ok)
        if ok:
            return AuthResult(success=True, auth_data=auth_data)
        return AuthResult(success=False, handled=False)  # aiosmtpd answers 535 5.7.8

    async def handle_exception(self, error: Exception) -> str:
        """Like aiosmtpd's default, but a client rejecting our certificate (an expected test
        outcome) is logged at INFO without a traceback instead of as an ERROR."""
        if isinstance(error, TLSSetupException):
            _log.info("TLS handshake failed: %r", error.__cause__)
            return "421 4.7.0 TLS handshake failed"  # not sent: aiosmtpd drops the connection
        _log.exception("RecordingServer: SMTP session exception")
        return f"500 Error: ({type(error).__name__}) {error}"

    async def handle_EHLO(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        hostname: str,
        responses: list[str],
    ) -> list[str]:
        """Hide AUTH when no users are configured (aiosmtpd would offer an empty AUTH line)."""
        session.host_name = hostname  # an EHLO hook must do this itself (aiosmtpd docs)
        if self._users is None:
            responses = [r for r in responses if not r[4:].upper().startswith("AUTH")]
        return responses

    async def handle_MAIL(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        mail_options: list[str],
    ) -> str:
        # Required AUTH is enforced here rather than with aiosmtpd's auth_required=True, which
        # warns (UserWarning, from the server thread) whenever auth_require_tls is False.
        if self._users is not None and not session.authenticated:
            return AUTH_REQUIRED
        reply = self._mail.next()
        if reply is not None and not _is_positive(reply):
            return reply
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return reply or "250 2.1.0 OK"

    async def handle_RCPT(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        script = self._rcpt.get(address.lower())
        reply = script.next() if script is not None else None
        if reply is not None and not _is_positive(reply):
            return reply
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return reply or "250 2.1.5 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        transport = server.transport
        assert isinstance(transport, asyncio.Transport)
        assert envelope.original_content is not None
        auth = session.auth_data  # (session.login_data logs a deprecation warning when read)
        login = auth.login.decode("utf-8", "replace") if isinstance(auth, LoginPassword) else None
        received = Received(
            mail_from=envelope.mail_from or "",
            rcpt_tos=list(envelope.rcpt_tos),
            mail_options=list(envelope.mail_options),
            data=bytes(envelope.original_content),
            tls=transport.get_extra_info("ssl_object") is not None,
            login=login,
        )
        if self._drop.take():
            self._owner._record_message(received)
            # abort(), not close(): no TLS close_notify dance, the line just goes away. The
            # resulting connection_lost() cancels this coroutine, so no reply is ever pushed.
            transport.abort()
            await asyncio.sleep(3600)
        reply = self._data.next()
        if reply is not None and not _is_positive(reply):
            return reply
        self._owner._record_message(received)
        return reply or "250 2.0.0 OK: queued"


class _Controller(Controller):
    """aiosmtpd Controller serving on a socket we bound ourselves.

    Binding first (port 0) and handing the socket to ``create_server(sock=...)`` gives a free
    port with no bind/close/rebind race between parallel test workers (aiosmtpd's own
    ``port=0`` does not work: its readiness check connects to port 0).
    """

    def __init__(
        self,
        handler: _Handler,
        listen_sock: socket.socket,
        on_connection: Callable[[SMTP], None],
        **kwargs: Any,
    ) -> None:
        host, port = listen_sock.getsockname()[:2]
        super().__init__(handler, hostname=host, port=port, **kwargs)
        self._listen_sock = listen_sock
        self._on_connection = on_connection

    def _create_server(self) -> Any:
        return self.loop.create_server(
            self._factory_invoker, sock=self._listen_sock, ssl=self.ssl_context
        )

    def _trigger_server(self) -> None:
        """aiosmtpd's readiness probe (connect, read the greeting), minus the ~50 ms its TLS
        variant spends loading the system CA store into a context that verifies nothing."""
        with contextlib.ExitStack() as stack:
            sock = stack.enter_context(socket.create_connection((self.hostname, self.port), 5.0))
            if self.ssl_context is not None:
                context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
                context.check_hostname = False
                context.verify_mode = ssl.CERT_NONE
                sock = stack.enter_context(context.wrap_socket(sock))
            sock.recv(1024)

    def factory(self) -> SMTP:
        """Called once per accepted TCP connection (before any TLS handshake)."""
        smtp = SMTP(self.handler, **self.SMTP_kwargs)
        self._on_connection(smtp)
        return smtp


class RecordingServer:
    """A real SMTP server (aiosmtpd in a background thread) recording what it accepts.

    ``users`` switches on AUTH PLAIN/LOGIN and makes it mandatory for MAIL (530 5.7.0
    otherwise; wrong credentials get "535 5.7.8 Authentication credentials invalid").
    AUTH is offered after STARTTLS with ``security="starttls"``, from the start with ``"tls"``,
    and in plaintext with ``"none"`` (so a test can check that a client refuses to use it).
    """

    def __init__(
        self,
        security: Security = "none",
        *,
        users: Mapping[str, str] | None = None,
        ssl_context: ssl.SSLContext | None = None,
        ca_file: str | None = None,
        faults: Faults | None = None,
        server_name: str = "localhost",
    ) -> None:
        if security not in ("none", "starttls", "tls"):
            raise ValueError(f"unknown security {security!r}")
        if security != "none" and ssl_context is None:
            raise ValueError(f"security={security!r} needs an ssl_context")
        self.host = LOCALHOST
        self.port = 0
        self.security: Security = security
        self.ca_file = ca_file
        """The CA file a client should trust (also for a certificate it must reject)."""
        self.faults = faults or Faults()
        self._users = users
        self._ssl_context = ssl_context
        # Given explicitly: otherwise aiosmtpd calls socket.getfqdn() for every connection.
        self._server_name = server_name
        self._cond = threading.Condition()
        self._messages: list[Received] = []
        self._auth_attempts: list[tuple[str, bool]] = []
        self._connections = 0
        self._sessions: weakref.WeakSet[SMTP] = weakref.WeakSet()
        self._controller: _Controller | None = None

    # -- public API ---------------------------------------------------------------------------

    @property
    def messages(self) -> list[Received]:
        """A snapshot of the messages accepted so far, in arrival order."""
        with self._cond:
            return list(self._messages)

    @property
    def connections(self) -> int:
        """Client connections accepted so far (TCP level, including failed TLS handshakes)."""
        with self._cond:
            return self._connections

    @property
    def auth_attempts(self) -> list[tuple[str, bool]]:
        """``(login, succeeded)`` for every PLAIN/LOGIN attempt, in order."""
        with self._cond:
            return list(self._auth_attempts)

    def wait_for(self, n: int, timeout: float = 5.0) -> list[Received]:
        """Wait until at least ``n`` messages arrived; return them all (AssertionError if not)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while len(self._messages) < n:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    got = ", ".join(f"{m.mail_from!r}->{m.rcpt_tos!r}" for m in self._messages)
                    raise AssertionError(
                        f"{self!r}: expected {n} message(s) within {timeout} s, "
                        f"got {len(self._messages)} [{got}] over {self._connections} "
                        f"connection(s); auth attempts {self._auth_attempts!r}"
                    )
                self._cond.wait(remaining)
            return list(self._messages)

    def start(self) -> RecordingServer:
        """Bind a free port on 127.0.0.1 and start serving; returns self."""
        if self._controller is not None:
            raise RuntimeError("already started")
        handler = _Handler(self, self._users, self.faults)
        kwargs: dict[str, Any] = {
            "server_hostname": self._server_name,
            "ready_timeout": 10.0,
            "authenticator": handler.authenticate,
            "auth_require_tls": self.security == "starttls",
        }
        if self.faults.size_limit is not None:
            kwargs["data_size_limit"] = self.faults.size_limit
        if self.security == "starttls":
            kwargs.update(tls_context=self._ssl_context, require_starttls=True)
        elif self.security == "tls":
            kwargs.update(ssl_context=self._ssl_context)
        # proto=IPPROTO_TCP matters: asyncio only sets TCP_NODELAY on accepted sockets whose
        # proto says TCP, and without it every multi-line reply (EHLO) stalls ~40 ms on Nagle
        # plus delayed ACK.
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        try:
            sock.bind((LOCALHOST, 0))
            self.port = sock.getsockname()[1]
            controller = _Controller(handler, sock, self._on_connection, **kwargs)
            controller.start()
        except BaseException:
            sock.close()
            raise
        self._controller = controller
        with self._cond:
            self._connections = 0  # Controller.start() made one connection to check readiness
        return self

    def stop(self) -> None:
        """Cut all client connections and stop the server thread (idempotent)."""
        controller, self._controller = self._controller, None
        if controller is None:
            return
        if controller.loop.is_running():
            future = asyncio.run_coroutine_threadsafe(self._abort_sessions(), controller.loop)
            with contextlib.suppress(Exception):
                future.result(timeout=5)
        controller.stop()

    def __enter__(self) -> RecordingServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"<RecordingServer {self.security} {self.host}:{self.port}>"

    # -- called from the server thread ---------------------------------------------------------

    def _on_connection(self, smtp: SMTP) -> None:
        self._sessions.add(smtp)
        with self._cond:
            self._connections += 1

    def _record_message(self, received: Received) -> None:
        with self._cond:
            self._messages.append(received)
            self._cond.notify_all()

    def _record_auth(self, login: str, ok: bool) -> None:
        with self._cond:
            self._auth_attempts.append((login, ok))

    async def _abort_sessions(self) -> None:
        """Abort live connections so the loop closes with no transport left open."""
        for smtp in list(self._sessions):
            if isinstance(smtp.transport, asyncio.Transport):
                smtp.transport.abort()
        for _ in range(3):
            await asyncio.sleep(0)  # let connection_lost() callbacks run


# --------------------------------------------------------------------------------------------
# FakeServer (scripted raw sockets)
# --------------------------------------------------------------------------------------------

DEFAULT_EHLO: tuple[str, ...] = ("PIPELINING", "8BITMIME", "SIZE 10240000")

_DEFAULT_REPLIES: dict[str, str] = {
    "HELO": "250 {host}",
    "MAIL": "250 2.1.0 Ok",
    "RCPT": "250 2.1.5 Ok",
    "DATA": "354 End data with <CR><LF>.<CR><LF>",
    ".": "250 2.0.0 Ok: queued as FAKE",
    "RSET": "250 2.0.0 Ok",
    "NOOP": "250 2.0.0 Ok",
    "QUIT": "221 2.0.0 Bye",
    "AUTH": "235 2.7.0 Authentication successful",
}
_UNKNOWN_REPLY = "502 5.5.2 Error: command not recognized"

_POLL = 0.05
"""Seconds between checks of the stop flag in every blocking socket call."""


class _Closed(Exception):
    """The peer went away, or the server is stopping."""


class _Connection:
    """One accepted socket with a line buffer; every blocking call polls the stop flag."""

    def __init__(self, sock: socket.socket, stopping: threading.Event) -> None:
        self.sock = sock
        self._stopping = stopping
        self._buf = bytearray()
        sock.settimeout(_POLL)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def _recv(self) -> bytes:
        while not self._stopping.is_set():
            try:
                chunk = self.sock.recv(65536)
            except TimeoutError:
                continue
            except OSError:
                break
            if not chunk:
                break
            return chunk
        raise _Closed

    def readline(self) -> bytes:
        """One line including its LF (lines end at LF, so bare-LF lines are seen as lines)."""
        while (end := self._buf.find(b"\n")) < 0:
            self._buf += self._recv()
        line = bytes(self._buf[: end + 1])
        del self._buf[: end + 1]
        return line

    def drain(self) -> NoReturn:
        """Read and discard until the peer closes or the server stops (raises _Closed)."""
        self._buf.clear()
        while True:
            self._recv()

    def send(self, reply: str) -> None:
        """Send a reply; a multi-line reply is given as lines separated by "\\n"."""
        data = "".join(line + "\r\n" for line in reply.splitlines()).encode("utf-8")
        deadline = time.monotonic() + 5.0
        while data:
            if self._stopping.is_set() or time.monotonic() > deadline:
                raise _Closed
            try:
                sent = self.sock.send(data)
            except TimeoutError:
                continue
            except OSError as exc:
                raise _Closed from exc
            data = data[sent:]

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)
        self.sock.close()


class FakeServer:
    """A scripted, misbehaving SMTP server on 127.0.0.1 (threads, raw sockets, no TLS).

    Defaults make a plain, cooperative ESMTP server *without* STARTTLS or AUTH in its EHLO.
    ``replies`` overrides the reply to a verb (a str always, a list one per occurrence, then the
    default); "." is the final dot of DATA. A reply starting with 421 closes the connection
    after it is sent (greeting included); other greetings keep the session open. A reply may
    have several lines separated by "\\n", given complete ("250-a\\n250 b"). AUTH is single-step:
    it is answered like any other command (default 235, anything accepted). Unknown verbs
    get 502. STARTTLS is never offered unless listed in ``ehlo``, and can only be refused.
    """

    def __init__(
        self,
        *,
        greeting: str | None = "220 fake.example ESMTP",
        ehlo: Sequence[str] = DEFAULT_EHLO,
        replies: Mapping[str, Scripted] | None = None,
        hang_on: str | None = None,
        drop_after_dot: bool = False,
        hostname: str = "fake.example",
    ) -> None:
        self.host = LOCALHOST
        self.port = 0
        self.greeting = greeting
        self.ehlo = list(ehlo)
        self.hostname = hostname
        self.hang_on = hang_on.upper() if hang_on is not None else None
        self.drop_after_dot = drop_after_dot
        self._replies = {verb.upper(): _Script(r) for verb, r in (replies or {}).items()}
        starttls = self._replies.get("STARTTLS")
        if starttls is not None and starttls.could_be("220"):
            raise ValueError("FakeServer cannot do TLS: it can only refuse STARTTLS")
        self._lock = threading.Lock()
        self._commands: list[str] = []
        self._messages: list[bytes] = []
        self._connections = 0
        self._errors: list[BaseException] = []
        self._stopping = threading.Event()
        self._listener: socket.socket | None = None
        self._threads: list[threading.Thread] = []
        self._open: set[_Connection] = set()

    # -- public API ---------------------------------------------------------------------------

    @property
    def commands(self) -> list[str]:
        """Command lines received (all connections, in order), decoded, without CRLF.

        AUTH lines are recorded as sent (credentials included). DATA bodies are not commands.
        """
        with self._lock:
            return list(self._commands)

    @property
    def messages(self) -> list[bytes]:
        """Each DATA body as raw wire bytes: not dot-unstuffed, line ends as sent, without
        the terminating ".\\r\\n" (a lone ".\\n" also ends the body, as in Postfix)."""
        with self._lock:
            return list(self._messages)

    @property
    def connections(self) -> int:
        """Connections accepted so far."""
        with self._lock:
            return self._connections

    def start(self) -> FakeServer:
        """Listen on a free 127.0.0.1 port and start the accept thread; returns self."""
        if self._listener is not None:
            raise RuntimeError("already started")
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.bind((LOCALHOST, 0))
        listener.listen(16)
        listener.settimeout(_POLL)
        self._listener = listener
        self.port = listener.getsockname()[1]
        self._spawn(self._accept_loop, "accept")
        return self

    def stop(self) -> None:
        """Close every socket and join the threads; re-raises a crash of the fake itself."""
        self._stopping.set()
        with self._lock:
            threads = list(self._threads)
        if threads:
            threads[0].join(timeout=5)  # the accept thread: no new connections after this
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

    def __enter__(self) -> FakeServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"<FakeServer {self.host}:{self.port}>"

    # -- server threads ------------------------------------------------------------------------

    def _spawn(self, target: Callable[..., None], name: str, *args: Any) -> None:
        thread = threading.Thread(
            target=self._guarded, args=(target, *args), name=f"FakeServer-{name}", daemon=True
        )
        with self._lock:
            self._threads.append(thread)
        thread.start()

    def _guarded(self, target: Callable[..., None], *args: Any) -> None:
        try:
            target(*args)
        except _Closed:
            pass
        except BaseException as exc:  # reported by stop(), not lost in a thread
            with self._lock:
                self._errors.append(exc)

    def _accept_loop(self) -> None:
        assert self._listener is not None
        while not self._stopping.is_set():
            try:
                sock, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            conn = _Connection(sock, self._stopping)
            with self._lock:
                self._connections += 1
                self._open.add(conn)
                number = self._connections
            self._spawn(self._serve, f"conn{number}", conn)

    def _reply(self, verb: str) -> str:
        script = self._replies.get(verb)
        reply = script.next() if script is not None else None
        if reply is not None:
            return reply
        if verb == "EHLO":
            lines = [self.hostname, *self.ehlo]
            return "\n".join(
                f"250{'-' if i < len(lines) - 1 else ' '}{line}" for i, line in enumerate(lines)
            )
        return _DEFAULT_REPLIES.get(verb, _UNKNOWN_REPLY).format(host=self.hostname)

    def _serve(self, conn: _Connection) -> None:
        try:
            self._session(conn)
        finally:
            with self._lock:
                self._open.discard(conn)
            conn.close()

    def _session(self, conn: _Connection) -> None:
        if self.greeting is None:
            conn.drain()  # the server that never greets
        assert self.greeting is not None
        conn.send(self.greeting)
        if self.greeting.startswith("421"):
            return
        while True:
            text = conn.readline().rstrip(b"\r\n").decode("utf-8", "replace")
            with self._lock:
                self._commands.append(text)
            verb = text.split(" ", 1)[0].upper()
            if verb == self.hang_on:
                conn.drain()
            reply = self._reply(verb)
            conn.send(reply)
            if verb == "QUIT" or reply.startswith("421"):
                return
            if verb == "DATA" and reply.startswith("354"):
                self._receive_body(conn)
                if self.drop_after_dot:
                    return
                if self.hang_on == ".":
                    conn.drain()
                reply = self._reply(".")
                conn.send(reply)
                if reply.startswith("421"):
                    return

    def _receive_body(self, conn: _Connection) -> None:
        lines: list[bytes] = []
        while (line := conn.readline()) not in (b".\r\n", b".\n"):
            lines.append(line)
        with self._lock:
            self._messages.append(b"".join(lines))


# --------------------------------------------------------------------------------------------
# Types of the factory fixtures (for annotating test parameters)
# --------------------------------------------------------------------------------------------


class SmtpServerFactory(Protocol):
    """Type of the ``smtp_server`` fixture."""

    def __call__(
        self,
        security: Security = "none",
        users: Mapping[str, str] | None = None,
        cert: CertName = "good",
        faults: Faults | None = None,
    ) -> RecordingServer: ...


class FakeServerFactory(Protocol):
    """Type of the ``fake_server`` fixture (same keywords as :class:`FakeServer`)."""

    def __call__(
        self,
        *,
        greeting: str | None = ...,
        ehlo: Sequence[str] = ...,
        replies: Mapping[str, Scripted] | None = ...,
        hang_on: str | None = ...,
        drop_after_dot: bool = ...,
    ) -> FakeServer: ...


def stop_all(servers: list[Any]) -> None:
    """Stop every server a test started, then re-raise the first crash of one of them."""
    errors = []
    for server in servers:
        try:
            server.stop()
        except RuntimeError as exc:
            errors.append(exc)
    if errors:
        raise errors[0]
