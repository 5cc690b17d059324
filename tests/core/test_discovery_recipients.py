"""Recipient-domain checks (null MX, NXDOMAIN, implicit MX, typos) against a real local DNS."""

from __future__ import annotations

import time

import pytest
from dns_server import DnsServer

from mailgui.core.recipient_checks import check_recipients, typo_suggestion
from mailgui.core.resolver import Lookup


@pytest.fixture
def lookup(dns_server: DnsServer) -> Lookup:
    return Lookup(dns_server.address, timeout=1.0)


@pytest.mark.parametrize(
    ("typed", "meant"),
    [
        ("gmial.com", "gmail.com"),
        ("hotmial.com", "hotmail.com"),
        ("gmail.con", "gmail.com"),
        ("yaho.com", "yahoo.com"),
        ("outlok.com", "outlook.com"),
        ("gmail.com", None),
        ("example.org", None),
        ("gmx.de", None),
        ("mycompany.com", None),
    ],
)
def test_typo_suggestions(typed: str, meant: str | None) -> None:
    assert typo_suggestion(typed) == meant


def test_findings(dns_server: DnsServer, lookup: Lookup) -> None:
    dns_server.add("null.test", "MX", "0 .")
    dns_server.add("mx.test", "MX", "10 in.mx.test.")
    dns_server.add("implicit.test", "A", "192.0.2.1")
    dns_server.add("gmial.com", "MX", "10 mx.gmial.com.")  # typo domains often do exist
    findings = check_recipients(
        ["a@null.test", "b@mx.test", "c@implicit.test", "d@nowhere.test", "e@gmial.com",
         "f@NULL.test"],
        lookup=lookup,
    )  # fmt: skip
    by_domain = {(f.domain, f.level): f for f in findings}
    assert set(by_domain) == {
        ("null.test", "block"),
        ("nowhere.test", "warn"),
        ("gmial.com", "warn"),
    }
    assert "accepts no mail" in by_domain[("null.test", "block")].message
    assert by_domain[("nowhere.test", "warn")].message == (
        "The domain nowhere.test does not exist; check the address."
    )
    assert by_domain[("gmial.com", "warn")].suggestion == "gmail.com"
    assert dns_server.asked("null.test", "MX") == 1  # one look-up per domain


def test_dns_timeout_is_bounded_and_silent(dns_server: DnsServer, lookup: Lookup) -> None:
    dns_server.hang("slow.test").hang("gmail.con")
    started = time.monotonic()
    findings = check_recipients(["a@slow.test", "b@gmail.con"], lookup=lookup, deadline=0.5)
    assert time.monotonic() - started < 1.0
    # no DNS verdict, but the typo needs no network
    assert [(f.domain, f.suggestion) for f in findings] == [("gmail.con", "gmail.com")]


def test_offline_checks_are_skipped(_refusing_dns: DnsServer) -> None:
    lookup = Lookup(_refusing_dns.address)
    assert check_recipients(["a@null.test", "b@example.org"], lookup=lookup) == []


def test_a_resolver_that_denies_every_domain_is_not_believed(dns_server: DnsServer) -> None:
    """Captive portals and some sandboxes answer "no such domain" to every name: then
    every recipient domain would "not exist". Asked once whether the DNS root exists; it
    does not, so no domain is reported missing and one note says why."""
    liar = DnsServer().start()  # no records at all, not even the root: NXDOMAIN for all
    try:
        lookup = Lookup(liar.address, timeout=1.0)
        found = check_recipients(["bob@example.org", "carol@example.net"], lookup=lookup)
        assert [f.level for f in found] == ["note"]
        assert "not even the DNS root" in found[0].message
        assert liar.queries[("", "NS")] == 1  # asked once, not per domain
        # A typo is still a typo: that needs no DNS.
        found = check_recipients(["bob@gmial.com"], lookup=lookup)
        assert [(f.level, f.suggestion) for f in found] == [("note", None), ("warn", "gmail.com")]
    finally:
        liar.stop()
    # An honest server (the fixture knows the root) still gets its warning.
    honest = Lookup(dns_server.address, timeout=1.0)
    found = check_recipients(["bob@nowhere.example"], lookup=honest)
    assert [f.message for f in found] == [
        "The domain nowhere.example does not exist; check the address."
    ]
