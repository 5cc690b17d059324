"""A real IMAP server for mailgui's tests: Debian's Dovecot 2.3, run from a temporary folder
(plain module; the fixture lives in tests/imap/conftest.py).

One :class:`Dovecot` listens on 127.0.0.1 on two free ports: ``starttls_port`` (IMAP, which
offers STARTTLS) and ``tls_port`` (IMAPS), both with a trustme certificate for localhost and
127.0.0.1. Users live in passwd-files (one per user: its domain's), so each test makes users
of its own (:meth:`Dovecot.add_user`) while one server runs for the session.

A mailbox named ``Sent`` or ``Mail I Sent`` is flagged ``\\Sent`` (``special_use``) for every
user that has one; nobody gets one automatically, so a user made with other folders
(``Gesendet``, ``INBOX.Sent``) has no special-use Sent folder at all: the known-name
fallback's case. ``quota`` gives a user a storage limit (the quota plugin; the server then
says ``[OVERQUOTA]``), and ``max_mail_size`` makes bigger APPENDs fail with ``[LIMIT]``.
Dovecot 2.3 does not advertise APPENDLIMIT (RFC 7889). XOAUTH2 and OAUTHBEARER work
with tokens from :meth:`Dovecot.issue_token` (an introspection endpoint in this process).

What got filed is read back with imaplib (:meth:`Dovecot.messages`), not from the maildir.
Note: Dovecot counts 127.0.0.1 as a secure connection and offers LOGIN before STARTTLS, so a
test of "no login before TLS" has to look at what the client sent (:class:`RecordingProxy`).
"""

from __future__ import annotations

import contextlib
import http.server
import imaplib
import itertools
import json
import os
import pwd
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, cast

from waiting import until

if TYPE_CHECKING:
    import trustme

__all__ = [
    "DOVECOT",
    "Dovecot",
    "ImapUser",
    "RecordingProxy",
    "Stored",
    "dovecot_missing",
]

LOCALHOST = "127.0.0.1"
DOVECOT = shutil.which("dovecot") or (
    "/usr/sbin/dovecot" if os.path.exists("/usr/sbin/dovecot") else None
)
DOVEADM = shutil.which("doveadm") or "/usr/bin/doveadm"
START_TIMEOUT = 20.0


def dovecot_missing() -> str | None:
    """Why Dovecot cannot run here, or None."""
    if DOVECOT is None:
        return "Dovecot is not installed (apt-get install -y dovecot-imapd)"
    if not os.path.exists("/usr/lib/dovecot/imap"):
        return "Dovecot's IMAP server is not installed (apt-get install -y dovecot-imapd)"
    return None


@dataclass(frozen=True)
class ImapUser:
    name: str
    password: str

    def __repr__(self) -> str:
        return f"ImapUser({self.name!r})"


@dataclass(frozen=True)
class Stored:
    """One message as the server keeps it."""

    uid: int
    flags: frozenset[str]
    internaldate: str  # as the server says it: "07-Dec-2026 14:03:00 +0100"
    data: bytes


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind((LOCALHOST, 0))
        return int(sock.getsockname()[1])


_OAUTH2 = """\
introspection_mode = post
introspection_url = http://127.0.0.1:{port}/introspect
username_attribute = username
active_attribute = active
active_value = true
"""

