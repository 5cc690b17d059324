"""A real DNS server on 127.0.0.1 for mailgui's tests (dnslib), plus the "no real DNS" guard.

:class:`DnsServer` answers authoritatively from records a test adds (``add("example.test",
"MX", "10 mx.example.test.")``): a name it has no records for is NXDOMAIN, a name with
records but none of the asked type is an empty NOERROR answer, a name passed to
``hang`` gets no answer at all (the resolver times out), and one passed to ``hold`` is
answered only once ``release`` is called (a look-up kept in flight for as long as a test
needs, within the resolver's timeout). ``refuse_all=True`` makes a server
that answers REFUSED to everything: the session-wide guard that ``MAILGUI_NAMESERVER``
points at by default, so no test can ever reach the system resolver or the internet.

Point mailgui at a server with ``MAILGUI_NAMESERVER=server.address``.
"""

from __future__ import annotations

import threading
from collections import Counter

from dnslib import QTYPE, RCODE, RR, DNSRecord
from dnslib.server import BaseResolver, DNSError, DNSHandler, DNSLogger, DNSServer

__all__ = ["DnsServer"]


class _Quiet(DNSLogger):
    def __init__(self) -> None:
        super().__init__(log="-recv,-send,-request,-reply,-truncated,-error,-data")


class _Zone(BaseResolver):  # type: ignore[misc]
    def __init__(self, owner: DnsServer) -> None:
        self.owner = owner

    def resolve(self, request: DNSRecord, handler: DNSHandler) -> DNSRecord:
        owner = self.owner
        qname = str(request.q.qname).rstrip(".").lower()
        qtype = QTYPE[request.q.qtype]
        with owner._lock:
            owner.queries[(qname, qtype)] += 1
            hang = qname in owner._hang
            held = qname in owner._held
            records = list(owner._records.get(qname, []))
        if held:
            owner._released.wait(owner.hold_limit)  # bounded: a forgotten release only delays
        reply = request.reply()
        if owner.refuse_all:
            reply.header.rcode = RCODE.REFUSED
            return reply
        if hang:
            raise DNSError("dropped on purpose")  # the handler sends nothing
        if not records:
            reply.header.rcode = RCODE.NXDOMAIN
            return reply
        for rtype, rr in records:
            if rtype == qtype:
                reply.add_answer(rr)
        return reply


class DnsServer:
    """Authoritative test DNS over UDP on 127.0.0.1 (a free port); see module docstring."""

    def __init__(self, *, refuse_all: bool = False) -> None:
        self.refuse_all = refuse_all
        self.queries: Counter[tuple[str, str]] = Counter()
        self._records: dict[str, list[tuple[str, RR]]] = {}
        self._hang: set[str] = set()
        self._held: set[str] = set()
        self._released = threading.Event()
        self.hold_limit = 10.0  # seconds a held query waits for ``release`` at most
        self._lock = threading.Lock()
        self._server = DNSServer(_Zone(self), address="127.0.0.1", port=0, logger=_Quiet())
        self.port: int = self._server.server.server_address[1]

    @property
    def address(self) -> str:
        """The value for ``MAILGUI_NAMESERVER``."""
        return f"127.0.0.1:{self.port}"

    def add(self, name: str, rtype: str, value: str, ttl: int = 0) -> DnsServer:
        """Add one record in zone-file syntax, e.g. ``add("_submissions._tcp.x.test", "SRV",
        "0 1 465 smtp.x.test.")``; returns self for chaining. TTL 0 by default, so a
        record added later in a test is seen at once (nothing stays cached)."""
        name = name.rstrip(".").lower()
        (rr,) = RR.fromZone(f"{name}. {ttl} IN {rtype} {value}")
        with self._lock:
            self._records.setdefault(name, []).append((rtype, rr))
        return self

    def hang(self, name: str) -> DnsServer:
        """Never answer queries for ``name``."""
        with self._lock:
            self._hang.add(name.rstrip(".").lower())
        return self

    def hold(self, name: str) -> DnsServer:
        """Answer queries for ``name`` only after ``release`` (or ``hold_limit`` seconds)."""
        with self._lock:
            self._held.add(name.rstrip(".").lower())
        return self

    def release(self) -> None:
        """Send the answers held back by ``hold``, and answer at once from now on."""
        self._released.set()

    def asked(self, name: str, rtype: str) -> int:
        with self._lock:
            return self.queries[(name.rstrip(".").lower(), rtype)]

    def start(self) -> DnsServer:
        self._server.start_thread()
        return self

    def stop(self) -> None:
        self.release()  # no handler thread left waiting
        self._server.stop()
        self._server.server.server_close()

    def __enter__(self) -> DnsServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
