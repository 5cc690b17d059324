"""A message ready for the outbox (``Outgoing``), and what both ways of making one share.

``message`` builds one from a draft, ``submitted`` from a message given to ``mailgui
sendmail``. Both hold it to the same rules (``wire_problem``) and write address
headers and the subject so that they read back exactly.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from datetime import datetime
from email import errors as email_errors
from email import policy as email_policy
from email.header import Header
from email.message import EmailMessage
from email.parser import Parser
from email.policy import EmailPolicy
from typing import NamedTuple

from mailgui.core.addresses import Mailbox

MAX_LINE = 998  # octets without CRLF, RFC 5322 2.1.1

LINE_BREAK = re.compile(rb"\r\n|\r|\n")
_NOT_7BIT = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\xff]")


class Outgoing(NamedTuple):
    """A message ready for the outbox: envelope plus the exact bytes to transmit.

    ``data`` has CRLF line endings only, no line over 998 octets, ends with CRLF
    and has no Bcc header. ``to``, ``cc`` and ``bcc`` are for display; the
    envelope is ``envelope_from`` and ``recipients`` (de-duplicated,
    case-insensitively, in order).

    A named tuple, not a dataclass: the command line's start has no time for
    ``dataclasses`` (see ``mailgui.cli``).
    """

    envelope_from: str
    recipients: list[str]
    data: bytes
    message_id: str
    date: datetime
    subject: str
    sender: str
    to: list[str]
    cc: list[str]
    bcc: list[str]
    smtputf8: bool


def date_for(now: datetime | None) -> datetime:
    """The Date to use, to the second (the header has no finer resolution)."""
    when = datetime.now().astimezone() if now is None else now
    if when.tzinfo is None or when.utcoffset() is None:
        raise ValueError("now must be a timezone-aware datetime")
    return when.replace(microsecond=0)


def is_7bit_clean(data: bytes) -> bool:
    """Printable ASCII, TAB and line breaks only, and no line over 998 octets."""
    if _NOT_7BIT.search(data):
        return False
    return max(map(len, data.splitlines()), default=0) <= MAX_LINE


def all_parts(msg: EmailMessage) -> Iterator[EmailMessage]:
    for part in msg.walk():
        assert isinstance(part, EmailMessage)
        yield part


# --- headers that must read back exactly ---------------------------------------------------
#
# The email package can write a header that reads back differently: a quoted display
# name too long for one line is folded without its quotes (CPython gh-80222, unfixed in
# 3.11), so "Doe, John (Sales)" <j@example.org> comes out as several addresses, a
# quoted name holding '"x" <evil@example.org>' adds a visible recipient; and text that
# looks like an encoded word (=?utf-8?q?...?=) is written as it is and then decoded by
# every reader. So each address header and the subject is read back after folding, and
# when it differs it is written raw instead, with the name or subject as RFC 2047
# encoded words (which need no quotes and cannot be mistaken for anything else).


def _read_back(msg: EmailMessage, name: str) -> EmailMessage:
    policy = msg.policy
    assert isinstance(policy, EmailPolicy)
    folded = policy.fold(name, msg[name])  # str: UTF-8 headers (SMTPUTF8) stay readable
    back = Parser(policy=email_policy.default).parsestr(folded + "\r\n")
    assert isinstance(back, EmailMessage)
    return back


def _same_name(a: str, b: str) -> bool:
    # Python's parser puts a space between adjacent encoded words of a display name
    # (RFC 2047 6.2 says to drop it): whitespace alone is not a difference.
    return "".join(a.split()) == "".join(b.split())


def set_mailboxes(msg: EmailMessage, name: str, boxes: list[Mailbox]) -> None:
    """``msg[name] = boxes``, written so that it reads back as exactly ``boxes``."""
    msg[name] = [m.header_address() for m in boxes]
    try:
        got = [(a.display_name, a.addr_spec) for a in _read_back(msg, name)[name].addresses]
    except (email_errors.HeaderParseError, IndexError, AttributeError, TypeError):
        got = []
    if len(got) == len(boxes) and all(
        addr == m.addr and _same_name(shown, m.name)
        for (shown, addr), m in zip(got, boxes, strict=True)
    ):
        return
    del msg[name]  # it was the last header set, so set_raw puts it back in its place
    msg.set_raw(name, ",\r\n ".join(_encoded_mailbox(m) for m in boxes))


def _encoded_mailbox(box: Mailbox) -> str:
    if not box.name:
        return box.addr
    words = Header(box.name, "utf-8", maxlinelen=76).encode(linesep="\r\n")
    return f"{words}\r\n <{box.addr}>"


def set_subject(msg: EmailMessage, subject: str) -> None:
    msg["Subject"] = subject
    if str(_read_back(msg, "Subject")["Subject"]).strip() == subject.strip():
        return
    del msg["Subject"]
    msg.set_raw("Subject", Header(subject, "utf-8", header_name="Subject").encode(linesep="\r\n"))


# --- the wire ---------------------------------------------------------------------------


def serialize(msg: EmailMessage, policy: EmailPolicy[EmailMessage]) -> bytes:
    data = msg.as_bytes(policy=policy)
    data = LINE_BREAK.sub(b"\r\n", data)
    if not data.endswith(b"\r\n"):
        data += b"\r\n"
    return data


def wire_problem(data: bytes) -> str | None:
    """What breaks the invariants of ``Outgoing.data``, or None."""
    if not data.endswith(b"\r\n"):
        return "it does not end with a line break"
    lines = data[:-2].split(b"\r\n")
    for number, line in enumerate(lines, 1):
        if b"\r" in line or b"\n" in line:
            return f"line {number} has a bare CR or LF"
        if len(line) > MAX_LINE:
            return f"line {number} is longer than {MAX_LINE} bytes"
    header_block = data.split(b"\r\n\r\n", 1)[0]
    for line in header_block.split(b"\r\n"):
        if line[:4].lower() == b"bcc:":
            return "it still has a Bcc header"
    return None


def unique(addrs: Iterable[str]) -> list[str]:
    """Addresses without repeats (compared case-insensitively), first spelling kept."""
    seen: set[str] = set()
    result: list[str] = []
    for addr in addrs:
        key = addr.lower()
        if key not in seen:
            seen.add(key)
            result.append(addr)
    return result


def is_control(ch: str) -> bool:
    o = ord(ch)
    return o < 0x20 or 0x7F <= o <= 0x9F or o in (0x2028, 0x2029) or 0xD800 <= o <= 0xDFFF