_CONFIG = """\
# mailgui test server (tests/imap_server.py)
base_dir = {dir}/run
state_dir = {dir}/state
instance_name = mailgui-test-{tag}
log_path = {dir}/dovecot.log
info_log_path = {dir}/dovecot.log
protocols = imap
listen = 127.0.0.1
default_login_user = {login_user}
default_internal_user = {internal_user}
first_valid_uid = 0
first_valid_gid = 0
mail_uid = {uid}
mail_gid = {gid}
mail_location = maildir:~/Maildir
mail_plugins = quota
ssl = yes
ssl_cert = <{dir}/cert.pem
ssl_key = <{dir}/key.pem
ssl_min_protocol = TLSv1.2
disable_plaintext_auth = yes
auth_mechanisms = plain login xoauth2 oauthbearer
auth_cache_size = 0
auth_failure_delay = 0
login_greeting = mailgui test server ready
imap_max_line_length = 64k
shutdown_clients = yes

passdb {{
  driver = oauth2
  mechanisms = xoauth2 oauthbearer
  args = {dir}/oauth2.conf
}}
passdb {{
  driver = passwd-file
  mechanisms = plain login
  args = scheme=PLAIN username_format=%u {dir}/users/%d
}}
userdb {{
  driver = passwd-file
  args = username_format=%u {dir}/users/%d
  default_fields = home={dir}/home/%u
}}

namespace inbox {{
  inbox = yes
  separator = .
  mailbox Sent {{
    special_use = \\Sent
  }}
  mailbox Drafts {{
    special_use = \\Drafts
  }}
  mailbox "Mail I Sent" {{
    special_use = \\Sent
  }}
}}

plugin {{
  quota = count:User quota
  quota_vsizes = yes
  quota_max_mail_size = {max_mail_size}
}}

protocol imap {{
  mail_plugins = $mail_plugins imap_quota
}}

service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {starttls_port}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {tls_port}
    ssl = yes
  }}
  process_min_avail = 0
}}
service anvil {{
  chroot =
}}
service stats {{
  chroot =
}}
"""


