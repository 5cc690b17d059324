"""SMTP servers for mailgui's tests (plain module, the fixtures live in conftest.py).

Three kinds of server, all on 127.0.0.1 and all recording what they saw:

* :class:`RecordingServer` is a real, standards-following aiosmtpd server (plain, STARTTLS or
  implicit TLS, optional AUTH) with :class:`Faults` to inject realistic error replies. Use it
  to prove that mailgui *sends correctly*. ``python smtp_servers.py`` runs one in a process
  of its own (see :func:`serve_in_process`).
* :class:`FakeServer` is a tiny scripted raw-socket server for the behaviour no real server
  library will produce on request: never greeting, hanging, stripping STARTTLS, dropping the
  line after the final dot. Use it to prove that mailgui *fails safely*.
* :class:`HostileServer` is scripted too, byte for byte, but can really do TLS (implicit, or
  after STARTTLS): the adversarial suite's server, for the attacks on STARTTLS and for
  replies that dribble, flood or fail at random.

Everything a server records is recorded *before* it answers, so once a client has its reply
(or has seen the disconnect) the record is already there; ``wait_for`` is only needed when the
client runs in another process or thread.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import re
import select
import socket
import ssl
import sys
import threading
import time
import weakref
from collections import Counter, defaultdict, deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, NoReturn, Protocol, Self

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import (
    SMTP,
    AuthResult,
    Envelope,
    LoginPassword,
    Session,
    TLSSetupException,
)
from waiting import until

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
    "HostileFactory",
    "HostileServer",
    "Received",
    "RecordingServer",
    "Scripted",
    "Security",
    "SmtpServerFactory",
    "message_id_of",
    "reserve_closed_port",
    "serve_in_process",
    "server_ssl_context",
]

LOCALHOST = "127.0.0.1"

_log = logging.getLogger(__name__)

Security = Literal["none", "starttls", "tls"]
"""``none``: plaintext; ``starttls``: STARTTLS offered and required; ``tls``: SMTPS."""

CertName = Literal["good", "other-ca", "wrong-host"]
TokenCheck = Callable[[str, str], bool]
"""``(user, access_token) -> accepted``: what an OAuth2-signing server asks its provider."""
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

    def __init__(
        self,
        owner: RecordingServer,
        users: Mapping[str, str] | None,
        faults: Faults,
        tokens: TokenCheck | None = None,
    ):
        self._owner = owner
        self._users = dict(users) if users is not None else None
        self._tokens = tokens
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
        self._owner._record_auth(login, ok, mechanism)
        if ok:
            return AuthResult(success=True, auth_data=auth_data)
        return AuthResult(success=False, handled=False)  # aiosmtpd answers 535 5.7.8

    async def auth_XOAUTH2(self, server: SMTP, args: list[str]) -> AuthResult:
        return await self._oauth(server, args, "XOAUTH2")

    async def auth_OAUTHBEARER(self, server: SMTP, args: list[str]) -> AuthResult:
        return await self._oauth(server, args, "OAUTHBEARER")

    async def _oauth(self, server: SMTP, args: list[str], mechanism: str) -> AuthResult:
        """OAuth2 sign-in as Gmail does it: the token in the initial response (or after
        an empty challenge); a refused one gets a challenge with a JSON error, which the
        client must acknowledge before the final 535."""
        assert self._tokens is not None  # offered only with tokens (auth_exclude_mechanism)
        if len(args) == 2:
            try:
                blob = base64.b64decode(args[1], validate=True)
            except ValueError:
                return AuthResult(success=False, handled=False, message="501 5.5.2 Bad base64")
        else:
            answer = await server.challenge_auth("")
            if not isinstance(answer, bytes):
                return AuthResult(success=False, handled=True)
            blob = answer
        fields = dict(
            part.split("=", 1)
            for part in blob.decode("utf-8", "replace").split("\x01")
            if "=" in part
        )
        user = fields.get("user", "")
        if mechanism == "OAUTHBEARER":
            gs2 = blob.split(b"\x01", 1)[0].decode("utf-8", "replace")  # "n,a=USER,"
            user = gs2.split("a=", 1)[1].rstrip(",") if "a=" in gs2 else ""
            user = user.replace("=2C", ",").replace("=3D", "=")
        auth = fields.get("auth", "")
        token = auth[len("Bearer ") :] if auth.startswith("Bearer ") else ""
        ok = bool(token) and self._tokens(user, token)
        self._owner._record_auth(user, ok, mechanism)
        if ok:
            return AuthResult(success=True, auth_data=LoginPassword(user.encode(), b""))
        error = b'{"status":"401","schemes":"bearer","scope":"https://mail.google.com/"}'
        await server.challenge_auth(error)
        return AuthResult(
            success=False, handled=False, message="535 5.7.8 Username and Password not accepted"
        )

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
        """Hide AUTH when no users or tokens are configured (aiosmtpd would offer an
        empty AUTH line)."""
        session.host_name = hostname  # an EHLO hook must do this itself (aiosmtpd docs)
        if self._users is None and self._tokens is None:
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
        if (self._users is not None or self._tokens is not None) and not session.authenticated:
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


class _LongAuthSMTP(SMTP):
    """For servers that take OAuth2 tokens: an AUTH line with an access token runs to
    kilobytes (RFC 4954 allows 12288 octets), over aiosmtpd's 512 for a command."""

    command_size_limit = 12288
    line_length_limit = 12288

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # aiosmtpd's per-command limits are one dict on the class, defaulting to 512
        self.command_size_limits = defaultdict(lambda: self.command_size_limit)


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

    smtp_class: type[SMTP] = SMTP

    def factory(self) -> SMTP:
        """Called once per accepted TCP connection (before any TLS handshake)."""
        smtp = self.smtp_class(self.handler, **self.SMTP_kwargs)
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
        tokens: TokenCheck | None = None,
        oauth_mechanisms: Sequence[str] = ("OAUTHBEARER", "XOAUTH2"),
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
        self._tokens = tokens
        self._oauth_mechanisms = tuple(oauth_mechanisms) if tokens is not None else ()
        self._ssl_context = ssl_context
        # Given explicitly: otherwise aiosmtpd calls socket.getfqdn() for every connection.
        self._server_name = server_name
        self._cond = threading.Condition()
        self._messages: list[Received] = []
        self._auth_attempts: list[tuple[str, bool]] = []
        self._mechanisms: list[str] = []
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

    @property
    def mechanisms(self) -> list[str]:
        """The SASL mechanism of every attempt, in order ("PLAIN", "XOAUTH2"...)."""
        with self._cond:
            return list(self._mechanisms)

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
        handler = _Handler(self, self._users, self.faults, self._tokens)
        kwargs: dict[str, Any] = {
            "server_hostname": self._server_name,
            "ready_timeout": 10.0,
            "authenticator": handler.authenticate,
            "auth_require_tls": self.security == "starttls",
            "auth_exclude_mechanism": [
                m for m in ("OAUTHBEARER", "XOAUTH2") if m not in self._oauth_mechanisms
            ],
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
            if self._tokens is not None:
                controller.smtp_class = _LongAuthSMTP
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

    def _record_auth(self, login: str, ok: bool, mechanism: str = "PLAIN") -> None:
        with self._cond:
            self._auth_attempts.append((login, ok))
            self._mechanisms.append(mechanism)

    async def _abort_sessions(self) -> None:
        """Abort live connections so the loop closes with no transport left open."""
        for smtp in list(self._sessions):
            if isinstance(smtp.transport, asyncio.Transport):
                smtp.transport.abort()
        for _ in range(3):
            await asyncio.sleep(0)  # let connection_lost() callbacks run


# --------------------------------------------------------------------------------------------
# Scripted raw-socket servers: the plumbing FakeServer and HostileServer share
# --------------------------------------------------------------------------------------------

_POLL = 0.05
"""Seconds between checks of the stop flag in every blocking socket call."""


class _Closed(Exception):
    """The peer went away, or the server is stopping."""


class _Connection:
    """One accepted socket with a line buffer; every blocking call polls the stop flag.

    Each chunk received is handed to the server's ``_received`` first (for recording).
    """

    def __init__(self, sock: socket.socket, server: _SocketServer) -> None:
        self.sock: socket.socket = sock
        self.server = server
        self.tls = False
        """Whether the session is encrypted now (implicit TLS, or after STARTTLS)."""
        self.buf = bytearray()
        sock.settimeout(_POLL)
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def _recv(self) -> bytes:
        while not self.server._stopping.is_set():
            try:
                chunk = self.sock.recv(65536)
            except TimeoutError:
                continue
            except OSError:  # ssl.SSLError too
                break
            if not chunk:
                break
            self.server._received(self, chunk)
            return chunk
        raise _Closed

    def readline(self) -> bytes:
        """One line including its LF (lines end at LF, so bare-LF lines are seen as lines)."""
        while (end := self.buf.find(b"\n")) < 0:
            self.buf += self._recv()
        line = bytes(self.buf[: end + 1])
        del self.buf[: end + 1]
        return line

    def drain(self) -> NoReturn:
        """Read and discard until the peer closes or the server stops (raises _Closed)."""
        self.buf.clear()
        while True:
            self._recv()

    def sendall(self, data: bytes) -> None:
        """Send every byte, or raise _Closed (peer gone, server stopping, 10 s stuck)."""
        deadline = time.monotonic() + 10.0
        while data:
            if self.server._stopping.is_set() or time.monotonic() > deadline:
                raise _Closed
            try:
                sent = self.sock.send(data)
            except TimeoutError:
                continue
            except OSError as exc:
                raise _Closed from exc
            data = data[sent:]

    def start_tls(self, context: ssl.SSLContext) -> OSError | None:
        """The server side of a TLS handshake: None once encrypted, else the error (the
        client gave up). Bytes the client sent before its ClientHello are dropped."""
        self.buf.clear()
        self.sock.settimeout(5.0)
        try:
            self.sock = context.wrap_socket(self.sock, server_side=True)
        except OSError as exc:
            return exc
        self.sock.settimeout(_POLL)
        self.tls = True
        return None

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)
        with contextlib.suppress(OSError):
            self.sock.close()


