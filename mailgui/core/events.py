"""What a ``Delivery`` tells its listener while it works: one class per kind of event.

Each face listens in its own way (the app shows words in its status bar, the agent
logs, ``ServerLimits`` keeps each server's SIZE); a ``match`` on these classes is
checked by mypy where the old ``(kind, dict)`` pairs were not. Named tuples, not
dataclasses: the command line's start has no time for ``dataclasses``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

__all__ = [
    "Connected",
    "Connecting",
    "DeliveryEvent",
    "Finished",
    "Listener",
    "Sending",
    "Transferred",
    "listeners",
]


class Connecting(NamedTuple):
    account: str
    server: str


class Connected(NamedTuple):
    account: str
    server: str
    tls: str | None  # the TLS version, None without encryption
    size_limit: int | None  # the SIZE the server announced (None: none or no limit)


class Sending(NamedTuple):
    id: int
    account: str
    size: int


class Transferred(NamedTuple):
    """Bytes of a message on the wire so far."""

    id: int
    done: int
    total: int


class Finished(NamedTuple):
    """One attempt's outcome, as the outbox now holds it."""

    id: int
    state: str  # sent | deferred | failed
    error: str | None


DeliveryEvent = Connecting | Connected | Sending | Transferred | Finished
Listener = Callable[[DeliveryEvent], None]


def listeners(*each: Listener | None) -> Listener | None:
    """One listener that tells every given one, in order (None when none is given)."""
    present = [listener for listener in each if listener is not None]
    if not present:
        return None
    if len(present) == 1:
        return present[0]

    def tell(event: DeliveryEvent) -> None:
        for listener in present:
            listener(event)

    return tell
