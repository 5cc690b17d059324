"""Direct delivery: no relay, each recipient domain's own mail exchangers (MX).

For each recipient domain: the MX hosts in preference order (equal preferences shuffled,
RFC 5321 §5.1), the domain itself when it has no MX but an address (implicit MX), and a
permanent failure for a null MX (RFC 7505) or a domain that does not exist. The message
goes to port 25 (``MAILGUI_DIRECT_PORT`` overrides it) with STARTTLS when offered —
opportunistic, certificate not checked, as MTAs do — which is weaker than a relay
account, where the certificate is always verified. Relay sessions are not affected: only
:class:`OpportunisticSession` uses the unverified context.

:class:`DirectRouter` looks like one SMTP session to the delivery engine; its ``send``
returns every recipient's outcome (accepted, or refused with a reply), so partial success
and retries follow the outbox's usual policy.
"""

from __future__ import annotations

import os
import random
import ssl
from collections.abc import Callable

from mailgui.core.accounts import Account
from mailgui.core.credentials import Login
from mailgui.core.errors import (
    ConfigError,
    DeliveryError,
    PermanentError,
    SecurityError,
    TransientError,
)
from mailgui.core.log import get_logger
from mailgui.core.resolver import Lookup, MxHost, domain_of, shared_lookup
from mailgui.core.retry import Reply
from mailgui.core.transport import Envelope, Progress, SendResult, Session, SessionInfo

log = get_logger("mailgui.direct")

DIRECT_PORT_ENV = "MAILGUI_DIRECT_PORT"
PORT_25_WARNING = (
    "Many networks and home providers block outbound port 25, so direct delivery may not "
    "work from here; a relay account is more reliable."
)
MAX_ADDRESSES = 6  # connection attempts per domain, across all its MX hosts


def direct_port() -> int:
    text = os.environ.get(DIRECT_PORT_ENV, "").strip()
    if not text:
        return 25
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise ConfigError(f"{DIRECT_PORT_ENV}={text!r} is not a port number; give 1-65535.")
    return int(text)


class OpportunisticSession(Session):
    """A session to one MX address: STARTTLS when offered, certificate not verified
    (``use_tls=False``: plaintext, for the retry after a failed handshake)."""

    def __init__(
        self, account: Account, mx_host: str, address: str, port: int, *, use_tls: bool = True
    ) -> None:
        relayless = account._replace(
            host=address, port=port, security="starttls", username="", ca_file=""
        )
        super().__init__(relayless, None)
        self.mx_host = mx_host
        self.use_tls = use_tls

    @property
    def where(self) -> str:
        return f"{self.mx_host} [{self.account.host}]:{self.account.port}"

    def _context(self) -> ssl.SSLContext:
        # Opportunistic TLS (RFC 7435): encryption against passive listeners; MX
        # certificates are often self-signed or for another name, so none is required.
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        return ctx

    def _starttls(self) -> None:
        smtp = self._smtp
        if not self.use_tls or smtp is None or not smtp.has_extn("starttls"):
            return  # plaintext, as an MTA would
        super()._starttls()


SessionMaker = Callable[..., OpportunisticSession]


def _reply_of(exc: DeliveryError) -> Reply:
    """A reply to record for each recipient of a domain that failed as a whole."""
    if exc.code is not None and exc.code >= 400:
        return Reply(exc.code, exc.enhanced, exc.reply or exc.message)
    if exc.permanent:
        return Reply(550, exc.enhanced or "5.4.4", exc.message)
    return Reply(451, exc.enhanced or "4.4.1", exc.message)


def group_by_domain(recipients: list[str]) -> dict[str, list[str]]:
    groups: dict[str, list[str]] = {}
    for rcpt in recipients:
        groups.setdefault(domain_of(rcpt), []).append(rcpt)
    return groups


