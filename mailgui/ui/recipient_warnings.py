"""Recipient-domain checks for the compose window, in the background.

Each domain is checked once per window (``core.recipient_checks.check_domain``: MX
lookup with a short timeout, typo suggestions) in a small thread pool of our own, so
slow DNS never takes the threads that other background work uses. Results come back
to the GUI thread as plain data (domain, findings). Nothing here waits: a check still
running when the person sends simply does not count.
"""

from __future__ import annotations

import functools
import html
from collections.abc import Iterable

from PySide6.QtCore import QCoreApplication, QObject, Signal

from mailgui.core.log import get_logger
from mailgui.core.recipient_checks import CHECK_TIMEOUT, Finding, check_domain
from mailgui.core.resolver import shared_lookup
from mailgui.ui import background

__all__ = ["DomainChecker", "describe"]

log = get_logger(__name__)

FIX_SCHEME = "fix-domain:"  # link target of a "did you mean" suggestion: fix-domain:OLD:NEW


POOL_THREADS = 4  # checks at once; more wait their turn


def _check(domain: str) -> list[Finding]:
    try:
        return check_domain(domain, shared_lookup(CHECK_TIMEOUT))
    except Exception:  # a check is advice: never let it break anything
        log.exception("checking the domain %s failed", domain)
        return []


class DomainChecker(QObject):
    """Checks recipient domains for one compose window, each domain once.

    Signals:
        checked(str domain, list findings): a domain's findings arrived (maybe none).
    """

    checked = Signal(str, list)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._results: dict[str, list[Finding]] = {}
        self._running: dict[int, str] = {}  # request id -> domain

    def request(self, domains: Iterable[str]) -> None:
        """Start checks for the domains not checked or being checked yet."""
        for raw in domains:
            domain = raw.lower().rstrip(".")
            if not domain or domain in self._results or domain in self._running.values():
                continue
            if domain.startswith("["):  # an address literal has no DNS to ask
                continue
            pool = background.pool("recipient-checks", POOL_THREADS)
            job = functools.partial(_check, domain)
            self._running[background.run(job, self._on_done, pool)] = domain

    def findings(self, domain: str) -> list[Finding]:
        return self._results.get(domain.lower().rstrip("."), [])

    def is_running(self, domain: str | None = None) -> bool:
        if domain is None:
            return bool(self._running)
        return domain.lower().rstrip(".") in self._running.values()

    def _on_done(self, request: int, findings: list[Finding]) -> None:
        """In the GUI thread, and only while this checker exists (``background.run``)."""
        domain = self._running.pop(request)
        self._results[domain] = findings
        self.checked.emit(domain, findings)


def describe(
    findings: list[Finding], *, block_color: str = "#c62828", warn_color: str = "#9a5b00"
) -> tuple[str, bool]:
    """Rich text for a field's findings (one line per domain, worst first, each in its
    colour) and whether one blocks sending. A suggestion is a link: ``fix-domain:OLD:NEW``."""
    by_domain: dict[str, list[Finding]] = {}
    for finding in findings:
        by_domain.setdefault(finding.domain, []).append(finding)
    lines = []
    blocked = False
    for domain, found in by_domain.items():
        found.sort(key=lambda f: f.level != "block")
        blocked = blocked or found[0].level == "block"
        first = found[0]
        suggestion = next((f.suggestion for f in found if f.suggestion), None)
        if first.suggestion is not None and first.message.endswith("?"):
            # "gmial.com: did you mean gmail.com?" alone: the question is the message
            text = html.escape(first.message.rsplit(first.suggestion, 1)[0])
            line = f"⚠ {text}{_link(domain, first.suggestion)}?"
            lines.append(f'<span style="color:{warn_color}">{line}</span>')
            continue
        block = first.level == "block"
        line = ("<b>✕</b> " if block else "⚠ ") + html.escape(first.message)
        if suggestion:
            did_you_mean = QCoreApplication.translate("ComposeWindow", "Did you mean {0}?")
            line += " " + html.escape(did_you_mean).format(_link(domain, suggestion))
        lines.append(f'<span style="color:{block_color if block else warn_color}">{line}</span>')
    return "<br>".join(lines), blocked


def _link(domain: str, suggestion: str) -> str:
    target = html.escape(f"{FIX_SCHEME}{domain}:{suggestion}")
    return f'<a href="{target}">{html.escape(suggestion)}</a>'
