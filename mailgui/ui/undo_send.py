"""Undo send: the few seconds between Send and the message leaving.

A sent message is queued ``scheduled`` for now + N seconds. This notice, in the main
window's status bar, counts those seconds down with an Undo button. Undo asks the
outbox to delete the message only while it is still ``scheduled`` (one SQL statement,
so a sender that took it first wins); then the kept Draft goes back to a compose window.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from PySide6.QtCore import QSettings, Qt, QTimer, Signal, Slot
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QWidget

if TYPE_CHECKING:
    from mailgui.core.message import Draft
    from mailgui.ui.context import AppContext
    from mailgui.ui.outbox_service import OutboxHandle

__all__ = ["DEFAULT_UNDO_SECONDS", "MAX_UNDO_SECONDS", "UndoSendNotice", "undo_seconds"]

DEFAULT_UNDO_SECONDS = 10
MAX_UNDO_SECONDS = 300
_KEY = "compose/undo_send_seconds"


def undo_seconds(ctx: AppContext) -> int:
    """The configured delay (``[compose] undo_send_seconds`` in the profile's
    compose.ini); 0 sends at once. Nonsense values fall back to the default."""
    settings = QSettings(str(ctx.profile.config_dir / "compose.ini"), QSettings.Format.IniFormat)
    value = settings.value(_KEY, DEFAULT_UNDO_SECONDS)
    try:
        seconds = int(str(value))
    except ValueError:
        return DEFAULT_UNDO_SECONDS
    return max(0, min(seconds, MAX_UNDO_SECONDS))


class UndoSendNotice(QWidget):
    """The notice "Sending in 7 s — Undo", for one message at a time (a newer Send
    replaces it).

    Signals:
        undone(str account, Draft draft): the message was taken back; reopen it.
        expired(Draft draft): Undo is over for this draft (its time ran out, a newer
            Send replaced it, or it was too late): the files it names are no longer
            needed for it (the outbox holds the message's bytes).
        message(str text): a sentence for the status bar ("it was already sent").
        current(object id): the message Undo is offered for now (an int), or None
            once the notice is gone; the outbox table marks that one "(Undo)".
    """

    undone = Signal(str, object)
    expired = Signal(object)
    message = Signal(str)
    current = Signal(object)

    def __init__(
        self,
        outbox: OutboxHandle,
        parent: QWidget | None = None,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(parent)
        self._outbox = outbox
        self._clock = clock
        self._msg_id: int | None = None
        self._account = ""
        self._draft: Draft | None = None
        self._deadline = 0.0
        self._asked: dict[int, tuple[str, Draft]] = {}  # undo requests on their way

        self.label = QLabel(self)
        self.undo_button = QPushButton(self.tr("Undo"), self)
        self.undo_button.setToolTip(
            self.tr("Keep the message from leaving and edit it again (Ctrl+Z)")
        )
        self.undo_button.clicked.connect(self.undo)
        # Ctrl+Z in the window undoes the send; only while this notice shows (a hidden
        # widget's shortcut does not fire), so it never steals an editor's undo.
        self.undo_shortcut = QShortcut(QKeySequence(QKeySequence.StandardKey.Undo), self)
        self.undo_shortcut.setContext(Qt.ShortcutContext.WindowShortcut)
        self.undo_shortcut.activated.connect(self.undo)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 6, 0)
        layout.setSpacing(6)
        layout.addWidget(self.label)
        layout.addWidget(self.undo_button)
        self._timer = QTimer(self)
        self._timer.setInterval(250)
        self._timer.timeout.connect(self._tick)
        outbox.unscheduled.connect(self._on_unscheduled)
        self.hide()

    @property
    def msg_id(self) -> int | None:
        return self._msg_id

    def offer(self, msg_id: int, account: str, draft: Draft, seconds: float) -> None:
        if seconds <= 0:
            return
        self._clear(expired=True)  # a newer Send replaces the one offered so far
        self._msg_id = msg_id
        self._account = account
        self._draft = draft
        self._deadline = self._clock() + seconds
        self._timer.start()
        self._tick()
        self.show()
        self.current.emit(msg_id)

    @Slot()
    def undo(self) -> None:
        if self._msg_id is None or self._draft is None:
            return
        self._asked[self._msg_id] = (self._account, self._draft)
        self._outbox.cancel_scheduled(self._msg_id)
        self._clear()

    @Slot()
    def _tick(self) -> None:
        left = self._deadline - self._clock()
        if left <= 0:
            self._clear(expired=True)
            return
        self.label.setText(self.tr("Sending in {0} s").format(math.ceil(left)))

    def _clear(self, *, expired: bool = False) -> None:
        if expired and self._draft is not None:
            self.expired.emit(self._draft)
        self._timer.stop()
        had = self._msg_id is not None
        self._msg_id = None
        self._draft = None
        self.hide()
        if had:
            self.current.emit(None)

    @Slot(int, bool)
    def _on_unscheduled(self, msg_id: int, ok: bool) -> None:
        asked = self._asked.pop(msg_id, None)
        if asked is None:
            return
        if ok:
            self.message.emit(self.tr("Sending was undone; the message is open again."))
            self.undone.emit(*asked)
        else:
            self.message.emit(self.tr("Too late to undo: the message had already left the outbox."))
            self.expired.emit(asked[1])
