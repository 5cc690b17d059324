"""DNS look-ups with dnspython: MX, SRV and address records, with short timeouts and a cache.

Every name mailgui resolves for discovery, recipient checks and direct delivery goes
through here, never through the system's ``getaddrinfo``, so one setting decides which
server answers: ``MAILGUI_NAMESERVER=HOST[:PORT]`` (tests, split-horizon networks), else
the system's resolver configuration.

Answers are sorted into what the callers need to decide (``MxResult.status``); a server
that does not answer in time, or no network at all, is ``DnsUnavailable`` — the caller
decides whether that is "skip silently" (checks) or "try again later" (delivery).
"""

from __future__ import annotations

import ipaddress
import os
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from mailgui.core.errors import ConfigError, TransientError

if TYPE_CHECKING:
    import dns.resolver

NAMESERVER_ENV = "MAILGUI_NAMESERVER"
DEFAULT_TIMEOUT = 3.0


class DnsUnavailable(TransientError):
    """No answer: timeout, no network, no resolver configured, or every server refused."""


def parse_nameserver(text: str) -> tuple[str, int]:
    """``1.2.3.4``, ``1.2.3.4:5353``, ``::1``, ``[::1]:5353`` → (address, port)."""
    spec = text.strip()
    host, port = spec, "53"
    if spec.startswith("["):
        host, _, rest = spec[1:].partition("]")
        port = rest[1:] if rest.startswith(":") else "53"
    elif spec.count(":") == 1:
        host, port = spec.split(":")
    try:
        ipaddress.ip_address(host)
        number = int(port)
        if not 0 < number < 65536:
            raise ValueError
    except ValueError:
        raise ConfigError(
            f"{NAMESERVER_ENV}={text!r} is not usable; give an IP address with an optional "
            "port, like 192.0.2.53 or 127.0.0.1:5353."
        ) from None
    return host, number


def is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


@dataclass(frozen=True)
class MxHost:
    preference: int
    host: str  # without the trailing dot, lower case


@dataclass(frozen=True)
class MxResult:
    """What a domain says about receiving mail.

    ``status``: ``mx`` (hosts listed), ``null`` (RFC 7505 "0 ." — accepts no mail),
    ``implicit`` (no MX but an address record: the domain itself receives, RFC 5321
    §5.1), ``nxdomain`` (the domain does not exist), ``nomail`` (exists, but neither MX
    nor address).
    """

    domain: str
    status: Literal["mx", "null", "implicit", "nxdomain", "nomail"]
    hosts: list[MxHost] = field(default_factory=list)


@dataclass(frozen=True)
class SrvTarget:
    priority: int
    weight: int
    port: int
    target: str  # "" for the "." target: the service is not offered


def _name(text: str) -> str:
    return text.rstrip(".").lower()


def domain_of(address: str) -> str:
    """The domain of an address as DNS looks it up: lower case, no final dot."""
    return _name(address.rpartition("@")[2].strip())