class DirectRouter:
    """The delivery engine's "session" for a direct account (see module docstring)."""

    def __init__(
        self,
        account: Account,
        login: Login | str | None = None,  # direct delivery signs in nowhere
        *,
        lookup: Lookup | None = None,
        port: int | None = None,
        make_session: SessionMaker = OpportunisticSession,
    ) -> None:
        self.account = account
        self.lookup = lookup or shared_lookup(min(account.timeout, 10.0))
        self.port = port if port is not None else direct_port()
        self.make_session = make_session
        self.info = SessionInfo("direct delivery", self.port, "opportunistic")
        self._open = False
        self._current: Session | None = None

    def open(self) -> SessionInfo:
        self._open = True
        return self.info

    @property
    def is_open(self) -> bool:
        return self._open

    def close(self) -> None:
        self._open = False

    writes_ahead = False  # a connection per domain and message: nothing is written ahead

    def expect(self, following: Envelope | None) -> bool:
        return False

    def abort(self) -> None:
        current = self._current
        if current is not None:
            current.abort()

    def send(
        self,
        envelope_from: str,
        recipients: list[str],
        data: bytes,
        *,
        smtputf8: bool = False,
        progress: Progress | None = None,
        then: Envelope | None = None,  # see writes_ahead
    ) -> SendResult:
        accepted: list[str] = []
        refused: dict[str, Reply] = {}
        last: Reply | None = None
        for domain, rcpts in group_by_domain(recipients).items():
            try:
                result = self._deliver(domain, envelope_from, rcpts, data, smtputf8, progress)
            except DeliveryError as exc:
                log.warning("direct delivery to %s failed: %s", domain, exc)
                reply = _reply_of(exc)
                refused.update(dict.fromkeys(rcpts, reply))
                continue
            accepted += result.accepted
            refused.update(result.refused)
            last = result.reply or last
        return SendResult(accepted, refused, last)

    def _hosts(self, domain: str) -> list[MxHost]:
        if domain.startswith("[") and domain.endswith("]"):  # an address literal
            return [MxHost(0, domain.strip("[]").removeprefix("IPv6:"))]
        mx = self.lookup.mx(domain)  # DnsUnavailable is transient
        if mx.status == "null":
            raise PermanentError(
                f"The domain {domain} accepts no mail (it publishes a null MX record); "
                "check the address.",
                code=556,
                enhanced="5.1.10",
            )
        if mx.status in ("nxdomain", "nomail"):
            what = "does not exist" if mx.status == "nxdomain" else "has no mail server"
            raise PermanentError(
                f"The domain {domain} {what}; check the address.", code=550, enhanced="5.1.2"
            )
        hosts = list(mx.hosts)
        random.shuffle(hosts)  # equal preferences in random order, then sorted stably
        return sorted(hosts, key=lambda h: h.preference)

    def _connect(self, host: str, address: str) -> Session:
        session = self.make_session(self.account, host, address, self.port)
        self._current = session
        try:
            info = session.open()
        except SecurityError as exc:
            # The TLS handshake failed: like an MTA, try again without TLS.
            log.info("STARTTLS with %s failed (%s); trying without TLS", host, exc)
            session = self.make_session(self.account, host, address, self.port, use_tls=False)
            self._current = session
            info = session.open()
        log.info("connected to %s [%s] (%s)", host, address, info.tls_version or "no TLS")
        return session

    def _deliver(
        self,
        domain: str,
        envelope_from: str,
        rcpts: list[str],
        data: bytes,
        smtputf8: bool,
        progress: Progress | None,
    ) -> SendResult:
        problems: list[str] = []
        tries = 0
        blocked_like = True  # every failure a timeout or refusal: maybe port 25 is blocked
        for mx in self._hosts(domain):
            try:
                addresses = self.lookup.addresses(mx.host)
            except TransientError as exc:
                problems.append(str(exc))
                blocked_like = False
                continue
            if not addresses:
                problems.append(f"{mx.host} has no address")
                blocked_like = False
                continue
            for address in addresses:
                if tries >= MAX_ADDRESSES:
                    break
                tries += 1
                try:
                    session = self._connect(mx.host, address)
                except DeliveryError as exc:
                    # Any failure to open (refused, timeout, 4xx/5xx greeting): next MX.
                    problems.append(exc.message.rstrip("."))
                    blocked_like = blocked_like and exc.code is None
                    continue
                try:
                    return session.send(
                        envelope_from, rcpts, data, smtputf8=smtputf8, progress=progress
                    )
                finally:
                    self._current = None
                    session.close()
        detail = "; ".join(problems) or "no mail server"
        hint = f" {PORT_25_WARNING}" if blocked_like and problems else ""
        raise TransientError(
            f"No mail server of {domain} could be reached ({detail}); it will be tried again "
            f"later.{hint}"
        )
