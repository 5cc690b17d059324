"""One IMAP session with imaplib, under the same TLS rules as the SMTP one (transport.py).

- Certificates are always verified, host name included (``ssl.create_default_context``;
  the settings' ``ca_file`` replaces the system store when set).
- ``starttls``: a server that does not offer STARTTLS, refuses it, fails the handshake or
  greets with PREAUTH (a session we could never encrypt) is a SecurityError before any
  LOGIN or AUTHENTICATE: never a plaintext fallback. Everything said before encryption
  (greeting, capabilities, pending responses) is forgotten once it is up, and never shown.
- A password logs in with LOGIN, or AUTHENTICATE PLAIN when it or the user name is not
  plain ASCII (or the server disables LOGIN); an OAuth2 access token with AUTHENTICATE
  XOAUTH2. The secret is in no error, log line or repr, and not kept in imaplib's log of
  recent commands after the login.
- Every read and write has the settings' timeout (imaplib's socket timeout).
"""

from __future__ import annotations

import base64
import contextlib
import imaplib
import socket
import ssl
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import NoReturn

from mailgui.core.credentials import Login
from mailgui.core.errors import (
    AuthError,
    DeliveryError,
    SecurityError,
    ServerTimeoutError,
    TransientError,
    describe_os_error,
)
from mailgui.core.hints import Hint, Said
from mailgui.core.imap import responses
from mailgui.core.imap.errors import refusal
from mailgui.core.imap.settings import ImapSettings
from mailgui.core.log import get_logger
from mailgui.core.sasl import ACKNOWLEDGE, OAUTH_MECHANISMS, oauth_payload, refusal_reason

__all__ = ["ImapInfo", "ImapSession"]


# As in transport.py: advice for certificate failures by OpenSSL verify code.
_CERT_ADVICE = {
    9: "check the date and time of this computer",
    10: "the server's certificate has run out: tell its administrator, and check the date "
    "and time of this computer",
    62: "check the host name: the certificate was made for other names",
    64: "check the host name: the certificate was made for other addresses",
}
_TEMPORARY_LOGIN = {"UNAVAILABLE", "INUSE", "SERVERBUG"}


@dataclass
class ImapInfo:
    """What we learnt about the server; for the accounts dialog's Test."""

    host: str
    port: int
    security: str
    tls_version: str | None = None
    cipher: str | None = None
    cert_subject: str | None = None
    capabilities: frozenset[str] = field(default_factory=frozenset)
    authenticated_as: str | None = None
    mechanism: str | None = None  # the OAuth2 one used, when one was


def _seconds(n: float) -> str:
    return f"{n:g} second" + ("" if n == 1 else "s")


def _name(cert_part: object) -> str | None:
    if not isinstance(cert_part, tuple):
        return None
    items = [f"{k}={v}" for rdn in cert_part for (k, v) in rdn]
    return ", ".join(items) or None


def _printable_ascii(text: str) -> bool:
    return all(0x20 <= ord(c) <= 0x7E for c in text)


def _without_secret(text: str, login: Login | None, host: str = "", port: int = 0) -> str:
    """Server words with the secret blanked out, raw or in any base64 form we sent."""
    if login is None or not login.secret:
        return text
    secret = login.secret.encode("utf-8")
    forms = {
        secret,
        base64.b64encode(secret),
        base64.b64encode(b"\0" + login.user.encode("utf-8") + b"\0" + secret),
        *(
            base64.b64encode(oauth_payload(m, login.user, login.secret, host, port))
            for m in OAUTH_MECHANISMS
        ),
    }
    for form in sorted(forms, key=len, reverse=True):
        text = text.replace(form.decode("ascii", "replace"), "[secret]")
        text = text.replace(form.rstrip(b"=").decode("ascii", "replace"), "[secret]")
    return text


