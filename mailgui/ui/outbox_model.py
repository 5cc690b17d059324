"""The outbox table: a model fed by ``OutboxHandle`` signals and a filter per view.

Everything a cell shows is computed once, when a row arrives (``upsert``), so
``data()`` is a list lookup and 10 000 rows scroll smoothly.

The model sorts itself (``sort``), in Python on precomputed keys; ``OutboxFilter``
only filters and hands sorting down to it. A QSortFilterProxyModel that sorts calls
back into Python for every comparison: with PySide that is about 12 µs each, 1.5 s
to sort 10 000 rows, against a few milliseconds here. The default order (column -1)
is newest first; new messages then arrive at the top in one ``beginInsertRows``.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable
from datetime import date, datetime, timedelta
from typing import Any, Final

from PySide6.QtCore import (
    QAbstractItemModel,
    QAbstractTableModel,
    QCoreApplication,
    QEvent,
    QModelIndex,
    QModelRoleDataSpan,
    QObject,
    QPersistentModelIndex,
    QPointF,
    QRectF,
    QSortFilterProxyModel,
    Qt,
    Signal,
    Slot,
)
from PySide6.QtGui import QBrush, QColor, QGuiApplication, QIcon, QPainter, QPalette, QPen, QPixmap
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableView

from mailgui.core.outbox import STATES, MessageRow
from mailgui.core.sizes import human_size
from mailgui.ui.error_words import row_error
from mailgui.ui.plurals import english

__all__ = [
    "HELD",
    "VIEWS",
    "OutboxFilter",
    "OutboxModel",
    "apply_default_layout",
    "column_widths",
    "human_size",
]

_Index = QModelIndex | QPersistentModelIndex

_DISPLAY = int(Qt.ItemDataRole.DisplayRole.value)
_DECORATION = int(Qt.ItemDataRole.DecorationRole.value)
_TOOLTIP = int(Qt.ItemDataRole.ToolTipRole.value)
_ALIGNMENT = int(Qt.ItemDataRole.TextAlignmentRole.value)
_FOREGROUND = int(Qt.ItemDataRole.ForegroundRole.value)
_USER = int(Qt.ItemDataRole.UserRole.value)

COL_STATE, COL_ACCOUNT, COL_TO, COL_SUBJECT, COL_SIZE, COL_TRIES, COL_WHEN, COL_ERROR = range(8)
_NUMERIC_COLUMNS = (COL_SIZE, COL_TRIES)
# A message in its undo delay (the GUI sent it ``scheduled`` for now + the delay): to
# the person it is on its way, so the views and counts treat it as waiting, not as
# scheduled. The core cannot tell the two apart; the GUI knows the ids (``hold``).
HELD = "held"
# Sorting by state puts what needs attention first.
_STATE_RANK = {
    "failed": 0,
    "deferred": 1,
    "sending": 2,
    HELD: 3,
    "queued": 3,
    "scheduled": 4,
    "sent": 5,
}

# view name -> states shown (None: all); HELD is the view state of a held message
VIEWS: dict[str, frozenset[str] | None] = {
    "outbox": frozenset({"queued", "sending", "deferred", HELD}),
    "scheduled": frozenset({"scheduled"}),
    "failed": frozenset({"failed"}),
    "sent": frozenset({"sent"}),
    "all": None,
}


def _one_line(text: str) -> str:
    return " ".join(text.split())


# One row as the table shows it: the message packed as a tuple, its cell texts, and
# per column a sort key (primary, id), so that no two keys are equal. Only tuples of
# strings and numbers: CPython's garbage collector stops tracking those, so 10 000 rows
# do not make its full passes (which stop every thread) any longer. 10 000 MessageRow
# objects with their lists would add some 50 000 objects to every full pass.
_Entry = tuple[tuple[Any, ...], tuple[str, ...], tuple[Any, ...]]
_ROW: Final = 0
_TEXT: Final = 1
_KEYS: Final = 2
_FIELDS = MessageRow._fields
_LIST_FIELDS = frozenset({"to", "cc", "bcc", "pending"})
_DICT_FIELDS = frozenset({"recipient_errors"})
_ID, _STATE, _SUBJECT = (_FIELDS.index(n) for n in ("id", "state", "subject"))
_LIST_AT = tuple(_FIELDS.index(n) for n in sorted(_LIST_FIELDS))
_DICT_AT = tuple(_FIELDS.index(n) for n in sorted(_DICT_FIELDS))


def _pack(r: MessageRow) -> tuple[Any, ...]:
    values: list[Any] = list(r)  # a MessageRow is a tuple: its fields in order, at C speed
    for i in _LIST_AT:
        values[i] = tuple(values[i])
    for i in _DICT_AT:
        values[i] = tuple(values[i].items())
    return tuple(values)


def _unpack(packed: tuple[Any, ...]) -> MessageRow:
    values = {}
    for name, value in zip(_FIELDS, packed, strict=True):
        if name in _LIST_FIELDS:
            value = list(value)
        elif name in _DICT_FIELDS:
            value = dict(value)
        values[name] = value
    return MessageRow(**values)


def copy_words(r: MessageRow, when: Callable[[float], str]) -> str:
    """Where a sent message's copy in the Sent folder stands ("In Sent", "Copy pending:
    the server refused the login — retrying at 14:05"); ``when`` formats a time."""

    def tr(text: str) -> str:
        return QCoreApplication.translate("OutboxModel", text)

    if r.sent_copy == "filed":
        return tr("In Sent")
    why = (r.sent_copy_error or "").rstrip(".")
    if r.sent_copy == "failed":
        return tr("Copy not filed: {0}").format(why)
    if r.sent_copy_next_at is not None and why:
        return tr("Copy pending: {0} — retrying at {1}").format(why, when(r.sent_copy_next_at))
    return tr("Copy pending: {0}").format(why) if why else tr("Copy pending")


