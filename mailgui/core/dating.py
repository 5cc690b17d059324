"""A message's Date header, found and replaced in its final bytes.

A scheduled message is dated when it is released, not when it was written (what a
reader sees as "sent at" is the moment it left). Its bytes are already in the outbox,
perhaps tens of megabytes: the header is found in the first bytes only, and a Date of
the same length (``format_datetime`` always writes one: "Mon, 07 Dec 2026 09:00:00
+0100") is overwritten in place.
"""

from __future__ import annotations

import re
from datetime import datetime
from email.utils import format_datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mailgui.core.outgoing import Outgoing

# Where the Date header is looked for: a header block is rarely over a few kB (ours:
# From, To, Cc, Subject, Date, Message-ID, MIME lines, perhaps Autocrypt's key).
HEAD = 64 * 1024

# The top-level Date field and its value, up to the CRLF that does not fold it.
_DATE = re.compile(rb"(?:^|\r\n)Date:[ \t]*((?:[^\r\n]|\r\n[ \t])*)\r\n", re.IGNORECASE)


def date_value(when: datetime) -> bytes:
    """The header value for ``when`` (aware), to the second."""
    return format_datetime(when.replace(microsecond=0)).encode("ascii")


def date_span(head: bytes) -> tuple[int, int] | None:
    """Where the top-level Date header's value lies in ``head`` (the message's first
    bytes), or None when the header block has none (or is longer than ``head``)."""
    end = head.find(b"\r\n\r\n")
    if end < 0:
        return None
    found = _DATE.search(head, 0, end + 2)
    return found.span(1) if found else None


def redated(data: bytes, when: datetime) -> bytes:
    """``data`` with its Date header saying ``when`` (unchanged if it has none)."""
    span = date_span(data[:HEAD])
    if span is None:
        return data
    start, end = span
    return data[:start] + date_value(when) + data[end:]


def dated(out: Outgoing, at: float) -> Outgoing:
    """``out`` dated at the timestamp ``at`` (local time): a message scheduled for
    later carries its send time, in case it is sealed (then its Date cannot change)."""
    when = datetime.fromtimestamp(at).astimezone().replace(microsecond=0)
    return out._replace(data=redated(out.data, when), date=when)