class _SocketServer:
    """A listener on a free 127.0.0.1 port and a thread per connection, running
    ``_session(conn)``; ``stop()`` closes every socket, joins the threads and re-raises a
    crash of the server itself (a bug of the test, never to be lost in a thread)."""

    def __init__(self) -> None:
        self.host = LOCALHOST
        self.port = 0
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._listener: socket.socket | None = None
        self._accepting: threading.Thread | None = None
        self._threads: list[threading.Thread] = []
        self._open: set[_Connection] = set()
        self._errors: list[BaseException] = []
        self._connections = 0

    @property
    def connections(self) -> int:
        """Connections accepted so far."""
        with self._lock:
            return self._connections

    def start(self) -> Self:
        """Listen on a free 127.0.0.1 port and start the accept thread; returns self."""
        if self._listener is not None:
            raise RuntimeError("already started")
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.bind((LOCALHOST, 0))
        listener.listen(64)
        listener.settimeout(_POLL)
        self._listener = listener
        self.port = listener.getsockname()[1]
        self._accepting = self._spawn(self._accept_loop, "accept")
        return self

    def stop(self) -> None:
        """Close every socket and join the threads; re-raises a crash of the server itself."""
        self._stopping.set()
        if self._accepting is not None:
            self._accepting.join(timeout=5)  # no new connections after this
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

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.host}:{self.port}>"

    # -- for the subclasses ---------------------------------------------------------------

    def _session(self, conn: _Connection) -> None:
        """Serve one connection; return (or raise _Closed) to close it."""
        raise NotImplementedError

    def _received(self, conn: _Connection, data: bytes) -> None:
        """Called with every chunk received, before it is read as lines."""

    # -- server threads --------------------------------------------------------------------

    def _spawn(self, target: Callable[..., None], name: str, *args: Any) -> threading.Thread:
        thread = threading.Thread(
            target=self._guarded,
            args=(target, *args),
            name=f"{type(self).__name__}-{name}",
            daemon=True,
        )
        with self._lock:
            self._threads = [t for t in self._threads if t.is_alive()]  # load tests: many
            self._threads.append(thread)
        thread.start()
        return thread

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
            conn = _Connection(sock, self)
            with self._lock:
                self._connections += 1
                self._open.add(conn)
                number = self._connections
            self._spawn(self._serve, f"conn{number}", conn)

    def _serve(self, conn: _Connection) -> None:
        try:
            self._session(conn)
        finally:
            with self._lock:
                self._open.discard(conn)
            conn.close()


