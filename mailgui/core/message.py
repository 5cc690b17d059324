"""Turn a draft, or a message handed to ``mailgui sendmail``, into outbox bytes.

Everything is built with ``email.message.EmailMessage`` under ``policy.SMTP``
(``policy.SMTPUTF8`` when an address needs it); nothing is assembled by hand.
The result is fixed once, here: Date and Message-ID are set at queue time and
the outbox resends the very same bytes on every retry.

Bodies are made 7-bit clean (quoted-printable text, base64 attachments) so no
server needs 8BITMIME, and every line ends in CRLF and fits in 998 octets.
Dot-stuffing is left to the transport: it belongs to the SMTP wire, not to the
message.
"""

from __future__ import annotations

import base64
import binascii
import copy
import io
import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import errors as email_errors
from email import policy as email_policy
from email.header import Header, decode_header, make_header
from email.headerregistry import Address
from email.message import EmailMessage
from email.parser import BytesParser, Parser
from email.policy import EmailPolicy
from email.utils import format_datetime, make_msgid, parsedate_to_datetime
from pathlib import Path
from typing import BinaryIO

from mailgui import __version__
from mailgui.core.addresses import Mailbox, check_text, parse_mailbox, parse_mailbox_list
from mailgui.core.errors import InputError, describe_os_error

__all__ = [
    "Draft",
    "InlineImage",
    "Outgoing",
    "build",
    "header_sender",
    "prepare_submitted",
    "read_submitted",
]

USER_AGENT = f"mailgui/{__version__}"
MAX_LINE = 998  # octets without CRLF, RFC 5322 2.1.1

# Address headers whose non-ASCII text we re-encode from a strict parse.
_ADDRESS_HEADERS = frozenset(
    {"from", "sender", "reply-to", "to", "cc", "resent-from", "resent-sender", "resent-to"}
    | {"resent-cc"}
)
# Headers the email package reads as structured; all others are free text.
_STRUCTURED_HEADERS = frozenset(
    {
        "bcc",
        "content-disposition",
        "content-transfer-encoding",
        "content-type",
        "date",
        "message-id",
        "mime-version",
        "orig-date",
        "resent-bcc",
        "resent-date",
    }
    | _ADDRESS_HEADERS
)
_BCC_HEADERS = frozenset({"bcc", "resent-bcc"})
# Compressed files: mimetypes reports the content type and the compression apart.
_COMPRESSED_TYPES = {
    "gzip": "application/gzip",
    "bzip2": "application/x-bzip2",
    "xz": "application/x-xz",
    "compress": "application/x-compress",
    "br": "application/x-brotli",
}
_LINE_BREAK = re.compile(rb"\r\n|\r|\n")
_FOLD = re.compile(r"\r\n|\r|\n")
_EMPTY_GROUP = re.compile(r'\s*[^:;<>@",]*:\s*;\s*')  # undisclosed-recipients:;
_NOT_7BIT = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\xff]")
_SURROGATE = re.compile("[\ud800-\udfff]")
_HEADER_NAME = re.compile(rb"[!-9;-~]+")  # RFC 5322 ftext
_MSG_ID = re.compile(r'<[^<>@\s"]+@[^<>@\s"]+>')
# A Content-ID as we make them (RFC 2392: an addr-spec, here dot-atoms only), without <>.
_CID = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]+@[A-Za-z0-9.-]+")


