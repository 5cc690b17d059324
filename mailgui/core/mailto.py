"""``mailto:`` links (RFC 6068), read strictly: a link is text from anyone on the web.

Only the fields a person could also have typed are honoured: the addresses (the
part before ``?`` and ``to=``), ``cc=``, ``bcc=``, ``subject=``, ``body=`` and
``in-reply-to=``. Everything else (``from=``, ``reply-to=``, ``attach=``, any
other header) is dropped and listed in ``ignored``. Every address goes through
the strict address parser, the subject through ``check_text``, so no line break
or control character can add a header; the body may hold line breaks, but no
other control character.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from mailgui.core.addresses import Mailbox, check_text, parse_mailbox_list
from mailgui.core.errors import InputError

MAX_LINK = 64 * 1024  # characters; a link is typed or clicked, not a file transfer
_PERCENT = re.compile(r"%(?![0-9A-Fa-f]{2})")
_MSG_ID = re.compile(r'<[^<>@\s"]+@[^<>@\s"]+>')
_HONOURED = ("to", "cc", "bcc", "subject", "body", "in-reply-to")


@dataclass(frozen=True)
class MailtoLink:
    """What a mailto link asks for, already validated."""

    to: list[Mailbox] = field(default_factory=list)
    cc: list[Mailbox] = field(default_factory=list)
    bcc: list[Mailbox] = field(default_factory=list)
    subject: str = ""
    body: str = ""
    in_reply_to: str | None = None
    ignored: list[str] = field(default_factory=list)  # header names dropped, lower case


def is_mailto(text: str) -> bool:
    return text[:7].lower() == "mailto:"


def _decode(text: str, what: str) -> str:
    """Percent-decoding as RFC 6068 §2 says: UTF-8, '+' stays '+', bad escapes refused."""
    if _PERCENT.search(text):
        raise InputError(
            f"The mailto link has a '%' that is not followed by two hex digits in its {what}; "
            "write '%25' for a percent sign."
        )
    raw = bytearray()
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == "%":
            raw.append(int(text[i + 1 : i + 3], 16))
            i += 3
        else:
            raw += ch.encode("utf-8", "surrogatepass")
            i += 1
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise InputError(
            f"The mailto link's {what} is not valid UTF-8 after percent-decoding; check the link."
        ) from None


def _body_text(text: str) -> str:
    """Line breaks become '\\n'; every other control character is refused."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    for line in text.split("\n"):
        check_text("body of the mailto link", line.replace("\t", " "))
    return text


def parse_mailto(url: str) -> MailtoLink:
    """Read a ``mailto:`` URL; InputError (exit 65) with one sentence when it is unsafe."""
    if not is_mailto(url):
        raise InputError(f"{url[:40]!r} is not a mailto: link; it must start with 'mailto:'.")
    if len(url) > MAX_LINK:
        raise InputError(
            f"The mailto link is longer than {MAX_LINK // 1024} KiB; it is refused as unsafe."
        )
    rest = url[7:]
    rest = rest.split("#", 1)[0]  # a fragment means nothing in a mailto link
    path, _, query = rest.partition("?")
    to = parse_mailbox_list(_decode(path, "addresses"), what="address in the mailto link")
    cc: list[Mailbox] = []
    bcc: list[Mailbox] = []
    subject: str | None = None
    body_parts: list[str] = []
    in_reply_to: str | None = None
    ignored: list[str] = []
    for item in query.split("&") if query else []:
        if not item:
            continue
        raw_name, _, raw_value = item.partition("=")
        name = _decode(raw_name, "field names").strip().lower()
        value = _decode(raw_value, f"'{name}' field")
        if name not in _HONOURED:
            if name and name not in ignored:
                ignored.append(name)
            continue
        if name == "body":
            body_parts.append(_body_text(value))
            continue
        what = f"{name} field of the mailto link"
        if name in ("to", "cc", "bcc"):
            boxes = parse_mailbox_list(value, what=f"address in the {what}")
            {"to": to, "cc": cc, "bcc": bcc}[name].extend(boxes)
        elif name == "subject":
            check_text(what, value)
            if subject is None:  # the first one counts, as in most clients
                subject = value
        elif name == "in-reply-to":
            check_text(what, value)
            msg_id = value.strip()
            if not _MSG_ID.fullmatch(msg_id):
                raise InputError(
                    f"The in-reply-to field of the mailto link ({msg_id[:60]!r}) is not a "
                    "message id of the form <id@domain>; check the link."
                )
            in_reply_to = msg_id
    return MailtoLink(
        to=_unique(to),
        cc=_unique(cc),
        bcc=_unique(bcc),
        subject=subject or "",
        body="\n".join(body_parts),
        in_reply_to=in_reply_to,
        ignored=ignored,
    )


def _unique(boxes: list[Mailbox]) -> list[Mailbox]:
    seen: set[str] = set()
    result = []
    for box in boxes:
        if box.addr.lower() not in seen:
            seen.add(box.addr.lower())
            result.append(box)
    return result
