"""Find the submission server for an address, explaining each step.

Order (the first steps are the domain's own word, the later ones educated guesses):

1. DNS SRV (RFC 6186 / RFC 8314): ``_submissions._tcp`` (implicit TLS, preferred), then
   ``_submission._tcp`` (STARTTLS); a "." target means "not offered".
2. Thunderbird-style autoconfig XML (``config-v1.1.xml``) over verified HTTPS from the
   domain's ``autoconfig`` host and its ``.well-known`` path.
3. The built-in provider table, by domain and by the domain's MX host.
4. Guesses ``smtp.DOMAIN`` and ``mail.DOMAIN`` on 465 (TLS) and 587 (STARTTLS).

Every candidate is then probed in parallel (connect, TLS, certificate check) with a short
timeout. All names are resolved through :mod:`mailgui.core.resolver`, never the system's
``getaddrinfo``. ``MAILGUI_AUTOCONFIG_URL`` replaces the autoconfig URLs (tests); it may
contain ``{domain}`` and ``{address}``.
"""

from __future__ import annotations

import http.client
import os
import socket
import ssl
import urllib.parse
import xml.etree.ElementTree as ET
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from mailgui.core.errors import InputError
from mailgui.core.providers import by_domain, by_mx
from mailgui.core.resolver import DnsUnavailable, Lookup, shared_lookup

AUTOCONFIG_ENV = "MAILGUI_AUTOCONFIG_URL"
AUTOCONFIG_URLS = (
    "https://autoconfig.{domain}/mail/config-v1.1.xml?emailaddress={address}",
    "https://{domain}/.well-known/autoconfig/mail/config-v1.1.xml",
)
GUESS_PORTS: tuple[tuple[int, str], ...] = ((465, "tls"), (587, "starttls"))
MAX_AUTOCONFIG_BYTES = 256 * 1024
SOURCES = ("srv", "autoconfig", "provider", "mx", "guess")


@dataclass
class Probe:
    """What connecting to a candidate showed."""

    ok: bool  # the server greeted and (where asked for) TLS could be set up
    certificate_valid: bool | None  # None: no TLS got that far
    detail: str


@dataclass
class Candidate:
    host: str
    port: int
    security: str  # tls | starttls | none
    source: str  # srv | autoconfig | provider | mx | guess
    note: str = ""
    probe: Probe | None = None

    @property
    def key(self) -> tuple[str, int, str]:
        return (self.host, self.port, self.security)

    def as_json(self) -> dict[str, Any]:
        return {
            "host": self.host,
            "port": self.port,
            "security": self.security,
            "source": self.source,
            "note": self.note,
            "probed": self.probe is not None,
            "probe_ok": self.probe.ok if self.probe else None,
            "certificate_valid": self.probe.certificate_valid if self.probe else None,
            "probe_detail": self.probe.detail if self.probe else None,
        }


@dataclass
class Step:
    source: str
    text: str

    def as_json(self) -> dict[str, str]:
        return {"source": self.source, "text": self.text}


@dataclass
class Discovery:
    address: str
    domain: str
    candidates: list[Candidate] = field(default_factory=list)
    steps: list[Step] = field(default_factory=list)
    # The IMAP server for the copy in the Sent folder (named, not probed): tls | starttls
    imap: list[Candidate] = field(default_factory=list)

    @property
    def suggested(self) -> Candidate | None:
        """The first candidate that worked, else the first the domain or the provider
        table named (it may just be unreachable from here); a failed guess is no advice."""
        working = next((c for c in self.candidates if c.probe and c.probe.ok), None)
        if working is not None:
            return working
        return next((c for c in self.candidates if c.source != "guess"), None)

    def as_json(self) -> dict[str, Any]:
        best = self.suggested
        return {
            "address": self.address,
            "domain": self.domain,
            "candidates": [c.as_json() for c in self.candidates],
            "suggested": best.as_json() if best else None,
            "steps": [s.as_json() for s in self.steps],
            "imap_candidates": [c.as_json() for c in self.imap],
            "imap_suggested": self.imap[0].as_json() if self.imap else None,
        }


class _Explainer:
    def __init__(self, result: Discovery, on_step: Callable[[Step], None] | None) -> None:
        self.result = result
        self.on_step = on_step

    def __call__(self, source: str, text: str) -> None:
        step = Step(source, text)
        self.result.steps.append(step)
        if self.on_step is not None:
            self.on_step(step)


def domain_of(address: str) -> str:
    local, at, domain = address.strip().rpartition("@")
    domain = domain.strip().rstrip(".").lower()
    if not at or not local or not domain or any(c in domain for c in " \r\n\t/\\@:"):
        raise InputError(f"{address!r} is not an e-mail address; give one like me@example.org.")
    try:
        return domain.encode("idna").decode("ascii")
    except UnicodeError:
        raise InputError(f"The domain of {address!r} is not a valid domain name.") from None