class OutboxModel(QAbstractTableModel):
    """The outbox messages, one per row. Fed by ``upsert`` and ``remove`` (connect
    them to ``OutboxHandle.rowsChanged`` and ``rowsRemoved``).

    Roles beyond the usual: ``ID_ROLE`` (message id), ``ROW_ROLE`` (a MessageRow equal
    to the one received; rows are kept packed, see ``_Entry``), ``SORT_ROLE`` (the
    column's sort key). Tool tips hold the full texts.

    Messages in their undo delay (``hold``) show "Queued", "sending in 7 s (Undo)", and count as
    waiting (``view_state_at``); they stop being held once they leave ``scheduled`` or
    the outbox.

    Signals:
        heldChanged(): the set of held messages changed (one left its delay, say).
    """

    heldChanged = Signal()

    COLUMNS = ("state", "account", "to", "subject", "size", "tries", "when", "error")
    ID_ROLE = _USER
    ROW_ROLE = _USER + 1
    SORT_ROLE = _USER + 2

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._entries: list[_Entry] = []
        self._index: dict[int, int] | None = {}  # message id -> row; see _positions()
        self._held: dict[int, bool] = {}  # in the undo delay: id -> Undo offered for it
        # For next_times(), kept as rows come and go: one pass over 100 000 rows in
        # Python stalled the window 35 ms at the end of a load (issue 19).
        self._retry_at: dict[int, float] = {}  # deferred message -> its next try
        self._send_at: dict[int, float] = {}  # scheduled message -> its send time
        self._sort_column = -1  # -1: newest first
        self._sort_order = Qt.SortOrder.DescendingOrder
        self._titles = (
            self.tr("State"),
            self.tr("Account"),
            self.tr("To"),
            self.tr("Subject"),
            self.tr("Size"),
            self.tr("Tries"),
            self.tr("Next try / Sent"),
            self.tr("Last error"),
        )
        self._state_text = {
            "queued": self.tr("Queued"),
            "sending": self.tr("Sending"),
            "deferred": self.tr("Deferred"),
            "failed": self.tr("Failed"),
            "sent": self.tr("Sent"),
            "scheduled": self.tr("Scheduled"),
        }
        self._units = (self.tr("{0} B"), self.tr("{0} kB"), self.tr("{0} MB"), self.tr("{0} GB"))
        self._next_try = self.tr("next try {0}")
        self._sent_at = self.tr("sent {0}")
        self._at = self.tr("at {0}")
        self._no_subject = self.tr("(no subject)")
        # in the "Next try / Sent" column, beside "next try 14:05" and "sent 14:05"
        self._sending_in = self.tr("sending in {0} s")
        self._sending_in_undo = self.tr("sending in {0} s (Undo)")
        self._right = Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
        self._icons: dict[str, QIcon] = {}
        self._brushes: dict[str, QBrush] = {}
        self._dim = QBrush()
        self._today = (0.0, 0.0)
        self._times: dict[int, str] = {}  # see _time()
        self._style()
        app = QGuiApplication.instance()
        if isinstance(app, QGuiApplication):
            app.paletteChanged.connect(self._on_palette)
        self._set_today()

    # --- Qt's model interface -----------------------------------------------------------

    def rowCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._entries)

    def columnCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.COLUMNS)

    def data(self, index: _Index, role: int = _DISPLAY) -> Any:
        row = index.row()
        if row < 0:
            return None
        try:
            entry = self._entries[row]
        except IndexError:
            return None
        return self._value(entry, index.column(), role)

    # PySide6's stub types the span as "QModelRoleDataSpan | QModelRoleData" and without
    # __iter__, though Qt only ever passes a span and PySide6 iterates it.
    def multiData(self, index: _Index, roleDataSpan: QModelRoleDataSpan) -> None:  # type: ignore[override]
        """Every role a cell paints with, in one call from C++ into Python instead of
        seven ``data()`` calls. Alone it gains little, but while the outbox thread runs
        Python (loading rows) each such call waits for the GIL: the 10 000-row load
        stalled 35-48 ms without it, 25-39 ms with it."""
        row = index.row()
        if not 0 <= row < len(self._entries):
            return
        entry, column, value_of = self._entries[row], index.column(), self._value
        for item in roleDataSpan:  # type: ignore[attr-defined]
            value = value_of(entry, column, item.role())
            if value is None:
                item.clearData()  # the delegate reuses the span from cell to cell
            else:
                item.setData(value)

    def _value(self, entry: _Entry, column: int, role: int) -> Any:
        if role == _DISPLAY:
            return entry[_TEXT][column]
        if role == _DECORATION:
            if column != COL_STATE:
                return None
            state = entry[_ROW][_STATE]
            if state == "scheduled" and entry[_ROW][_ID] in self._held:
                state = "queued"  # on its way, not waiting for a chosen time
            return self._icons.get(state)
        if role == _FOREGROUND:
            if column == COL_STATE:
                return self._brushes.get(entry[_ROW][_STATE])
            if column == COL_SUBJECT and not entry[_ROW][_SUBJECT]:
                return self._dim  # "(no subject)" is ours, not the sender's words
            return None
        if role == _ALIGNMENT:
            return self._right if column in _NUMERIC_COLUMNS else None
        if role == _TOOLTIP:
            return self._tooltip(_unpack(entry[_ROW]), column)
        if role == self.ID_ROLE:
            return entry[_ROW][_ID]
        if role == self.ROW_ROLE:
            return _unpack(entry[_ROW])
        if role == self.SORT_ROLE:
            return entry[_KEYS][column][0]
        return None

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = _DISPLAY) -> Any:
        if orientation == Qt.Orientation.Horizontal and 0 <= section < len(self._titles):
            if role == _DISPLAY:
                return self._titles[section]
            if role == _ALIGNMENT:
                if section in _NUMERIC_COLUMNS:
                    return self._right
                return Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter
        return None

    # --- feeding ------------------------------------------------------------------------

    @Slot(list)
    def upsert(self, rows: list[MessageRow]) -> None:
        """Insert new messages and update known ones in place (one dataChanged per run
        of adjacent rows). Rows whose sort key changed move with one layout change."""
        if time.time() >= self._today[1]:  # a new day: "14:05" of yesterday needs its date
            self.refresh_times()
        by_id = {r.id: r for r in rows}
        held_left = self._drop_held(by_id.values())
        fresh: list[_Entry] = []
        changed: list[int] = []
        moved = False
        column = self._sort_column
        positions = self._positions()
        retry_at, send_at = self._retry_at, self._send_at
        for msg_id, msg in by_id.items():
            retry_at.pop(msg_id, None)
            send_at.pop(msg_id, None)
            if msg.state == "deferred" and msg.next_attempt_at is not None:
                retry_at[msg_id] = msg.next_attempt_at
            elif msg.state == "scheduled" and msg.send_at is not None:
                send_at[msg_id] = msg.send_at
            entry = self._entry(msg)
            pos = positions.get(msg_id)
            if pos is None:
                fresh.append(entry)
                continue
            old = self._entries[pos]
            self._entries[pos] = entry
            changed.append(pos)
            if column >= 0 and old[_KEYS][column] != entry[_KEYS][column]:
                moved = True
        for first, last in _runs(changed):
            self.dataChanged.emit(self.index(first, 0), self.index(last, len(self.COLUMNS) - 1), [])
        if fresh:
            self._insert(fresh)
        if moved:
            self._resort()
        if held_left:
            self.heldChanged.emit()

    @Slot(list)
    def remove(self, ids: list[int]) -> None:
        held_left = [i for i in ids if self._held.pop(i, None) is not None]
        for i in ids:
            self._retry_at.pop(i, None)
            self._send_at.pop(i, None)
        positions = self._positions()
        rows = [positions[i] for i in ids if i in positions]
        for first, last in reversed(list(_runs(rows))):
            self.beginRemoveRows(QModelIndex(), first, last)
            del self._entries[first : last + 1]
            self._index = None
            self.endRemoveRows()
        if held_left:
            self.heldChanged.emit()

    def clear(self) -> None:
        self.beginResetModel()
        self._entries.clear()
        self._retry_at.clear()
        self._send_at.clear()
        self._index = None
        self.endResetModel()

    # --- lookups ------------------------------------------------------------------------

    def row_for(self, msg_id: int) -> MessageRow | None:
        pos = self._positions().get(msg_id)
        return None if pos is None else _unpack(self._entries[pos][_ROW])

    def index_for(self, msg_id: int, column: int = 0) -> QModelIndex:
        """The model index of message ``msg_id`` (invalid when it is not here)."""
        pos = self._positions().get(msg_id)
        return QModelIndex() if pos is None else self.index(pos, column)

    def state_at(self, row: int) -> str:
        """The state of the message in ``row``, as the outbox has it."""
        return str(self._entries[row][_ROW][_STATE])

    def view_state_at(self, row: int) -> str:
        """The state the views show for ``row``: ``HELD`` for a message in its undo
        delay, else its own; fast, for the filter."""
        packed = self._entries[row][_ROW]
        state = str(packed[_STATE])
        if state == "scheduled" and packed[_ID] in self._held:
            return HELD
        return state

    # --- the undo delay -----------------------------------------------------------------

    def hold(self, msg_id: int, undoable: bool = True) -> None:
        """``msg_id`` waits out its undo delay (its row may not have arrived yet); one
        message at a time is ``undoable`` (the notice's), the others only count down."""
        if undoable:
            for other in [i for i, u in self._held.items() if u and i != msg_id]:
                self._held[other] = False
                self._restyle([other])
        self._held[msg_id] = undoable
        self._restyle([msg_id])
        self.heldChanged.emit()

    def set_undoable(self, msg_id: int | None) -> None:
        """Only ``msg_id`` (None: none) still offers Undo."""
        changed = [i for i, u in self._held.items() if u != (i == msg_id)]
        for i in changed:
            self._held[i] = i == msg_id
        self._restyle(changed)

    def release(self, msg_id: int) -> None:
        """``msg_id`` is no longer in its undo delay (undone, sent now)."""
        if self._held.pop(msg_id, None) is not None:
            self._restyle([msg_id])
            self.heldChanged.emit()

    def held_ids(self) -> list[int]:
        """Messages in their undo delay, oldest first (rows not arrived yet included)."""
        return sorted(self._held)

    def is_held(self, msg_id: int) -> bool:
        return msg_id in self._held

    @Slot()
    def tick(self) -> None:
        """Count the held messages' seconds down (a timer calls this every second)."""
        self._restyle(list(self._held))

    def _restyle(self, ids: list[int]) -> None:
        """Recompute and repaint the rows of ``ids`` (those present)."""
        positions = self._positions()
        rows = []
        for msg_id in ids:
            pos = positions.get(msg_id)
            if pos is not None:
                self._entries[pos] = self._entry(_unpack(self._entries[pos][_ROW]))
                rows.append(pos)
        for first, last in _runs(rows):
            self.dataChanged.emit(self.index(first, 0), self.index(last, len(self.COLUMNS) - 1), [])

    def _drop_held(self, rows: Iterable[MessageRow]) -> bool:
        """Forget held messages that left ``scheduled``; True when one did."""
        gone = [r.id for r in rows if r.id in self._held and r.state != "scheduled"]
        for msg_id in gone:
            del self._held[msg_id]
        return bool(gone)

    def next_times(self) -> tuple[float | None, float | None]:
        """(the next retry of a deferred message, the next user-scheduled send time);
        None where there is none. Held messages are not scheduled by the person."""
        retry = min(self._retry_at.values(), default=None)
        send_at, held = self._send_at, self._held
        scheduled = min(send_at.values(), default=None)
        if scheduled is not None and held:
            scheduled = min((t for i, t in send_at.items() if i not in held), default=None)
        return retry, scheduled

    def ids(self) -> list[int]:
        return [e[_ROW][_ID] for e in self._entries]

    # --- sorting ------------------------------------------------------------------------

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        """Sort by ``column``; column -1 means newest first (whatever ``order``)."""
        if not -1 <= column < len(self.COLUMNS):
            return
        self._sort_column = column
        self._sort_order = Qt.SortOrder.DescendingOrder if column < 0 else order
        self._resort()

    def sort_column(self) -> int:
        return self._sort_column

    def sort_order(self) -> Qt.SortOrder:
        return self._sort_order

    def _sort_key(self) -> tuple[Callable[[_Entry], Any], bool]:
        column = self._sort_column
        descending = self._sort_order == Qt.SortOrder.DescendingOrder
        if column < 0:
            return (lambda e: e[_ROW][_ID]), True
        return (lambda e: e[_KEYS][column]), descending

    def _resort(self) -> None:
        key, descending = self._sort_key()
        self.layoutAboutToBeChanged.emit()
        old = self.persistentIndexList()
        ids = [self._entries[i.row()][_ROW][_ID] for i in old]
        self._entries.sort(key=key, reverse=descending)
        self._index = None
        positions = self._positions()
        new = [self.index(positions[m], i.column()) for m, i in zip(ids, old, strict=True)]
        self.changePersistentIndexList(old, new)
        self.layoutChanged.emit()

    def _insert(self, fresh: list[_Entry]) -> None:
        """Insert in sort order, as one block where it can be (at the end or the top)."""
        key, descending = self._sort_key()
        fresh.sort(key=key, reverse=descending)

        def before(a: _Entry, b: _Entry) -> bool:
            ka, kb = key(a), key(b)
            return bool(ka > kb) if descending else bool(ka < kb)

        entries = self._entries
        if not entries or before(entries[-1], fresh[0]):
            self._insert_block(len(entries), fresh)
        elif before(fresh[-1], entries[0]):
            self._insert_block(0, fresh)
        elif len(fresh) <= 32:
            for entry in fresh:
                lo, hi = 0, len(entries)
                while lo < hi:
                    mid = (lo + hi) // 2
                    if before(entries[mid], entry):
                        lo = mid + 1
                    else:
                        hi = mid
                self._insert_block(lo, [entry])
        else:
            self._insert_block(len(entries), fresh)
            self._resort()

    def _insert_block(self, pos: int, block: list[_Entry]) -> None:
        self.beginInsertRows(QModelIndex(), pos, pos + len(block) - 1)
        self._entries[pos:pos] = block
        if self._index is not None and pos == len(self._entries) - len(block):
            self._index.update((e[_ROW][_ID], pos + n) for n, e in enumerate(block))
        else:
            self._index = None  # rows moved: rebuilt when next needed
        self.endInsertRows()

    def _positions(self) -> dict[int, int]:
        """Message id -> row, rebuilt after rows moved (not after every single move)."""
        if self._index is None:
            self._index = {e[_ROW][_ID]: n for n, e in enumerate(self._entries)}
        return self._index

    # --- what cells show ----------------------------------------------------------------

    def _entry(self, r: MessageRow) -> _Entry:
        recipients = ", ".join([*r.to, *r.cc, *r.bcc])
        error = row_error(r) or "; ".join(f"{a}: {e}" for a, e in r.recipient_errors.items())
        if r.state == "sent" and r.sent_copy is not None:
            error = self.copy_text(r)
        error = _one_line(error)
        when, when_key = self._when(r)
        state_text = self._state_text.get(r.state, r.state)
        held = r.state == "scheduled" and r.id in self._held
        if held:  # on its way: "Queued", leaving when the undo delay ends
            state_text = self._state_text["queued"]
            left = math.ceil((r.send_at or 0) - time.time())
            undo = self._held[r.id]
            when = (self._sending_in_undo if undo else self._sending_in).format(max(left, 0))
            when_key = r.send_at or 0.0
        display = (
            state_text,
            r.account,
            recipients,
            r.subject or self._no_subject,
            human_size(r.size, self._units),
            str(r.attempts) if r.attempts else "",
            when,
            error,
        )
        i = r.id
        keys = (
            (_STATE_RANK.get(HELD if held else r.state, 9), i),
            (r.account.casefold(), i),
            (recipients.casefold(), i),
            (r.subject.casefold(), i),
            (r.size, i),
            (r.attempts, i),
            (when_key, i),
            (error.casefold(), i),
        )
        return (_pack(r), display, keys)

    def copy_text(self, r: MessageRow) -> str:
        """Where a sent message's copy in the Sent folder stands, in a few words."""
        return copy_words(r, self._time)

    def _when(self, r: MessageRow) -> tuple[str, float]:
        if r.state == "deferred" and r.next_attempt_at is not None:
            return self._next_try.format(self._time(r.next_attempt_at)), r.next_attempt_at
        if r.state == "sent" and r.sent_at is not None:
            return self._sent_at.format(self._time(r.sent_at)), r.sent_at
        if r.state == "scheduled" and r.send_at is not None:
            return self._at.format(self._time(r.send_at)), r.send_at
        return "", math.inf

    def _time(self, ts: float) -> str:
        """Local time; with the date unless it is today. Remembered per second until
        the day changes: a backlog's rows share their times (100 000 rows, issue 19)."""
        second = int(ts)
        text = self._times.get(second)
        if text is not None:
            return text
        start, end = self._today
        # The day and the minute of ``second`` are those of ``ts``: both start on a second.
        local = time.localtime(second)
        if start <= second < end:
            text = time.strftime("%H:%M", local)
        else:
            text = time.strftime("%Y-%m-%d %H:%M", local)
        if len(self._times) > 4096:
            self._times.clear()
        self._times[second] = text
        return text

    def _set_today(self) -> None:
        today = date.today()
        start = datetime.combine(today, datetime.min.time()).timestamp()
        end = datetime.combine(today + timedelta(days=1), datetime.min.time()).timestamp()
        self._today = (start, end)
        self._times = {}

    def _tooltip(self, r: MessageRow, column: int) -> str | None:
        if column == COL_ERROR:
            lines = [row_error(r)] if r.last_error and r.state != "sent" else []
            lines += [f"{a}: {e}" for a, e in r.recipient_errors.items()]
            if r.state == "sent" and r.sent_copy is not None:
                lines.append(self.copy_text(r))
            return "\n".join(lines) or None
        if column == COL_TO:
            parts = []
            for label, addrs in (("To", r.to), ("Cc", r.cc), ("Bcc", r.bcc)):
                if addrs:
                    parts.append(self.tr("{0}: {1}").format(label, ", ".join(addrs)))
            return "\n".join(parts) or None
        if column == COL_SUBJECT:
            return r.subject or None
        if column == COL_STATE and r.state == "scheduled" and r.id in self._held:
            return self.tr(
                "Message {0} leaves when the undo delay ends. Undo (Ctrl+Z) takes it back "
                "to a compose window while the status bar offers it."
            ).format(r.id)
        if column == COL_STATE and r.pending and r.state not in ("sent", "failed"):
            n = len(r.pending)
            return english(self.tr("Message {0}, %n recipient(s) waiting", "", n), n).format(r.id)
        return None

    @Slot()
    def refresh_times(self) -> None:
        """Recompute the time texts, which show the date unless it is today.

        ``upsert`` does this by itself on the first rows after midnight; a window that
        stays open and idle across midnight may call it from a timer of its own."""
        self._set_today()
        self._restyle_all()

    def _restyle_all(self) -> None:
        self._entries = [self._entry(_unpack(e[_ROW])) for e in self._entries]
        if self._entries:
            last = len(self._entries) - 1
            self.dataChanged.emit(self.index(0, 0), self.index(last, len(self.COLUMNS) - 1), [])

    # --- colours and icons --------------------------------------------------------------

    @Slot()
    def _on_palette(self) -> None:
        self._style()
        if self._entries:
            self.dataChanged.emit(
                self.index(0, COL_STATE), self.index(len(self._entries) - 1, COL_STATE), []
            )

    def _style(self) -> None:
        palette = QGuiApplication.palette()
        colors = _state_colors(palette)
        self._brushes = {s: QBrush(colors[s]) for s in ("failed", "deferred")}
        self._dim = QBrush(palette.color(QPalette.ColorRole.PlaceholderText))
        self._icons = {s: _state_icon(s, colors[s]) for s in STATES}


