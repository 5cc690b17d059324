"""One SMTP session with smtplib, safe by default.

- Certificates are always verified (``ssl.create_default_context``; the account's
  ``ca_file`` replaces the system store when set). smtplib's own default context
  verifies nothing, so it is never used.
- ``starttls``: no STARTTLS offered, or a failed handshake, is an error before any
  AUTH or MAIL; EHLO is sent again afterwards and only the new capabilities count.
- AUTH happens only inside TLS. Replies that came before STARTTLS (anyone on the path
  can write them) are never shown and never fail a message for good.
- Every reply has one deadline (the account's timeout; for the reply to the final dot the
  longer ``data_timeout``), a size limit, and must look like an SMTP reply (``_Replies``).
- The message body goes out in chunks so callers can show progress: after DATA
  (dot-stuffed here), or as one ``BDAT <size> LAST`` (RFC 3030) where the server offers
  CHUNKING, which with PIPELINING sends a whole message in one round trip. Without
  CHUNKING the next message's envelope rides behind the final dot (``send``'s
  ``then``), which is one round trip a message too.
"""

from __future__ import annotations

import base64
import re
import smtplib
import socket
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import NamedTuple, NoReturn

from mailgui.core.accounts import Account
from mailgui.core.credentials import Login, as_login
from mailgui.core.errors import (
    AuthError,
    DeliveryError,
    PermanentError,
    SecurityError,
    ServerTimeoutError,
    TransientError,
    describe_os_error,
)
from mailgui.core.hints import Hint, Said
from mailgui.core.log import get_logger
from mailgui.core.retry import Reply
from mailgui.core.sasl import ACKNOWLEDGE, OAUTH_MECHANISMS, oauth_payload, refusal_reason
from mailgui.core.sizes import human_size

CHUNK = 64 * 1024
# With CHUNKING and PIPELINING, a message up to this size goes out with its envelope
# before any reply (one round trip); a bigger one only once MAIL and RCPT are accepted
# (two), so a refused recipient does not cost its whole upload. At 1 MiB the round trip
# saved (20–100 ms on a slow link) is worth about what a refusal would waste on a
# 10–40 Mbit/s uplink (0.2–0.8 s, and refusals are rare), and the messages of a backlog
# (text, a photo or two) are far below it.
BDAT_AT_ONCE = 1024 * 1024
Progress = Callable[[int, int], None]
MAX_REPLY = 64 * 1024  # bytes in one reply, all its lines together (an EHLO is < 1 kB)
_REPLY_LINE = re.compile(rb"[2-5][0-9][0-9]([ -]|\r?\n)")
# Advice for certificate failures by OpenSSL verify code; others: a private CA.
_CERT_ADVICE = {
    9: "check the date and time of this computer",  # not yet valid
    10: "the server's certificate has run out: tell its administrator, and check the date "
    "and time of this computer",
    62: "check the host name: the certificate was made for other names",  # hostname mismatch
    64: "check the host name: the certificate was made for other addresses",  # IP mismatch
}

log = get_logger("mailgui.transport")


class ProtocolError(smtplib.SMTPException):
    """The server sent something that is not an SMTP reply (RFC 5321 §4.2)."""


class _Replies(smtplib.SMTP):
    """smtplib's reply reader, bounded (``getreply`` is smtplib's only read path).

    smtplib reads through a buffered file with one timeout per recv() and no limit on
    the number of lines, so a server sending one byte at a time, or an endless reply,
    holds a client for ever. Here each reply gets one deadline (the socket's timeout
    when the reply starts), at most MAX_REPLY bytes, and only reply-shaped lines; a
    reply cut off by the server closing is a lost connection, never a reply.

    The read buffer belongs to one socket object: bytes that came with the plaintext
    "220 ready" to STARTTLS are dropped with the plaintext socket and can never be read
    as replies inside TLS (the NO STARTTLS "response injection").
    """

    _rsock: socket.socket | None = None
    _rbuf = b""

    def buffered(self) -> int:
        """Bytes read but not yet used (of the current socket)."""
        return len(self._rbuf) if self._rsock is self.sock else 0

    def getreply(self) -> tuple[int, bytes]:
        sock = self.sock
        if sock is None:
            raise smtplib.SMTPServerDisconnected("please run connect() first")
        if self._rsock is not sock:
            self._rsock, self._rbuf = sock, b""
        budget = sock.gettimeout()
        deadline = None if budget is None else time.monotonic() + budget
        lines: list[bytes] = []
        size = 0
        try:
            while True:
                line = self._readline(sock, deadline)
                size += len(line)
                if not _REPLY_LINE.match(line) or size > MAX_REPLY:
                    self.close()
                    what = "a reply over 64 kB" if size > MAX_REPLY else "a line"
                    raise ProtocolError(f"{what} that is not an SMTP reply")
                lines.append(line[4:].strip(b" \t\r\n"))
                if line[3:4] != b"-":
                    return int(line[:3]), b"\n".join(lines)
        except smtplib.SMTPException:
            raise
        except OSError as exc:  # as smtplib does: the cause (a timeout) stays the context
            self.close()
            raise smtplib.SMTPServerDisconnected(f"Connection unexpectedly closed: {exc}") from exc
        finally:
            try:
                sock.settimeout(budget)
            except OSError:
                pass

    def _readline(self, sock: socket.socket, deadline: float | None) -> bytes:
        while (end := self._rbuf.find(b"\n")) < 0:
            if len(self._rbuf) > smtplib._MAXLINE:  # type: ignore[attr-defined]
                self.close()
                raise ProtocolError("a line over 8 kB that is not an SMTP reply")
            if deadline is not None:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError("timed out")
                sock.settimeout(remaining)
            _quick_ack(sock)
            chunk = sock.recv(8192)
            if not chunk:
                self.close()
                raise smtplib.SMTPServerDisconnected("Connection unexpectedly closed")
            self._rbuf += chunk
        line, self._rbuf = self._rbuf[: end + 1], self._rbuf[end + 1 :]
        return line


