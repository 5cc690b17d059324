"""The bytes-level MIME work that signing and encryption share.

A signature covers bytes, not a parsed message: the part that was signed must reach the
recipient octet for octet (RFC 3156 section 5, RFC 8551 section 3.1.1). The email
package's generator may refold headers or re-encode a body when it writes a message out
again, so the content of ``Outgoing.data`` is cut out and put back as bytes here, and
only the few header fields the crypto layer adds are written by hand (ASCII, folded
below 78 octets). ``message.py`` splices its attachments the same way.

Transport safety of what is signed: every line ends in CRLF, the bodies are 7-bit
(quoted-printable or base64), no line has trailing white space (which some transports
strip) and none starts with ``From `` (which mbox delivery turns into ``>From``). A part
that breaks one of these is re-encoded before it is signed (``canonical``).
"""

from __future__ import annotations

import binascii
import io
import os
import re
from collections.abc import Iterable, Sequence
from email import policy as email_policy
from email.message import EmailMessage
from email.parser import BytesParser
from typing import NamedTuple

from mailgui.core.outgoing import LINE_BREAK, MAX_LINE, Outgoing, all_parts

CRLF = b"\r\n"
_NOT_7BIT = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\xff]")
# Trailing white space before a line break, or a line starting with "From ".
_FRAGILE = re.compile(rb"[ \t]\r\n|(?:\A|\r\n)From ")
_FROM_LINE = re.compile(rb"^From ", re.M)
_BARE = re.compile(rb"\r(?!\n)|(?<!\r)\n")
_LONG = re.compile(rb"^[^\r\n]{%d}" % (MAX_LINE + 1), re.M)  # anchored: linear time
_BASE64_LINE = 57  # octets per 76-character base64 line


class Field(NamedTuple):
    """One header field as it was written: ``raw`` holds its folded lines joined by
    CRLF, without the final CRLF."""

    name: str  # lower case
    raw: bytes


class Split(NamedTuple):
    """A message cut in two: the header fields that stay outside the crypto layer, and
    the MIME entity (its Content-* fields, an empty line, the body) that goes inside."""

    outer: list[Field]  # neither Content-* nor MIME-Version
    content: bytes


def parse_fields(block: bytes) -> list[Field]:
    """The fields of a header block (CRLF line endings, no final empty line)."""
    fields: list[Field] = []
    for line in block.split(CRLF) if block else []:
        if line[:1] in (b" ", b"\t") and fields:
            last = fields[-1]
            fields[-1] = Field(last.name, last.raw + CRLF + line)
        else:
            name = line.split(b":", 1)[0].strip().decode("ascii", "replace").lower()
            fields.append(Field(name, line))
    return fields


def join_fields(fields: Iterable[Field]) -> bytes:
    return b"".join(f.raw + CRLF for f in fields)


def split_header(data: bytes) -> tuple[list[Field], memoryview]:
    """The header fields of ``data`` and its body (a view: no copy of a large body)."""
    end = data.find(CRLF + CRLF)
    if end < 0:  # headers only
        return parse_fields(data.removesuffix(CRLF)), memoryview(b"")
    return parse_fields(data[:end]), memoryview(data)[end + 4 :]


def split(out: Outgoing) -> Split:
    """Cut ``out.data`` into the outer header fields and the content entity."""
    fields, body = split_header(out.data)
    outer = [f for f in fields if not f.name.startswith("content-") and f.name != "mime-version"]
    inner = [f for f in fields if f.name.startswith("content-")]
    return Split(outer, entity(inner, body))


def entity(fields: Iterable[Field], *body: bytes | memoryview) -> bytes:
    """Header ``fields``, an empty line, then the ``body`` pieces: one copy in all."""
    return b"".join([join_fields(fields), CRLF, *body])


def field(name: str, value: str) -> Field:
    """A field written by hand: ``value`` is ASCII and already folded with CRLF SP."""
    return Field(name.lower(), f"{name}: {value}".encode("ascii"))


def crlf(data: bytes) -> bytes:
    """``data`` with every line break made CRLF (``data`` itself when it has no other)."""
    return LINE_BREAK.sub(CRLF, data) if _BARE.search(data) else data


def fragile(content: bytes, *, allow_8bit: bool) -> bool:
    """Whether ``content`` might change on its way, so that a signature over it breaks."""
    if _FRAGILE.search(content):
        return True
    return not allow_8bit and _NOT_7BIT.search(content) is not None


def canonical(content: bytes, *, allow_8bit: bool = False) -> bytes:
    """``content`` in a form that survives transport, for signing.

    Usually the very bytes given (``message.py`` writes 7-bit, CRLF parts); otherwise the
    leaves that need it are re-encoded (text as quoted-printable, anything else as
    base64) and the entity written again. ``allow_8bit``: the part travels inside an
    encryption, or in an SMTPUTF8 message, where 8-bit header text is expected."""
    content = crlf(content)
    if not fragile(content, allow_8bit=allow_8bit):
        return content
    msg = BytesParser(policy=email_policy.SMTP).parsebytes(content)
    assert isinstance(msg, EmailMessage)
    for part in all_parts(msg):
        if not part.is_multipart():
            _make_safe(part)
        elif part.get("Content-Transfer-Encoding", "7bit").lower() != "7bit":
            del part["Content-Transfer-Encoding"]
    policy = (email_policy.SMTPUTF8 if allow_8bit else email_policy.SMTP).clone(
        refold_source="none", max_line_length=MAX_LINE
    )
    again = crlf(msg.as_bytes(policy=policy))
    if not again.endswith(CRLF):
        again += CRLF
    if fragile(again, allow_8bit=allow_8bit):
        # Only a header field (of the message or of a part) can still be fragile here.
        from mailgui.core.errors import InputError

        raise InputError(
            "A header of the message has trailing spaces or 8-bit text, which would break "
            "its signature on the way; remove them and try again."
        )
    return again


