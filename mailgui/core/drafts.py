"""Drafts: what is being written, kept as one JSON file each in the profile.

Drafts are not messages: they are not in the outbox and have no outbox state. A
draft keeps the fields exactly as typed (an address still being written may not
parse yet). ``open`` is true while a compose window holds the draft; a draft still
marked open when mailgui starts was left by a session that ended without closing
its window (a crash, a power cut), and is offered back.

Each save writes a temporary file and renames it over the old one, so a crash in
the middle of a save leaves the previous version, never half a file. Inline images
of a rich draft are kept beside it, one file each in ``<id>.images/``, written once
(an image does not change), so autosaving a draft with photos rewrites only its text.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mailgui.core.files import write_private

if TYPE_CHECKING:  # the main window lists drafts at start: no email package for that
    from mailgui.core.message import InlineImage

__all__ = ["DraftStore", "SavedDraft", "write_private_bytes"]

log = logging.getLogger(__name__)


@dataclass
class SavedDraft:
    account: str = ""
    identity: str = ""  # the From address chosen among the account's identities
    to: str = ""
    cc: str = ""
    bcc: str = ""
    reply_to: str = ""
    subject: str = ""
    text: str = ""  # the body as plain text (also kept for rich drafts, for listings)
    html: str | None = None  # the body as HTML when written as rich text
    attachments: list[str] = field(default_factory=list)
    # {"cid", "content_type", "filename"} of each inline image; bytes in <id>.images/
    inline_images: list[dict[str, str]] = field(default_factory=list)
    priority: str = "normal"
    read_receipt: bool = False
    # When Send schedules it (epoch seconds): kept from a scheduled message taken out to
    # be edited, so editing does not lose its time. None: Send sends it now.
    send_at: float | None = None
    open: bool = True
    saved_at: float = 0.0
    id: str = field(default_factory=lambda: uuid.uuid4().hex)

    @property
    def title(self) -> str:
        """How a list shows it: the subject, else the start of the text."""
        subject = " ".join(self.subject.split())
        if subject:
            return subject
        words = " ".join(self.text.split())
        return (words[:40] + "…") if len(words) > 40 else words

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SavedDraft:
        known = {f for f in cls.__dataclass_fields__}
        values = {k: v for k, v in data.items() if k in known}
        draft = cls(**values)
        draft.attachments = [str(a) for a in draft.attachments]
        draft.inline_images = [
            {k: str(v) for k, v in item.items()}
            for item in draft.inline_images
            if isinstance(item, dict) and "cid" in item
        ]
        draft.send_at = _epoch(draft.send_at)
        return draft


def _epoch(value: object) -> float | None:
    """A send time from the JSON, else None: drafts written before send_at existed have
    none, and a bad value is dropped (the person picks a time again) rather than making
    the whole draft unreadable."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        return None
    return float(value)


class DraftStore:
    """The drafts folder. Every method is quick (small files); no locking needed:
    one window owns one draft file."""

    def __init__(self, folder: Path, *, clock: Any = time.time) -> None:
        self.folder = folder
        self.clock = clock

    def _path(self, draft_id: str) -> Path:
        if not draft_id.isalnum():
            raise ValueError(f"not a draft id: {draft_id!r}")
        return self.folder / f"{draft_id}.json"

    def save(self, draft: SavedDraft) -> None:
        draft.saved_at = self.clock()
        write_private(self._path(draft.id), json.dumps(asdict(draft), ensure_ascii=False))

    def load(self, draft_id: str) -> SavedDraft:
        data = json.loads(self._path(draft_id).read_text(encoding="utf-8"))
        return SavedDraft.from_json(data)

    def delete(self, draft_id: str) -> None:
        self._path(draft_id).unlink(missing_ok=True)
        shutil.rmtree(self._images(draft_id), ignore_errors=True)

    def _images(self, draft_id: str) -> Path:
        return self._path(draft_id).with_suffix(".images")

    @staticmethod
    def _image_name(cid: str) -> str:
        return hashlib.sha256(cid.encode("utf-8", "replace")).hexdigest()[:32]

    def save_images(self, draft: SavedDraft, images: list[InlineImage]) -> None:
        """Keep ``images`` with ``draft`` (recorded in ``draft.inline_images``): new ones
        are written, ones no longer used are removed. Call before ``save``."""
        folder = self._images(draft.id)
        wanted = {self._image_name(i.cid): i for i in images}
        if not wanted and not folder.exists():
            draft.inline_images = []
            return
        for name, image in wanted.items():
            path = folder / name
            if not path.exists():
                write_private_bytes(path, image.data)
        if folder.exists():
            for path in folder.iterdir():
                if path.name not in wanted:
                    path.unlink(missing_ok=True)
        draft.inline_images = [
            {"cid": i.cid, "content_type": i.content_type, "filename": i.filename} for i in images
        ]

    def load_images(self, draft: SavedDraft) -> list[InlineImage]:
        """The inline images of ``draft``; one whose file is gone is left out (logged)."""
        from mailgui.core.message import InlineImage

        folder = self._images(draft.id)
        images = []
        for item in draft.inline_images:
            try:
                data = (folder / self._image_name(item["cid"])).read_bytes()
            except OSError as exc:
                log.warning("an image of draft %s cannot be read: %s", draft.id, exc)
                continue
            images.append(
                InlineImage(
                    item["cid"],
                    data,
                    item.get("content_type", "image/png"),
                    item.get("filename", ""),
                )
            )
        return images

    def all(self) -> list[SavedDraft]:
        """Every readable draft, newest first (an unreadable file is logged, skipped)."""
        drafts = []
        for path in self.folder.glob("*.json"):
            try:
                drafts.append(SavedDraft.from_json(json.loads(path.read_text(encoding="utf-8"))))
            except (OSError, ValueError, TypeError) as exc:
                log.warning("draft %s cannot be read: %s", path.name, exc)
        return sorted(drafts, key=lambda d: d.saved_at, reverse=True)

    def left_open(self) -> list[SavedDraft]:
        """Drafts a window still held when the last session ended: crash leftovers."""
        return [d for d in self.all() if d.open]

    def mark_closed(self, draft_id: str) -> None:
        try:
            draft = self.load(draft_id)
        except (OSError, ValueError):
            return
        draft.open = False
        self.save(draft)


def write_private_bytes(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
