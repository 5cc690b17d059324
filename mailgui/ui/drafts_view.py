"""Drafts in the main window: the File → Drafts list, drafts a crash left behind, and
messages taken out of the outbox to be edited (they become drafts).

All read the profile's draft folder (``core.drafts``), which compose windows write.
Files mailgui wrote for drafts (``draft_folders``) go once no saved draft points at
them: ``let_go`` when a draft was queued or discarded, ``MessageToDraft.sweep`` at start.
"""

from __future__ import annotations

import functools
import sqlite3
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QObject, QThreadPool, Signal, Slot
from PySide6.QtWidgets import QHBoxLayout, QLabel, QMenu, QPushButton, QToolButton, QWidget

from mailgui.core.drafts import DraftStore, SavedDraft, in_draft_folders
from mailgui.core.log import get_logger
from mailgui.ui import background
from mailgui.ui.context import AppContext

__all__ = [
    "DraftsMenu",
    "MessageToDraft",
    "RecoveredDraftsNotice",
    "draft_folders",
    "draft_store",
    "let_go",
    "pasted_folder",
]

log = get_logger(__name__)


def draft_store(ctx: AppContext) -> DraftStore:
    return DraftStore(ctx.profile.data_dir / "drafts")


def draft_folders(ctx: AppContext) -> tuple[Path, Path]:
    """Where mailgui writes files for drafts, a subfolder per draft or message: the
    attachments of messages taken out to edit, and pictures that became attachments
    when a rich draft went plain (see ``ComposeWindow._images_to_attachments``)."""
    return ctx.profile.data_dir / "editing", ctx.profile.data_dir / "pasted"


def pasted_folder(ctx: AppContext, draft_id: str) -> Path:
    """Where a draft's pictures go when they must travel as attachments."""
    return draft_folders(ctx)[1] / draft_id


def let_go(ctx: AppContext, attachments: Iterable[str | Path]) -> None:
    """A draft with these attachments was queued (the outbox holds their bytes) or
    discarded: remove the folders mailgui wrote them in, unless a saved draft still
    points there. In the thread pool (it reads the drafts, deletes files)."""
    roots = draft_folders(ctx)
    files = [Path(a) for a in attachments if in_draft_folders(roots, a)]
    if files:
        store = draft_store(ctx)
        background.run(lambda: _remove_unused(store, roots, files))


def _remove_unused(
    store: DraftStore, roots: Iterable[Path], files: list[Path] | None = None
) -> list[Path]:
    """Runs in a pool: never raises (a leftover folder only costs disk space)."""
    try:
        return store.remove_unused_folders(roots, files)
    except Exception:
        log.exception("removing unused draft folders failed")
        return []


class DraftsMenu(QMenu):
    """Saved drafts, newest first, read each time the menu opens.

    Signals:
        openDraft(str id): the person chose a draft to go on writing.
    """

    openDraft = Signal(str)

    def __init__(self, ctx: AppContext, title: str, parent: QWidget | None = None) -> None:
        super().__init__(title, parent)
        self._store = draft_store(ctx)
        self.aboutToShow.connect(self.refresh)
        self.refresh()

    @Slot()
    def refresh(self) -> None:
        self.clear()
        drafts = self._store.all()
        if not drafts:
            empty = self.addAction(self.tr("No drafts"))
            empty.setEnabled(False)
            return
        for draft in drafts[:30]:
            when = time.strftime("%d %b %H:%M", time.localtime(draft.saved_at))
            title = draft.title or self.tr("(empty)")
            action = self.addAction(f"{title}\t{when}")
            action.setToolTip(draft.to)
            action.triggered.connect(lambda _c=False, i=draft.id: self.openDraft.emit(i))