class Dovecot:
    """A private Dovecot; :meth:`start` and :meth:`stop` may be called again (a test of
    "the server is down" stops it and starts it after)."""

    host = LOCALHOST

    def __init__(self, ca: trustme.CA, *, max_mail_size: int = 1024 * 1024) -> None:
        # A short path of our own: Dovecot's sockets (under base_dir) must fit in 108 bytes,
        # and mail processes running as a user other than root must reach the homes.
        self.directory = Path(tempfile.mkdtemp(prefix="mg-dovecot-"))
        os.chmod(self.directory, 0o755)
        self.max_mail_size = max_mail_size
        cert = ca.issue_cert("localhost", "127.0.0.1")
        cert.cert_chain_pems[0].write_to_path(str(self.directory / "cert.pem"))
        for pem in cert.cert_chain_pems[1:]:
            pem.write_to_path(str(self.directory / "cert.pem"), append=True)
        cert.private_key_pem.write_to_path(str(self.directory / "key.pem"))
        self.ca_file = str(self.directory / "ca.pem")
        ca.cert_pem.write_to_path(self.ca_file)
        (self.directory / "users").mkdir()
        (self.directory / "home").mkdir()
        self.config = self.directory / "dovecot.conf"
        self.starttls_port = 0
        self.tls_port = 0
        self._process: subprocess.Popen[bytes] | None = None
        self._users = itertools.count(1)
        self._lock = threading.Lock()
        if os.geteuid() == 0:
            # Dovecot refuses mail access as root: the mail processes run as nobody.
            login_user, internal_user = "dovenull", "dovecot"
            self.uid, self.gid = pwd.getpwnam("nobody").pw_uid, pwd.getpwnam("nobody").pw_gid
        else:  # an unprivileged run: everything as ourselves
            login_user = internal_user = pwd.getpwuid(os.geteuid()).pw_name
            self.uid, self.gid = os.geteuid(), os.getegid()
        self._login_user, self._internal_user = login_user, internal_user
        self._tokens = _Introspection()

    # --- running -----------------------------------------------------------------------

    def _write_config(self) -> None:
        (self.directory / "oauth2.conf").write_text(_OAUTH2.format(port=self._tokens.port))
        self.config.write_text(
            _CONFIG.format(
                dir=self.directory,
                tag=self.directory.name,
                login_user=self._login_user,
                internal_user=self._internal_user,
                uid=self.uid,
                gid=self.gid,
                starttls_port=self.starttls_port,
                tls_port=self.tls_port,
                max_mail_size=self.max_mail_size,
            )
        )

    def start(self) -> None:
        """Start (again) on the same ports, or on new free ones the first time."""
        if self._process is not None:
            return
        for attempt in range(3):
            if not self.starttls_port or attempt:
                self.starttls_port, self.tls_port = _free_port(), _free_port()
            self._write_config()
            process = subprocess.Popen(
                [DOVECOT or "dovecot", "-F", "-c", str(self.config)],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                start_new_session=True,
            )
            self._process = process
            try:
                until(
                    lambda p=process: p.poll() is not None or self._answers(),  # type: ignore[misc]
                    timeout=START_TIMEOUT,
                    what="Dovecot to listen",
                    interval=0.02,
                )
            except AssertionError:
                self._kill()
                raise
            if process.poll() is None:
                return
            self._process = None
            err = process.stderr.read().decode(errors="replace") if process.stderr else ""
            if "in use" not in err:
                raise RuntimeError(f"Dovecot did not start: {err.strip()}\n{self.log()}")
        raise RuntimeError("Dovecot could not get free ports")

    def _answers(self) -> bool:
        for port in (self.starttls_port, self.tls_port):
            try:
                with socket.create_connection((LOCALHOST, port), timeout=1):
                    pass
            except OSError:
                return False
        return True

    def stop(self) -> None:
        """``doveadm stop``; killed if it does not end within a few seconds."""
        process, self._process = self._process, None
        if process is None:
            return
        if process.poll() is None:
            with contextlib.suppress(OSError, subprocess.SubprocessError):
                subprocess.run(
                    [DOVEADM, "-c", str(self.config), "stop"],
                    stdin=subprocess.DEVNULL,
                    capture_output=True,
                    timeout=10,
                    check=False,
                )
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process = process
                self._kill()
        if process.stderr is not None:
            process.stderr.close()
        # Connections still open are refused from here on (the listeners are gone).
        until(lambda: not self._answers_any(), timeout=10, what="Dovecot's ports to close")

    def _answers_any(self) -> bool:
        for port in (self.starttls_port, self.tls_port):
            try:
                with socket.create_connection((LOCALHOST, port), timeout=1):
                    return True
            except OSError:
                pass
        return False

    def _kill(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
        if process.stderr is not None:
            process.stderr.close()

    def close(self) -> None:
        """Stop and remove the folder."""
        try:
            self.stop()
        finally:
            self._tokens.close()
            shutil.rmtree(self.directory, ignore_errors=True)

    def log(self) -> str:
        try:
            return (self.directory / "dovecot.log").read_text(errors="replace")
        except OSError:
            return ""

    # --- users -------------------------------------------------------------------------

    def add_user(
        self,
        folders: tuple[str, ...] = ("Sent",),
        *,
        password: str | None = None,
        quota: str | None = None,
        prefix: str = "u",
    ) -> ImapUser:
        """A new user with ``folders`` made (by their Unicode names). ``quota``: a storage
        limit such as ``"1k"``."""
        with self._lock:
            n = next(self._users)
        # A domain, and so a passwd-file, of its own: Dovecot looks at a passwd-file again
        # at most once a second, so a user added to a file read just now is not found.
        domain = f"d{n}-{os.getpid()}.test"
        name = f"{prefix}{n}@{domain}"
        user = ImapUser(name, password or f"pw-{n}-{os.urandom(4).hex()}")
        extra = f"userdb_quota_rule=*:storage={quota}" if quota else ""
        home = self.directory / "home" / name
        home.mkdir()
        os.chown(home, self.uid, self.gid)
        with open(self.directory / "users" / domain, "w", encoding="utf-8") as f:
            # user:password:uid:gid:gecos:home:shell:extra fields (uid, gid: mail_uid)
            f.write(f"{name}:{{PLAIN}}{user.password}::::{home}::{extra}\n")
        if folders:
            with self.client(user) as imap:
                for folder in folders:
                    typ, data = imap.create(_quoted(encode_utf7(folder)))
                    assert typ == "OK", (folder, data)
        return user

    def issue_token(self, user: ImapUser) -> str:
        """An OAuth2 access token for ``user`` that Dovecot's oauth2 passdb accepts (it asks
        this fixture's introspection endpoint, RFC 7662) until :meth:`revoke`."""
        token = f"at-{os.urandom(12).hex()}"
        self._tokens.active[token] = user.name
        return token

    def revoke(self, token: str) -> None:
        self._tokens.active.pop(token, None)

    @contextlib.contextmanager
    def client(self, user: ImapUser) -> Iterator[imaplib.IMAP4_SSL]:
        """The test's own look at a mailbox (IMAPS, logged in)."""
        context = ssl.create_default_context(cafile=self.ca_file)
        imap = imaplib.IMAP4_SSL(self.host, self.tls_port, ssl_context=context, timeout=10)
        try:
            if user.password.isascii():
                imap.login(user.name, user.password)
            else:
                token = f"\0{user.name}\0{user.password}".encode()
                imap.authenticate("PLAIN", lambda _: token)
            yield imap
        finally:
            with contextlib.suppress(imaplib.IMAP4.error, OSError):
                imap.logout()

    def messages(self, user: ImapUser, folder: str = "Sent") -> list[Stored]:
        """Everything in ``folder``, oldest first."""
        out: list[Stored] = []
        with self.client(user) as imap:
            typ, data = imap.select(_quoted(encode_utf7(folder)), readonly=True)
            assert typ == "OK", data
            typ, data = imap.uid("FETCH", "1:*", "(UID FLAGS INTERNALDATE BODY.PEEK[])")
            assert typ == "OK", data
            for item in cast("list[object]", data):  # typeshed leaves out the literals
                if not isinstance(item, tuple):
                    continue
                head = item[0].decode()
                out.append(
                    Stored(
                        uid=int(_between(head, "UID ", " ").strip(")")),
                        flags=frozenset(f.decode() for f in imaplib.ParseFlags(item[0])),
                        internaldate=_between(head, 'INTERNALDATE "', '"'),
                        data=item[1],
                    )
                )
        return out

    def folders(self, user: ImapUser) -> list[bytes]:
        with self.client(user) as imap:
            typ, data = imap.list()
            assert typ == "OK", data
            return [d for d in data if isinstance(d, bytes)]


class _Introspection:
    """RFC 7662 token introspection on 127.0.0.1, for Dovecot's oauth2 passdb: a token in
    ``active`` is the user it maps to; any other is inactive."""

    def __init__(self) -> None:
        self.active: dict[str, str] = {}
        active = self.active

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                size = int(self.headers.get("Content-Length") or 0)
                form = urllib.parse.parse_qs(self.rfile.read(size).decode())
                user = active.get(form.get("token", [""])[0])
                reply = {"active": True, "username": user} if user else {"active": False}
                data = json.dumps(reply).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self._server = http.server.ThreadingHTTPServer((LOCALHOST, 0), Handler)
        self._server.daemon_threads = True
        self.port = int(self._server.server_address[1])
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)


