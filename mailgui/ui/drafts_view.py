"""Drafts in the main window: the File → Drafts list, and drafts a crash left behind.

Both read the profile's draft folder (``core.drafts``), which compose windows write.
"""

from __future__ import annotations

import time

from PySide6.QtCore import Signal, Slot
from PySide6.QtWidgets import QHBoxLayout, QLabel, QMenu, QPushButton, QToolButton, QWidget

from mailgui.core.drafts import DraftStore
from mailgui.ui.context import AppContext

__all__ = ["DraftsMenu", "RecoveredDraftsNotice", "draft_store"]


def draft_store(ctx: AppContext) -> DraftStore:
    return DraftStore(ctx.profile.data_dir / "drafts")


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
        self.ids = [d.id for d in self._store.left_open()]
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