@dataclass(frozen=True)
class Outgoing:
    """A message ready for the outbox: envelope plus the exact bytes to transmit.

    ``data`` has CRLF line endings only, no line over 998 octets, ends with CRLF
    and has no Bcc header. ``to``, ``cc`` and ``bcc`` are for display; the
    envelope is ``envelope_from`` and ``recipients`` (de-duplicated,
    case-insensitively, in order).
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


@dataclass(frozen=True)
class InlineImage:
    """An image shown inside the HTML body, which refers to it as ``cid:<cid>``.

    The bytes are in memory (a pasted image has no file); the compose window reads
    files in the background before it makes one."""

    cid: str  # the Content-ID without its angle brackets: "img1.abc@mailgui"
    data: bytes
    content_type: str = "image/png"
    filename: str = ""


@dataclass
class Draft:
    """What a person composed. ``html`` alone gets a plain-text alternative made
    with html2text; give ``text`` too to choose that alternative yourself."""

    sender: Mailbox
    to: list[Mailbox] = field(default_factory=list)
    cc: list[Mailbox] = field(default_factory=list)
    bcc: list[Mailbox] = field(default_factory=list)
    reply_to: list[Mailbox] = field(default_factory=list)
    subject: str = ""
    text: str | None = None
    html: str | None = None
    attachments: list[Path] = field(default_factory=list)
    # Sent in a multipart/related with the HTML; ignored without an HTML body.
    inline_images: list[InlineImage] = field(default_factory=list)
    priority: str = "normal"  # "high", "normal" or "low"
    read_receipt: bool = False  # ask for one (Disposition-Notification-To, RFC 8098)


# X-Priority is what most clients show; Importance (RFC 2156) is what Outlook reads.
_PRIORITY_HEADERS = {"high": ("1 (Highest)", "high"), "low": ("5 (Lowest)", "low")}


# --- composing ------------------------------------------------------------------------


def build(draft: Draft, *, now: datetime | None = None) -> Outgoing:
    """Build the message of ``draft``; ``now`` (aware) becomes its Date."""
    check_text("subject", draft.subject)
    everyone = [*draft.to, *draft.cc, *draft.bcc]
    if not everyone:
        raise InputError("The message has no recipients; add at least one To, Cc or Bcc address.")
    when = _when(now)
    smtputf8 = any(m.needs_smtputf8 for m in [draft.sender, *draft.reply_to, *everyone])
    policy = email_policy.SMTPUTF8 if smtputf8 else email_policy.SMTP

    msg = EmailMessage(policy=policy)
    _set_mailboxes(msg, "From", [draft.sender])
    if draft.to:
        _set_mailboxes(msg, "To", draft.to)
    if draft.cc:
        _set_mailboxes(msg, "Cc", draft.cc)
    if draft.reply_to:
        _set_mailboxes(msg, "Reply-To", draft.reply_to)
    # No Bcc header, ever: the Bcc recipients are only in the envelope.
    _set_subject(msg, draft.subject)
    msg["Date"] = format_datetime(when)
    message_id = make_msgid(domain=draft.sender.domain)
    msg["Message-ID"] = message_id
    msg["User-Agent"] = USER_AGENT
    if draft.priority not in ("high", "normal", "low"):
        raise InputError(f"Unknown priority {draft.priority!r}; use high, normal or low.")
    if draft.priority in _PRIORITY_HEADERS:
        x_priority, importance = _PRIORITY_HEADERS[draft.priority]
        msg["X-Priority"] = x_priority
        msg["Importance"] = importance
    if draft.read_receipt:  # to the sender, or to Reply-To when there is one
        # Not an address header in ``email``'s registry: the bare address, written raw
        # (an addr-spec is a mailbox, RFC 8098 section 2.1; already checked, no CR/LF).
        receipt_to = (draft.reply_to[:1] or [draft.sender])[0]
        msg.set_raw("Disposition-Notification-To", receipt_to.addr)

    for what, body in (("message text", draft.text), ("HTML text", draft.html)):
        if body is not None and _SURROGATE.search(body):
            raise InputError(
                f"The {what} contains bytes that are not valid text (not UTF-8?); "
                "save it as UTF-8 and try again."
            )
    text = draft.text
    if text is None:
        text = (
            _html_to_text(draft.html, images_to_alt=bool(draft.inline_images))
            if draft.html is not None
            else ""
        )
    msg.set_content(text, subtype="plain", charset="utf-8", cte=_text_cte(text))
    if draft.html is not None:
        msg.add_alternative(draft.html, subtype="html", charset="utf-8", cte=_text_cte(draft.html))
        if draft.inline_images:
            _add_inline_images(msg, draft.inline_images)
    # Attachments are not encoded into the message object: each attachment part holds a
    # one-line placeholder, and its base64 lines go from the file straight into the final
    # bytes (_assemble), exactly as the email package would write them. A 25 MB file then
    # costs one copy of the encoded message in memory instead of five, and no step holds
    # the GIL for long (the GUI builds messages in a worker thread).
    attached: list[_Attached] = []
    try:
        for path in draft.attachments:
            source, maintype, subtype = _open_attachment(path)
            marker = f"mailgui-attachment-{len(attached)}-{os.urandom(16).hex()}"
            attached.append(_Attached(path, source, (marker + "\r\n").encode("ascii")))
            msg.add_attachment(b"", maintype=maintype, subtype=subtype, filename=path.name)
            parts = msg.get_payload()  # multipart/mixed now: the new part is the last one
            assert isinstance(parts, list)
            part = parts[-1]
            assert isinstance(part, EmailMessage)
            part.set_payload(marker + "\n")
        for part in _all_parts(msg):
            if part is not msg:
                del part["MIME-Version"]  # set_content adds one to every part; the top
                # needs it only
        if "MIME-Version" not in msg:
            msg["MIME-Version"] = "1.0"

        # refold_source="none": the headers _set_mailboxes/_set_subject wrote raw go out as
        # written (refolding would re-parse them); headers set through the API fold as usual.
        data = _serialize(msg, policy.clone(refold_source="none"))
        problem = _wire_problem(data)  # base64 lines of 76 + CRLF break no rule
        if problem is not None:
            raise AssertionError(f"mailgui built a message that cannot be sent: {problem}")
        if attached:
            assert policy.max_line_length is not None
            data = _assemble(data, attached, policy.max_line_length // 4 * 3)
    finally:
        for item in attached:
            item.source.close()
    return Outgoing(
        envelope_from=draft.sender.addr,
        recipients=_unique(m.addr for m in everyone),
        data=data,
        message_id=message_id,
        date=when,
        subject=draft.subject,
        sender=draft.sender.addr,
        to=[m.addr for m in draft.to],
        cc=[m.addr for m in draft.cc],
        bcc=[m.addr for m in draft.bcc],
        smtputf8=smtputf8,
    )


def _add_inline_images(msg: EmailMessage, images: list[InlineImage]) -> None:
    """Turn the HTML part of ``msg`` (multipart/alternative) into a multipart/related
    holding the HTML and ``images``, each with the Content-ID the HTML refers to."""
    alternatives = msg.get_payload()
    assert isinstance(alternatives, list)
    html_part = alternatives[-1]
    assert isinstance(html_part, EmailMessage)
    seen: set[str] = set()
    for image in images:
        if not _CID.fullmatch(image.cid) or image.cid.lower() in seen:
            raise InputError(
                f"The inline image {_printable(image.filename or image.cid)!r} has a bad or "
                "repeated content id; insert the image again."
            )
        seen.add(image.cid.lower())
        maintype, _, subtype = image.content_type.partition("/")
        if maintype != "image" or not re.fullmatch(r"[A-Za-z0-9.+-]+", subtype):
            raise InputError(
                f"The inline image {_printable(image.filename or image.cid)!r} is not an "
                f"image ({_printable(image.content_type)}); attach it as a file instead."
            )
        if any(_is_control(ch) for ch in image.filename):
            raise InputError(
                f"The inline image name '{_printable(image.filename)}' contains a line break "
                "or control character; rename it and try again."
            )
        html_part.add_related(
            image.data,
            maintype="image",
            subtype=subtype.lower(),
            cid=f"<{image.cid}>",
            disposition="inline",
            filename=image.filename or None,
        )


def _when(now: datetime | None) -> datetime:
    """The Date to use, to the second (the header has no finer resolution)."""
    when = datetime.now().astimezone() if now is None else now
    if when.tzinfo is None or when.utcoffset() is None:
        raise ValueError("now must be a timezone-aware datetime")
    return when.replace(microsecond=0)


def _html_to_text(html: str, *, images_to_alt: bool = False) -> str:
    """``images_to_alt``: an inline image becomes its alt text (a "cid:" link means
    nothing in plain text)."""
    import html2text  # only HTML messages need it, and it is slow to import

    converter = html2text.HTML2Text()
    converter.images_to_alt = images_to_alt
    converter.unicode_snob = True  # keep "é" rather than transliterating it
    converter.body_width = 78
    text: str = converter.handle(html)
    return text.strip("\n") + "\n"


def _text_cte(text: str) -> str:
    """7bit when the text already is, else quoted-printable (never 8bit)."""
    data = text.encode("utf-8")
    if _is_7bit_clean(data):
        return "7bit"
    return "quoted-printable"


def _is_7bit_clean(data: bytes) -> bool:
    """Printable ASCII, TAB and line breaks only, and no line over 998 octets."""
    if _NOT_7BIT.search(data):
        return False
    return max(map(len, data.splitlines()), default=0) <= MAX_LINE


@dataclass(frozen=True)
class _Attached:
    path: Path
    source: BinaryIO
    marker: bytes  # the placeholder line in the serialized message, CRLF included


_BASE64_LINES_PER_READ = 16384  # 57 bytes each: ~0.9 MB read, ~1.3 MB written at a time


def _assemble(skeleton: bytes, attached: list[_Attached], per_line: int) -> bytes:
    """The skeleton with each placeholder line replaced by its file, base64-encoded in
    lines of ``per_line`` bytes as email.contentmanager does (76 characters for the SMTP
    policies), each line ending in CRLF."""
    out = io.BytesIO()
    pos = 0
    for item in attached:
        at = skeleton.index(item.marker, pos)
        if skeleton.count(item.marker) != 1:
            raise AssertionError("an attachment placeholder is not unique")
        out.write(skeleton[pos:at])
        while block := _read_block(item, per_line * _BASE64_LINES_PER_READ):
            lines = [
                binascii.b2a_base64(block[i : i + per_line], newline=False)
                for i in range(0, len(block), per_line)
            ]
            out.write(b"\r\n".join(lines))
            out.write(b"\r\n")
        pos = at + len(item.marker)
    out.write(skeleton[pos:])
    return out.getvalue()


def _read_block(item: _Attached, size: int) -> bytes:
    """Exactly ``size`` bytes unless the file ends first (then the rest): blocks must
    stay whole multiples of a base64 line."""
    try:
        block = item.source.read(size)
        while block and len(block) < size:
            more = item.source.read(size - len(block))
            if not more:
                break
            block += more
    except OSError as exc:
        shown = _printable(str(item.path))
        raise InputError(
            f"Cannot read the attachment '{shown}' ({describe_os_error(exc)}); check the path."
        ) from None
    return block


def _open_attachment(path: Path) -> tuple[BinaryIO, str, str]:
    shown = _printable(str(path))
    name = path.name
    if any(_is_control(ch) for ch in name):
        raise InputError(
            f"The attachment file name '{shown}' contains a line break or control "
            "character; rename the file and try again."
        )
    try:
        source = path.open("rb")
    except FileNotFoundError:
        reason = "no such file"
    except IsADirectoryError:
        reason = "it is a folder, not a file"
    except PermissionError:
        # Windows says "permission denied" for a folder
        reason = "it is a folder, not a file" if path.is_dir() else "permission denied"
    except OSError as exc:
        reason = describe_os_error(exc)
    else:
        maintype, subtype = _guess_type(name).split("/", 1)
        return source, maintype, subtype
    raise InputError(f"Cannot read the attachment '{shown}' ({reason}); check the path.")


def _guess_type(name: str) -> str:
    import mimetypes  # reads the system's type tables: only for attachments

    ctype, encoding = mimetypes.guess_type(name, strict=False)
    if encoding is not None:
        return _COMPRESSED_TYPES.get(encoding, "application/octet-stream")
    if ctype is None or "/" not in ctype or ctype.startswith(("message/", "multipart/")):
        # message/* may not be base64-encoded (RFC 2046 5.2), so send it as data.
        return "application/octet-stream"
    return ctype


# --- messages given to `mailgui sendmail` ----------------------------------------------


def read_submitted(raw: bytes) -> EmailMessage:
    """Parse a complete message (LF or CRLF line endings) given on standard input."""
    if not raw.strip():
        raise InputError(
            "The message on standard input is empty; give headers, an empty line, then the body."
        )
    _check_bare_cr(raw)
    msg = BytesParser(policy=email_policy.SMTP).parsebytes(raw)
    assert isinstance(msg, EmailMessage)
    separator_defects = (
        email_errors.MissingHeaderBodySeparatorDefect,
        email_errors.FirstHeaderLineIsContinuationDefect,
    )
    if not msg.keys() or any(isinstance(d, separator_defects) for d in msg.defects):
        raise InputError(
            "The message on standard input does not start with headers (like 'Subject: "
            "Hello') followed by an empty line before the body; add them and try again."
        )
    _check_headers(msg)
    return msg


def _check_bare_cr(raw: bytes) -> None:
    """Refuse a CR that does not end a line in the header block.

    The email parser takes a lone CR for a line break, which would turn
    ``Subject: a<CR>Bcc: x`` into two headers.
    """
    name = b""
    for line in raw.split(b"\n"):
        line = line.removesuffix(b"\r")
        if not line:
            return  # the empty line that ends the headers
        if line[:1] not in (b" ", b"\t"):
            name = line.split(b":", 1)[0]
        if b"\r" in line:
            which = f"The {name.decode()} header" if _HEADER_NAME.fullmatch(name) else "A header"
            raise InputError(
                f"{which} contains a line break or control character (U+000D); "
                "remove it and try again."
            )


def header_sender(msg: EmailMessage) -> Mailbox | None:
    """The From header's single mailbox, parsed strictly, or None when absent."""
    values = _raw_values(msg, "From")
    if not values:
        return None
    if len(values) > 1:
        raise InputError("The message has more than one From header; keep only one.")
    text = _header_text("From", values[0])
    boxes = parse_mailbox_list(text, what="address in the From header")
    if len(boxes) != 1:
        raise InputError(
            f"The From header '{text}' must hold exactly one address; "
            "write it as Name <name@example.org>."
        )
    box = boxes[0]
    if "=?" in box.name:
        decoded = _decode_words(box.name)
        if decoded is not None:
            box = Mailbox(decoded, box.addr)
    return box


