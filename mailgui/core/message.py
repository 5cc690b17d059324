"""Turn a draft into outbox bytes (a message handed to ``mailgui sendmail``: see
``submitted``).

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

import binascii
import io
import os
import re
from dataclasses import dataclass, field, replace
from datetime import datetime
from email import policy as email_policy
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path
from typing import BinaryIO

from mailgui import __version__
from mailgui.core.addresses import Mailbox, check_text
from mailgui.core.errors import InputError, describe_os_error
from mailgui.core.outgoing import (
    Outgoing,
    all_parts,
    date_for,
    is_7bit_clean,
    is_control,
    serialize,
    set_mailboxes,
    set_subject,
    unique,
    wire_problem,
)

__all__ = ["Draft", "InlineImage", "build"]

USER_AGENT = f"mailgui/{__version__}"

# Compressed files: mimetypes reports the content type and the compression apart.
_COMPRESSED_TYPES = {
    "gzip": "application/gzip",
    "bzip2": "application/x-bzip2",
    "xz": "application/x-xz",
    "compress": "application/x-compress",
    "br": "application/x-brotli",
}
_SURROGATE = re.compile("[\ud800-\udfff]")
# A Content-ID as we make them (RFC 2392: an addr-spec, here dot-atoms only), without <>.
_CID = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]+@[A-Za-z0-9.-]+")


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
    # What the sender asked for (engine.Protect, applied when queued; not by build):
    # kept here so a message reopened by Undo asks for it again.
    sign: bool = False
    encrypt: bool = False

    def copy(self) -> Draft:
        """A copy with its own address and attachment lists, which the compose window
        may go on changing."""
        return replace(
            self,
            to=list(self.to),
            cc=list(self.cc),
            bcc=list(self.bcc),
            reply_to=list(self.reply_to),
            attachments=list(self.attachments),
        )


# X-Priority is what most clients show; Importance (RFC 2156) is what Outlook reads.
_PRIORITY_HEADERS = {"high": ("1 (Highest)", "high"), "low": ("5 (Lowest)", "low")}


# --- composing ------------------------------------------------------------------------


def build(draft: Draft, *, now: datetime | None = None) -> Outgoing:
    """Build the message of ``draft``; ``now`` (aware) becomes its Date."""
    check_text("subject", draft.subject)
    everyone = [*draft.to, *draft.cc, *draft.bcc]
    if not everyone:
        raise InputError("The message has no recipients; add at least one To, Cc or Bcc address.")
    when = date_for(now)
    smtputf8 = any(m.needs_smtputf8 for m in [draft.sender, *draft.reply_to, *everyone])
    policy = email_policy.SMTPUTF8 if smtputf8 else email_policy.SMTP

    msg = EmailMessage(policy=policy)
    set_mailboxes(msg, "From", [draft.sender])
    if draft.to:
        set_mailboxes(msg, "To", draft.to)
    if draft.cc:
        set_mailboxes(msg, "Cc", draft.cc)
    if draft.reply_to:
        set_mailboxes(msg, "Reply-To", draft.reply_to)
    # No Bcc header, ever: the Bcc recipients are only in the envelope.
    set_subject(msg, draft.subject)
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
        for part in all_parts(msg):
            if part is not msg:
                del part["MIME-Version"]  # set_content adds one to every part; the top
                # needs it only
        if "MIME-Version" not in msg:
            msg["MIME-Version"] = "1.0"

        # refold_source="none": the headers set_mailboxes/set_subject wrote raw go out as
        # written (refolding would re-parse them); headers set through the API fold as usual.
        data = serialize(msg, policy.clone(refold_source="none"))
        problem = wire_problem(data)  # base64 lines of 76 + CRLF break no rule
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
        recipients=unique(m.addr for m in everyone),
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
        if any(is_control(ch) for ch in image.filename):
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
    if is_7bit_clean(data):
        return "7bit"
    return "quoted-printable"


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
    if any(is_control(ch) for ch in name):
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


def _printable(text: str) -> str:
    """``text`` with control characters shown as escapes, safe to print."""
    return "".join(f"\\x{ord(ch):02x}" if is_control(ch) else ch for ch in text)
