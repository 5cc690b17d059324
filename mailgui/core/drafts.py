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

Some drafts point at files mailgui wrote for them, one folder per draft or message:
the attachments of a message taken out of the outbox to be edited (``editing/<id>/``),
pictures of a rich draft that went plain (``pasted/<id>/``). ``remove_unused_folders``
removes such a folder once no saved draft points into it: when its draft was queued or
discarded, and in a sweep at start for what a crash left behind. A folder a saved
draft still names is never removed.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mailgui.core.files import write_private
from mailgui.core.log import get_logger

if TYPE_CHECKING:  # the main window lists drafts at start: no email package for that
    from mailgui.core.message import InlineImage

__all__ = ["DraftStore", "SavedDraft", "in_draft_folders"]

log = get_logger(__name__)


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
    sign: bool = False  # Sign and Encrypt, as the compose window had them
    encrypt: bool = False
    # When Send schedules it (epoch seconds): kept from a scheduled message taken out to
    # be edited, so editing does not lose its time. None: Send sends it now.
    send_at: float | None = None
    # The outbox message this draft was taken out of to be edited (core.editing): its
    # id and Message-ID; 0 and "" for a draft written from scratch.
    taken_from_id: int = 0
    taken_from: str = ""
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

    @contextmanager
    def exclusive(self) -> Iterator[None]:
        """Held by whatever must not interleave with another mailgui on this profile (a
        second window can start when the first one is slow to answer): a take-out from
        its first file to its commit, the settling of recovered drafts, the folder sweep.
        Each holds it for milliseconds, so waiting for it is short."""
        import fcntl

        self.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(self.folder / ".lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # closing releases the lock

    def path_of(self, draft_id: str) -> Path:
        if not draft_id.isalnum():
            raise ValueError(f"not a draft id: {draft_id!r}")
        return self.folder / f"{draft_id}.json"

    def save(self, draft: SavedDraft) -> None:
        draft.saved_at = self.clock()
        write_private(self.path_of(draft.id), json.dumps(asdict(draft), ensure_ascii=False))

    def load(self, draft_id: str) -> SavedDraft:
        data = json.loads(self.path_of(draft_id).read_text(encoding="utf-8"))
        return SavedDraft.from_json(data)

    def delete(self, draft_id: str) -> None:
        self.path_of(draft_id).unlink(missing_ok=True)
        shutil.rmtree(self.images_of(draft_id), ignore_errors=True)

    def images_of(self, draft_id: str) -> Path:
        return self.path_of(draft_id).with_suffix(".images")

    @staticmethod
    def _image_name(cid: str) -> str:
        return hashlib.sha256(cid.encode("utf-8", "replace")).hexdigest()[:32]

    def save_images(
        self,
        draft: SavedDraft,
        images: list[InlineImage],
        kept: Iterable[dict[str, str]] = (),
    ) -> None:
        """Keep ``images`` with ``draft`` (recorded in ``draft.inline_images``): new ones
        are written, ones no longer used are removed. ``kept`` are entries of images
        already saved with this draft (as in ``inline_images``) that stay as they are:
        a window still reading them has no bytes to give. Call before ``save``."""
        folder = self.images_of(draft.id)
        entries = [
            {"cid": i.cid, "content_type": i.content_type, "filename": i.filename} for i in images
        ]
        given = {i.cid for i in images}
        entries += [dict(item) for item in kept if item["cid"] not in given]
        wanted = {self._image_name(item["cid"]) for item in entries}
        if not wanted and not folder.exists():
            draft.inline_images = []
            return
        for image in images:
            path = folder / self._image_name(image.cid)
            if not path.exists():
                write_private(path, image.data)
        if folder.exists():
            for path in folder.iterdir():
                if path.name not in wanted:
                    path.unlink(missing_ok=True)
        draft.inline_images = entries

    def load_images(self, draft: SavedDraft) -> list[InlineImage]:
        """The inline images of ``draft``; one whose file is gone is left out (logged)."""
        found = (self.load_image(draft, item) for item in draft.inline_images)
        return [image for image in found if image is not None]

    def load_image(self, draft: SavedDraft, item: dict[str, str]) -> InlineImage | None:
        """The inline image ``item`` (an entry of ``draft.inline_images``), None when its
        file cannot be read (logged). Reads a file: not on the GUI thread."""
        from mailgui.core.message import InlineImage

        try:
            data = (self.images_of(draft.id) / self._image_name(item["cid"])).read_bytes()
        except OSError as exc:
            log.warning("an image of draft %s cannot be read: %s", draft.id, exc)
            return None
        return InlineImage(
            item["cid"], data, item.get("content_type", "image/png"), item.get("filename", "")
        )

    def all(self) -> list[SavedDraft]:
        """Every readable draft, newest first (an unreadable file is logged, skipped)."""
        drafts, _unreadable = self._read_all()
        return sorted(drafts, key=lambda d: d.saved_at, reverse=True)

    def _read_all(self) -> tuple[list[SavedDraft], int]:
        """The readable drafts, and how many files could not be read (logged)."""
        drafts, unreadable = [], 0
        for path in self.folder.glob("*.json"):
            try:
                drafts.append(SavedDraft.from_json(json.loads(path.read_text(encoding="utf-8"))))
            except FileNotFoundError:
                continue  # deleted since the listing: not a draft any more
            except (OSError, ValueError, TypeError) as exc:
                log.warning("draft %s cannot be read: %s", path.name, exc)
                unreadable += 1
        return drafts, unreadable

    def remove_unused_folders(
        self, roots: Iterable[Path], files: Iterable[str | Path] | None = None
    ) -> list[Path]:
        """Remove the folders mailgui filled with files for drafts (a subfolder of one
        of ``roots`` each) that no saved draft points into any more: the folders of
        ``files`` (the attachments of a draft just queued or discarded; files elsewhere
        are the person's own and are ignored), or, with None, every one (the sweep at
        start). Nothing is removed while a draft file cannot be read: it might point
        into any of them. Returns the folders removed."""
        with self.exclusive():
            return self._remove_unused(roots, files)

    def _remove_unused(
        self, roots: Iterable[Path], files: Iterable[str | Path] | None
    ) -> list[Path]:
        tops = [_normal(root) for root in roots]
        drafts, unreadable = self._read_all()
        if unreadable:
            log.warning("no draft folder is removed while a draft cannot be read")
            return []
        used = {_folder_in(tops, a) for d in drafts for a in d.attachments}
        if files is None:
            candidates = {c for top in tops if top.is_dir() for c in top.iterdir() if c.is_dir()}
        else:
            candidates = {f for f in (_folder_in(tops, p) for p in files) if f is not None}
        removed = []
        for folder in sorted(candidates - used):
            try:
                shutil.rmtree(folder)
            except FileNotFoundError:
                continue
            except OSError as exc:
                log.warning("folder %s could not be removed: %s", folder, exc)
                continue
            removed.append(folder)
        return removed

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


def in_draft_folders(roots: Iterable[Path], path: str | Path) -> bool:
    """Whether ``path`` is in one of the folders ``remove_unused_folders`` looks after
    (a subfolder of one of ``roots``), compared as it compares."""
    return _folder_in([_normal(root) for root in roots], path) is not None


def _normal(path: str | Path) -> Path:
    """The path with symbolic links resolved, so that a profile reached through a link
    (MAILGUI_HOME=~/mail, a link to /data/mail) and the same profile by its real name
    compare equal: a draft written under one name must keep its folder under the other."""
    return Path(os.path.realpath(path))


def _folder_in(tops: list[Path], path: str | Path) -> Path | None:
    """The subfolder of one of ``tops`` that ``path`` is in, else None."""
    at = _normal(path)
    for top in tops:
        if at.parent != top and top in at.parents:
            return top / at.relative_to(top).parts[0]
    return None
