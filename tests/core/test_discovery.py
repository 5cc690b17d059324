"""Account discovery against a real DNS server, a real HTTPS autoconfig server and real SMTP
servers, all on 127.0.0.1 (the issue's "Testing without internet")."""

from __future__ import annotations

import http.server
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any, ClassVar

import pytest
import trustme
from dns_server import DnsServer
from smtp_servers import RecordingServer, server_ssl_context

from mailgui.core.discovery import AutoconfigError, discover, parse_autoconfig
from mailgui.core.resolver import Lookup

DOMAIN = "example.test"
ADDR = f"me@{DOMAIN}"

AUTOCONFIG = b"""<?xml version="1.0"?>
<clientConfig version="1.1">
  <emailProvider id="example.test">
    <domain>example.test</domain>
    <incomingServer type="imap"><hostname>imap.example.test</hostname><port>993</port>
      <socketType>SSL</socketType></incomingServer>
    <outgoingServer type="smtp">
      <hostname>submit.%EMAILDOMAIN%</hostname>
      <port>587</port>
      <socketType>STARTTLS</socketType>
      <username>%EMAILADDRESS%</username>
    </outgoingServer>
  </emailProvider>
</clientConfig>
"""


@pytest.fixture
def lookup(dns_server: DnsServer) -> Lookup:
    return Lookup(dns_server.address, timeout=1.0)


@pytest.fixture
def tls_server(ca: trustme.CA, ca_file: str) -> Iterator[Callable[..., RecordingServer]]:
    """RecordingServer factory whose certificate names ``host`` (signed by the test CA)."""
    started: list[RecordingServer] = []

    def start(security: str, host: str) -> RecordingServer:
        context = server_ssl_context(ca.issue_cert(host))
        server = RecordingServer(security, ssl_context=context, ca_file=ca_file)  # type: ignore[arg-type]
        started.append(server)
        return server.start()

    yield start
    for server in started:
        server.stop()


class _Pages(http.server.BaseHTTPRequestHandler):
    pages: ClassVar[dict[str, bytes]] = {}
    seen: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        self.seen.append(self.path)
        body = self.pages.get(self.path.split("?")[0])
        if body is None:
            self.send_response(404)
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/xml")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def https_pages(ca: trustme.CA) -> Iterator[tuple[str, dict[str, bytes], list[str]]]:
    """An HTTPS server on 127.0.0.1 (trustme certificate); yields (base URL, pages, seen)."""
    pages: dict[str, bytes] = {}
    seen: list[str] = []
    handler = type("Pages", (_Pages,), {"pages": pages, "seen": seen})
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"https://127.0.0.1:{httpd.server_address[1]}", pages, seen
    httpd.shutdown()
    httpd.server_close()


def sources(result: Any) -> list[tuple[str, int, str, str]]:
    return [(c.host, c.port, c.security, c.source) for c in result.candidates]


# --- SRV ----------------------------------------------------------------------------------


def test_srv_submissions_is_preferred_and_probed(
    dns_server: DnsServer, lookup: Lookup, tls_server: Any, ca_file: str
) -> None:
    smtps = tls_server("tls", "smtps.example.test")
    starttls = tls_server("starttls", "submit.example.test")
    dns_server.add(f"_submissions._tcp.{DOMAIN}", "SRV", f"0 1 {smtps.port} smtps.example.test.")
    dns_server.add(f"_submission._tcp.{DOMAIN}", "SRV", f"0 1 {starttls.port} submit.example.test.")
    dns_server.add("smtps.example.test", "A", "127.0.0.1")
    dns_server.add("submit.example.test", "A", "127.0.0.1")

    result = discover(ADDR, lookup=lookup, cafile=ca_file, autoconfig_urls=())

    assert sources(result) == [
        ("smtps.example.test", smtps.port, "tls", "srv"),
        ("submit.example.test", starttls.port, "starttls", "srv"),
    ]
    for c in result.candidates:
        assert c.probe is not None and c.probe.ok and c.probe.certificate_valid, c.probe
    assert result.suggested is result.candidates[0]
    assert result.as_json()["suggested"]["host"] == "smtps.example.test"
    assert any("points to smtps.example.test" in s.text for s in result.steps)


def test_srv_priority_and_weight_order(dns_server: DnsServer, lookup: Lookup) -> None:
    name = f"_submissions._tcp.{DOMAIN}"
    dns_server.add(name, "SRV", "20 5 465 backup.example.test.")
    dns_server.add(name, "SRV", "10 1 465 light.example.test.")
    dns_server.add(name, "SRV", "10 9 465 heavy.example.test.")
    result = discover(ADDR, lookup=lookup, probe=False, autoconfig_urls=())
    assert [c.host for c in result.candidates] == [
        "heavy.example.test",
        "light.example.test",
        "backup.example.test",
    ]