class RecoveredDraftsNotice(QWidget):
    """The notice "1 unsent draft was recovered — Open", shown at start after a crash.

    Signals:
        openDraft(str id): open this recovered draft.
    """

    openDraft = Signal(str)

    def __init__(self, ctx: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._store = draft_store(ctx)
        left = self._store.left_open()
        if any(d.taken_from_id for d in left):  # rare: mailgui stopped while editing one
            left = self._settle(ctx, left)
        self.ids = [d.id for d in left]
        self.label = QLabel(self)
        self.open_button = QPushButton(self.tr("Open"), self)
        self.open_button.clicked.connect(self.open_all)
        self.dismiss_button = QToolButton(self)
        self.dismiss_button.setText("✕")
        self.dismiss_button.setAutoRaise(True)
        self.dismiss_button.setToolTip(self.tr("Keep them in File → Drafts"))
        self.dismiss_button.clicked.connect(self.dismiss)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 6, 0)
        layout.setSpacing(6)
        layout.addWidget(self.label)
        layout.addWidget(self.open_button)
        layout.addWidget(self.dismiss_button)
        n = len(self.ids)
        self.label.setText(
            self.tr("1 unsent draft was recovered")
            if n == 1
            else self.tr("{0} unsent drafts were recovered").format(n)
        )
        self.setVisible(n > 0)

    def _settle(self, ctx: AppContext, left: list[SavedDraft]) -> list[SavedDraft]:
        """Drafts of messages taken out to be edited whose message is still in the outbox
        (the take-out never finished) are not offered: that message never left. One
        look-up by id per such draft, at start, on this thread: only after such a stop."""
        from mailgui.core.editing import settle_take_outs
        from mailgui.core.errors import MailguiError

        try:
            with ctx.open_outbox() as outbox:
                removed = set(settle_take_outs(outbox, self._store))
        except (OSError, sqlite3.Error, MailguiError) as exc:
            log.warning("recovered drafts not checked against the outbox: %s", exc)
            return left
        return [d for d in left if d.id not in removed]

    @Slot()
    def open_all(self) -> None:
        ids, self.ids = self.ids, []
        self.hide()
        for draft_id in ids:
            self.openDraft.emit(draft_id)

    @Slot()
    def dismiss(self) -> None:
        """Not now: the drafts stay, listed under File → Drafts, and are not offered again."""
        for draft_id in self.ids:
            self._store.mark_closed(draft_id)
        self.ids = []
        self.hide()


class MessageToDraft(QObject):
    """Edit of a waiting message: takes it out of the outbox as a saved draft
    (``core.editing.take_out_for_editing``) in a worker thread, since a big message's
    attachments are written to files; the GUI then opens the draft.

    Signals:
        taken(int id, str draft_id, str state, float send_at): message ``id`` (it was
            ``state``; ``send_at`` 0 when it had no send time) is now draft ``draft_id``.
        refused(int id, str sentence): it stays in the outbox (being sent, gone, a disk
            error), and the sentence says why.
    """

    taken = Signal(int, str, str, float)
    refused = Signal(int, str)

    def __init__(self, ctx: AppContext, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._ctx = ctx
        self._busy: set[int] = set()  # ids being taken out (a double-click is one Edit)

    def start(self, msg_id: int) -> None:
        if msg_id in self._busy:
            return
        self._busy.add(msg_id)
        background.run(functools.partial(_take_out, self._ctx, msg_id), self._on_done, _pool())

    def sweep(self) -> None:
        """Remove the folders written for drafts that no saved draft points at any more
        (left by a crash, or by a quit during Undo). In the take-outs' own pool, so never
        in the middle of a take-out, whose folder has no draft yet."""
        store, roots = draft_store(self._ctx), draft_folders(self._ctx)
        background.run(lambda: _remove_unused(store, roots), pool=_pool())

    def _on_done(self, _request: int, outcome: _TakeOut) -> None:
        """In the GUI thread, and only while this object exists (``background.run``)."""
        msg_id = outcome.msg_id
        self._busy.discard(msg_id)
        if outcome.refused is not None:
            self.refused.emit(msg_id, outcome.refused)
        elif outcome.failed is not None:
            self.refused.emit(
                msg_id,
                self.tr(
                    "Message {0} could not be opened for editing ({1}); it stays in the outbox."
                ).format(msg_id, outcome.failed),
            )
        else:
            self.taken.emit(msg_id, outcome.draft_id, outcome.state, outcome.send_at)

    def wait(self, timeout_ms: int = 3000) -> bool:
        """On quit: let a take-out that started finish (it is one short transaction)."""
        return bool(_pool().waitForDone(timeout_ms))


def _pool() -> QThreadPool:
    return background.pool("drafts", 1)  # one at a time, in order


@dataclass(frozen=True)
class _TakeOut:
    """What taking message ``msg_id`` out to edit came to: plain data for the GUI."""

    msg_id: int
    draft_id: str = ""
    state: str = ""
    send_at: float = 0.0
    refused: str | None = None  # the core's sentence: it stays in the outbox
    failed: str | None = None  # a database or disk error's text


def _take_out(ctx: AppContext, msg_id: int) -> _TakeOut:
    """In the drafts pool; never raises for what the outbox or the disk can do."""
    from mailgui.core.editing import take_out_for_editing
    from mailgui.core.errors import MailguiError

    try:
        with ctx.open_outbox() as outbox:
            saved, row = take_out_for_editing(
                outbox, msg_id, draft_store(ctx), draft_folders(ctx)[0]
            )
    except MailguiError as exc:
        return _TakeOut(msg_id, refused=exc.message)
    except (sqlite3.Error, OSError) as exc:
        log.warning("message %s could not be taken out to edit: %s", msg_id, exc)
        return _TakeOut(msg_id, failed=str(exc))
    return _TakeOut(msg_id, saved.id, row.state, float(row.send_at or 0.0))