def _make_safe(part: EmailMessage) -> None:
    cte = part.get("Content-Transfer-Encoding", "7bit").strip().lower()
    raw = part.get_payload(decode=False)
    assert isinstance(raw, str)
    if cte == "base64":
        return
    if not fragile(raw.encode("utf-8", "surrogateescape"), allow_8bit=False):
        return
    data = part.get_payload(decode=True)
    assert isinstance(data, bytes)
    if part.get_content_maintype() == "text":
        encoded = quoted_printable(data)
        new_cte = "quoted-printable"
    else:
        encoded = base64_lines(data)
        new_cte = "base64"
    del part["Content-Transfer-Encoding"]
    part["Content-Transfer-Encoding"] = new_cte
    part.set_payload(encoded.decode("ascii"))


def quoted_printable(data: bytes) -> bytes:
    """Text as quoted-printable with CRLF line breaks, trailing white space and
    ``From `` at a line start encoded (RFC 3156 section 3)."""
    data = LINE_BREAK.sub(CRLF, data)
    encoded = binascii.b2a_qp(data, quotetabs=False, istext=True, header=False)
    encoded = LINE_BREAK.sub(CRLF, encoded)
    return _FROM_LINE.sub(b"=46rom ", encoded)


def base64_lines(data: bytes) -> bytes:
    """``data`` in base64 lines of 76 characters, each ending in CRLF."""
    out = io.BytesIO()
    step = _BASE64_LINE * 16384  # a block at a time: no list of a million small lines
    for start in range(0, len(data), step):
        block = data[start : start + step]
        lines = [
            binascii.b2a_base64(block[i : i + _BASE64_LINE], newline=False)
            for i in range(0, len(block), _BASE64_LINE)
        ]
        out.write(CRLF.join(lines))
        out.write(CRLF)
    return out.getvalue()


def boundary(*inside: bytes) -> str:
    """A boundary that occurs in none of ``inside`` (RFC 2046 5.1.1)."""
    while True:
        candidate = "=_mailgui_" + os.urandom(15).hex()
        mark = candidate.encode("ascii")
        if not any(mark in part for part in inside):
            return candidate


def multipart(
    subtype: str, params: Sequence[tuple[str, str]], parts: Sequence[bytes], preamble: str
) -> tuple[Field, list[bytes]]:
    """The Content-Type field and body of a multipart holding ``parts`` byte for byte.

    Each part is written followed by CRLF before the next delimiter: that CRLF belongs to
    the delimiter (RFC 2046 5.1.1), so a reader gets each part back exactly."""
    mark = boundary(*parts)
    values = [f"multipart/{subtype}", *(f'{k}="{v}"' for k, v in params), f'boundary="{mark}"']
    content_type = field("Content-Type", ";\r\n ".join(values))
    delimiter = b"--" + mark.encode("ascii")
    pieces = [preamble.encode("ascii") + CRLF]
    for part in parts:
        pieces += [delimiter + CRLF, part, CRLF]
    pieces.append(delimiter + b"--" + CRLF)
    return content_type, pieces  # joined once, into the final message


def message(outer: Iterable[Field], top: Iterable[Field], body: Sequence[bytes]) -> bytes:
    """The final bytes: ``outer`` fields, MIME-Version, the ``top`` Content-* fields,
    the ``body`` pieces."""
    fields = [*outer, field("MIME-Version", "1.0"), *top]
    data = entity(fields, *body)
    check_wire(data)
    return data


def check_wire(data: bytes) -> None:
    """``outgoing.wire_problem``'s rules, checked without splitting ``data`` into lines
    (that would cost two more copies of a large message)."""
    problem = None
    if not data.endswith(CRLF):
        problem = "it does not end with a line break"
    elif _BARE.search(data):
        problem = "it has a bare CR or LF"
    elif _LONG.search(data):
        problem = f"a line is longer than {MAX_LINE} bytes"
    else:
        end = data.find(CRLF + CRLF)
        if any(f.name == "bcc" for f in parse_fields(data[:end] if end >= 0 else data)):
            problem = "it still has a Bcc header"
    if problem is not None:
        raise AssertionError(f"mailgui sealed a message that cannot be sent: {problem}")


def replace_field(fields: list[Field], new: Field) -> list[Field]:
    """``fields`` with every field of ``new``'s name replaced by ``new`` (in the place
    of the first; appended when there was none)."""
    result: list[Field] = []
    placed = False
    for f in fields:
        if f.name != new.name:
            result.append(f)
        elif not placed:
            result.append(new)
            placed = True
    if not placed:
        result.append(new)
    return result