class _Imap(imaplib.IMAP4):
    """imaplib's client, telling ``on_socket`` its socket as soon as it exists: the
    greeting is read inside the constructor, and ``ImapSession.abort`` must be able to
    break that wait too (Cancel in the accounts dialog, quitting)."""

    def __init__(
        self, host: str, port: int, timeout: float, on_socket: Callable[[socket.socket], None]
    ) -> None:
        self._on_socket = on_socket
        super().__init__(host, port, timeout=timeout)

    def _create_socket(self, timeout: float | None) -> socket.socket:
        # (imaplib's own hook, not in typeshed)
        sock: socket.socket = super()._create_socket(timeout)  # type: ignore[misc]
        self._on_socket(sock)
        return sock


class _ImapTls(imaplib.IMAP4_SSL):
    """The same for implicit TLS: the handshake runs after the socket is told, so it can
    be broken as well."""

    def __init__(
        self,
        host: str,
        port: int,
        context: ssl.SSLContext,
        timeout: float,
        on_socket: Callable[[socket.socket], None],
    ) -> None:
        self._on_socket = on_socket
        super().__init__(host, port, ssl_context=context, timeout=timeout)

    def _create_socket(self, timeout: float | None) -> socket.socket:
        raw: socket.socket = imaplib.IMAP4._create_socket(self, timeout)  # type: ignore[attr-defined]
        self._on_socket(raw)
        sock: ssl.SSLSocket = self.ssl_context.wrap_socket(
            raw, server_hostname=self.host, do_handshake_on_connect=False
        )
        self._on_socket(sock)
        sock.do_handshake()
        return sock


