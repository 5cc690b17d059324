"""Send later, the window's part: open the picker (``schedule_bar``), keep a draft's
send time, schedule at the chosen one."""

from __future__ import annotations

from PySide6.QtCore import Slot

from mailgui.ui.compose.base import ComposeBase
from mailgui.ui.compose.schedule_bar import when_text

__all__ = ["ScheduleMixin"]


class ScheduleMixin(ComposeBase):
    """The window's part of sending later."""

    _when_text = staticmethod(when_text)

    @Slot()
    def show_schedule(self) -> None:
        """Open the inline "Send at" picker, an hour from now on the quarter hour."""
        if self._token is not None:
            return
        now = self._clock()
        start = now + 3600
        start = start - start % 900 + 900
        if self._scheduled_at is not None and self._scheduled_at > now:
            start = self._scheduled_at  # changing the draft's time: start from it
        self.preflight.hide()  # scheduling checks again
        self.schedule_bar.open(now, start)

    @Slot()
    def _schedule_chosen(self) -> None:
        when = self.schedule_bar.when()
        if when <= self._clock():
            self._show_error(self.tr("Choose a time in the future to send later."))
            self.schedule_bar.edit.setFocus()
            return
        self.send(send_at=when)

    def set_scheduled(self, when: float | None) -> None:
        """Keep ``when`` (epoch seconds) as the time Send schedules the message for, and
        say so above the form; None: Send sends it now. A time already past is dropped,
        with a sentence saying so."""
        previous = self._scheduled_at
        now = self._clock()
        self._scheduled_at = when if when is not None and when > now else None
        self.scheduled_note.show_time(when, now)
        if self._scheduled_at != previous:
            self._dirty = True
            if previous is not None and self._send_at == previous:
                self._send_at = self._scheduled_at  # "Send anyway" follows the change
        self._update_send_enabled()