# --------------------------------------------------------------------------------------------
# FakeServer (scripted, plain text)
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


def _wire(reply: str) -> bytes:
    """A reply as sent: each "\\n"-separated line CRLF-terminated."""
    return "".join(line + "\r\n" for line in reply.splitlines()).encode("utf-8")


class FakeServer(_SocketServer):
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
        super().__init__()
        self.greeting = greeting
        self.ehlo = list(ehlo)
        self.hostname = hostname
        self.hang_on = hang_on.upper() if hang_on is not None else None
        self.drop_after_dot = drop_after_dot
        self._replies = {verb.upper(): _Script(r) for verb, r in (replies or {}).items()}
        starttls = self._replies.get("STARTTLS")
        if starttls is not None and starttls.could_be("220"):
            raise ValueError("FakeServer cannot do TLS: it can only refuse STARTTLS")
        self._commands: list[str] = []
        self._messages: list[bytes] = []

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

    # -- the session ---------------------------------------------------------------------------

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

    def _session(self, conn: _Connection) -> None:
        if self.greeting is None:
            conn.drain()  # the server that never greets
        assert self.greeting is not None
        conn.sendall(_wire(self.greeting))
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
            conn.sendall(_wire(reply))
            if verb == "QUIT" or reply.startswith("421"):
                return
            if verb == "DATA" and reply.startswith("354"):
                self._receive_body(conn)
                if self.drop_after_dot:
                    return
                if self.hang_on == ".":
                    conn.drain()
                reply = self._reply(".")
                conn.sendall(_wire(reply))
                if reply.startswith("421"):
                    return

    def _receive_body(self, conn: _Connection) -> None:
        lines: list[bytes] = []
        while (line := conn.readline()) not in (b".\r\n", b".\n"):
            lines.append(line)
        with self._lock:
            self._messages.append(b"".join(lines))