def test_srv_dot_means_not_offered_and_absent_falls_through(
    dns_server: DnsServer, lookup: Lookup
) -> None:
    dns_server.add(f"_submissions._tcp.{DOMAIN}", "SRV", "0 0 0 .")
    # no _submission record at all; the domain exists (MX) but is no known provider
    dns_server.add(DOMAIN, "MX", "10 mx.example.test.")
    result = discover(ADDR, lookup=lookup, probe=False, autoconfig_urls=())
    texts = [s.text for s in result.steps]
    assert any("not offered" in t and "_submissions._tcp" in t for t in texts), texts
    assert any(t == f"No SRV record _submission._tcp.{DOMAIN}." for t in texts), texts
    assert all(c.source != "srv" for c in result.candidates)
    # nothing found before: the guesses are tried, and they do not exist
    assert any("smtp.example.test does not exist" in t for t in texts), texts
    assert result.candidates == [] and result.suggested is None


# --- providers --------------------------------------------------------------------------


def test_custom_domain_with_google_mx_gets_gmail_settings(
    dns_server: DnsServer, lookup: Lookup
) -> None:
    dns_server.add(DOMAIN, "MX", "1 aspmx.l.google.com.")
    dns_server.add(DOMAIN, "MX", "5 alt1.aspmx.l.google.com.")
    result = discover(ADDR, lookup=lookup, autoconfig_urls=())
    assert sources(result)[:2] == [
        ("smtp.gmail.com", 465, "tls", "mx"),
        ("smtp.gmail.com", 587, "starttls", "mx"),
    ]
    # the probe goes through the test DNS too, which does not know smtp.gmail.com
    assert result.candidates[0].probe is not None
    assert result.candidates[0].probe.detail == "smtp.gmail.com does not exist"
    assert any("aspmx.l.google.com, which is Gmail" in s.text for s in result.steps)


def test_microsoft_365_mx(dns_server: DnsServer, lookup: Lookup) -> None:
    dns_server.add(DOMAIN, "MX", "0 example-test.mail.protection.outlook.com.")
    result = discover(ADDR, lookup=lookup, probe=False, autoconfig_urls=())
    assert sources(result) == [("smtp.office365.com", 587, "starttls", "mx")]


def test_known_provider_by_domain_needs_no_mx(lookup: Lookup) -> None:
    result = discover("someone@gmail.com", lookup=lookup, probe=False, autoconfig_urls=())
    assert sources(result)[0] == ("smtp.gmail.com", 465, "tls", "provider")


# --- autoconfig -------------------------------------------------------------------------


def test_autoconfig_found(
    dns_server: DnsServer, lookup: Lookup, https_pages: Any, ca_file: str
) -> None:
    base, pages, seen = https_pages
    pages[f"/{DOMAIN}/config-v1.1.xml"] = AUTOCONFIG
    result = discover(
        ADDR,
        lookup=lookup,
        cafile=ca_file,
        probe=False,
        autoconfig_urls=(base + "/{domain}/config-v1.1.xml?emailaddress={address}",),
    )
    assert sources(result) == [("submit.example.test", 587, "starttls", "autoconfig")]
    assert seen == [f"/{DOMAIN}/config-v1.1.xml?emailaddress=me@example.test"]


def test_autoconfig_malformed_is_explained_and_next_step_tried(
    dns_server: DnsServer, lookup: Lookup, https_pages: Any, ca_file: str
) -> None:
    base, pages, _ = https_pages
    pages[f"/{DOMAIN}/bad.xml"] = b"<clientConfig><emailProvider>"
    dns_server.add(DOMAIN, "MX", "10 in1-smtp.messagingengine.com.")
    result = discover(
        ADDR,
        lookup=lookup,
        cafile=ca_file,
        probe=False,
        autoconfig_urls=(base + "/{domain}/bad.xml", base + "/{domain}/missing.xml"),
    )
    texts = [s.text for s in result.steps if s.source == "autoconfig"]
    assert "is not valid XML" in texts[0] and "trying the next step" in texts[0]
    assert "404" in texts[1]
    assert sources(result)[0] == ("smtp.fastmail.com", 465, "tls", "mx")


def test_autoconfig_with_untrusted_certificate_is_not_used(
    dns_server: DnsServer, lookup: Lookup, https_pages: Any
) -> None:
    base, pages, _ = https_pages
    pages[f"/{DOMAIN}/config-v1.1.xml"] = AUTOCONFIG
    result = discover(
        ADDR, lookup=lookup, probe=False, autoconfig_urls=(base + "/{domain}/config-v1.1.xml",)
    )
    assert all(c.source != "autoconfig" for c in result.candidates)
    assert any("certificate is not valid" in s.text for s in result.steps)