def prepare_submitted(
    msg: EmailMessage,
    *,
    sender: Mailbox,
    recipients: list[Mailbox],
    extract_recipients: bool,
    envelope_from: str | None = None,
    now: datetime | None = None,
) -> Outgoing:
    """Make a message given to ``mailgui sendmail`` ready for the outbox.

    ``msg`` itself is left unchanged. Recipients are ``recipients`` plus, with
    ``extract_recipients`` (``-t``), the To, Cc and Bcc headers. Every Bcc header
    is removed; From (``sender``), Date, Message-ID and MIME-Version are added
    when missing, existing ones are kept. Parts that are not 7-bit clean are
    re-encoded (text as quoted-printable, the rest as base64), keeping content
    and charset, and non-ASCII header text is re-encoded (RFC 2047/2231).

    In the result, ``to`` and ``cc`` are the envelope recipients named in the
    To and Cc headers, ``bcc`` all other envelope recipients.
    """
    msg = copy.deepcopy(msg)
    when = _when(now)
    _check_headers(msg)
    for name in ("Date", "Message-ID"):
        if len(_raw_values(msg, name)) > 1:
            raise InputError(f"The message has more than one {name} header; keep only one.")

    strict = extract_recipients
    shown_to = _header_mailboxes(msg, "To", strict=strict)
    shown_cc = _header_mailboxes(msg, "Cc", strict=strict)
    hidden = _header_mailboxes(msg, "Bcc", strict=strict)
    envelope_boxes = list(recipients)
    if extract_recipients:
        envelope_boxes += [*shown_to, *shown_cc, *hidden]
    rcpts = _unique(m.addr for m in envelope_boxes)
    if not rcpts:
        raise InputError(
            "The message has no recipients; give them as arguments or use -t to read "
            "them from the To, Cc and Bcc headers."
        )

    from_box = header_sender(msg)
    if envelope_from is None:
        mail_from = from_box.addr if from_box is not None else sender.addr
        env_box: Mailbox | None = from_box if from_box is not None else sender
    elif envelope_from.strip() in ("", "<>"):
        mail_from, env_box = "", None  # the null reverse-path, for bounces
    else:
        env_box = parse_mailbox(envelope_from, what="envelope sender")
        mail_from = env_box.addr

    shown_from = from_box if from_box is not None else sender
    utf8_boxes = [*envelope_boxes, shown_from, *([env_box] if env_box is not None else [])]
    header_utf8 = _rewrite_headers(msg)
    smtputf8 = header_utf8 or any(m.needs_smtputf8 for m in utf8_boxes)
    if from_box is None:
        _set_mailboxes(msg, "From", [sender])
    date_values = _raw_values(msg, "Date")
    if date_values:
        when = _parse_date(_header_text("Date", date_values[0]))
    else:
        msg["Date"] = format_datetime(when)
    id_values = _raw_values(msg, "Message-ID")
    if id_values:
        message_id = _header_text("Message-ID", id_values[0]).strip()
        if not _MSG_ID.fullmatch(message_id):
            raise InputError(
                f"The Message-ID header '{message_id}' is not of the form <id@domain>; "
                "fix it or remove it so that mailgui adds one."
            )
    else:
        domain = (from_box or sender).domain
        message_id = make_msgid(domain=domain)
        msg["Message-ID"] = message_id
    if "MIME-Version" not in msg:
        msg["MIME-Version"] = "1.0"
    for part in msg.walk():
        if not part.is_multipart():
            _make_7bit(part)

    policy = email_policy.SMTPUTF8 if smtputf8 else email_policy.SMTP
    # refold_source="none": header lines are sent as written, never re-read by the
    # lenient parser of the email package (which may see other addresses in them).
    data = _serialize(msg, policy.clone(refold_source="none"))
    problem = _wire_problem(data)
    if problem is not None:
        raise InputError(f"The message cannot be sent as it is: {problem}; shorten that line.")

    lower_rcpts = {a.lower() for a in rcpts}
    to = _unique(m.addr for m in shown_to if m.addr.lower() in lower_rcpts)
    cc = _unique(m.addr for m in shown_cc if m.addr.lower() not in {a.lower() for a in to})
    cc = [a for a in cc if a.lower() in lower_rcpts]
    seen = {a.lower() for a in [*to, *cc]}
    subject = msg.get("Subject")
    return Outgoing(
        envelope_from=mail_from,
        recipients=rcpts,
        data=data,
        message_id=message_id,
        date=when,
        subject=_displayable(str(subject)) if subject is not None else "",
        sender=from_box.addr if from_box is not None else sender.addr,
        to=to,
        cc=cc,
        bcc=[a for a in rcpts if a.lower() not in seen],
        smtputf8=smtputf8,
    )


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