# --------------------------------------------------------------------------------------------
# HostileServer (scripted bytes, real TLS: the adversarial suite)
# --------------------------------------------------------------------------------------------

TlsMode = Literal["none", "starttls", "implicit"]
AfterStarttls = Literal["tls", "plain", "inject"]
Fault = Callable[[str, str], "str | None"]
"""``fault(stage, line) -> None | "421" | "451" | "550" | "drop"``; stages: connect, EHLO,
MAIL, RCPT, DATA (``line``: the command), body (drop only: the line goes away mid-body),
dot (the reply to the final dot).
A message is *accepted* (counted in ``accepted_ids``) only when its 250 was sent."""

_MSG_ID = re.compile(rb"^Message-ID:[ \t]*(<[^>\r\n]*>)", re.IGNORECASE | re.MULTILINE)


def message_id_of(data: bytes) -> str:
    """The Message-ID header of a message's bytes (AssertionError without one)."""
    m = _MSG_ID.search(data)
    assert m is not None, data[:400]
    return m.group(1).decode()


@dataclass(frozen=True)
class Chunk:
    """Bytes a :class:`HostileServer` received, and whether the session was encrypted."""

    tls: bool
    data: bytes


class HostileServer(_SocketServer):
    """A scripted SMTP server on 127.0.0.1 that can really do TLS, and misbehave.

    Implicit TLS, or a real handshake after STARTTLS, with trustme certificates; and the
    ways the NO STARTTLS study (Poddebniak et al., USENIX Security 2021) and the
    fault-injection cases need: strip STARTTLS, answer it with an error or with 250, inject
    replies into the packet that carries "220 ready", offer different capabilities before
    and after TLS, dribble replies one byte at a time, flood garbage, close mid-reply, take
    its time over each message (``data_delay``), and answer 421 / 451 / drop the line at
    random (``fault``).

    It records every byte it receives tagged with whether the session was encrypted at that
    moment, so a test can prove that no AUTH, MAIL or message byte ever crossed in plaintext.
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
        super().__init__()
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
        self.chunks: list[Chunk] = []
        self.commands: list[tuple[bool, str]] = []
        self.accepted: list[bytes] = []
        self.accepted_ids: Counter[str] = Counter()
        self.received_ids: Counter[str] = Counter()
        self.tls_errors: list[str] = []
        self.notes: list[str] = []

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
        """Wait until ``n`` message bodies arrived (accepted or not)."""
        until(
            lambda: sum(self.received_ids.values()) >= n,
            timeout=timeout,
            what=f"{self!r} to receive {n} messages",
            interval=0.01,
        )

    def __repr__(self) -> str:
        return f"<HostileServer {self.tls_mode} {self.host}:{self.port}>"

    # -- internals ----------------------------------------------------------------------

    def _received(self, conn: _Connection, data: bytes) -> None:
        if self.record_bytes:
            with self._lock:
                self.chunks.append(Chunk(conn.tls, data))

    def _send(self, conn: _Connection, data: bytes) -> None:
        if self.dribble is None:
            conn.sendall(data)
            return
        for i in range(len(data)):
            conn.sendall(data[i : i + 1])
            if self.dribble:
                time.sleep(self.dribble)

    def _start_tls(self, conn: _Connection) -> bool:
        """The server side of the handshake; False (recorded) when the client gave up."""
        assert self.context is not None
        if conn.buf:  # a client pipelining past STARTTLS: record it, never use it
            with self._lock:
                self.notes.append(f"plaintext after STARTTLS: {bytes(conn.buf)!r}")
        error = conn.start_tls(self.context)
        if error is not None:
            with self._lock:
                self.tls_errors.append(f"{type(error).__name__}: {error}")
            return False
        return True

    def _fault(self, stage: str, line: str = "") -> str | None:
        return self.fault(stage, line) if self.fault is not None else None

    def _faulted(self, conn: _Connection, stage: str, line: str = "") -> bool | None:
        """Apply a fault: None = none; True = the session is over; False = replied, go on."""
        what = self._fault(stage, line)
        if what is None:
            return None
        if what == "drop":
            return True
        if what == "421":
            self._send(conn, b"421 4.3.2 Service shutting down\r\n")
            return True
        self._send(
            conn,
            b"451 4.3.0 Try again later\r\n"
            if what == "451"
            else b"550 5.7.1 Refused by policy\r\n",
        )
        return False

    def _session(self, conn: _Connection) -> None:
        if self.tls_mode == "implicit" and not self._start_tls(conn):
            return
        if self._faulted(conn, "connect"):
            return
        self._send(conn, self.greeting)
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
                self._send(conn, self.replies[verb])
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
                self._send(
                    conn,
                    b"".join(
                        f"250{'-' if i < len(lines) - 1 else ' '}{line}\r\n".encode()
                        for i, line in enumerate(lines)
                    ),
                )
            elif verb == "STARTTLS":
                if conn.tls:
                    self._send(conn, b"503 5.5.1 TLS already active\r\n")
                    continue
                self._send(conn, self.starttls_reply)
                if not self.starttls_reply.startswith(b"220"):
                    continue
                if self.after_starttls == "plain":
                    continue  # pretend, and go on in plaintext
                if self.after_starttls == "inject":
                    # Wait for the ClientHello, then put plaintext in front of our
                    # ServerHello: a man in the middle writing into the stream.
                    select.select([conn.sock], [], [], 5.0)
                    conn.sendall(self.inject)
                if not self._start_tls(conn):
                    return
            elif verb == "AUTH":
                self._send(conn, b"235 2.7.0 Authentication successful\r\n")
            elif verb == "MAIL":
                in_mail = True
                self._send(conn, b"250 2.1.0 Ok\r\n")
            elif verb == "RCPT":
                self._send(conn, b"250 2.1.5 Ok\r\n" if in_mail else b"503 5.5.1 MAIL first\r\n")
            elif verb == "DATA":
                self._send(conn, b"354 End data with <CR><LF>.<CR><LF>\r\n")
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
                    self._send(conn, self.replies["."])
                    if "." in self.hangup_after:
                        return
                    continue
                with self._lock:
                    if self.keep_bodies:
                        self.accepted.append(body)
                    self.accepted_ids[message_id_of(body)] += 1
                self._send(conn, b"250 2.0.0 Ok: queued\r\n")
            elif verb in ("RSET", "NOOP"):
                in_mail = verb == "NOOP" and in_mail
                self._send(conn, b"250 2.0.0 Ok\r\n")
            elif verb == "QUIT":
                self._send(conn, b"221 2.0.0 Bye\r\n")
                return
            else:
                self._send(conn, b"502 5.5.2 Command not recognized\r\n")

    def _body(self, conn: _Connection) -> bytes | None:
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
        *,
        tokens: TokenCheck | None = None,
        oauth_mechanisms: Sequence[str] = ...,
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


class HostileFactory(Protocol):
    """Type of the adversarial suite's ``hostile`` fixture: :class:`HostileServer`'s
    keywords, plus ``cert`` (the name of the certificate it presents with TLS)."""

    def __call__(self, **kwargs: Any) -> HostileServer: ...


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


# --------------------------------------------------------------------------------------------
# A server in a process of its own
# --------------------------------------------------------------------------------------------


def serve_in_process() -> None:
    """``python smtp_servers.py``: a plain :class:`RecordingServer` in this process.

    For the GUI stall measurements: a server on a thread of the test process would take the
    interpreter lock from the GUI thread being measured (the app never has a server inside
    it). Prints its port, then answers each line "count" on stdin with the number of
    messages accepted so far; exits when stdin closes.
    """
    with RecordingServer("none") as server:
        print(server.port, flush=True)
        for line in sys.stdin:
            if line.strip() == "count":
                print(len(server.messages), flush=True)


if __name__ == "__main__":
    serve_in_process()