def _state_colors(palette: QPalette) -> dict[str, QColor]:
    """Red, amber, green, blue that read well on the palette's base colour."""
    dark = palette.color(QPalette.ColorRole.Base).lightness() < 128
    if dark:
        table = {
            "failed": "#ff6b6b",
            "deferred": "#ffb74d",
            "sent": "#81c784",
            "sending": "#64b5f6",
            "queued": "#64b5f6",
            "scheduled": "#b39ddb",
        }
    else:
        table = {
            "failed": "#c62828",
            "deferred": "#b26a00",
            "sent": "#2e7d32",
            "sending": "#1565c0",
            "queued": "#1565c0",
            "scheduled": "#6a4fb3",
        }
    return {state: QColor(value) for state, value in table.items()}


def _state_icon(state: str, color: QColor) -> QIcon:
    """A small round badge: filled when something happened, hollow while waiting."""
    icon = QIcon()
    for size in (16, 32):
        pixmap = QPixmap(size, size)
        pixmap.fill(Qt.GlobalColor.transparent)
        p = QPainter(pixmap)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        p.scale(size / 16, size / 16)
        hollow = state in ("queued", "scheduled")
        if hollow:
            p.setPen(QPen(color, 1.4))
            p.setBrush(Qt.BrushStyle.NoBrush)
        else:
            p.setPen(Qt.PenStyle.NoPen)
            p.setBrush(color)
        p.drawEllipse(QRectF(1.5, 1.5, 13, 13))
        glyph = QPen(color if hollow else QColor("white"), 1.7)
        glyph.setCapStyle(Qt.PenCapStyle.RoundCap)
        glyph.setJoinStyle(Qt.PenJoinStyle.RoundJoin)
        p.setPen(glyph)
        p.setBrush(Qt.BrushStyle.NoBrush)
        if state in ("queued", "sending"):  # an arrow: on its way
            p.drawLine(QPointF(4.6, 8), QPointF(11, 8))
            p.drawPolyline([QPointF(8.3, 5.3), QPointF(11, 8), QPointF(8.3, 10.7)])
        elif state in ("deferred", "scheduled"):  # clock hands: waits for a time
            p.drawPolyline([QPointF(8, 4.4), QPointF(8, 8), QPointF(10.8, 9.6)])
        elif state == "failed":  # an exclamation mark
            p.drawLine(QPointF(8, 4.3), QPointF(8, 8.8))
            p.setBrush(QColor("white"))
            p.setPen(Qt.PenStyle.NoPen)
            p.drawEllipse(QPointF(8, 11.4), 1.05, 1.05)
        elif state == "sent":  # a check mark
            p.drawPolyline([QPointF(4.6, 8.3), QPointF(7, 10.7), QPointF(11.4, 5.6)])
        p.end()
        icon.addPixmap(pixmap)
    return icon


