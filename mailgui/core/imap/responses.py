"""Reading what an IMAP server says, as pure functions (imaplib hands over raw bytes).

- ``status_text``: a tagged reply's text split into its response code (RFC 3501 7.1,
  RFC 5530) and its words, without Dovecot's timing suffix.
- ``list_entries``: LIST replies (flags, hierarchy delimiter, mailbox name as sent), with
  names that come quoted, as atoms, or as literals.
- ``quoted``: a string argument, quoted the RFC 3501 way.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

__all__ = ["ListEntry", "appenduid", "list_entries", "quoted", "status_items", "status_text"]

_CODE = re.compile(r"^\[([A-Za-z0-9-]+)(?: ([^\]]*))?\]\s*")
_TIMING = re.compile(r"\s*\(\d+\.\d+(?: \+ \d+\.\d+)* secs\)(?=\.?$)")


def _text(data: object) -> str:
    if isinstance(data, bytes):
        return data.decode("utf-8", "replace")
    if isinstance(data, tuple):  # a literal in a reply: the line before it
        return _text(data[0])
    return "" if data is None else str(data)


def status_text(data: object) -> tuple[str | None, str, str]:
    """``(code, argument, words)`` of a reply's text: ``[OVERQUOTA] Quota exceeded`` is
    ``("OVERQUOTA", "", "Quota exceeded")``. ``data`` is imaplib's list of lines (the last
    one counts), or one line."""
    if isinstance(data, list):
        data = data[-1] if data else b""
    text = _text(data).strip()
    code, argument = None, ""
    match = _CODE.match(text)
    if match:
        code, argument = match.group(1).upper(), match.group(2) or ""
        text = text[match.end() :]
    return code, argument, _TIMING.sub("", text).strip()


def appenduid(data: object) -> int | None:
    """The new message's UID from ``[APPENDUID validity uid]`` (UIDPLUS, RFC 4315)."""
    code, argument, _ = status_text(data)
    parts = argument.split()
    if code == "APPENDUID" and len(parts) == 2 and parts[1].isdigit():
        return int(parts[1])
    return None


def quoted(value: str) -> str:
    """A quoted string (RFC 3501 4.3). Only for printable ASCII; other text (a non-ASCII
    folder name) is encoded first (``utf7.encode``)."""
    if any(ord(c) < 0x20 or ord(c) > 0x7E for c in value):
        raise ValueError("a quoted IMAP string must be printable ASCII")
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


@dataclass(frozen=True)
class ListEntry:
    """One LIST reply. ``flags`` in lower case (``\\sent``, ``\\noselect``); ``name`` as the
    server sent it (modified UTF-7); ``delimiter`` None when the server has no hierarchy."""

    flags: frozenset[str]
    delimiter: str | None
    name: str


class _Reader:
    def __init__(self, line: bytes, literals: list[bytes]) -> None:
        self.s = line
        self.i = 0
        self.literals = literals

    def space(self) -> None:
        while self.i < len(self.s) and self.s[self.i : self.i + 1] == b" ":
            self.i += 1

    def flags(self) -> frozenset[str]:
        self.space()
        if self.s[self.i : self.i + 1] != b"(":
            raise ValueError("no flag list")
        end = self.s.index(b")", self.i)
        inside = self.s[self.i + 1 : end].decode("ascii", "replace")
        self.i = end + 1
        return frozenset(f.lower() for f in inside.split())

    def string(self) -> str | None:
        """An astring or nstring: quoted, literal, NIL (None) or an atom."""
        self.space()
        head = self.s[self.i : self.i + 1]
        if head == b'"':
            out = bytearray()
            self.i += 1
            while self.i < len(self.s):
                c = self.s[self.i : self.i + 1]
                if c == b"\\":
                    out += self.s[self.i + 1 : self.i + 2]
                    self.i += 2
                    continue
                self.i += 1
                if c == b'"':
                    return out.decode("utf-8", "replace")
                out += c
            raise ValueError("unterminated quoted string")
        if head == b"{":
            self.i = len(self.s)  # the literal ends the line: "{11}"
            if not self.literals:
                raise ValueError("literal missing")
            return self.literals.pop(0).decode("utf-8", "replace")
        start = self.i
        while self.i < len(self.s) and self.s[self.i : self.i + 1] not in (b" ", b"("):
            self.i += 1
        atom = self.s[start : self.i].decode("utf-8", "replace")
        if not atom:
            raise ValueError("empty atom")
        return None if atom.upper() == "NIL" else atom


def _lines(data: Iterable[object]) -> Iterable[tuple[bytes, list[bytes]]]:
    """imaplib's untagged data as (line, literals): a literal comes as a tuple
    ``(line up to {n}, literal)`` followed by the rest of the line as bytes."""
    pending: tuple[bytes, list[bytes]] | None = None
    for item in data:
        if isinstance(item, tuple) and len(item) == 2:
            if pending is not None:
                yield pending
            head, literal = item
            pending = (bytes(head), [bytes(literal)])
        elif isinstance(item, bytes):
            if pending is not None:
                if item and not item.startswith(b"("):
                    yield pending[0] + item, pending[1]
                    pending = None
                    continue
                yield pending
                pending = None
            if item:
                yield item, []
    if pending is not None:
        yield pending


def list_entries(data: Iterable[object]) -> list[ListEntry]:
    """LIST (or LSUB) replies; lines that do not parse are left out, not fatal."""
    out: list[ListEntry] = []
    for line, literals in _lines(data):
        reader = _Reader(line, literals)
        try:
            flags = reader.flags()
            delimiter = reader.string()
            name = reader.string()
        except ValueError:
            continue
        if name is None:
            continue
        if name.upper() == "INBOX":
            name = "INBOX"
        out.append(ListEntry(flags, delimiter, name))
    return out


def status_items(data: Iterable[object]) -> dict[str, str]:
    """``* STATUS "Sent" (APPENDLIMIT 1000 MESSAGES 3)`` → ``{"APPENDLIMIT": "1000", ...}``."""
    out: dict[str, str] = {}
    for line, _ in _lines(data):
        start, end = line.rfind(b"("), line.rfind(b")")
        if start < 0 or end < start:
            continue
        words = line[start + 1 : end].decode("ascii", "replace").split()
        out.update({k.upper(): v for k, v in zip(words[::2], words[1::2], strict=False)})
    return out
