"""The "Send later" presets as a pure function of the local time: what a person means
by "tomorrow morning" is decided here, once, and tested with fixed clocks."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import NamedTuple

MORNING = time(8, 0)  # "morning": when people start reading their mail


class Preset(NamedTuple):
    key: str  # "hour", "tomorrow", "monday"
    when: datetime  # local, aware


def presets(now: datetime) -> list[Preset]:
    """ "In an hour" (rounded up to the next 5 minutes), "tomorrow morning" and, unless
    tomorrow is Monday, "Monday morning" (next week's when today is Monday). ``now`` is
    an aware local time; the results are in its zone."""
    target = now + timedelta(hours=1)
    hour = target.replace(second=0, microsecond=0)
    if hour < target:
        hour += timedelta(minutes=1)  # up to the minute, then to the next 5 minutes
    hour += timedelta(minutes=-hour.minute % 5)
    tomorrow = datetime.combine(now.date() + timedelta(days=1), MORNING, now.tzinfo)
    found = [Preset("hour", hour), Preset("tomorrow", tomorrow)]
    days = (7 - now.weekday()) % 7 or 7  # Monday is 0
    if days != 1:
        monday = datetime.combine(now.date() + timedelta(days=days), MORNING, now.tzinfo)
        found.append(Preset("monday", monday))
    return found