def _set_mailboxes(msg: EmailMessage, name: str, boxes: list[Mailbox]) -> None:
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


def _set_subject(msg: EmailMessage, subject: str) -> None:
    msg["Subject"] = subject
    if str(_read_back(msg, "Subject")["Subject"]).strip() == subject.strip():
        return
    del msg["Subject"]
    msg.set_raw("Subject", Header(subject, "utf-8", header_name="Subject").encode(linesep="\r\n"))


def _all_parts(msg: EmailMessage) -> Iterator[EmailMessage]:
    for part in msg.walk():
        assert isinstance(part, EmailMessage)
        yield part


def _check_headers(msg: EmailMessage) -> None:
    """Refuse NUL and control characters in any header of any part."""
    for part in _all_parts(msg):
        for name, value in part.raw_items():
            if isinstance(value, str) and not hasattr(value, "name"):
                _header_text(name, value)


def _raw_values(msg: EmailMessage, name: str) -> list[str]:
    """The values of header ``name`` as written, before any parsing.

    ``raw_items``/``set_raw`` are the email package's parser/generator hooks; we
    use them so that no address header goes through its lenient parser.
    """
    wanted = name.lower()
    return [str(v) for k, v in msg.raw_items() if k.lower() == wanted]


def _header_text(name: str, value: str) -> str:
    """A raw header value unfolded and decoded (UTF-8), checked for control characters."""
    if hasattr(value, "name"):  # a header object set through the API: already checked
        return str(value)
    raw = value.encode("ascii", "surrogateescape")  # 8-bit bytes come as surrogates
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise InputError(
            f"The {name} header contains bytes that are not UTF-8; write it in UTF-8 "
            "or with RFC 2047 encoded words."
        ) from None
    unfolded = _FOLD.sub("", text)
    for ch in unfolded:
        if ch != "\t" and _is_control(ch):
            raise InputError(
                f"The {name} header contains a line break or control character "
                f"(U+{ord(ch):04X}); remove it and try again."
            )
    return unfolded


