"""Send later's widgets: the inline "Send at" picker and the note of the send time a
draft keeps."""

from __future__ import annotations

from datetime import datetime

from PySide6.QtCore import QDateTime, QLocale, Qt, QTimeZone, Signal
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import QDateTimeEdit, QLabel, QPushButton, QSizePolicy, QWidget

from mailgui.core.send_later import presets
from mailgui.ui.compose.bars import Bar

__all__ = ["ScheduleBar", "ScheduledNote", "when_text"]


def when_text(when: float) -> str:
    """Like "Tue 1 Dec 09:30", in the person's language (the year when not this one)."""
    moment = QDateTime.fromSecsSinceEpoch(int(when))
    same_year = moment.date().year() == QDateTime.currentDateTime().date().year()
    return QLocale().toString(moment, "ddd d MMM" + ("" if same_year else " yyyy") + " HH:mm")


class ScheduleBar(Bar):
    """The "Send later" picker: an inline date and time with a few presets, not a dialog.

    Signals:
        chosen(): Schedule was pressed (or Enter in the time): send at ``when()``.
    """

    chosen = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("info", parent)
        self.label.setText(self.tr("Send at:"))
        self.label.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Preferred)
        self.edit = QDateTimeEdit(self)
        self.edit.setObjectName("schedule_edit")
        self.edit.setCalendarPopup(True)
        self.edit.setDisplayFormat("ddd d MMM yyyy  HH:mm")  # unambiguous anywhere
        self.label.setBuddy(self.edit)
        self._layout.addWidget(self.edit)
        self.zone = QLabel(self)  # "CET (UTC+01:00)": whose 09:30
        self.zone.setObjectName("schedule_zone")
        self._layout.addWidget(self.zone)
        self._layout.addSpacing(8)
        self.presets: dict[str, QPushButton] = {}
        self._times: dict[str, float] = {}  # key -> epoch seconds, made when it opens
        for key, text in (
            ("hour", self.tr("In an hour")),
            ("tomorrow", self.tr("Tomorrow morning")),
            ("monday", self.tr("Monday morning")),
        ):
            preset = QPushButton(text, self)
            preset.setObjectName(f"preset_{key}")
            preset.setAutoDefault(True)
            preset.clicked.connect(lambda _c=False, k=key: self._use_preset(k))
            self._layout.addWidget(preset)
            self.presets[key] = preset
        self._layout.addStretch(1)
        self.button = self.add_button(self.tr("Schedule"))
        self.button.setDefault(True)
        self.button.clicked.connect(self.chosen)
        for enter in (Qt.Key.Key_Return, Qt.Key.Key_Enter):  # Enter in the time accepts it
            accept = QShortcut(QKeySequence(enter), self.edit)
            accept.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            accept.activated.connect(self.chosen)
        self.add_close_button(self.tr("Cancel (send later)"))

    def open(self, now: float, start: float) -> None:
        """Show the picker at ``start``, never earlier than ``now`` (epoch seconds)."""
        moment = QDateTime.fromSecsSinceEpoch(int(now))
        self.edit.setMinimumDateTime(moment)
        self.edit.setDateTime(QDateTime.fromSecsSinceEpoch(int(start)))
        utc = moment.timeZone().displayName(moment, QTimeZone.NameType.OffsetName)  # "UTC+01:00"
        zone = moment.timeZoneAbbreviation()  # "CET", or "" where the system has no name
        self.zone.setText(zone if zone and not (zone == "UTC" and moment.offsetFromUtc())
                          else utc)  # fmt: skip
        self.zone.setToolTip(self.tr("Times are in your computer's time zone ({0}).")
                             .format(utc))  # fmt: skip
        local_now = datetime.fromtimestamp(now).astimezone()
        self._times = {p.key: p.when.timestamp() for p in presets(local_now)}
        for key, button in self.presets.items():
            button.setVisible(key in self._times)
            if key in self._times:
                button.setToolTip(when_text(self._times[key]))
        self.show()
        self.edit.setFocus()

    def when(self) -> float:
        """The chosen time, in epoch seconds."""
        return float(self.edit.dateTime().toSecsSinceEpoch())

    def _use_preset(self, key: str) -> None:
        """Put the preset's time in the picker; Schedule (or Enter) sends it then."""
        self.edit.setDateTime(QDateTime.fromSecsSinceEpoch(int(self._times[key])))
        self.button.setFocus()


class ScheduledNote(Bar):
    """Above the form: the send time a draft keeps (a scheduled message opened to edit),
    with buttons to change it or drop it."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("info", parent)
        self.setObjectName("scheduled_note")
        self.change_button = self.add_button(self.tr("Change time…"))
        self.change_button.setToolTip(self.tr("Choose another time and schedule it"))
        self.clear_button = self.add_button(self.tr("Don't schedule"))
        self.clear_button.setToolTip(self.tr("Send it when you click Send"))

    def show_time(self, when: float | None, now: float) -> None:
        """Say when the message goes (``when``), that this time has passed, or nothing."""
        if when is None:
            self.hide()
        elif when <= now:
            self.change_button.setText(self.tr("Send later…"))
            self.clear_button.hide()
            self.show_text(
                self.tr(
                    "This message was scheduled for {0}, which has passed: Send sends it now."
                ).format(when_text(when))
            )
        else:
            self.change_button.setText(self.tr("Change time…"))
            self.clear_button.show()
            self.show_text(
                self.tr("Scheduled for {0}: Send keeps this time.").format(when_text(when))
            )