def _quick_ack(sock: socket.socket) -> None:
    """Acknowledge what arrives at once (Linux; the flag does not stick, so it is set
    before each read). With PIPELINING a server may write its replies to MAIL, RCPT and
    DATA one by one; one that leaves Nagle on holds the second back until our ACK, which
    the kernel otherwise delays by ~40 ms: measured against aiosmtpd, 43 ms per message."""
    if _TCP_QUICKACK is not None:
        try:
            sock.setsockopt(socket.IPPROTO_TCP, _TCP_QUICKACK, 1)
        except OSError:
            pass  # only a matter of speed


_TCP_QUICKACK: int | None = getattr(socket, "TCP_QUICKACK", None)


class _SMTP(_Replies):
    pass


class _SMTP_SSL(_Replies, smtplib.SMTP_SSL):
    pass


class Envelope(NamedTuple):
    """What a server is told of a message before its data: written ahead, behind the
    final dot of the message before (``Session.send``'s ``then``)."""

    sender: str
    recipients: tuple[str, ...]
    size: int
    smtputf8: bool = False


@dataclass
class SessionInfo:
    """What we learnt about the server; shown by ``account test`` and the GUI."""

    host: str
    port: int
    security: str
    # With starttls the greeting comes before encryption: anyone on the path can write
    # it, so it only tells "the server answered" and is never shown (nor in errors).
    greeting: str = ""
    tls_version: str | None = None
    cipher: str | None = None
    cert_subject: str | None = None
    cert_issuer: str | None = None
    features: dict[str, str] = field(default_factory=dict)
    size_limit: int | None = None
    authenticated_as: str | None = None


@dataclass
class SendResult:
    accepted: list[str]
    refused: dict[str, Reply]
    reply: Reply | None  # the reply to the final dot; None when no recipient was accepted


def _name(cert_part: object) -> str | None:
    """'CN=mail.example.org, O=Example' from getpeercert()'s nested tuples."""
    if not isinstance(cert_part, tuple):
        return None
    items = [f"{k}={v}" for rdn in cert_part for (k, v) in rdn]
    return ", ".join(items) or None


def _seconds(n: float) -> str:
    return f"{n:g} second" + ("" if n == 1 else "s")


def _address_literal(sock: socket.socket | None) -> str:
    """Our EHLO name: the address literal of our end (RFC 5321 §4.1.3). It tells the
    server nothing it does not already know, unlike the machine's host name."""
    try:
        ip = sock.getsockname()[0] if sock is not None else "127.0.0.1"
    except OSError:
        ip = "127.0.0.1"
    return f"[IPv6:{ip}]" if ":" in ip else f"[{ip}]"


def _no_delay(sock: socket.socket | None) -> None:
    """Switch Nagle off: the final "." follows the body in a second small write, and
    would otherwise wait for the server's delayed ACK (~40 ms per message)."""
    try:
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    except OSError:
        pass  # only a matter of speed


def _untrusted(reply: Reply) -> str:
    """A reply received before encryption, for people: its code only. Anyone on the path
    can write those words ("your account is locked, call ..."), so they are not shown."""
    code = " ".join(p for p in (str(reply.code), reply.enhanced) if p)
    return f"{code}; its words came before encryption, so they are not shown"


def _without_secret(said: bytes | str, user: str, password: str | None) -> bytes:
    """Server words with the password blanked out, raw or as an AUTH payload."""
    data = said.encode("utf-8", "replace") if isinstance(said, str) else said
    if not password:
        return data
    pw = password.encode("utf-8")
    plain = base64.b64encode(b"\0" + user.encode("utf-8") + b"\0" + pw)
    for form in sorted({pw, base64.b64encode(pw), plain, plain.rstrip(b"=")}, key=len)[::-1]:
        data = data.replace(form, b"[password]")
    return data


_LINE_START_DOT = re.compile(rb"\n\.")


def _crlf_terminated(data: bytes) -> bytes:
    """``data`` ending in CRLF, as smtplib's sendmail() makes it: the final dot needs a
    line of its own, and with BDAT the size sent must be that of the bytes sent. Messages
    from the outbox already end so (``outgoing.wire_problem``); this copies only others."""
    return data if not data or data.endswith(b"\r\n") else data + b"\r\n"


def _group(lines: list[str]) -> str:
    """Commands to write at once (RFC 2920's group), each ended by CRLF."""
    return "".join(f"{line}\r\n" for line in lines)


