"""Delivery policy as pure functions of (reply, attempts, clock).

Reply classification follows RFC 5321 (basic codes) and RFC 3463 (enhanced
codes); the back-off and give-up rule follow RFC 5321 §4.5.4.1.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import NamedTuple

from mailgui.core.accounts import RateLimits, RetryPolicy

_ENHANCED_RE = re.compile(r"^([245])\.(\d{1,3})\.(\d{1,3})\b\s*")

# Enhanced codes whose 5xx means "not now" rather than "never":
# 5.5.3 too many recipients (RFC 5321 §4.5.3.1.10 asks clients to treat 552 so).
_TRANSIENT_DESPITE_5XX = {"5.5.3"}
# Server words end up on terminals, in labels and in the log: control characters (ESC
# starts terminal escape sequences) and bidi overrides become "?", and the text is cut.
_UNSAFE = re.compile("[\x00-\x08\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
MAX_TEXT = 500


class Reply(NamedTuple):
    code: int
    enhanced: str | None
    text: str

    @classmethod
    def parse(cls, code: int, raw: bytes | str) -> Reply:
        text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
        text = " ".join(line.strip() for line in text.splitlines() if line.strip())
        text = _UNSAFE.sub("?", text.replace("\t", " "))
        if len(text) > MAX_TEXT:
            text = text[: MAX_TEXT - 1] + "…"
        m = _ENHANCED_RE.match(text)
        if m:
            return cls(code, m.group(0).strip(), text[m.end() :])
        return cls(code, None, text)

    @property
    def permanent(self) -> bool:
        return is_permanent(self.code, self.enhanced)

    def __str__(self) -> str:
        return " ".join(p for p in (str(self.code), self.enhanced, self.text) if p)


def is_permanent(code: int, enhanced: str | None = None) -> bool:
    """5xx is permanent, except the few that RFC 5321 says to treat as temporary."""
    if not 500 <= code < 600:
        return False
    return not (enhanced in _TRANSIENT_DESPITE_5XX or (code == 552 and enhanced is None))


# What providers say when an account sends too fast: Postfix policy servers "450 4.7.1
# ... too much mail", Gmail "421 4.7.0 Try again later" / "4.7.28 ... rate", Microsoft
# "432 4.3.2 ... thread limit exceeded" / "4.5.3 ... too many", Yahoo "421 4.7.0 [TSS04]".
_RATE_WORDS = re.compile(
    r"too (much|many|fast)|rate|limit(ed)? exceeded|exceeded .*limit|throttl|quota|"
    r"slow down|\[TSS0\d\]",
    re.IGNORECASE,
)
_RATE_CODES = {421, 432, 450, 451, 452, 454}


def is_rate_refusal(code: int | None, enhanced: str | None, text: str | None) -> bool:
    """A transient reply that says "you send too fast" (not "this recipient is busy"):
    the account's other messages would meet the same answer, so they are not tried in
    this round. "4.2.x" (the mailbox is over its quota or its rate) and "4.1.x" (this
    address) are about one recipient, not about the sender."""
    if code is None or code not in _RATE_CODES:
        return False
    if enhanced is not None and enhanced.startswith(("4.1.", "4.2.")):
        return False
    return bool(_RATE_WORDS.search(text or ""))


def next_delay(attempts: int, policy: RetryPolicy) -> float:
    """Seconds to wait after the ``attempts``-th failed try: first, doubling, capped."""
    exponent = max(attempts - 1, 0)
    delay = policy.first_delay * (2 ** min(exponent, 32))
    return float(min(delay, policy.max_delay))


def gives_up(queued_at: float, now: float, policy: RetryPolicy) -> bool:
    """True once a message has waited longer than the account allows."""
    return now - queued_at >= policy.give_up_after


_WINDOWS = (("minute", 60.0), ("hour", 3600.0), ("day", 86400.0))


def rate_wait(sent_times: Sequence[float], limits: RateLimits, now: float) -> float:
    """Seconds until one more message may go out under ``limits`` (0: now)."""
    wait = 0.0
    for unit, window in _WINDOWS:
        limit = getattr(limits, f"per_{unit}")
        if limit <= 0:
            continue
        recent = sorted(t for t in sent_times if now - window < t <= now)
        if len(recent) >= limit:
            wait = max(wait, recent[len(recent) - limit] + window - now)
    return wait


def describe_duration(seconds: float) -> str:
    """'5 days', '1 hour', '90 minutes': the largest unit that divides evenly."""
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60), ("second", 1)):
        n = seconds / size
        if n >= 1 and n == int(n):
            return f"{int(n)} {unit}" + ("" if n == 1 else "s")
    return f"{seconds:g} seconds"


def describe_limit(limits: RateLimits, sent_times: Sequence[float], now: float) -> str:
    """Which limit is holding messages back, in words."""
    for unit, window in _WINDOWS:
        limit = getattr(limits, f"per_{unit}")
        if limit > 0 and sum(1 for t in sent_times if now - window < t <= now) >= limit:
            return f"{limit} per {unit}"
    return "its rate limit"