def _runs(rows: Iterable[int]) -> Iterable[tuple[int, int]]:
    """Sorted, de-duplicated ``rows`` as (first, last) runs of adjacent numbers."""
    ordered = sorted(set(rows))
    if not ordered:
        return
    first = last = ordered[0]
    for row in ordered[1:]:
        if row == last + 1:
            last = row
        else:
            yield first, last
            first = last = row
    yield first, last


class OutboxFilter(QSortFilterProxyModel):
    """One view of the outbox: "outbox" (queued, sending, deferred), "scheduled",
    "failed", "sent" or "all".

    Sorting is handed to the source ``OutboxModel`` (see the module docstring);
    ``sort(-1)``, the default, is newest first.
    """

    def __init__(self, parent: QObject | None = None, view: str = "outbox") -> None:
        super().__init__(parent)
        self._view = "all"
        self._states: frozenset[str] | None = None
        self._model: OutboxModel | None = None
        self.setDynamicSortFilter(True)
        self.set_view(view)

    def setSourceModel(self, model: QAbstractItemModel) -> None:
        if not isinstance(model, OutboxModel):
            raise TypeError("OutboxFilter works on an OutboxModel")
        self._model = model
        super().setSourceModel(model)

    def view(self) -> str:
        return self._view

    def set_view(self, name: str) -> None:
        if name not in VIEWS:
            raise ValueError(f"unknown outbox view {name!r}; use one of {', '.join(VIEWS)}")
        if name == self._view:
            return
        if hasattr(self, "beginFilterChange"):  # Qt 6.9+
            self.beginFilterChange()
            self._view, self._states = name, VIEWS[name]
            self.endFilterChange(QSortFilterProxyModel.Direction.Rows)
        else:
            self._view, self._states = name, VIEWS[name]
            self.invalidateRowsFilter()

    def filterAcceptsRow(self, source_row: int, source_parent: _Index) -> bool:
        states = self._states
        if states is None or self._model is None:
            return True
        return self._model.view_state_at(source_row) in states

    def multiData(self, index: _Index, roleDataSpan: QModelRoleDataSpan) -> None:  # type: ignore[override]
        """Straight to ``OutboxModel.multiData`` (Qt's filter model would ask for each
        role apart, each a call from C++ into Python)."""
        if self._model is not None and index.isValid():
            self._model.multiData(self.mapToSource(index), roleDataSpan)

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        if self._model is not None:
            self._model.sort(column, order)

    def id_at(self, row: int) -> int | None:
        """The message id in proxy ``row``."""
        value = self.index(row, 0).data(OutboxModel.ID_ROLE)
        return None if value is None else int(value)