def discover(
    address: str,
    *,
    lookup: Lookup | None = None,
    autoconfig_urls: tuple[str, ...] | None = None,
    cafile: str | None = None,
    probe: bool = True,
    timeout: float = 4.0,
    guess_ports: tuple[tuple[int, str], ...] = GUESS_PORTS,
    on_step: Callable[[Step], None] | None = None,
) -> Discovery:
    """Run every step and probe what was found; never raises for network trouble."""
    domain = domain_of(address)
    lookup = lookup or shared_lookup()
    result = Discovery(address.strip(), domain)
    say = _Explainer(result, on_step)
    seen: set[tuple[str, int, str]] = set()

    def add(c: Candidate) -> None:
        if c.key not in seen:
            seen.add(c.key)
            result.candidates.append(c)

    def add_imap(c: Candidate) -> None:
        if c.key not in {i.key for i in result.imap}:
            result.imap.append(c)

    dns_ok = _srv_step(domain, lookup, say, add)
    if dns_ok:
        _srv_step(domain, lookup, say, add_imap, IMAP_SRV)
    if autoconfig_urls is None:
        env = os.environ.get(AUTOCONFIG_ENV)
        autoconfig_urls = (env,) if env else AUTOCONFIG_URLS
    _autoconfig_step(
        address.strip(), domain, autoconfig_urls, lookup, cafile, timeout, say, add, add_imap
    )
    _provider_step(domain, lookup, dns_ok, say, add, add_imap)
    if not result.candidates:
        _guess_step(domain, lookup, dns_ok, guess_ports, say, add)
    if probe and result.candidates:
        _probe_all(result.candidates, lookup, cafile, timeout, say)
    if not result.candidates:
        say("result", f"No submission server could be found for {domain}; ask your provider.")
    return result


# --- 1. SRV -----------------------------------------------------------------------------


SUBMISSION_SRV = (("_submissions._tcp", "tls"), ("_submission._tcp", "starttls"))
IMAP_SRV = (("_imaps._tcp", "tls"), ("_imap._tcp", "starttls"))  # RFC 6186


def _srv_step(
    domain: str,
    lookup: Lookup,
    say: _Explainer,
    add: Callable[[Candidate], None],
    services: tuple[tuple[str, str], ...] = SUBMISSION_SRV,
) -> bool:
    for service, security in services:
        name = f"{service}.{domain}"
        try:
            targets = lookup.srv(name)
        except DnsUnavailable as exc:
            say("srv", f"DNS is not available, so SRV, MX and guesses are skipped: {exc}")
            return False
        if targets is None:
            say("srv", f"No SRV record {name}.")
            continue
        offered = [t for t in targets if t.target and t.port]
        if not offered:
            say("srv", f'{name} says the service is not offered (target ".").')
            continue
        for t in offered:
            add(Candidate(t.target, t.port, security, "srv", f"SRV {name} priority {t.priority}"))
        listing = ", ".join(f"{t.target}:{t.port}" for t in offered)
        say("srv", f"{name} points to {listing}.")
    return True


# --- 2. autoconfig ----------------------------------------------------------------------


class AutoconfigError(Exception):
    pass


_SOCKET_TYPES = {"SSL": "tls", "TLS": "tls", "STARTTLS": "starttls", "PLAIN": "none"}


def parse_autoconfig(
    xml: bytes, address: str, domain: str, *, imap: bool = False
) -> list[tuple[str, int, str]]:
    """The SMTP servers of a ``config-v1.1.xml`` (``imap``: its IMAP servers instead);
    raises AutoconfigError when unusable."""
    try:
        root = ET.fromstring(xml)
    except ET.ParseError as exc:
        raise AutoconfigError(f"it is not valid XML ({exc})") from None
    if root.tag != "clientConfig":
        raise AutoconfigError(f"it is not a clientConfig document (root <{root.tag}>)")
    local = address.rpartition("@")[0]
    servers = []
    kind, what = ("incomingServer", "imap") if imap else ("outgoingServer", "smtp")
    for node in root.iter(kind):
        if node.get("type", what) != what:
            continue
        host = (node.findtext("hostname") or "").strip()
        host = host.replace("%EMAILDOMAIN%", domain).replace("%EMAILLOCALPART%", local)
        port_text = (node.findtext("port") or "").strip()
        socket_type = (node.findtext("socketType") or "").strip().upper()
        security = _SOCKET_TYPES.get(socket_type)
        if not host or not port_text.isdigit() or security is None:
            continue
        port = int(port_text)
        if 0 < port < 65536 and not (imap and security == "none"):
            servers.append((host.lower(), port, security))
    if not servers:
        raise AutoconfigError(f"it lists no usable {what.upper()} server")
    return servers


