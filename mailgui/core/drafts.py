"""Drafts: what is being written, kept as one JSON file each in the profile.

Drafts are not messages: they are not in the outbox and have no outbox state. A
draft keeps the fields exactly as typed (an address still being written may not
parse yet). ``open`` is true while a compose window holds the draft; a draft still
marked open when mailgui starts was left by a session that ended without closing
its window (a crash, a power cut), and is offered back.

Each save writes a temporary file and renames it over the old one, so a crash in
the middle of a save leaves the previous version, never half a file.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from mailgui.core.files import write_private

__all__ = ["DraftStore", "SavedDraft"]

log = logging.getLogger(__name__)


@dataclass
class SavedDraft:
    account: str = ""
    to: str = ""
    cc: str = ""
    bcc: str = ""
    subject: str = ""
    text: str = ""  # the body as plain text (also kept for rich drafts, for listings)
    html: str | None = None  # the body as HTML when written as rich text
    attachments: list[str] = field(default_factory=list)
    priority: str = "normal"
    read_receipt: bool = False
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
        return draft


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
