"""A fake clock for the code that takes one (``clock=``: Outbox, Delivery, Agent, the
retry policies, AddressBook, the compose window, the undo notice).

It stands still until a test moves it, so "nothing happens before the time" is checked
by looking at a time just before it, never by sleeping.
"""

from __future__ import annotations

T0 = 1_800_000_000.0
"""Where a :class:`Clock` starts by default: 2027-01-15 08:00 UTC, well clear of now."""

DAY = 86400.0


class Clock:
    """``time.time`` for tests: a callable returning ``now``, which moves only when told.

    ``clock.now = t`` sets it, ``clock.advance(s)`` (or ``clock.now += s``) moves it on.
    """

    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> float:
        """Move the clock ``seconds`` on; returns the new time."""
        self.now += seconds
        return self.now

    def __repr__(self) -> str:
        return f"Clock({self.now!r})"
