"""Messages given to ``mailgui sendmail``: read strictly, then made ready for the outbox.

What the sender wrote is kept: headers stay in their order and spelling (re-encoded
only where not ASCII), parts that are not 7-bit clean are re-encoded, and only what is
missing is added (From, Date, Message-ID, MIME-Version). Bcc headers are removed.
"""

from __future__ import annotations

import base64
import binascii
import copy
import re
from datetime import UTC, datetime
from email import errors as email_errors
from email import policy as email_policy
from email.header import decode_header, make_header
from email.headerregistry import Address
from email.message import EmailMessage
from email.parser import BytesParser
from email.policy import EmailPolicy
from email.utils import format_datetime, make_msgid, parsedate_to_datetime

from mailgui.core.addresses import Mailbox, parse_mailbox, parse_mailbox_list
from mailgui.core.errors import InputError
from mailgui.core.outgoing import (
    LINE_BREAK,
    Outgoing,
    all_parts,
    date_for,
    is_7bit_clean,
    is_control,
    serialize,
    set_mailboxes,
    unique,
    wire_problem,
)

__all__ = ["header_sender", "prepare_submitted", "read_submitted"]

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
_FOLD = re.compile(r"\r\n|\r|\n")
_EMPTY_GROUP = re.compile(r'\s*[^:;<>@",]*:\s*;\s*')  # undisclosed-recipients:;
_HEADER_NAME = re.compile(rb"[!-9;-~]+")  # RFC 5322 ftext
_MSG_ID = re.compile(r'<[^<>@\s"]+@[^<>@\s"]+>')


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
    when = date_for(now)
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
    rcpts = unique(m.addr for m in envelope_boxes)
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
        set_mailboxes(msg, "From", [sender])
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
    data = serialize(msg, policy.clone(refold_source="none"))
    problem = wire_problem(data)
    if problem is not None:
        raise InputError(f"The message cannot be sent as it is: {problem}; shorten that line.")

    lower_rcpts = {a.lower() for a in rcpts}
    to = unique(m.addr for m in shown_to if m.addr.lower() in lower_rcpts)
    cc = unique(m.addr for m in shown_cc if m.addr.lower() not in {a.lower() for a in to})
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


def _check_headers(msg: EmailMessage) -> None:
    """Refuse NUL and control characters in any header of any part."""
    for part in all_parts(msg):
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
        if ch != "\t" and is_control(ch):
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
    for part in all_parts(msg):
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
        if encoded.isascii() and is_7bit_clean(encoded.encode("ascii")):
            return
    elif cte not in ("7bit", "8bit", "binary"):
        return  # an encoding we do not know: send it as it is
    data = part.get_payload(decode=True)
    if not isinstance(data, bytes):
        return
    if cte in ("7bit", "8bit") and is_7bit_clean(data):
        return
    if part.get_content_maintype() == "text":
        text = LINE_BREAK.sub(b"\n", data)
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


def _displayable(text: str) -> str:
    """Header text for a list or JSON: control characters become spaces."""
    return "".join(" " if is_control(ch) else ch for ch in text)


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
    if any(is_control(ch) for ch in decoded):
        return None
    return decoded