def fetch_https(url: str, lookup: Lookup, cafile: str | None, timeout: float) -> bytes:
    """GET over verified HTTPS, the name resolved by ``lookup``; raises AutoconfigError."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme != "https" or not parts.hostname:
        raise AutoconfigError("only https:// addresses are used")
    host, port = parts.hostname, parts.port or 443
    try:
        addresses = lookup.addresses(host)
    except DnsUnavailable as exc:
        raise AutoconfigError(str(exc)) from None
    if not addresses:
        raise AutoconfigError(f"{host} does not exist")
    context = ssl.create_default_context(cafile=cafile)
    conn = http.client.HTTPSConnection(host, port, timeout=timeout, context=context)
    try:
        sock = socket.create_connection((addresses[0], port), timeout=timeout)
        conn.sock = context.wrap_socket(sock, server_hostname=host)
        path = parts.path or "/"
        conn.request("GET", path + (f"?{parts.query}" if parts.query else ""),
                     headers={"User-Agent": "mailgui", "Accept": "application/xml"})  # fmt: skip
        resp = conn.getresponse()
        if resp.status != 200:
            raise AutoconfigError(f"the server answered {resp.status} {resp.reason}")
        data = resp.read(MAX_AUTOCONFIG_BYTES + 1)
    except ssl.SSLCertVerificationError as exc:
        raise AutoconfigError(f"its certificate is not valid ({exc.verify_message})") from None
    except (OSError, http.client.HTTPException) as exc:
        raise AutoconfigError(_describe(exc)) from None
    finally:
        conn.close()
    if len(data) > MAX_AUTOCONFIG_BYTES:
        raise AutoconfigError("the file is too large")
    return data


def _autoconfig_step(
    address: str,
    domain: str,
    urls: tuple[str, ...],
    lookup: Lookup,
    cafile: str | None,
    timeout: float,
    say: _Explainer,
    add: Callable[[Candidate], None],
    add_imap: Callable[[Candidate], None],
) -> None:
    quoted = urllib.parse.quote(address, safe="@")
    for template in urls:
        url = template.format(domain=domain, address=quoted)
        try:
            xml = fetch_https(url, lookup, cafile, timeout)
            servers = parse_autoconfig(xml, address, domain)
        except AutoconfigError as exc:
            say("autoconfig", f"No autoconfig from {url}: {exc}; trying the next step.")
            continue
        for host, port, security in servers:
            add(Candidate(host, port, security, "autoconfig", f"from {url}"))
        try:
            for host, port, security in parse_autoconfig(xml, address, domain, imap=True):
                add_imap(Candidate(host, port, security, "autoconfig", f"from {url}"))
        except AutoconfigError:
            pass  # no IMAP server listed: no Sent copy suggested
        say("autoconfig", f"{url} lists " + ", ".join(f"{h}:{p} ({s})" for h, p, s in servers))
        return


# --- 3. providers -----------------------------------------------------------------------


def _provider_step(
    domain: str,
    lookup: Lookup,
    dns_ok: bool,
    say: _Explainer,
    add: Callable[[Candidate], None],
    add_imap: Callable[[Candidate], None],
) -> None:
    provider = by_domain(domain)
    if provider is not None and provider.imap is not None:
        add_imap(Candidate(*provider.imap, "provider", provider.name))
    if provider is not None:
        for host, port, security in provider.servers:
            add(Candidate(host, port, security, "provider", provider.note or provider.name))
        say("provider", f"{domain} is {provider.name}.")
        return
    if not dns_ok:
        return
    try:
        mx = lookup.mx(domain)
    except DnsUnavailable as exc:
        say("mx", f"The MX look-up failed: {exc}")
        return
    for host in (h.host for h in mx.hosts if mx.status == "mx"):
        provider = by_mx(host)
        if provider is not None:
            if provider.imap is not None:
                add_imap(Candidate(*provider.imap, "mx", provider.name))
            for server, port, security in provider.servers:
                add(Candidate(server, port, security, "mx", provider.note or provider.name))
            say("mx", f"{domain} receives mail at {host}, which is {provider.name}.")
            return
    if mx.status == "nxdomain":
        say("mx", f"The domain {domain} does not exist.")
    else:
        say("mx", f"The mail servers of {domain} are not a provider mailgui knows.")


# --- 4. guesses -------------------------------------------------------------------------


def _guess_step(
    domain: str,
    lookup: Lookup,
    dns_ok: bool,
    ports: tuple[tuple[int, str], ...],
    say: _Explainer,
    add: Callable[[Candidate], None],
) -> None:
    if not dns_ok:
        return
    for host in (f"smtp.{domain}", f"mail.{domain}"):
        try:
            found = lookup.addresses(host)
        except DnsUnavailable as exc:
            say("guess", f"Could not look up {host}: {exc}")
            continue
        if not found:
            say("guess", f"{host} does not exist.")
            continue
        for port, security in ports:
            add(Candidate(host, port, security, "guess"))
        say("guess", f"{host} exists; trying ports " + ", ".join(str(p) for p, _ in ports) + ".")


# --- probes -----------------------------------------------------------------------------


def _describe(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError | socket.timeout):
        return "no answer in time"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, ssl.SSLError):
        return f"TLS failed ({exc.reason or exc})"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror[0].lower() + exc.strerror[1:]
    return str(exc) or type(exc).__name__


def _read_reply(f: Any) -> tuple[int, str]:
    lines = []
    while True:
        line = f.readline(4096)
        if not line:
            raise ConnectionError("the server closed the connection")
        lines.append(line.decode("utf-8", "replace").rstrip("\r\n"))
        if line[3:4] != b"-":
            break
    code = int(lines[-1][:3]) if lines[-1][:3].isdigit() else 0
    return code, "\n".join(line[4:] for line in lines)


def probe_server(
    host: str, port: int, security: str, lookup: Lookup, *, cafile: str | None, timeout: float
) -> Probe:
    """Connect, greet, set up TLS and check the certificate; sends no mail, no login."""
    try:
        addresses = lookup.addresses(host)
    except DnsUnavailable as exc:
        return Probe(False, None, str(exc))
    if not addresses:
        return Probe(False, None, f"{host} does not exist")
    try:
        sock = socket.create_connection((addresses[0], port), timeout=timeout)
    except OSError as exc:
        return Probe(False, None, _describe(exc))
    context = ssl.create_default_context(cafile=cafile)
    files: list[Any] = []

    def reader(s: socket.socket) -> Any:
        files.append(s.makefile("rb"))
        return files[-1]

    try:
        if security == "starttls":
            f = reader(sock)
            code, _ = _read_reply(f)
            if code != 220:
                return Probe(False, None, f"the server greeted with {code}")
            sock.sendall(b"EHLO [127.0.0.1]\r\n")
            code, text = _read_reply(f)
            if code != 250 or "STARTTLS" not in text.upper().split():
                return Probe(False, None, "the server does not offer STARTTLS")
            sock.sendall(b"STARTTLS\r\n")
            code, _ = _read_reply(f)
            if code != 220:
                return Probe(False, None, f"the server refused STARTTLS ({code})")
        if security in ("tls", "starttls"):
            try:
                tls = context.wrap_socket(sock, server_hostname=host)
            except ssl.SSLCertVerificationError as exc:
                return Probe(True, False, f"TLS works but the certificate is not valid "
                             f"({exc.verify_message})")  # fmt: skip
            sock = tls
            version = tls.version()
            if security == "tls":
                code, _ = _read_reply(reader(tls))
                if code != 220:
                    return Probe(False, True, f"the server greeted with {code}")
            try:
                tls.sendall(b"QUIT\r\n")
            except OSError:
                pass
            return Probe(True, True, f"{version}, certificate valid")
        code, _ = _read_reply(reader(sock))
        return Probe(code == 220, None, "no encryption" if code == 220 else f"greeting {code}")
    except (OSError, ValueError) as exc:
        return Probe(False, None, _describe(exc))
    finally:
        for f in files:
            f.close()
        sock.close()


def _probe_all(
    candidates: list[Candidate],
    lookup: Lookup,
    cafile: str | None,
    timeout: float,
    say: _Explainer,
) -> None:
    def run(c: Candidate) -> Probe:
        return probe_server(c.host, c.port, c.security, lookup, cafile=cafile, timeout=timeout)

    with ThreadPoolExecutor(max_workers=min(8, len(candidates))) as pool:
        probes = list(pool.map(run, candidates))
    for c, p in zip(candidates, probes, strict=True):
        c.probe = p
        verdict = "works" if p.ok else "does not work"
        say("probe", f"{c.host}:{c.port} ({c.security}) {verdict}: {p.detail}.")
    # Among guesses, the ones that worked first; the domain's own answers keep their order.
    guesses = [c for c in candidates if c.source == "guess"]
    if guesses:
        others = [c for c in candidates if c.source != "guess"]
        guesses.sort(key=lambda c: not (c.probe and c.probe.ok))
        candidates[:] = others + guesses