def _header_mailboxes(msg: EmailMessage, name: str, *, strict: bool) -> list[Mailbox]:
    """The mailboxes in every ``name`` header; unreadable ones raise only if ``strict``."""
    result: list[Mailbox] = []
    for value in _raw_values(msg, name):
        text = _header_text(name, value)
        if _EMPTY_GROUP.fullmatch(text):
            continue
        try:
            result += parse_mailbox_list(text, what=f"address in the {name} header")
        except InputError:
            if strict:
                raise
    return result


def _rewrite_headers(msg: EmailMessage) -> bool:
    """Drop Bcc headers and re-encode non-ASCII header text, keeping header order.

    Returns whether an address in a header needs SMTPUTF8 (a non-ASCII local part).
    """
    needs_utf8 = False
    for part in _all_parts(msg):
        items = list(part.raw_items())
        for name in {k for k, _ in items}:
            del part[name]
        for name, value in items:
            if part is msg and name.lower() in _BCC_HEADERS:
                continue
            new_value, utf8 = _reencoded(part, name, value)
            needs_utf8 = needs_utf8 or utf8
            part.set_raw(name, new_value)
    return needs_utf8


def _reencoded(part: EmailMessage, name: str, value: str) -> tuple[str, bool]:
    """The header value to store, and whether it holds an address needing SMTPUTF8."""
    if hasattr(value, "name"):
        return value, False
    text = _header_text(name, value)
    if text.isascii():
        return value, False
    key = name.lower()
    policy = part.policy
    assert isinstance(policy, EmailPolicy)
    if key in _ADDRESS_HEADERS:
        boxes = parse_mailbox_list(text, what=f"address in the {name} header")
        addresses: list[Address] = [m.header_address() for m in boxes]
        stored: str = policy.header_store_parse(name, addresses)[1]
        return stored, any(m.needs_smtputf8 for m in boxes)
    if key in ("content-type", "content-disposition") or key not in _STRUCTURED_HEADERS:
        free: str = policy.header_store_parse(name, text)[1]
        return free, False
    raise InputError(
        f"The {name} header contains non-ASCII characters, which it may not; "
        "remove them and try again."
    )


