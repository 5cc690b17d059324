"""Turn a message from the outbox back into a Draft, so a person can fix and resend it.

The stored bytes are what we built (``message.build``), so the header values parse
strictly; attachments are written to a folder of their own so the new Draft can
point at files, as a freshly composed one does.

Edit takes the message out of the outbox while it is being edited
(``take_out_for_editing``): it becomes a saved draft first (on disk, synced), and only
then leaves the outbox, in one transaction that no sender can slip into. Sending the
draft again queues a new message (a new Message-ID: what leaves is a new message).
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterable
from email import policy
from email.message import EmailMessage, MIMEPart
from email.parser import BytesParser
from pathlib import Path
from typing import TYPE_CHECKING

from mailgui.core.addresses import Mailbox, parse_mailbox, parse_mailbox_list
from mailgui.core.drafts import DraftStore, SavedDraft
from mailgui.core.errors import InputError, UsageError
from mailgui.core.message import Draft, InlineImage

if TYPE_CHECKING:
    from mailgui.core.outbox import MessageRow, Outbox

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
        inline_images=[] if html_part is None else _inline_images(msg),
    )


def _inline_images(msg: EmailMessage) -> list[InlineImage]:
    """The images the HTML shows inline (``cid:``)."""
    found = []
    for part in msg.walk():
        cid = part.get("Content-ID")
        if cid is None or part.get_content_maintype() != "image":
            continue
        payload = part.get_payload(decode=True)
        if isinstance(payload, bytes):
            name = part.get_filename() or ""
            cid_text = str(cid).strip().strip("<>")
            found.append(InlineImage(cid_text, payload, part.get_content_type(), name))
    return found


def _priority(msg: EmailMessage) -> str:
    """The priority ("high", "normal", "low") from the headers ``message.build`` writes."""
    value = str(msg.get("X-Priority", "3")).strip()[:1]
    return {"1": "high", "2": "high", "4": "low", "5": "low"}.get(value, "normal")


# --- Edit: a waiting message becomes a draft, and leaves the outbox ---------------------


def saved_draft_from(account: str, draft: Draft) -> SavedDraft:
    """The draft as the drafts folder keeps it (fields as a person would type them)."""
    return SavedDraft(
        account=account,
        identity=draft.sender.addr,  # the From identity, among the account's
        reply_to=", ".join(m.formatted() for m in draft.reply_to),
        to=", ".join(m.formatted() for m in draft.to),
        cc=", ".join(m.formatted() for m in draft.cc),
        bcc=", ".join(m.formatted() for m in draft.bcc),
        subject=draft.subject,
        text=draft.text or "",
        html=draft.html,
        attachments=[str(p) for p in draft.attachments],
        priority=draft.priority,
        read_receipt=draft.read_receipt,
        sign=draft.sign,
        encrypt=draft.encrypt,
        open=True,  # a compose window is about to hold it; after a crash it is offered back
    )


def _sync(files: Iterable[Path], folders: Iterable[Path]) -> None:
    """fsync files and the folders that name them: on disk before the outbox lets go."""
    for path in [*files, *folders]:
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def take_out_for_editing(
    outbox: Outbox, msg_id: int, drafts: DraftStore, attachments_root: Path
) -> tuple[SavedDraft, MessageRow]:
    """Turn a waiting message into a saved draft and take it out of the outbox.

    The draft (and its attachments, under ``attachments_root/<id>``, or ``<id>-2``…
    when that folder exists already) is written and synced inside the outbox's write
    transaction, before the row is deleted: a crash leaves the message in the outbox
    (and maybe also a draft, which ``settle_take_outs`` removes before drafts are
    offered back), never nowhere. A message being sent is refused with a sentence
    (UsageError) and stays. Returns the draft and the row as it was (its state, send
    time). A scheduled message's send time goes with the draft."""

    def keep(row: MessageRow, body: bytes) -> tuple[SavedDraft, MessageRow]:
        if row.signed or row.encrypted:
            # Its bytes are sealed: read back they would lose the seal (or be ciphertext),
            # and sent again they could go out in clear.
            what = "encrypted" if row.encrypted else "signed"
            raise UsageError(
                f"Message {row.id} was {what} when it was queued, so it cannot be taken back "
                "to edit; delete it and write it again."
            )
        folder = attachments_root / str(row.id)
        copy = 1
        while folder.exists():  # an outbox made anew counts from 1 again, or a crash
            copy += 1  # left this one: another draft may still point into it
            folder = attachments_root / f"{row.id}-{copy}"
        draft = draft_from_stored(body, bcc=row.bcc, attachments_dir=folder)
        saved = saved_draft_from(row.account, draft)
        saved.taken_from_id, saved.taken_from = row.id, row.message_id  # settle_take_outs
        written.append((saved.id, folder))
        if row.state == "scheduled":
            saved.send_at = row.send_at  # Send schedules it again for that time
        if draft.inline_images:
            drafts.save_images(saved, draft.inline_images)  # beside the draft
        drafts.save(saved)
        images_dir = drafts.images_of(saved.id)
        kept_images = list(images_dir.iterdir()) if images_dir.is_dir() else []
        _sync(
            [*draft.attachments, *kept_images, drafts.path_of(saved.id)],
            [folder, attachments_root, drafts.folder, *([images_dir] if kept_images else [])],
        )
        return saved, row

    written: list[tuple[str, Path]] = []
    with drafts.exclusive():  # no other mailgui settles or sweeps this one meanwhile
        try:
            return outbox.take_out(msg_id, keep)
        except BaseException:
            _forget_unfinished(outbox, drafts, msg_id, written)
            raise


def _forget_unfinished(
    outbox: Outbox, drafts: DraftStore, msg_id: int, written: list[tuple[str, Path]]
) -> None:
    """The take-out failed after its draft was written (a sync or the commit failed):
    the message stays in the outbox, so the draft and its files go, or the same message
    could be sent from both. When the outbox cannot even say, the draft stays (for
    settle_take_outs at the next start): a possible second copy rather than a loss."""
    if not written:
        return
    try:
        still = bool(outbox.get_many([msg_id]))
    except Exception:
        return
    if still:
        for draft_id, folder in written:
            drafts.delete(draft_id)
            shutil.rmtree(folder, ignore_errors=True)


def settle_take_outs(outbox: Outbox, drafts: DraftStore) -> list[str]:
    """After a crash, before recovered drafts are offered: a draft taken out of the outbox
    whose message is still there was written by a take-out that never committed (the
    draft is written first, then the message leaves). The message never left, so that
    draft is removed: offered too, it could be sent a second time. Returns the ids of
    the drafts removed. One look-up by id per open draft that came from the outbox.
    (A failed take-out already removes its draft itself; this is for a process that
    died in between.)"""
    removed = []
    with drafts.exclusive():  # not while another mailgui is between a take-out's steps
        for saved in drafts.left_open():
            if saved.taken_from_id and outbox.still_has(saved.taken_from_id, saved.taken_from):
                drafts.delete(saved.id)
                removed.append(saved.id)
    return removed
