"""When a sender flushes the outbox on its own: one policy for the app and the agent.

A pure function of what the sender remembers (``Memory``) and what it sees now
(``Seen``): the faces only provide timers, look every few seconds, and flush when
``step`` says so. A flush comes, in this order of reasons, when

- this process becomes the profile's sender (the agent or another window stopped);
- the network is back (deferred messages go too, their back-off is moot);
- the account settings changed, or someone signed in or stored a password (deferred
  ones too: the fix may be in them; ``credentials_changed`` tells the other processes);
- another process queued a message, or this one asked;
- a deferred or scheduled message is due;
- never yet (the start), or not for ``max_sleep`` seconds (a periodic look).

Nothing is flushed automatically while another process holds the sender lock or while
the network is known to be down; "Send now" and ``outbox flush`` are a person's
requests, not the schedule's, and flush at once.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from mailgui.core.paths import Profile

__all__ = [
    "MAX_SLEEP_S",
    "Flush",
    "Memory",
    "Seen",
    "Step",
    "credentials_changed",
    "flushed",
    "remember",
    "settings_stamp",
    "sleep_for",
    "stamp",
    "step",
]

MAX_SLEEP_S = 60.0  # look at least this often, whatever the schedule says


class Seen(NamedTuple):
    """What a sender sees at one look."""

    now: float
    due_at: float | None  # Outbox.next_wakeup(): the next deferred or scheduled message
    online: bool | None  # None: this platform cannot tell
    settings: float | None  # settings_stamp(): when the accounts or a secret last changed
    version: int  # Outbox.data_version(): moves when another process wrote
    queued: Callable[[], int]  # messages queued now; asked only when the version moved
    sender: bool = True  # this process holds the profile's sender lock
    asked: bool = False  # this process queued a message and asks for a flush


class Memory(NamedTuple):
    """What a sender remembers between looks."""

    online: bool | None
    settings: float | None
    version: int
    sender: bool
    last_flush: float | None  # None: not flushed yet


class Flush(NamedTuple):
    reason: str  # in words, for the log
    include_deferred: bool  # ignore back-off too


class Step(NamedTuple):
    flush: Flush | None
    memory: Memory
    waiting: str | None  # why nothing may go now: "offline", "other-sender", or None
    held: Flush | None = None  # the flush that waits for that reason


def remember(seen: Seen) -> Memory:
    """The memory of a sender that has just started (it has not flushed yet)."""
    return Memory(seen.online, seen.settings, seen.version, seen.sender, None)


def step(memory: Memory, seen: Seen, *, max_sleep: float = MAX_SLEEP_S) -> Step:
    """Whether to flush now, and what to remember."""
    online = seen.online if seen.online is not None else memory.online
    now = Memory(online, seen.settings, seen.version, seen.sender, memory.last_flush)
    flush = _reason(memory, seen, max_sleep)
    if not seen.sender:
        return Step(None, now, "other-sender", flush)
    if seen.online is False:
        return Step(None, now, "offline", flush)
    return Step(flush, now, None)


def _reason(memory: Memory, seen: Seen, max_sleep: float) -> Flush | None:
    if seen.sender and not memory.sender:
        return Flush("the other sender stopped", False)
    if seen.online is True and memory.online is False:
        return Flush("the network is back", True)
    if seen.settings != memory.settings:
        return Flush("the account settings changed", True)
    if seen.version != memory.version and seen.queued():
        return Flush("a message was queued", False)
    if seen.asked:
        return Flush("a message was queued here", False)
    if seen.due_at is not None and seen.now >= seen.due_at:
        return Flush("a message is due", False)
    if memory.last_flush is None:
        return Flush("start", False)
    if seen.now - memory.last_flush >= max_sleep:
        return Flush("periodic check", False)
    return None


NEWS = ("a message was queued", "a message was queued here", "the account settings changed")


def flushed(memory: Memory, *, version: int, now: float) -> Memory:
    """After a flush: its own writes are no news, and the periodic clock restarts."""
    return memory._replace(version=version, last_flush=now)


def sleep_for(seen: Seen, *, max_sleep: float = MAX_SLEEP_S) -> float:
    """Seconds until the next message falls due (at most ``max_sleep``)."""
    if seen.due_at is None:
        return max_sleep
    return min(max(seen.due_at - seen.now, 0.0), max_sleep)


def stamp(path: Path) -> float | None:
    """A file's modification time for ``Seen.settings`` (None: no such file)."""
    try:
        return path.stat().st_mtime_ns / 1e9
    except OSError:
        return None


def settings_stamp(profile: Profile) -> float | None:
    """When the accounts file, or a password or sign-in (``credentials_changed``), last
    changed (None: neither ever was)."""
    stamps = [stamp(profile.accounts_file), stamp(profile.credentials_stamp)]
    return max((s for s in stamps if s is not None), default=None)


def credentials_changed(profile: Profile) -> None:
    """Say that an account's password or OAuth2 grant was just stored (``account login``,
    the app's Sign in), so every sender of the profile tries the waiting messages at
    once, back-off or not: a message held for "sign in again" goes out by itself. Not
    for a refresh token the server rotated while sending (that fixes nothing)."""
    path = profile.credentials_stamp
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch()  # an existing file gets the time of now
    except OSError:
        pass  # the senders then try at their next due time: nothing is lost