def test_parse_autoconfig_rejects_what_it_cannot_use() -> None:
    with pytest.raises(AutoconfigError, match="no usable SMTP server"):
        parse_autoconfig(b"<clientConfig><emailProvider/></clientConfig>", ADDR, DOMAIN)
    with pytest.raises(AutoconfigError, match="not a clientConfig"):
        parse_autoconfig(b"<html/>", ADDR, DOMAIN)


# --- guesses and probes -------------------------------------------------------------------


def test_guess_probes_with_one_port_closed(
    dns_server: DnsServer, lookup: Lookup, tls_server: Any, ca_file: str, closed_port: int
) -> None:
    server = tls_server("starttls", f"smtp.{DOMAIN}")
    dns_server.add(f"smtp.{DOMAIN}", "A", "127.0.0.1")
    started = time.monotonic()
    result = discover(
        ADDR,
        lookup=lookup,
        cafile=ca_file,
        autoconfig_urls=(),
        timeout=2.0,
        guess_ports=((closed_port, "tls"), (server.port, "starttls")),
    )
    assert time.monotonic() - started < 5
    works = [(c.port, c.probe.ok if c.probe else None) for c in result.candidates]
    # the working one first, the refused one after
    assert works == [(server.port, True), (closed_port, False)]
    assert result.candidates[0].probe is not None
    assert result.candidates[0].probe.certificate_valid is True
    assert result.candidates[1].probe is not None
    assert result.candidates[1].probe.detail == "connection refused"
    assert result.suggested is not None and result.suggested.port == server.port
    assert any(s.text.startswith("mail.example.test does not exist") for s in result.steps)


def test_probe_reports_an_invalid_certificate(
    dns_server: DnsServer, lookup: Lookup, tls_server: Any, ca_file: str
) -> None:
    server = tls_server("tls", "other.name.test")  # valid CA, wrong name
    dns_server.add(f"smtp.{DOMAIN}", "A", "127.0.0.1")
    result = discover(
        ADDR, lookup=lookup, cafile=ca_file, autoconfig_urls=(), guess_ports=((server.port, "tls"),)
    )
    (c,) = result.candidates
    assert c.probe is not None and c.probe.ok and c.probe.certificate_valid is False
    assert "certificate is not valid" in c.probe.detail


# --- DNS trouble --------------------------------------------------------------------------


def test_dns_timeout_is_bounded_and_explained(dns_server: DnsServer, lookup: Lookup) -> None:
    dns_server.hang(f"_submissions._tcp.{DOMAIN}")
    started = time.monotonic()
    result = discover(ADDR, lookup=lookup, autoconfig_urls=())
    assert time.monotonic() - started < 3  # one 1-second timeout, not one per step
    assert result.candidates == []
    assert "DNS is not available" in result.steps[0].text
    assert "did not answer within 1 seconds" in result.steps[0].text


def test_offline_guard_makes_dns_unavailable(_refusing_dns: DnsServer) -> None:
    """Without dns_server, every look-up goes to the refusing guard: never the internet."""
    result = discover("me@gmail.com", lookup=Lookup(_refusing_dns.address), autoconfig_urls=())
    assert "DNS is not available" in result.steps[0].text
    # the built-in table still answers; the probe cannot resolve the name
    assert result.candidates[0].source == "provider"
    assert result.candidates[0].probe is not None and not result.candidates[0].probe.ok


# --- the IMAP server, for the copy in the Sent folder ------------------------------------


def _imap(result: Any) -> list[tuple[str, int, str, str]]:
    return [(c.host, c.port, c.security, c.source) for c in result.imap]


def test_imap_from_srv_autoconfig_and_the_provider_table(
    dns_server: DnsServer, lookup: Lookup, https_pages: Any, ca_file: str
) -> None:
    dns_server.add(f"_imaps._tcp.{DOMAIN}", "SRV", "0 1 993 mail.example.test.")
    dns_server.add(f"_imap._tcp.{DOMAIN}", "SRV", "0 0 0 .")  # not offered
    base, pages, _seen = https_pages
    pages[f"/{DOMAIN}/config-v1.1.xml"] = AUTOCONFIG
    result = discover(ADDR, lookup=lookup, cafile=ca_file, probe=False,
                      autoconfig_urls=(base + "/{domain}/config-v1.1.xml",))  # fmt: skip
    assert _imap(result) == [
        ("mail.example.test", 993, "tls", "srv"),
        ("imap.example.test", 993, "tls", "autoconfig"),
    ]
    assert result.as_json()["imap_suggested"]["host"] == "mail.example.test"
    gmail = discover("someone@gmail.com", lookup=lookup, probe=False, autoconfig_urls=())
    assert _imap(gmail) == [("imap.gmail.com", 993, "tls", "provider")]
    assert parse_autoconfig(AUTOCONFIG, ADDR, DOMAIN, imap=True) == [
        ("imap.example.test", 993, "tls")
    ]