def _then(what: str, hint: Hint | None) -> str | Said:
    """``what`` as a sentence, followed by ``hint`` as a sentence of its own if any."""
    return f"{what}." if hint is None else Said(what, hint, ". ")


def _line_start_dots(data: bytes) -> int:
    """How many lines of ``data`` start with a dot, counted a megabyte at a time."""
    count = int(data[:1] == b".")
    step = 1024 * 1024
    for start in range(0, len(data), step):
        # [start, start + step + 1): each "\n." is counted in the slice where its "\n" is
        count += data.count(b"\n.", start, min(start + step + 1, len(data)))
    return count


def _dot_stuffed(data: bytes, start: int, size: int) -> bytes:
    """``data[start:start + size]`` with a dot added before every line that starts with
    one (RFC 5321 4.5.2), as ``re.sub(rb"(?m)^\\.", b"..", data)`` would do there."""
    piece = _LINE_START_DOT.sub(b"\n..", data[start : start + size])
    if piece[:1] == b"." and (start == 0 or data[start - 1] == 0x0A):
        piece = b"." + piece
    return piece


class Session:
    """An SMTP connection for one account. Use as a context manager."""

    def __init__(
        self, account: Account, login: Login | str | None, *, local_hostname: str | None = None
    ) -> None:
        """``login``: what to sign in with (a bare string is a password); None when the
        account has no user name or nothing is stored for it."""
        self.account = account
        self._credential = as_login(account, login)
        self._local_hostname = local_hostname
        self._smtp: smtplib.SMTP | None = None
        # The envelope written behind the last final dot, its replies not read yet.
        self._ahead: Envelope | None = None
        self.info = SessionInfo(account.host, account.port, account.security)
        # Whether replies can be shown and believed: not before STARTTLS has succeeded.
        self._trusted = account.security != "starttls"

    @property
    def where(self) -> str:
        return f"{self.account.host}:{self.account.port}"

    # --- opening -------------------------------------------------------------------

    def _context(self) -> ssl.SSLContext:
        try:
            ctx = ssl.create_default_context(cafile=self.account.ca_file or None)
        except (OSError, ssl.SSLError) as exc:
            raise SecurityError(
                f"The CA file {self.account.ca_file!r} could not be loaded ({exc}); "
                "give a PEM file with the server's CA certificate."
            ) from None
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        return ctx

    def open(self) -> SessionInfo:
        """Connect, greet, secure and log in; raises a DeliveryError subclass."""
        acct = self.account
        try:
            # A placeholder name keeps smtplib from a slow socket.getfqdn() lookup.
            if acct.security == "tls":
                smtp: smtplib.SMTP = _SMTP_SSL(
                    local_hostname="localhost", timeout=acct.timeout, context=self._context()
                )
            else:
                smtp = _SMTP(local_hostname="localhost", timeout=acct.timeout)
            self._smtp = smtp
            smtp._host = acct.host  # type: ignore[attr-defined]  # SMTP_SSL's SNI and check
            code, greeting = smtp.connect(acct.host, acct.port)
            _no_delay(smtp.sock)
            smtp.local_hostname = self._local_hostname or _address_literal(smtp.sock)
            self.info.greeting = Reply.parse(code, greeting).text
            if code != 220:
                self._fail(
                    Reply.parse(code, greeting),
                    f"The server at {self.where} refused the connection",
                    lost=True,
                )
            self._ehlo()
            if acct.security == "starttls":
                self._starttls()
                # From here replies count: inside TLS, or in a plaintext that a subclass
                # chose knowingly (direct.OpportunisticSession, to an MX without TLS).
                self._trusted = True
            self._record_tls()
            if acct.auth != "none":
                self._login()
        except DeliveryError:
            self.close()
            raise
        except BaseException as exc:
            self.close()
            self._raise_from(exc, "connecting")
        return self.info

    def _ehlo(self) -> None:
        assert self._smtp is not None
        code, resp = self._smtp.ehlo()
        if code != 250:
            if self.account.security == "none" and not self.account.username:
                code, resp = self._smtp.helo()
                if code == 250:
                    return
            self._fail(Reply.parse(code, resp), f"The server at {self.where} refused EHLO")
        features = dict(self._smtp.esmtp_features)
        self.info.features = features
        size = features.get("size", "").strip()
        self.info.size_limit = int(size) if size.isdigit() and int(size) > 0 else None

    def _starttls(self) -> None:
        smtp = self._smtp
        assert smtp is not None
        if not smtp.has_extn("starttls"):
            raise SecurityError(
                Said(
                    f"The server at {self.where} did not offer encryption (STARTTLS), so "
                    "nothing was sent",
                    Hint("check-security", self.account.name),
                )
            )
        context = self._context()
        code, resp = smtp.docmd("STARTTLS")
        if code != 220:
            reply = Reply.parse(code, resp)
            raise SecurityError(  # its words came unencrypted: only the code is shown
                f"The server at {self.where} did not start encryption (it answered STARTTLS "
                f"with {_untrusted(reply)}), so nothing was sent; try again later or check "
                "the security settings.",
                code=reply.code,
                enhanced=reply.enhanced,
            )
        assert smtp.sock is not None
        if isinstance(smtp, _Replies) and smtp.buffered():
            # Bytes sent along with "220 ready" can only be an injection: dropped with
            # the plaintext socket below (see _Replies), never read inside TLS.
            log.warning("dropped %d bytes sent with the STARTTLS reply", smtp.buffered())
        smtp.sock = context.wrap_socket(smtp.sock, server_hostname=self.account.host)
        smtp.file = None
        self._trusted = True
        # Forget everything said before TLS (RFC 3207 §4.2) and ask again.
        smtp.helo_resp = None
        smtp.ehlo_resp = None
        smtp.esmtp_features = {}
        smtp.does_esmtp = False
        self._ehlo()

    def _record_tls(self) -> None:
        sock = self._smtp.sock if self._smtp else None
        if isinstance(sock, ssl.SSLSocket):
            self.info.tls_version = sock.version()
            cipher = sock.cipher()
            self.info.cipher = cipher[0] if cipher else None
            cert = sock.getpeercert() or {}
            self.info.cert_subject = _name(cert.get("subject"))
            self.info.cert_issuer = _name(cert.get("issuer"))

    def _login(self) -> None:
        smtp = self._smtp
        assert smtp is not None
        acct = self.account
        if not isinstance(smtp.sock, ssl.SSLSocket):
            raise SecurityError(  # guarded by Account.validate too; never send it in clear
                Said(
                    f"Account {acct.name!r} would send its password unencrypted, so mailgui "
                    "stopped",
                    Hint("needs-encryption", acct.name),
                )
            )
        login = self._credential
        oauth2 = acct.auth == "oauth2"
        if login is None:
            raise AuthError(
                Said(f"Account {acct.name!r} is not signed in", Hint("sign-in", acct.name))
                if oauth2
                else Said(
                    f"No password is stored for account {acct.name!r}",
                    Hint("set-password", acct.name),
                )
            )
        if not smtp.has_extn("auth"):
            raise AuthError(
                f"The server at {self.where} does not offer authentication (AUTH); check "
                "the server and port, or remove the user name if it is an open relay."
            )
        try:
            if login.mechanism == "oauth2":
                self._auth_oauth2(smtp, login)
            elif oauth2:  # never a password mechanism for an account that uses OAuth2
                raise smtplib.SMTPException("the account signs in with OAuth2, not a password")
            else:
                self._auth(smtp, login.user, login.secret)
        except smtplib.SMTPAuthenticationError as exc:
            # A server may quote the credentials back; they must not reach the outbox,
            # the log or the screen.
            said = _without_secret(exc.smtp_error, login.user, login.secret)
            reply = Reply.parse(exc.smtp_code, said)
            if 400 <= reply.code < 500:
                what = "the access token" if oauth2 else "the password"
                self._fail(reply, f"The server at {self.where} could not check {what}")
            raise AuthError(
                Said(
                    f"The server at {self.where} refused the sign-in ({reply})",
                    acct.login_fix,
                )
                if oauth2
                else Said(
                    f"The server at {self.where} refused the user name or password ({reply})",
                    acct.login_fix,
                ),
                code=reply.code,
                enhanced=reply.enhanced,
                reply=reply.text,
            ) from None
        except smtplib.SMTPException as exc:
            if isinstance(exc, smtplib.SMTPServerDisconnected):
                raise
            raise AuthError(
                f"Logging in to {self.where} failed ({exc}); check the account settings."
            ) from None
        self.info.authenticated_as = login.user

    def _auth_oauth2(self, smtp: smtplib.SMTP, login: Login) -> None:
        """Sign in with an OAuth2 access token: OAUTHBEARER or XOAUTH2, whichever the
        server offers (after STARTTLS), with the token as the initial response. A
        refused token first comes back as a challenge with a JSON error, which is
        acknowledged to get the final reply (Gmail; RFC 7628 §3.2.3)."""
        offered = smtp.esmtp_features.get("auth", "").upper().split()
        mechanism = next((m for m in OAUTH_MECHANISMS if m in offered), None)
        if mechanism is None:
            raise smtplib.SMTPException(
                "the server does not offer OAuth2 sign-in (XOAUTH2 or OAUTHBEARER), only "
                + (" ".join(offered) or "nothing")
            )
        payload = oauth_payload(
            mechanism, login.user, login.secret, self.account.host, self.account.port
        )
        code, resp = smtp.docmd("AUTH", f"{mechanism} {base64.b64encode(payload).decode()}")
        if code == 334:
            try:
                reason = refusal_reason(base64.b64decode(resp, validate=True))
            except ValueError:
                reason = ""
            code, resp = smtp.docmd(base64.b64encode(ACKNOWLEDGE[mechanism]).decode())
            if reason and code >= 500:
                resp = resp + f" ({reason})".encode()
        if code not in (235, 503):
            raise smtplib.SMTPAuthenticationError(code, resp)
        log.info("signed in to %s with %s", self.where, mechanism)

    @staticmethod
    def _auth(smtp: smtplib.SMTP, user: str, password: str) -> None:
        """Log in with ONE mechanism, PLAIN or LOGIN, with UTF-8 credentials (RFC 4616).

        smtplib's login() tries every offered mechanism in turn (a wrong password then
        counts as several failures at the provider) and encodes credentials as ASCII
        (a non-ASCII password would crash), so the exchange is done here."""
        offered = smtp.esmtp_features.get("auth", "").upper().split()

        def b64(data: bytes) -> str:
            return base64.b64encode(data).decode("ascii")

        if "PLAIN" in offered:
            token = b"\0" + user.encode("utf-8") + b"\0" + password.encode("utf-8")
            code, resp = smtp.docmd("AUTH", "PLAIN " + b64(token))
        elif "LOGIN" in offered:
            code, resp = smtp.docmd("AUTH", "LOGIN " + b64(user.encode("utf-8")))
            if code == 334:
                code, resp = smtp.docmd(b64(password.encode("utf-8")))
        else:
            raise smtplib.SMTPException(
                f"the server offers no login method mailgui knows ({' '.join(offered)})"
            )
        if code not in (235, 503):  # 503: already authenticated
            raise smtplib.SMTPAuthenticationError(code, resp)

    # --- sending ---------------------------------------------------------------------

    def send(
        self,
        envelope_from: str,
        recipients: list[str],
        data: bytes,
        *,
        smtputf8: bool = False,
        progress: Progress | None = None,
        then: Envelope | None = None,
    ) -> SendResult:
        """One transaction. Refused recipients are returned, not raised; a refusal of
        the whole message raises TransientError or PermanentError with the reply.

        With CHUNKING (RFC 3030) the body goes out as one ``BDAT <size> LAST``, exactly
        as given. Else it follows ``DATA``, dot-stuffed, and with PIPELINING the final
        dot carries ``then``'s envelope (the message that comes next: MAIL, RCPT and
        DATA; RFC 2920 §3.1 lets the content begin a group), whose replies the next
        ``send`` finds waiting: one round trip a message. Either way no byte of the next
        message's data is written before this one's final reply is read, so after a
        crash only the message whose final reply was outstanding can be in doubt (an
        envelope whose data never ended delivers nothing, RFC 5321 §4.1.4)."""
        data = _crlf_terminated(data)
        self.expect(Envelope(envelope_from, tuple(recipients), len(data), smtputf8))
        smtp = self._smtp
        if smtp is None or smtp.sock is None:
            raise TransientError("The connection is closed.", connection_lost=True)
        written, self._ahead = self._ahead is not None, None
        options = self._mail_options(smtp, len(data), smtputf8)
        chunking = smtp.has_extn("chunking")
        try:
            if chunking and smtp.has_extn("pipelining") and len(data) <= BDAT_AT_ONCE:
                return self._send_at_once(smtp, envelope_from, recipients, data, options, progress)
            accepted, refused, data_reply = self._envelope(
                smtp, envelope_from, recipients, options, None if chunking else "DATA", written
            )
            if not accepted:
                self._rset()
                return SendResult([], refused, None)
            if chunking:
                reply = self._chunk(data, progress)
            else:
                code, resp = smtp.docmd("DATA") if data_reply is None else data_reply
                if code != 354:
                    self._rset()
                    self._fail(Reply.parse(code, resp), "The server refused the message")
                reply = self._transmit(data, progress, then)
        except DeliveryError:
            raise
        except BaseException as exc:
            self._raise_from(exc, "sending")
        if reply.code != 250:
            if chunking:  # a failed BDAT leaves the transaction open (RFC 3030 §2)
                self._rset()
            self._fail(reply, "The server refused the message")
        return SendResult(accepted, refused, reply)

    def expect(self, following: Envelope | None) -> bool:
        """Say which message comes next (None: none). An envelope written ahead for
        another one (the outbox changed in between: another sender took that message,
        or it was deleted or held back) is withdrawn: its replies are read, and a server
        waiting for its data gets the connection closed, which drops the transaction
        (RFC 5321 §4.1.4); else RSET. The caller then opens a new connection. True when
        an envelope was withdrawn."""
        ahead = self._ahead
        if ahead is None or ahead == following:
            return False
        self._ahead = None
        smtp = self._smtp
        if smtp is None or smtp.sock is None:
            return True
        try:
            *_, data = self._pipelined_replies(smtp, len(ahead.recipients), "DATA")
        except (smtplib.SMTPException, OSError):
            self._hang_up()
            return True
        if data is None or data[0] in (354, 421):  # no data reply: a 421 stopped the reading
            self._hang_up()
        else:
            self._rset()
        return True

    @property
    def writes_ahead(self) -> bool:
        """Whether ``send`` writes a ``then`` envelope behind the final dot: the server
        pipelines and takes the body after DATA (with CHUNKING a message is one round
        trip already)."""
        smtp = self._smtp
        return smtp is not None and smtp.has_extn("pipelining") and not smtp.has_extn("chunking")

    def _ahead_commands(self, smtp: smtplib.SMTP, then: Envelope | None) -> bytes:
        """``then``'s MAIL, RCPT and DATA, to write behind a final dot: nothing when the
        server does not pipeline, takes BDAT, or would refuse them before reading."""
        if then is None or not then.recipients or not self.writes_ahead:
            return b""
        try:
            options = self._mail_options(smtp, then.size, then.smtputf8)
            lines = self._commands(smtp, then.sender, list(then.recipients), options)
            return _group([*lines, "DATA"]).encode(smtp.command_encoding)
        except (DeliveryError, ValueError):  # UnicodeEncodeError too: its send says why
            return b""

    def _mail_options(self, smtp: smtplib.SMTP, size: int, smtputf8: bool) -> list[str]:
        """MAIL FROM's parameters; raises when the server cannot take the message."""
        limit = self.info.size_limit
        if limit is not None and size > limit:
            raise PermanentError(
                f"The message is {human_size(size)} but the server at {self.where} accepts at "
                f"most {human_size(limit)}; remove or shrink attachments and send it again.",
                code=552,
                enhanced="5.3.4",
                reply="Message too big for system",
            )
        options = []
        if smtp.has_extn("size"):
            options.append(f"SIZE={size}")
        if smtputf8:
            if not smtp.has_extn("smtputf8"):
                raise PermanentError(
                    f"An address in this message has non-ASCII characters before the '@' and "
                    f"the server at {self.where} does not support them (SMTPUTF8); "
                    "ask for an ASCII address."
                )
            options.append("SMTPUTF8")
        return options

    def _envelope(
        self,
        smtp: smtplib.SMTP,
        envelope_from: str,
        recipients: list[str],
        options: list[str],
        then: str | None,
        written: bool = False,
    ) -> tuple[list[str], dict[str, Reply], tuple[int, bytes] | None]:
        """MAIL and every RCPT (pipelined with ``then`` when the server allows it; already
        ``written`` behind the previous message's final dot), their replies checked:
        accepted and refused recipients, and ``then``'s reply if sent."""
        rcpt_replies: list[tuple[int, bytes]] | None = None
        then_reply: tuple[int, bytes] | None = None
        if smtp.has_extn("pipelining"):
            if not written:
                lines = self._commands(smtp, envelope_from, recipients, options)
                smtp.send(_group([*lines, *([then] if then else [])]))
            mail_reply, rcpt_replies, then_reply = self._pipelined_replies(
                smtp, len(recipients), then
            )
        else:
            mail_reply = smtp.mail(envelope_from, options)
        self._check_sender(mail_reply)
        accepted, refused = self._sort_recipients(smtp, recipients, rcpt_replies)
        return accepted, refused, then_reply

    def _check_sender(self, mail_reply: tuple[int, bytes]) -> None:
        code, resp = mail_reply
        if code != 250:
            self._rset()
            self._fail(Reply.parse(code, resp), "The server refused the sender")

    def _sort_recipients(
        self,
        smtp: smtplib.SMTP,
        recipients: list[str],
        replies: list[tuple[int, bytes]] | None,
    ) -> tuple[list[str], dict[str, Reply]]:
        """Accepted and refused recipients, from ``replies`` (pipelined) or by sending
        RCPT for each now. A 421 ends the session (a list of replies stops there)."""
        accepted: list[str] = []
        refused: dict[str, Reply] = {}
        for i, rcpt in enumerate(recipients):
            code, resp = smtp.rcpt(rcpt) if replies is None else replies[i]
            if code in (250, 251):
                accepted.append(rcpt)
            elif code == 421:
                self._fail(Reply.parse(code, resp), "The server closed the connection")
            else:
                refused[rcpt] = Reply.parse(code, resp)
        return accepted, refused

    @staticmethod
    def _commands(
        smtp: smtplib.SMTP, envelope_from: str, recipients: list[str], options: list[str]
    ) -> list[str]:
        """MAIL and RCPT lines; refuses CR or LF in an address (command injection)."""
        if any(o.lower() == "smtputf8" for o in options):
            smtp.command_encoding = "utf-8"  # as smtplib's mail() does
        extra = " " + " ".join(options) if options else ""
        lines = [f"MAIL FROM:{smtplib.quoteaddr(envelope_from)}{extra}"]
        lines += [f"RCPT TO:{smtplib.quoteaddr(rcpt)}" for rcpt in recipients]
        if any("\r" in line or "\n" in line for line in lines):  # as smtplib's putcmd()
            raise ValueError("command arguments contain prohibited newline characters")
        return lines

    @staticmethod
    def _pipelined_replies(
        smtp: smtplib.SMTP, recipients: int, then: str | None
    ) -> tuple[tuple[int, bytes], list[tuple[int, bytes]], tuple[int, bytes] | None]:
        """The replies to MAIL, ``recipients`` RCPTs and ``then`` (DATA, or nothing
        before a BDAT) written in one group (RFC 2920; only when the server offers
        PIPELINING): one round trip for the envelope instead of one per command. Nothing
        is delivered before the final dot, which still waits for DATA's 354. Reading
        stops at a 421 (the server is closing)."""
        mail = smtp.getreply()
        rcpts: list[tuple[int, bytes]] = []
        if mail[0] == 421:
            return mail, rcpts, None
        for _ in range(recipients):
            rcpts.append(smtp.getreply())
            if rcpts[-1][0] == 421:
                return mail, rcpts, None
        if then is None:
            return mail, rcpts, None
        data = smtp.getreply()
        if data[0] == 354 and (mail[0] != 250 or not any(c in (250, 251) for c, _ in rcpts)):
            # A server that says "go ahead" with no sender or no recipient: hang up rather
            # than end an empty message (RFC 2920 §3.1's way), so nothing at all can be
            # delivered; the next message opens a new connection.
            smtp.close()
        return mail, rcpts, data

    def _send_at_once(
        self,
        smtp: smtplib.SMTP,
        envelope_from: str,
        recipients: list[str],
        data: bytes,
        options: list[str],
        progress: Progress | None,
    ) -> SendResult:
        """MAIL, every RCPT and ``BDAT <size> LAST`` with the body in one go, then the
        replies in order (RFC 3030 §4.2 with PIPELINING): one round trip a message.

        A refused sender or recipient costs nothing but the upload: a server reads and
        throws away a chunk that has no transaction or no recipient, and answers the
        BDAT with an error. Every reply comes after the body is out, so losing any of
        them means "maybe delivered"."""
        lines = self._commands(smtp, envelope_from, recipients, options)
        lines.append(f"BDAT {len(data)} LAST")
        head = _group(lines).encode(smtp.command_encoding)
        self._write_body(head, data, progress)
        replies = [self._final_reply()]  # MAIL's
        while len(replies) < len(recipients) + 2 and replies[-1][0] != 421:
            replies.append(self._final_reply())
        self._check_sender(replies[0])
        accepted, refused = self._sort_recipients(smtp, recipients, replies[1:])
        if not accepted:
            self._rset()
            return SendResult([], refused, None)
        reply = Reply.parse(*replies[-1])
        if reply.code != 250:
            self._rset()  # a failed BDAT leaves the transaction open (RFC 3030 §2)
            self._fail(reply, "The server refused the message")
        return SendResult(accepted, refused, reply)

    def _chunk(self, data: bytes, progress: Progress | None) -> Reply:
        """``BDAT <size> LAST`` and the body, exactly as given (no dot-stuffing), once
        the envelope has been accepted; the final reply."""
        self._write_body(f"BDAT {len(data)} LAST\r\n".encode("ascii"), data, progress)
        return Reply.parse(*self._final_reply())

    def _write_body(self, head: bytes, data: bytes, progress: Progress | None) -> None:
        """``head`` (commands), then ``data`` exactly, in CHUNK pieces so callers can
        show progress; the commands ride with the first piece: a small message goes out
        in one write (and TLS record)."""
        smtp = self._smtp
        assert smtp is not None
        for start in range(0, len(data), CHUNK):
            smtp.send((head if start == 0 else b"") + data[start : start + CHUNK])
            if progress:
                progress(min(start + CHUNK, len(data)), len(data))
        if not data:
            smtp.send(head)

    def _transmit(self, data: bytes, progress: Progress | None, then: Envelope | None) -> Reply:
        """The body after DATA's 354, then the final dot with ``then``'s envelope (see
        ``send``); the final reply."""
        smtp = self._smtp
        assert smtp is not None and smtp.sock is not None
        behind = self._ahead_commands(smtp, then)
        # Dot-stuffed piece by piece: one re.sub over a 35 MB message copies it whole and
        # holds the GIL for a third of a second (the GUI thread would wait that long).
        total = len(data) + _line_start_dots(data)
        done = 0
        for start in range(0, len(data), CHUNK):
            piece = _dot_stuffed(data, start, CHUNK)
            last = start + CHUNK >= len(data)
            # The final dot rides with the last piece: one write (and TLS record) less
            # per message, which counts when hundreds of small messages go out.
            smtp.send(piece + b".\r\n" + behind if last else piece)
            done += len(piece)
            if progress:
                progress(done, total)
        if not data:
            smtp.send(b".\r\n" + behind)
        if behind:
            self._ahead = then
        return Reply.parse(*self._final_reply())

    def _final_reply(self) -> tuple[int, bytes]:
        """A reply read once the server may have the whole message: within the longer
        ``data_timeout`` (a server may check the message before answering, and with
        BDAT it may hold even MAIL's reply until then), and a lost one means "maybe
        sent"."""
        smtp = self._smtp
        assert smtp is not None and smtp.sock is not None
        smtp.sock.settimeout(self.account.data_timeout)
        try:
            code, resp = smtp.getreply()
        except (smtplib.SMTPServerDisconnected, OSError) as exc:
            timed_out = isinstance(exc.__context__, TimeoutError) or isinstance(exc, TimeoutError)
            self._hang_up()  # no QUIT: the server is gone or hanging
            what = (
                f"did not answer within {_seconds(self.account.data_timeout)}"
                if timed_out
                else f"answered with {exc}"
                if isinstance(exc, ProtocolError)
                else "closed the connection"
            )
            cls = ServerTimeoutError if timed_out else TransientError
            raise cls(
                f"The server at {self.where} {what} after receiving the message, so it may "
                "or may not have been delivered; it will be sent again (it may arrive twice).",
                connection_lost=True,
            ) from None
        if smtp.sock is not None:
            smtp.sock.settimeout(self.account.timeout)
        return code, resp

    def _rset(self) -> None:
        try:
            if self._smtp is not None:
                self._smtp.rset()
        except (smtplib.SMTPException, OSError):
            self.close()

    # --- errors ----------------------------------------------------------------------

    def _fail(self, reply: Reply, what: str, *, lost: bool = False) -> NoReturn:
        lost = lost or reply.code == 421
        if lost:
            self.close()
        shown, permanent = str(reply), reply.permanent
        if not self._trusted:
            # Before STARTTLS the reply may be forged: show only its code, and let it
            # fail nothing for good (a forged 5xx would otherwise drop the message).
            shown, permanent = _untrusted(reply), False
            reply = Reply(reply.code, reply.enhanced, "")
        if reply.code == 530:  # "authentication required": the account lacks a login
            raise AuthError(
                Said(
                    f"The server at {self.where} requires a login ({shown})",
                    Hint("needs-login", self.account.name),
                ),
                code=reply.code,
                enhanced=reply.enhanced,
                reply=reply.text or None,
            )
        cls = PermanentError if permanent else TransientError
        advice = (
            "it will not be retried; check the reply and the addresses"
            if permanent
            else "it will be tried again later"
        )
        raise cls(
            f"{what} ({shown}); {advice}.",
            code=reply.code,
            enhanced=reply.enhanced,
            reply=reply.text or None,
            connection_lost=lost,
        )

    def _raise_from(self, exc: BaseException, stage: str) -> NoReturn:
        """Turn smtplib, ssl and socket errors into our error tree."""
        self.close()
        name = self.account.name
        port_hint = None
        if self.account.port == 465 and self.account.security != "tls":
            port_hint = Hint("port-465", name)
        elif self.account.port == 587 and self.account.security == "tls":
            port_hint = Hint("port-587", name)
        if isinstance(exc, ssl.SSLCertVerificationError):
            what = (
                f"The certificate of {self.where} could not be verified "
                f"({exc.verify_message.rstrip('.')}), so nothing was sent"
            )
            advice = _CERT_ADVICE.get(exc.verify_code)
            raise SecurityError(
                Said(what, Hint("ca-file", name)) if advice is None else f"{what}; {advice}.",
                connection_lost=True,
            ) from None
        if isinstance(exc, ssl.SSLError):
            reason = exc.reason or str(exc)
            if self.account.security == "starttls":
                # The server said "220 ready": a broken handshake now is a broken server
                # or someone on the path, not a wrong setting.
                hint = port_hint
                what = (
                    f"The encrypted connection to {self.where} failed ({reason}), so nothing "
                    "was sent; check the security setting"
                )
                if hint is None:
                    what += (
                        ". Something on the network may be interfering with encryption; "
                        "try again later or from another network"
                    )
            else:
                hint = port_hint or (
                    Hint("try-starttls", name) if "WRONG_VERSION" in str(reason) else None
                )
                what = (
                    f"The encrypted connection to {self.where} failed ({reason}), so nothing "
                    "was sent; check the security setting"
                )
            raise SecurityError(_then(what, hint), connection_lost=True) from None
        if isinstance(exc, ProtocolError):
            raise TransientError(
                f"The server at {self.where} sent {exc} while {stage}; it will be tried "
                "again later.",
                connection_lost=True,
            ) from None
        if isinstance(exc, socket.gaierror):
            raise TransientError(
                f"The server name {self.account.host!r} could not be found ({exc.strerror}); "
                "check the host name and your network connection.",
                connection_lost=True,
            ) from None
        timed_out = isinstance(exc, TimeoutError) or isinstance(exc.__context__, TimeoutError)
        if timed_out:
            raise ServerTimeoutError(
                _then(
                    f"The server at {self.where} did not answer within "
                    f"{_seconds(self.account.timeout)} while {stage}; check your network "
                    "connection, or try again later",
                    port_hint,
                ),
                connection_lost=True,
            ) from None
        if isinstance(exc, ConnectionRefusedError):
            raise TransientError(
                f"The server at {self.where} refused the connection; check the host and port, "
                "or try again later.",
                connection_lost=True,
            ) from None
        if isinstance(exc, smtplib.SMTPServerDisconnected | ConnectionError):
            raise TransientError(
                _then(
                    f"The server at {self.where} closed the connection while {stage}; it "
                    "will be tried again later",
                    port_hint,
                ),
                connection_lost=True,
            ) from None
        if isinstance(exc, smtplib.SMTPResponseException):
            self._fail(
                Reply.parse(exc.smtp_code, exc.smtp_error),
                f"The server at {self.where} answered with an error while {stage}",
            )
        if isinstance(exc, OSError):
            raise TransientError(
                f"Could not talk to {self.where} ({describe_os_error(exc)}); check your "
                "network connection, or try again later.",
                connection_lost=True,
            ) from None
        raise exc

    # --- closing ---------------------------------------------------------------------

    def abort(self) -> None:
        """From another thread: break a blocked read or write at once (on quit)."""
        smtp = self._smtp
        sock = smtp.sock if smtp is not None else None
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    @property
    def is_open(self) -> bool:
        return self._smtp is not None and self._smtp.sock is not None

    def close(self) -> None:
        if self._ahead is not None:
            # With an envelope ahead the server may be reading that message's data, where
            # QUIT would be text and its reply would never come: hang up instead.
            self._hang_up()
            return
        smtp, self._smtp = self._smtp, None
        if smtp is None:
            return
        try:
            if smtp.sock is not None:
                smtp.quit()
        except (smtplib.SMTPException, OSError):
            pass
        finally:
            smtp.close()

    def _hang_up(self) -> None:
        """Close without QUIT (the server may be waiting for data, or be gone)."""
        smtp, self._smtp, self._ahead = self._smtp, None, None
        if smtp is not None:
            smtp.close()

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
