"""Turn a message from the outbox back into a Draft, so a person can fix and resend it.

The stored bytes are what we built (``message.build``), so the header values parse
strictly; attachments are written to a folder of their own so the new Draft can
point at files, as a freshly composed one does.
"""

from __future__ import annotations

import re
from email import policy
from email.message import EmailMessage, MIMEPart
from email.parser import BytesParser
from pathlib import Path

from mailgui.core.addresses import Mailbox, parse_mailbox, parse_mailbox_list
from mailgui.core.errors import InputError
from mailgui.core.message import Draft

_UNSAFE_NAME = re.compile(r"[^\w .,()+@-]+")


def _mailboxes(msg: EmailMessage, name: str) -> list[Mailbox]:
    value = msg.get(name)
    return parse_mailbox_list(str(value), what=f"{name} address") if value else []


def _safe_filename(name: str | None, index: int) -> str:
    cleaned = _UNSAFE_NAME.sub("_", Path(name or "").name).strip(" .")
    return cleaned or f"attachment-{index}"


def draft_from_stored(data: bytes, *, bcc: list[str], attachments_dir: Path) -> Draft:
    """A Draft equal to the stored message: same recipients (Bcc from the envelope,
    since it is not in the headers), subject, text, HTML and attachments."""
    msg = BytesParser(policy=policy.default).parsebytes(data)
    assert isinstance(msg, EmailMessage)
    sender = parse_mailbox(str(msg.get("From", "")), what="From address")
    text_part = msg.get_body(preferencelist=("plain",))
    html_part = msg.get_body(preferencelist=("html",))
    attachments_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    files: list[Path] = []
    for index, part in enumerate(msg.iter_attachments(), start=1):
        path = attachments_dir / _safe_filename(part.get_filename(), index)
        while path in files:
            path = path.with_name(f"{index}-{path.name}")
        payload = part.get_payload(decode=True)
        if not isinstance(payload, bytes):
            raise InputError(f"The attachment {path.name!r} of this message cannot be read.")
        path.write_bytes(payload)
        files.append(path)

    def content(part: MIMEPart | None) -> str | None:
        return None if part is None else str(part.get_content()).replace("\r\n", "\n")

    return Draft(
        sender=sender,
        to=_mailboxes(msg, "To"),
        cc=_mailboxes(msg, "Cc"),
        bcc=[Mailbox("", addr) for addr in bcc],
        reply_to=_mailboxes(msg, "Reply-To"),
        subject=str(msg.get("Subject", "")),
        text=content(text_part),
        html=content(html_part),
        attachments=files,
        priority=_priority(msg),
        read_receipt="Disposition-Notification-To" in msg,
    )


def _priority(msg: EmailMessage) -> str:
    """The priority ("high", "normal", "low") from the headers ``message.build`` writes."""
    value = str(msg.get("X-Priority", "3")).strip()[:1]
    return {"1": "high", "2": "high", "4": "low", "5": "low"}.get(value, "normal")