def apply_default_layout(view: QTableView) -> None:
    """How the outbox table reads best: whole rows selected, no row numbers, compact
    rows, widths that fit typical content, Last error taking the spare room, and the
    newest message first (sort column -1)."""
    view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    view.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
    view.setAlternatingRowColors(True)
    view.setShowGrid(False)
    view.setWordWrap(False)
    view.setTextElideMode(Qt.TextElideMode.ElideRight)
    view.setHorizontalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
    rows = view.verticalHeader()
    rows.setVisible(False)
    rows.setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
    rows.setDefaultSectionSize(view.fontMetrics().height() + 8)
    header = view.horizontalHeader()
    header.setHighlightSections(False)
    header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
    header.setStretchLastSection(True)
    for column, width in column_widths(view).items():
        header.resizeSection(column, width)
    view.setSortingEnabled(True)
    header.setSortIndicator(-1, Qt.SortOrder.DescendingOrder)  # newest first
    view.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAsNeeded)
    FitColumns(view)


# Account, To, Subject and Last error share the width the other columns leave, so.
_FLEXIBLE = {COL_ACCOUNT: 1, COL_TO: 3, COL_SUBJECT: 4, COL_ERROR: 4}


class FitColumns(QObject):
    """Keeps the outbox table as wide as its view: the fixed columns (state, size, tries,
    next try) keep their fitted widths and Account, To, Subject and Last error share the
    rest, down to a readable minimum. So "Next try" and "Last error" stay in sight and
    there is no horizontal scroll bar, at 1100 px or beside the demo panel (down to a
    view of about 700 px). A column the person resizes by hand keeps that width."""

    def __init__(self, view: QTableView) -> None:
        super().__init__(view)
        self._view = view
        self._fitting = False
        self._by_hand: set[int] = set()
        metrics = view.fontMetrics()
        self._minimum = {  # enough to tell rows apart; the rest is elided ("…")
            COL_ACCOUNT: metrics.horizontalAdvance("Account ") + metrics.averageCharWidth(),
            COL_TO: metrics.horizontalAdvance("someone@"),
            COL_SUBJECT: metrics.horizontalAdvance("A subject"),
            COL_ERROR: metrics.horizontalAdvance("Connection r"),
        }
        view.horizontalHeader().sectionResized.connect(self._resized)
        view.viewport().installEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Resize:
            self.fit()
        return False

    @Slot(int, int, int)
    def _resized(self, column: int, _old: int, _new: int) -> None:
        if not self._fitting and column in _FLEXIBLE:
            self._by_hand.add(column)

    def fit(self) -> None:
        header = self._view.horizontalHeader()
        shown = [c for c in range(header.count()) if not header.isSectionHidden(c)]
        flexible = [c for c in shown if c in _FLEXIBLE and c not in self._by_hand]
        if not flexible:
            return
        taken = sum(header.sectionSize(c) for c in shown if c not in flexible)
        room = self._view.viewport().width() - taken
        weight = sum(_FLEXIBLE[c] for c in flexible)
        spare = max(0, room - sum(self._minimum[c] for c in flexible))
        widths = {c: self._minimum[c] + spare * _FLEXIBLE[c] // weight for c in flexible}
        # what rounding leaves goes to the last one, so the row ends at the view's edge
        widths[flexible[-1]] += max(0, room - sum(widths.values()))
        self._fitting = True
        try:
            for column, width in widths.items():
                header.resizeSection(column, width)
        finally:
            self._fitting = False


def column_widths(view: QTableView) -> dict[int, int]:
    """Pixel widths that fit typical cells (and every state name) in ``view``'s font."""
    metrics = view.fontMetrics()
    source = view.model()  # for its translated texts: the view's own model, if it has one
    if isinstance(source, QSortFilterProxyModel):
        source = source.sourceModel()
    model = source if isinstance(source, OutboxModel) else OutboxModel()

    def fit(*texts: str) -> int:
        return max(metrics.horizontalAdvance(t) for t in texts) + 2 * metrics.averageCharWidth()

    icon = view.iconSize().width() if view.iconSize().isValid() else 16
    states = [model.headerData(COL_STATE, Qt.Orientation.Horizontal), *model._state_text.values()]
    sample_time = model._next_try.format("2026-12-01 09:30")
    return {
        COL_STATE: fit(*states) + max(icon, 16) + 8,
        COL_ACCOUNT: fit("newsletters"),
        COL_TO: fit("someone@example.org, x"),
        COL_SUBJECT: fit("A subject of a fair length"),
        COL_SIZE: fit("12.3 MB", model._titles[COL_SIZE]),
        COL_TRIES: fit(model._titles[COL_TRIES]) + 8,  # room for the sort arrow
        COL_WHEN: fit(
            sample_time,
            model._sent_at.format("2026-12-01 09:30"),
            model._sending_in_undo.format(10),
        ),
    }