class ImapSession:
    """An IMAP connection for one account's Sent copy. Use as a context manager; ``open``
    connects, secures and logs in. The commands below raise mailgui's errors only."""

    def __init__(
        self,
        settings: ImapSettings,
        login: Login | None,
        *,
        fix: Hint | None = None,
        mechanisms: Sequence[str] = OAUTH_MECHANISMS,
    ) -> None:
        """``fix``: the hint a refused login names (the account's "sign in again");
        ``mechanisms``: the OAuth2 ones to use, in order of preference."""
        self.settings = settings
        self._login = login
        self._fix = fix
        self._mechanisms = mechanisms
        self._imap: imaplib.IMAP4 | None = None
        self._socket: socket.socket | None = None  # while opening, for abort()
        self.info = ImapInfo(settings.host, settings.port, settings.security)
        self.capabilities: frozenset[str] = frozenset()

    def __repr__(self) -> str:
        return f"ImapSession({self.where}, {self.settings.security}, login={self._login!r})"

    @property
    def where(self) -> str:
        return self.settings.where

    # --- opening -------------------------------------------------------------------

    def _context(self) -> ssl.SSLContext:
        try:
            ctx = ssl.create_default_context(cafile=self.settings.ca_file or None)
        except (OSError, ssl.SSLError) as exc:
            raise SecurityError(
                f"The CA file {self.settings.ca_file!r} could not be loaded ({exc}); "
                "give a PEM file with the IMAP server's CA certificate."
            ) from None
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        return ctx

    def open(self) -> ImapInfo:
        """Connect, secure and log in; raises a DeliveryError subclass."""
        s = self.settings
        try:
            context = self._context()
            if s.security == "tls":
                self._imap = _ImapTls(s.host, s.port, context, s.timeout, self._opening)
            else:
                self._imap = _Imap(s.host, s.port, s.timeout, self._opening)
                self._starttls(context)
            self._record_tls()
            self._sign_in()
            self._refresh_capabilities()
        except DeliveryError:
            self.close()
            raise
        except BaseException as exc:
            self._raise_from(exc, "connecting")  # hangs up, without LOGOUT
        return self.info

    def _opening(self, sock: socket.socket) -> None:
        self._socket = sock

    def _starttls(self, context: ssl.SSLContext) -> None:
        imap = self._imap
        assert imap is not None
        if imap.state != "NONAUTH":  # PREAUTH in plaintext: STARTTLS is no longer possible
            raise SecurityError(
                f"The IMAP server at {self.where} logged in without encryption (PREAUTH), "
                "so the copy was not filed; use --imap-security tls (port 993), or ask the "
                "server's administrator."
            )
        if "STARTTLS" not in imap.capabilities:
            raise SecurityError(
                f"The IMAP server at {self.where} did not offer encryption (STARTTLS), so "
                "the copy was not filed and no password was sent; check the port and "
                "security settings (port 993 uses --imap-security tls)."
            )
        try:
            imap.starttls(context)
        except imaplib.IMAP4.error as exc:
            if isinstance(exc, imaplib.IMAP4.abort):
                raise
            # Its words came unencrypted: they are not shown.
            raise SecurityError(
                f"The IMAP server at {self.where} did not start encryption (STARTTLS was "
                "refused), so the copy was not filed and no password was sent; try again "
                "later or check the security settings."
            ) from None
        # Whatever came before encryption may be forged: forget it.
        imap.untagged_responses.clear()

    def _record_tls(self) -> None:
        imap = self._imap
        assert imap is not None
        sock = imap.sock
        if isinstance(sock, ssl.SSLSocket):
            self.info.tls_version = sock.version()
            cipher = sock.cipher()
            self.info.cipher = cipher[0] if cipher else None
            cert = sock.getpeercert()
            self.info.cert_subject = _name(cert.get("subject")) if cert else None
        else:  # cannot happen: both ways end in TLS or an error
            raise SecurityError(f"The connection to {self.where} is not encrypted.")

    def _refresh_capabilities(self) -> None:
        """Capabilities from inside TLS and after login (Dovecot shows SPECIAL-USE,
        UIDPLUS... only then; a server may add APPENDLIMIT there)."""
        imap = self._imap
        assert imap is not None
        _, data = imap.capability()
        lines = [line for line in data if isinstance(line, bytes)]
        words = lines[-1].decode("ascii", "replace").upper().split() if lines else []
        self.capabilities = frozenset(words) or frozenset(c.upper() for c in imap.capabilities)
        self.info.capabilities = self.capabilities

    def _sign_in(self) -> None:
        imap = self._imap
        assert imap is not None
        if imap.state != "NONAUTH":  # PREAUTH inside TLS: already logged in
            self.info.authenticated_as = self._login.user if self._login else None
            return
        login = self._login
        if login is None:
            raise AuthError(
                f"The IMAP server at {self.where} requires a login; give the account a user "
                "name and password (or sign in with OAuth2)."
            )
        caps = {c.upper() for c in imap.capabilities}
        try:
            if login.mechanism == "oauth2":
                self._oauth2(imap, caps, login)
            elif (
                _printable_ascii(login.user)
                and _printable_ascii(login.secret)
                and "LOGINDISABLED" not in caps
            ):
                imap.login(responses.quoted(login.user), login.secret)
            elif "AUTH=PLAIN" in caps:
                token = b"\0" + login.user.encode("utf-8") + b"\0" + login.secret.encode("utf-8")
                imap.authenticate("PLAIN", lambda _challenge: token)
            else:
                raise AuthError(
                    f"The IMAP server at {self.where} offers no login method for this user "
                    "name and password (non-ASCII characters need AUTHENTICATE PLAIN); "
                    "ask the server's administrator."
                )
        except imaplib.IMAP4.abort:
            raise
        except imaplib.IMAP4.error as exc:
            self._refused(exc, login)
        finally:
            _forget_commands(imap)
        self.info.authenticated_as = login.user

    def _oauth2(self, imap: imaplib.IMAP4, caps: set[str], login: Login) -> None:
        """AUTHENTICATE OAUTHBEARER (RFC 7628) or XOAUTH2, whichever the server offers
        first in our order; a refusal's JSON challenge is acknowledged, and its status
        kept for the sentence."""
        offered = [m for m in self._mechanisms if f"AUTH={m}" in caps]
        if not offered:
            raise AuthError(
                f"The IMAP server at {self.where} does not offer OAuth2 sign-in (OAUTHBEARER "
                "or XOAUTH2); use a password for this account, or check the IMAP host."
            )
        mechanism = offered[0]
        payload = oauth_payload(
            mechanism, login.user, login.secret, self.settings.host, self.settings.port
        )
        said: list[bytes] = []

        def respond(challenge: bytes) -> bytes:
            if said or challenge:  # the server's error report (JSON): acknowledge it
                said.append(challenge)
                return ACKNOWLEDGE[mechanism]
            said.append(b"")
            return payload

        self.info.mechanism = mechanism
        try:
            imap.authenticate(mechanism, respond)
        except imaplib.IMAP4.error as exc:
            status = next(filter(None, map(refusal_reason, said)), "")
            detail = f", status {status}" if status else ""
            said_text = _exc_text(exc).decode("utf-8", "replace")
            raise imaplib.IMAP4.error(f"{said_text}{detail}") from None

    def _refused(self, exc: imaplib.IMAP4.error, login: Login) -> NoReturn:
        code, _, words = responses.status_text(_exc_text(exc))
        said = _without_secret(
            " ".join(p for p in (f"[{code}]" if code else "", words) if p),
            login,
            self.settings.host,
            self.settings.port,
        )
        if code in _TEMPORARY_LOGIN:
            raise TransientError(
                f"The IMAP server at {self.where} could not log in for now ({said}); the "
                "copy is tried again later.",
                reply=said,
            )
        what = "OAuth2 access token" if login.mechanism == "oauth2" else "user name or password"
        advice = (
            "sign in to the account again"
            if login.mechanism == "oauth2"
            else "check the password (and the user name) of the account"
        )
        happened = (
            f"The IMAP server at {self.where} refused the {what} for {login.user!r} "
            f"({said or 'no reason given'})"
        )
        raise AuthError(
            Said(happened, self._fix) if self._fix else f"{happened}; {advice}.",
            reply=said or None,
        )

    # --- commands --------------------------------------------------------------------

    def _live(self) -> imaplib.IMAP4:
        if self._imap is None:
            raise TransientError(
                f"The connection to the IMAP server at {self.where} is closed.",
                connection_lost=True,
            )
        return self._imap

    def list_mailboxes(self, *, special_use: bool, pattern: str = "*") -> list[responses.ListEntry]:
        """LIST "" pattern (``pattern`` in modified UTF-7), with RETURN (SPECIAL-USE) when
        asked and the server can (RFC 6154 with LIST-EXTENDED, RFC 5258)."""
        imap = self._live()
        args = ['""', responses.quoted(pattern)]
        if special_use and {"SPECIAL-USE", "LIST-EXTENDED"} <= self.capabilities:
            args += ["RETURN", "(SPECIAL-USE)"]
        try:
            typ, data = imap.xatom("LIST", *args)
            if typ != "OK":
                self._command_failed("listing the folders", typ, data)
            _, found = imap.response("LIST")
        except DeliveryError:
            raise
        except BaseException as exc:
            self._raise_from(exc, "listing the folders")
        return responses.list_entries(x for x in found if x is not None)

    def status(self, mailbox: str, items: str) -> dict[str, str]:
        """STATUS mailbox (items); mailbox in modified UTF-7."""
        imap = self._live()
        try:
            typ, data = imap.status(responses.quoted(mailbox), f"({items})")
        except imaplib.IMAP4.abort as exc:
            self._raise_from(exc, "asking about a folder")
        except imaplib.IMAP4.error as exc:  # BAD: the item is unknown here
            get_logger("mailgui.imap").info(
                "STATUS %s (%s) at %s: %s", mailbox, items, self.where, exc
            )
            return {}
        except BaseException as exc:
            self._raise_from(exc, "asking about a folder")
        if typ != "OK":
            return {}
        return responses.status_items(x for x in data if x is not None)

    def find_header(self, mailbox: str, header: str, value: str, *, shown: str) -> list[int]:
        """UIDs in ``mailbox`` whose ``header`` contains ``value`` (SEARCH HEADER, after a
        read-only EXAMINE). ``shown``: the folder's name for error messages."""
        imap = self._live()
        try:
            typ, data = imap.select(responses.quoted(mailbox), readonly=True)
            if typ != "OK":
                self._refusal(shown, "NO", data)
            typ, data = imap.uid("SEARCH", "HEADER", header, responses.quoted(value))
            if typ != "OK":
                self._refusal(shown, "NO", data)
            # Leave the folder, so an APPEND's new message is no news to a selected one.
            with contextlib.suppress(imaplib.IMAP4.error):
                imap.close()
        except DeliveryError:
            raise
        except imaplib.IMAP4.abort as exc:
            self._raise_from(exc, "looking for the copy")
        except imaplib.IMAP4.error as exc:
            self._refusal(shown, "BAD", [_exc_text(exc)])
        except BaseException as exc:
            self._raise_from(exc, "looking for the copy")
        uids: list[int] = []
        for line in data:
            if isinstance(line, bytes):
                uids += [int(w) for w in line.split() if w.isdigit()]
        return uids

    def append(
        self, mailbox: str, data: bytes, date: datetime, flags: str, *, shown: str
    ) -> int | None:
        """APPEND; the new message's UID when the server says it (UIDPLUS)."""
        imap = self._live()
        try:
            typ, reply = imap.append(responses.quoted(mailbox), flags, date, data)
        except imaplib.IMAP4.abort as exc:
            self._raise_from(exc, "storing the copy")
        except imaplib.IMAP4.error as exc:  # BAD (imaplib raises for it)
            self._refusal(shown, "BAD", [_exc_text(exc)], size=len(data))
        except BaseException as exc:
            self._raise_from(exc, "storing the copy")
        if typ != "OK":
            self._refusal(shown, typ, reply, size=len(data))
        return responses.appenduid(reply)

    def _refusal(self, shown: str, kind: str, data: Sequence[object], *, size: int = 0) -> NoReturn:
        code, _, words = responses.status_text(data)
        raise refusal(
            self.where,
            shown,
            kind,
            code,
            _without_secret(words, self._login, self.settings.host, self.settings.port),
            size=size,
        )

    def _command_failed(self, what: str, typ: str, data: Sequence[object]) -> NoReturn:
        code, _, words = responses.status_text(data)
        said = " ".join(p for p in (f"[{code}]" if code else "", words) if p)
        raise TransientError(
            f"The IMAP server at {self.where} answered {typ} while {what} "
            f"({said or 'no reason given'}); it is tried again later.",
            reply=said or None,
        )

    # --- errors ----------------------------------------------------------------------

    def _raise_from(self, exc: BaseException, stage: str) -> NoReturn:
        """imaplib, ssl and socket errors in mailgui's tree (as transport.py's)."""
        self._drop()
        s = self.settings
        port_hint = ""
        if s.port == 993 and s.security != "tls":
            port_hint = " Port 993 expects SSL/TLS, not STARTTLS: use --imap-security tls."
        elif s.port == 143 and s.security == "tls":
            port_hint = " Port 143 expects STARTTLS: use --imap-security starttls."
        if isinstance(exc, ssl.SSLCertVerificationError):
            advice = _CERT_ADVICE.get(
                exc.verify_code,
                "if the server uses a private CA, give its certificate with --ca-file",
            )
            raise SecurityError(
                f"The certificate of the IMAP server {self.where} could not be verified "
                f"({exc.verify_message.rstrip('.')}), so the copy was not filed; {advice}.",
                connection_lost=True,
            ) from None
        if isinstance(exc, ssl.SSLError):
            reason = exc.reason or str(exc)
            hint = port_hint or (
                " Something on the network may be interfering with encryption; try again "
                "later or from another network."
                if s.security == "starttls"
                else " The server may not speak SSL/TLS on this port; try --imap-security starttls."
                if "WRONG_VERSION" in str(reason)
                else ""
            )
            raise SecurityError(
                f"The encrypted connection to {self.where} failed ({reason}), so the copy "
                f"was not filed; check the IMAP security setting.{hint}",
                connection_lost=True,
            ) from None
        if isinstance(exc, socket.gaierror):
            raise TransientError(
                f"The IMAP server name {s.host!r} could not be found ({exc.strerror}); check "
                "the host name and your network connection.",
                connection_lost=True,
            ) from None
        if isinstance(exc, TimeoutError) or isinstance(exc.__context__, TimeoutError):
            raise ServerTimeoutError(
                f"The IMAP server at {self.where} did not answer within "
                f"{_seconds(s.timeout)} while {stage}; the copy is tried again later."
                f"{port_hint}",
                connection_lost=True,
            ) from None
        if isinstance(exc, ConnectionRefusedError):
            raise TransientError(
                f"The IMAP server at {self.where} refused the connection; check the host and "
                "port, or wait: the copy is tried again later.",
                connection_lost=True,
            ) from None
        if isinstance(exc, ConnectionError | imaplib.IMAP4.abort):
            raise TransientError(
                f"The IMAP server at {self.where} closed the connection while {stage}; the "
                f"copy is tried again later.{port_hint}",
                connection_lost=True,
            ) from None
        if isinstance(exc, imaplib.IMAP4.error):  # a greeting that is not OK, a bad reply
            raise TransientError(
                f"The IMAP server at {self.where} answered in a way mailgui did not expect "
                f"while {stage}; the copy is tried again later.{port_hint}",
                connection_lost=True,
            ) from None
        if isinstance(exc, OSError):
            raise TransientError(
                f"Could not talk to the IMAP server at {self.where} "
                f"({describe_os_error(exc)}); the copy is tried again later.",
                connection_lost=True,
            ) from None
        raise exc

    # --- closing ---------------------------------------------------------------------

    def abort(self) -> None:
        """From another thread: break a blocked read or write at once (on quit, Cancel),
        also while the connection is still being opened (TLS handshake, greeting)."""
        imap = self._imap
        sock = imap.sock if imap is not None else self._socket
        if sock is not None:
            with contextlib.suppress(OSError, ValueError):
                sock.shutdown(socket.SHUT_RDWR)

    @property
    def is_open(self) -> bool:
        return self._imap is not None

    def _drop(self) -> None:
        """Hang up without LOGOUT: after a timeout or a broken line it would only wait."""
        imap, self._imap = self._imap, None
        if imap is not None:
            with contextlib.suppress(OSError):
                imap.shutdown()

    def close(self) -> None:
        imap, self._imap = self._imap, None
        if imap is None:
            return
        try:
            if imap.state != "LOGOUT":
                imap.logout()
        except (imaplib.IMAP4.error, OSError, ValueError):
            pass
        finally:
            with contextlib.suppress(OSError):
                imap.shutdown()

    def __enter__(self) -> ImapSession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _exc_text(exc: imaplib.IMAP4.error) -> bytes:
    """An imaplib error's server words (imaplib raises with bytes or with text)."""
    arg = exc.args[0] if exc.args else b""
    return arg if isinstance(arg, bytes) else str(arg).encode("utf-8", "replace")


def _forget_commands(imap: imaplib.IMAP4) -> None:
    """imaplib keeps the last commands it sent (the LOGIN line with the password among
    them) for its debugging; drop them."""
    commands = getattr(imap, "_cmd_log", None)
    if isinstance(commands, dict):
        commands.clear()
