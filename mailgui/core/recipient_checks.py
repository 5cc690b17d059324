"""Checks of recipient domains before sending: does the domain exist, does it take mail,
is it a likely typo of a common domain?

They run in the background (GUI) or with a tight deadline (CLI), never delay queueing,
and say nothing when DNS cannot be reached: a check that cannot be made is skipped.
Results are plain data (:class:`Finding`), shown as warnings, except a null MX
(RFC 7505), which is the domain's own statement that it accepts no mail: ``block``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from mailgui.core.errors import MailguiError
from mailgui.core.providers import COMMON_DOMAINS
from mailgui.core.resolver import Lookup, domain_of, shared_lookup

DENYING_DNS = (
    "The DNS server answers that no domain exists, not even the DNS root (captive portals "
    "and some hotel or filtered networks do this), so recipient domains were not checked."
)
CHECK_TIMEOUT = 1.5  # seconds per look-up; checks are advice, not worth waiting for

# A wrong top-level domain on a common name: gmail.con, yahoo.cmo, hotmail.co
_TLD_TYPOS = {"con": "com", "cmo": "com", "ocm": "com", "vom": "com", "xom": "com",
              "comm": "com", "coom": "com", "cpm": "com", "om": "com", "nte": "net",
              "ent": "net", "met": "net", "ogr": "org", "orgg": "org"}  # fmt: skip


@dataclass(frozen=True)
class Finding:
    domain: str
    level: Literal["warn", "block", "note"]  # note: about the checks, not about a domain
    message: str  # one sentence for people
    suggestion: str | None = None  # the domain they probably meant


def _distance(a: str, b: str) -> int:
    """Damerau-Levenshtein distance (optimal string alignment): a swap costs one."""
    prev2: list[int] = []
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i] + [0] * len(b)
        for j, cb in enumerate(b, 1):
            cost = ca != cb
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                cur[j] = min(cur[j], prev2[j - 2] + 1)
        prev2, prev = prev, cur
    return prev[-1]


def typo_suggestion(domain: str) -> str | None:
    """The common domain ``domain`` is probably a typo of, or None."""
    domain = domain.lower().rstrip(".")
    if domain in COMMON_DOMAINS:
        return None
    name, _, tld = domain.rpartition(".")
    if name and tld in _TLD_TYPOS:
        fixed = f"{name}.{_TLD_TYPOS[tld]}"
        if fixed in COMMON_DOMAINS:
            return fixed
    best: tuple[int, str] | None = None
    for common in COMMON_DOMAINS:
        if abs(len(common) - len(domain)) > 1:
            continue
        d = _distance(domain, common)
        if d <= 1 and (best is None or d < best[0]):
            best = (d, common)
    return best[1] if best else None


def check_domain(domain: str, lookup: Lookup) -> list[Finding]:
    """Findings for one domain; DNS trouble means no DNS finding (never an exception)."""
    domain = domain.lower().rstrip(".")
    findings = []
    typo = typo_suggestion(domain)
    if typo is not None:
        findings.append(Finding(domain, "warn", f"{domain}: did you mean {typo}?", typo))
    try:
        mx = lookup.mx(domain)
    except MailguiError:  # DNS unreachable or MAILGUI_NAMESERVER unusable: no check
        return findings
    if mx.status == "null":
        findings.insert(
            0,
            Finding(
                domain,
                "block",
                f"The domain {domain} accepts no mail (it publishes a null MX record), "
                "so a message to it cannot be delivered; check the address.",
            ),
        )
    elif mx.status == "nxdomain" and not lookup.denies_everything():
        findings.insert(
            0,
            Finding(
                domain,
                "warn",
                f"The domain {domain} does not exist; check the address.",
                typo,
            ),
        )
    elif mx.status == "nomail":
        findings.insert(
            0,
            Finding(domain, "warn", f"The domain {domain} has no mail server; check the address."),
        )
    return findings


def domains_of(addresses: Iterable[str]) -> list[str]:
    seen: dict[str, None] = {}
    for addr in addresses:
        domain = domain_of(addr)
        if domain and not domain.startswith("["):
            seen.setdefault(domain, None)
    return list(seen)


def check_recipients(
    addresses: Iterable[str],
    *,
    lookup: Lookup | None = None,
    deadline: float = 2.0,
) -> list[Finding]:
    """Check every recipient domain in parallel; whatever is not answered within
    ``deadline`` seconds is skipped. Typo findings need no network and always come back."""
    lookup = lookup or shared_lookup(CHECK_TIMEOUT)
    domains = domains_of(addresses)
    results: dict[str, list[Finding]] = {}
    lock = threading.Lock()

    def run(domain: str) -> None:
        found = check_domain(domain, lookup)
        with lock:
            results[domain] = found

    # Not daemons: a look-up ends within its own timeout (a domain needs up to three), and
    # a process exiting meanwhile waits for them rather than finalizing under a thread that
    # still imports (CPython 3.11 then crashes in the import lock). ``deadline`` bounds only
    # what the caller waits.
    threads = [threading.Thread(target=run, args=(d,), name=f"mailgui-check-{d}") for d in domains]
    for t in threads:
        t.start()
    end = time.monotonic() + deadline
    for t in threads:
        t.join(max(0.0, end - time.monotonic()))
    out: list[Finding] = []
    if lookup.found_denying:
        out.append(Finding("", "note", DENYING_DNS))
    with lock:
        for domain in domains:
            if domain in results:
                out += results[domain]
            else:
                suggestion = typo_suggestion(domain)
                if suggestion:
                    out.append(
                        Finding(domain, "warn", f"{domain}: did you mean {suggestion}?", suggestion)
                    )
    return out