def _parse_date(text: str) -> datetime:
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        raise InputError(
            f"The Date header '{text.strip()}' is not a valid date; fix it or remove it "
            "so that mailgui adds one."
        ) from None
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


def _make_7bit(part: EmailMessage) -> None:
    """Re-encode a leaf part that is not 7-bit clean, keeping content and charset."""
    cte = str(part.get("Content-Transfer-Encoding", "7bit")).strip().lower()
    if cte in ("quoted-printable", "base64"):
        encoded = part.get_payload()
        if not isinstance(encoded, str):
            return
        if encoded.isascii() and _is_7bit_clean(encoded.encode("ascii")):
            return
    elif cte not in ("7bit", "8bit", "binary"):
        return  # an encoding we do not know: send it as it is
    data = part.get_payload(decode=True)
    if not isinstance(data, bytes):
        return
    if cte in ("7bit", "8bit") and _is_7bit_clean(data):
        return
    if part.get_content_maintype() == "text":
        text = _LINE_BREAK.sub(b"\n", data)
        payload = binascii.b2a_qp(text, istext=True).decode("ascii")
        new_cte = "quoted-printable"
        if part.get_content_charset() is None and not text.isascii():
            part.set_param("charset", "utf-8" if _is_utf8(text) else "unknown-8bit")
    else:
        payload = base64.encodebytes(data).decode("ascii")
        new_cte = "base64"
    part.set_payload(payload)
    if "Content-Transfer-Encoding" in part:
        part.replace_header("Content-Transfer-Encoding", new_cte)
    else:
        part["Content-Transfer-Encoding"] = new_cte