def _between(text: str, start: str, end: str) -> str:
    i = text.index(start) + len(start)
    j = text.find(end, i)
    return text[i : j if j >= 0 else len(text)]


def _quoted(name: str) -> str:
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def encode_utf7(name: str) -> str:
    """RFC 3501 5.1.3, written again here so the fixture does not trust mailgui's."""
    import base64

    out, pending = [], ""

    def flush() -> None:
        nonlocal pending
        if pending:
            b = base64.b64encode(pending.encode("utf-16-be")).decode().rstrip("=")
            out.append("&" + b.replace("/", ",") + "-")
            pending = ""

    for ch in name:
        if 0x20 <= ord(ch) <= 0x7E:
            flush()
            out.append("&-" if ch == "&" else ch)
        else:
            pending += ch
    flush()
    return "".join(out)


# --------------------------------------------------------------------------------------------
# RecordingProxy: what the client really sent, and a server that lies about STARTTLS
# --------------------------------------------------------------------------------------------


_loopbacks = itertools.count(2)


def _next_loopback() -> str:
    """127.0.0.2, 127.0.0.3...: Linux answers for all of 127/8 on lo."""
    n = next(_loopbacks)
    return f"127.0.{n // 250}.{n % 250 + 2}"


@dataclass
class RecordingProxy:
    """A TCP relay on 127.0.0.1 to ``target``, recording the bytes each way.

    ``rewrite`` changes what the server says before the client gets it (only while the
    connection is still plaintext, i.e. before the client's TLS ClientHello), e.g. to take
    STARTTLS out of the capabilities; ``rewrite_client`` the same for what the client says.

    The relay connects from ``source`` (another 127.x address, by default one of its own):
    Dovecot delays every login from an address that failed to log in (anvil's penalty,
    up to 15 s), so a test of a wrong password goes through a proxy and slows no other.
    From an address other than 127.0.0.1 Dovecot does not count the connection as secure:
    it offers no login before STARTTLS (LOGINDISABLED), as a server elsewhere would.
    """

    target: tuple[str, int]
    rewrite: Callable[[bytes], bytes] | None = None
    rewrite_client: Callable[[bytes], bytes] | None = None
    sent: bytearray = field(default_factory=bytearray)  # client → server
    received: bytearray = field(default_factory=bytearray)  # server → client (as relayed)
    port: int = 0
    source: str = field(default_factory=lambda: _next_loopback())

    def __post_init__(self) -> None:
        self._listener = socket.socket()
        self._listener.bind((LOCALHOST, 0))
        self._listener.listen(4)
        self.port = self._listener.getsockname()[1]
        self._tls_started = threading.Event()
        self._threads: list[threading.Thread] = []
        self._sockets: list[socket.socket] = []
        self._closed = False
        thread = threading.Thread(target=self._accept, daemon=True)
        thread.start()
        self._threads.append(thread)

    @property
    def plaintext_sent(self) -> bytes:
        """What the client sent before its TLS handshake began (all of it without TLS)."""
        data = bytes(self.sent)
        hello = data.find(b"\x16\x03")
        return data if hello < 0 else data[:hello]

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            try:
                server = socket.create_connection(
                    self.target, timeout=10, source_address=(self.source, 0)
                )
            except OSError:
                client.close()
                continue
            self._sockets += [client, server]
            for a, b, up in ((client, server, True), (server, client, False)):
                t = threading.Thread(target=self._pump, args=(a, b, up), daemon=True)
                t.start()
                self._threads.append(t)

    def _pump(self, src: socket.socket, dst: socket.socket, up: bool) -> None:
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                if up:
                    if not self._tls_started.is_set() and b"\x16\x03" in data:
                        self._tls_started.set()
                    elif not self._tls_started.is_set() and self.rewrite_client:
                        data = self.rewrite_client(data)
                    self.sent += data
                else:
                    if not self._tls_started.is_set() and self.rewrite:
                        data = self.rewrite(data)
                    self.received += data
                dst.sendall(data)
        except OSError:
            pass
        finally:
            with contextlib.suppress(OSError):
                dst.shutdown(socket.SHUT_WR)

    def close(self) -> None:
        self._closed = True
        # shutdown() wakes the threads blocked in accept() and recv(); close() alone does not.
        for sock in [self._listener, *self._sockets]:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()
        deadline = time.monotonic() + 5
        for t in self._threads:
            t.join(max(0.0, deadline - time.monotonic()))
