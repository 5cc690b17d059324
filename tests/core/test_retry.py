"""Delivery policy: pure functions, checked with a fake clock."""

import pytest

from mailgui.core.accounts import RateLimits, RetryPolicy
from mailgui.core.retry import (
    Reply,
    gives_up,
    is_permanent,
    is_rate_refusal,
    next_delay,
    rate_wait,
)


def test_reply_parse_splits_enhanced_code_and_joins_lines() -> None:
    r = Reply.parse(550, b"5.1.1 No such user\nhere")
    assert (r.code, r.enhanced, r.text) == (550, "5.1.1", "No such user here")
    assert str(r) == "550 5.1.1 No such user here"
    assert Reply.parse(250, "OK").enhanced is None


@pytest.mark.parametrize(
    ("code", "enhanced", "permanent"),
    [
        (550, "5.1.1", True),
        (554, None, True),
        (451, "4.3.0", False),
        (421, None, False),
        (452, "4.5.3", False),
        (552, "5.5.3", False),  # too many recipients: RFC 5321 §4.5.3.1.10
        (552, None, False),
        (552, "5.3.4", True),  # message too big
        (250, None, False),
    ],
)
def test_classification(code: int, enhanced: str | None, permanent: bool) -> None:
    assert is_permanent(code, enhanced) is permanent


def test_default_backoff_doubles_from_one_minute_to_thirty() -> None:
    policy = RetryPolicy()
    assert [next_delay(n, policy) for n in range(1, 8)] == [60, 120, 240, 480, 960, 1800, 1800]
    assert next_delay(10_000, policy) == 1800


def test_backoff_is_configurable() -> None:
    policy = RetryPolicy(first_delay=5, max_delay=12)
    assert [next_delay(n, policy) for n in (1, 2, 3)] == [5, 10, 12]


def test_gives_up_after_five_days() -> None:
    policy = RetryPolicy()
    assert not gives_up(0, 5 * 86400 - 1, policy)
    assert gives_up(0, 5 * 86400, policy)


def test_rate_limits() -> None:
    now = 10_000.0
    assert rate_wait([now - 1] * 100, RateLimits(), now) == 0
    per_minute = RateLimits(per_minute=2)
    assert rate_wait([now - 50], per_minute, now) == 0
    assert rate_wait([now - 50, now - 10], per_minute, now) == pytest.approx(10)
    per_hour = RateLimits(per_minute=10, per_hour=3)
    assert rate_wait([now - 3000, now - 100, now - 5], per_hour, now) == pytest.approx(600)
    assert rate_wait([now - 4000, now - 100, now - 5], per_hour, now) == 0


def test_durations_read_naturally() -> None:
    from mailgui.core.retry import describe_duration

    assert describe_duration(5 * 86400) == "5 days"
    assert describe_duration(3600) == "1 hour"
    assert describe_duration(5400) == "90 minutes"
    assert describe_duration(1.5) == "1.5 seconds"


@pytest.mark.parametrize(
    ("reply", "rate"),
    [
        ("450 4.7.1 <me@example.org>: Sender address rejected: too much mail", True),  # Postfix
        ("421 4.7.0 Try again later, closing connection. (rate limited)", True),
        ("451 4.7.28 Our system has detected an unusual rate of unsolicited mail", True),
        ("432 4.3.2 STOREDRV.ClientSubmit; sender thread limit exceeded", True),  # Microsoft
        ("421 4.7.0 [TSS04] Messages from 192.0.2.1 temporarily deferred", True),  # Yahoo
        ("452 4.5.3 Too many recipients", True),
        ("451 4.3.0 Try again later", False),  # a hiccup: the next message may well go
        ("450 4.2.1 The user you are trying to contact is receiving mail at a rate", False),
        ("452 4.2.2 Mailbox over quota", False),  # one recipient's mailbox
        ("450 4.1.1 <bob@example.org>: Recipient address rejected: too many lookups", False),
        ("550 5.7.1 Too much mail", False),  # permanent: its own rule
        ("250 2.0.0 Rate fine", False),
    ],
)
def test_rate_refusals_are_told_from_hiccups(reply: str, rate: bool) -> None:
    parsed = Reply.parse(int(reply[:3]), reply[4:])
    assert is_rate_refusal(parsed.code, parsed.enhanced, parsed.text) is rate