class Lookup:
    """A resolver with a short timeout and its own cache; thread-safe for queries."""

    def __init__(self, nameserver: str | None = None, *, timeout: float = DEFAULT_TIMEOUT):
        self.nameserver = nameserver
        self.timeout = timeout
        self._resolver: dns.resolver.Resolver | None = None
        self._lock = threading.Lock()
        self._denies_all: bool | None = None  # see denies_everything
        self._probe_lock = threading.Lock()

    def denies_everything(self) -> bool:
        """True when the DNS server says that even the DNS root does not exist: it answers
        "no such domain" to every name (captive portals, hotel networks, some sandboxes),
        so its NXDOMAIN says nothing about a recipient's domain. Asked once per Lookup."""
        with self._probe_lock:  # checks run in parallel: ask (and log) once
            if self._denies_all is None:
                try:
                    denies = self._query(".", "NS") is None
                except DnsUnavailable:
                    denies = False  # cannot tell; the checks' own look-ups fail the same way
                if denies:
                    from mailgui.core.log import get_logger

                    get_logger(__name__).warning(
                        "the DNS server answers 'no such domain' even for the DNS root; "
                        "recipient domains are not reported as missing"
                    )
                self._denies_all = denies
            return self._denies_all

    @property
    def found_denying(self) -> bool:
        """``denies_everything`` was asked (a domain looked missing) and said yes."""
        return self._denies_all is True

    def _get(self) -> dns.resolver.Resolver:
        import dns.resolver

        with self._lock:
            if self._resolver is not None:
                return self._resolver
            if self.nameserver:
                host, port = parse_nameserver(self.nameserver)
                res = dns.resolver.Resolver(configure=False)
                res.nameservers = [host]
                res.port = port
            else:
                try:
                    res = dns.resolver.Resolver()
                except (dns.resolver.NoResolverConfiguration, OSError):
                    raise DnsUnavailable(
                        "No DNS server is configured on this computer; check the network, "
                        f"or set {NAMESERVER_ENV}."
                    ) from None
            res.timeout = self.timeout
            res.lifetime = self.timeout
            res.cache = dns.resolver.LRUCache(512)
            self._resolver = res
            return res

    def _query(self, name: str, rdtype: str) -> list[object] | None:
        """The records, [] when the name exists without them, None for NXDOMAIN."""
        import dns.exception
        import dns.resolver

        res = self._get()
        try:
            answer = res.resolve(name, rdtype, search=False, raise_on_no_answer=False)
        except dns.resolver.NXDOMAIN:
            return None
        except dns.resolver.NoNameservers:
            raise DnsUnavailable(
                f"The DNS server could not answer for {name} (it refused or failed); "
                "check the network, or try again later."
            ) from None
        except (dns.exception.Timeout, dns.resolver.LifetimeTimeout):
            raise DnsUnavailable(
                f"The DNS server did not answer within {self.timeout:g} seconds for {name}; "
                "check the network, or try again later."
            ) from None
        except (dns.exception.DNSException, OSError) as exc:
            raise DnsUnavailable(
                f"Looking up {name} failed ({exc}); check the network, or try again later."
            ) from None
        return list(answer.rrset) if answer.rrset is not None else []

    def addresses(self, host: str) -> list[str]:
        """IPv4 then IPv6 addresses of ``host`` ([] when it has none or does not exist)."""
        if is_ip(host):
            return [host.strip("[]")]
        found: list[str] = []
        for rdtype in ("A", "AAAA"):
            try:
                records = self._query(host, rdtype)
            except DnsUnavailable:
                if found:
                    break  # an IPv4 answer is enough; a server ignoring AAAA is common
                raise
            if records is None:
                break  # NXDOMAIN: no point asking for AAAA
            found += [r.address for r in records]  # type: ignore[attr-defined]
        return found

    def mx(self, domain: str) -> MxResult:
        domain = _name(domain)
        records = self._query(domain, "MX")
        if records is None:
            return MxResult(domain, "nxdomain")
        hosts = sorted(
            (MxHost(int(r.preference), _name(r.exchange.to_text())) for r in records),  # type: ignore[attr-defined]
            key=lambda h: (h.preference, h.host),
        )
        if len(hosts) == 1 and hosts[0].host == "":
            return MxResult(domain, "null")
        hosts = [h for h in hosts if h.host]
        if hosts:
            return MxResult(domain, "mx", hosts)
        if self.addresses(domain):
            return MxResult(domain, "implicit", [MxHost(0, domain)])
        return MxResult(domain, "nomail")

    def srv(self, name: str) -> list[SrvTarget] | None:
        """SRV records in the order to try (RFC 2782), or None when there are none."""
        records = self._query(name, "SRV")
        if not records:
            return None
        targets = [
            SrvTarget(int(r.priority), int(r.weight), int(r.port), _name(r.target.to_text()))  # type: ignore[attr-defined]
            for r in records
        ]
        # Lowest priority first; within one priority the heaviest first (a stable,
        # explainable order rather than RFC 2782's weighted lottery).
        return sorted(targets, key=lambda t: (t.priority, -t.weight, t.target))


_shared: dict[tuple[str | None, float], Lookup] = {}
_shared_lock = threading.Lock()


def shared_lookup(timeout: float = DEFAULT_TIMEOUT) -> Lookup:
    """One cached Lookup per (``MAILGUI_NAMESERVER``, timeout), so answers are reused."""
    key = (os.environ.get(NAMESERVER_ENV) or None, timeout)
    with _shared_lock:
        lookup = _shared.get(key)
        if lookup is None:
            lookup = _shared[key] = Lookup(key[0], timeout=timeout)
        return lookup