# --- shared -----------------------------------------------------------------------------


def _serialize(msg: EmailMessage, policy: EmailPolicy[EmailMessage]) -> bytes:
    data = msg.as_bytes(policy=policy)
    data = _LINE_BREAK.sub(b"\r\n", data)
    if not data.endswith(b"\r\n"):
        data += b"\r\n"
    return data


def _wire_problem(data: bytes) -> str | None:
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


def _unique(addrs: Iterable[str]) -> list[str]:
    """Addresses without repeats (compared case-insensitively), first spelling kept."""
    seen: set[str] = set()
    result: list[str] = []
    for addr in addrs:
        key = addr.lower()
        if key not in seen:
            seen.add(key)
            result.append(addr)
    return result


def _is_control(ch: str) -> bool:
    o = ord(ch)
    return o < 0x20 or 0x7F <= o <= 0x9F or o in (0x2028, 0x2029) or 0xD800 <= o <= 0xDFFF


def _printable(text: str) -> str:
    """``text`` with control characters shown as escapes, safe to print."""
    return "".join(f"\\x{ord(ch):02x}" if _is_control(ch) else ch for ch in text)


def _displayable(text: str) -> str:
    """Header text for a list or JSON: control characters become spaces."""
    return "".join(" " if _is_control(ch) else ch for ch in text)


def _is_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _decode_words(text: str) -> str | None:
    """RFC 2047 encoded words decoded, or None when they do not decode cleanly."""
    try:
        decoded = str(make_header(decode_header(text)))
    except (UnicodeError, LookupError, email_errors.HeaderParseError, ValueError):
        return None
    if any(_is_control(ch) for ch in decoded):
        return None
    return decoded
