"""The outbox as the GUI sees it: every database read and write in its own thread.

"The GUI only renders." ``OutboxService`` lives in a QThread with its own Outbox
connection; ``OutboxHandle`` is the GUI-side object that owns the thread, posts
requests to the service and re-emits its results (``worker_thread.WorkerThread``).

Change detection is cheap: a timer polls ``PRAGMA data_version``, which moves only
when another connection (the sender thread, the CLI) committed. Only then, or after
the service's own writes, does it read ``id, updated_at`` of every message, diff that
against what the GUI was already sent, and read full rows for new or changed ids.

Rows travel in batches and the next batch leaves only after the GUI has taken the
previous one, so loading 100 000 messages never floods the GUI's event queue. The
first batch is small (``FIRST_BATCH``: the top of the list paints soon); each next one
is twice as large, up to ``BATCH``, which the GUI still takes in about 10 ms: with
batches of 200 only, the round trips made 100 000 rows take 10 s to load (issue 19).
The handle acknowledges a batch ``ACK_DELAY_MS`` after the views have painted it (its
own low-priority posted event queues behind the repaint the views asked for): the
service then reads the next batch while the GUI thread is idle. Both threads run
Python; had the service parsed rows while a view painted, the paint's ``data()`` calls
would have waited their turn for the GIL.
"""

from __future__ import annotations

import itertools
import sqlite3
import threading
from typing import TYPE_CHECKING

from PySide6.QtCore import QCoreApplication, QEvent, QObject, Qt, QTimer, Signal, Slot

from mailgui.core.errors import MailguiError, UsageError
from mailgui.core.log import get_logger
from mailgui.ui.context import AppContext
from mailgui.ui.error_words import error_text
from mailgui.ui.worker_thread import WorkerThread

if TYPE_CHECKING:  # the outbox itself is opened (and imported) in the outbox thread
    from mailgui.core.engine import Protect
    from mailgui.core.message import Draft
    from mailgui.core.outbox import MessageRow, Outbox
    from mailgui.core.outgoing import Outgoing

__all__ = ["BATCH", "FIRST_BATCH", "OutboxHandle", "OutboxService"]

log = get_logger(__name__)

BATCH = 1000  # rows per rowsChanged at most: the GUI takes one in about 10 ms
FIRST_BATCH = 200  # the first after a quiet time: the top of the list, soon
ACK_DELAY_MS = 10  # > QT_QPA_UPDATE_IDLE_TIME (5 ms): the paint of a batch comes first
_TAKEN = QEvent.Type(QEvent.registerEventType())
_PAINTED = QEvent.Type(QEvent.registerEventType())
_LOW_PRIORITY = Qt.EventPriority.LowEventPriority.value  # what widgets ask repaints with


def build(draft: Draft) -> Outgoing:
    """``message.build``, imported on first use: messages are built in the outbox
    thread, later; the first window does not need the email package."""
    from mailgui.core.message import build as build_message

    return build_message(draft)


class OutboxService(QObject):
    """Lives in the outbox thread and owns its Outbox connection.

    Signals (all carry plain data):
        rowsChanged(list[MessageRow]): new or updated messages, at most ``BATCH``
            (``FIRST_BATCH`` for the first of a run, then twice as many each time).
        rowsRemoved(list[int]): ids of messages that are gone.
        countsChanged(dict[str, int]): messages per state, after every change.
        details(int, dict): ``{"row": MessageRow, "events": list[Event],
            "headers": str}`` for ``load_details``.
        queued(str token, int id): a draft was built and is durably queued.
        failed(str token, str sentence): an action failed; token "" unless queueing.
        loaded(): the GUI has every message (after the first full load).
        unscheduled(int id, bool ok): answer to ``cancel_scheduled``; False when the
            message had already left the ``scheduled`` state (sent, sending, gone).
    """

    rowsChanged = Signal(list)
    rowsRemoved = Signal(list)
    countsChanged = Signal(dict)
    details = Signal(int, dict)
    queued = Signal(str, int)
    failed = Signal(str, str)
    loaded = Signal()
    unscheduled = Signal(int, bool)

    def __init__(self, ctx: AppContext, poll_ms: int = 500) -> None:
        super().__init__()
        self._ctx = ctx
        self._poll_ms = poll_ms
        self.stopping = threading.Event()  # set from the GUI thread on shutdown
        self._outbox: Outbox | None = None
        self._timer: QTimer | None = None
        self._version = -1
        self._known: dict[int, float] = {}  # what the GUI was sent: id -> updated_at
        self._pending: dict[int, None] = {}  # ids to send, in order (an ordered set)
        self._in_flight = False  # a batch is on its way and not acknowledged yet
        self._batch = FIRST_BATCH  # the size of the next one
        self._loaded = False
        self._poll_error = ""

    # --- life cycle (run in the thread) -------------------------------------------------

    @Slot()
    def setup(self) -> None:
        """First slot run in the thread: open the connection, start polling, load all."""
        try:
            self._outbox = self._ctx.open_outbox()
            self._version = self._outbox.data_version()
        except (MailguiError, sqlite3.Error, OSError) as exc:
            self.failed.emit("", self._error_text(exc))
            return
        self._timer = QTimer(self)
        self._timer.setInterval(self._poll_ms)
        self._timer.timeout.connect(self._poll)
        self._timer.start()
        self._refresh()

    @Slot()
    def teardown(self) -> None:
        """Last slot run in the thread: stop polling, close the database, end the loop."""
        self.stopping.set()
        if self._timer is not None:
            self._timer.stop()
        if self._outbox is not None:
            self._outbox.close()
            self._outbox = None
        self.thread().quit()

    # --- change detection ---------------------------------------------------------------

    @Slot()
    def _poll(self) -> None:
        if self._outbox is None or self.stopping.is_set():
            return
        try:
            version = self._outbox.data_version()
        except sqlite3.Error as exc:
            self._report_poll_error(exc)
            return
        if version != self._version:
            self._version = version
            self._refresh()

    @Slot()
    def refresh(self) -> None:
        """Look for changes now (the poll does this on its own)."""
        self._refresh()

    def _refresh(self) -> None:
        """Diff ``id → updated_at`` against what the GUI has; queue what it lacks."""
        if self._outbox is None or self.stopping.is_set():
            return
        try:
            versions = self._outbox.versions()
            counts = self._outbox.counts()
        except sqlite3.Error as exc:
            self._report_poll_error(exc)
            return
        self._poll_error = ""
        gone = [i for i in self._known if i not in versions]
        for msg_id in gone:
            del self._known[msg_id]
        for msg_id in [i for i in self._pending if i not in versions]:
            del self._pending[msg_id]
        changed = {i for i, v in versions.items() if self._known.get(i) != v}
        if gone:
            self.rowsRemoved.emit(gone)
        if changed or gone or not self._loaded:
            # Rows the GUI already shows first, then new ones newest first: the top of
            # a newest-first list fills in before the rest.
            update = sorted((i for i in changed if i in self._known), reverse=True)
            new = sorted((i for i in changed if i not in self._known), reverse=True)
            rest = [i for i in self._pending if i not in changed]
            self._pending = dict.fromkeys([*update, *new, *rest])
            self.countsChanged.emit(counts)
        self._pump()

    def _pump(self) -> None:
        """Send the next batch unless one is still on its way to the GUI."""
        while self._outbox is not None and not self._in_flight and not self.stopping.is_set():
            if not self._pending:
                self._batch = FIRST_BATCH
                if not self._loaded:
                    self._loaded = True
                    self.loaded.emit()
                return
            batch = list(itertools.islice(self._pending, self._batch))  # not all 100 000
            self._batch = min(2 * self._batch, BATCH)
            for msg_id in batch:
                del self._pending[msg_id]
            try:
                rows = self._outbox.get_many(batch)
            except sqlite3.Error as exc:
                self._report_poll_error(exc)
                return
            for row in rows:
                self._known[row.id] = row.updated_at
            if rows:
                self._in_flight = True
                self.rowsChanged.emit(rows)

    @Slot()
    def ack(self) -> None:
        """The GUI took the last batch: send the next one."""
        self._in_flight = False
        self._pump()

    def _report_poll_error(self, exc: Exception) -> None:
        text = self._error_text(exc)
        if text != self._poll_error:  # say (and log) it once, not every poll
            log.warning("reading the outbox failed: %s", exc)
            self._poll_error = text
            self.failed.emit("", text)

    # --- user actions -------------------------------------------------------------------

    @Slot(list)
    def retry(self, ids: list[int]) -> None:
        self._each("retry", ids)

    @Slot()
    def retry_all(self) -> None:
        if self._outbox is None:
            return
        try:
            self._outbox.retry_all()
        except sqlite3.Error as exc:
            self._after_write([self._error_text(exc)])
            return
        self._after_write([])

    @Slot(list)
    def delete(self, ids: list[int]) -> None:
        self._each("delete", ids)

    def _each(self, action: str, ids: list[int]) -> None:
        """Apply Outbox.<action> to each id; one refusal does not stop the others."""
        if self._outbox is None:
            return
        errors = []
        for msg_id in ids:
            try:
                getattr(self._outbox, action)(msg_id)
            except (MailguiError, sqlite3.Error) as exc:
                log.info("%s of message %s refused: %s", action, msg_id, exc)
                errors.append(self._error_text(exc, msg_id))
        self._after_write(errors)

    def _after_write(self, errors: list[str]) -> None:
        """Our own commits do not move data_version: look for changes right away."""
        if errors:
            self.failed.emit("", errors[0])
        self._refresh()

    @Slot(int)
    def load_details(self, msg_id: int) -> None:
        outbox = self._outbox
        if outbox is None:
            return
        try:
            row = outbox.get(msg_id)
            events = outbox.events(msg_id)
            body = outbox.body(msg_id)
        except UsageError:
            # Gone between the click and this read (edited, deleted, by the CLI too):
            # its row goes away with the next refresh; nothing to show, nothing to say.
            self._refresh()
            return
        except (MailguiError, sqlite3.Error) as exc:
            self.failed.emit("", self._error_text(exc, msg_id))
            return
        head = body.split(b"\r\n\r\n", 1)[0]
        # UTF-8 covers SMTPUTF8 headers; everything else is ASCII by construction.
        headers = head.decode("utf-8", "replace").replace("\r\n", "\n")
        self.details.emit(msg_id, {"row": row, "events": events, "headers": headers})

    @Slot(str, str, object, object, object)
    def queue_draft(
        self,
        token: str,
        account: str,
        draft: Draft,
        send_at: float | None,
        protect: Protect | None = None,
    ) -> None:
        """Build the message here (attachments are read from disk) and queue it, signed
        and/or encrypted as ``protect`` asks (sealed here too: gpg runs in this thread)."""
        outbox = self._outbox
        if outbox is None:
            self.failed.emit(token, self.tr("The outbox is closed; nothing was queued."))
            return
        try:
            engine = self._ctx.engine()
            acct = engine.account(account)  # an unknown account would never send
            # The compose window checked the domains and refused a null MX already.
            msg_id = engine.queue(outbox, acct, build(draft), send_at=send_at, protect=protect).id
        except MailguiError as exc:
            self.failed.emit(token, error_text(exc))
            return
        except sqlite3.Error as exc:
            log.error("queueing a message failed: %s", exc)
            self.failed.emit(token, self._error_text(exc))
            return
        self.queued.emit(token, msg_id)
        self._refresh()

    @Slot(list)
    def release(self, ids: list[int]) -> list[int]:
        """Send messages in their undo delay now (quitting: Send was pressed): those
        still ``scheduled`` become ``queued``. Returns the ids released."""
        outbox = self._outbox
        done: list[int] = []
        if outbox is None:
            return done
        try:
            for row in outbox.get_many(ids):
                if row.state == "scheduled":
                    outbox.retry(row.id)
                    done.append(row.id)
        except (MailguiError, sqlite3.Error) as exc:
            log.error("releasing messages %s failed: %s", ids, exc)
        if done:
            self._refresh()
        return done

    @Slot(int)
    def cancel_scheduled(self, msg_id: int) -> None:
        """Undo send: delete the message only if it is still waiting for its time."""
        outbox = self._outbox
        ok = False
        if outbox is not None:
            try:
                ok = outbox.cancel_scheduled(msg_id)
            except sqlite3.Error as exc:
                log.error("cancelling message %s failed: %s", msg_id, exc)
        self.unscheduled.emit(msg_id, ok)
        if ok:
            self._refresh()

    def _error_text(self, exc: Exception, msg_id: int | None = None) -> str:
        """One sentence for the GUI: core's words, except for a message that is gone
        (core's sentence then points to the command line)."""
        if isinstance(exc, UsageError) and msg_id is not None and self._outbox is not None:
            try:
                gone = not self._outbox.get_many([msg_id])
            except sqlite3.Error:
                gone = False
            if gone:
                return self.tr(
                    "Message {0} is no longer in the outbox; it was deleted elsewhere."
                ).format(msg_id)
        if isinstance(exc, MailguiError):
            return error_text(exc)
        return self.tr(
            "The outbox database could not be used ({0}); nothing was changed. "
            "Check the disk and try again."
        ).format(exc)


class OutboxHandle(WorkerThread[OutboxService]):
    """The GUI's handle on the outbox thread. Create, connect, then ``start()``.

    Signals: those of ``OutboxService`` (``handle.rowsChanged`` is the service's,
    re-emitted in the GUI thread: see ``worker_thread.py``).
    Methods only post requests; results come back as signals.
    """

    def __init__(
        self, ctx: AppContext, parent: QObject | None = None, *, poll_ms: int = 500
    ) -> None:
        service = OutboxService(ctx, poll_ms)
        super().__init__(
            service,
            "mailgui-outbox",
            parent,
            setup=service.setup,
            teardown=service.teardown,
            interrupt=service.stopping.set,
        )
        self.rowsChanged.connect(self._on_rows)  # the first receiver: see there
        self._ackTimer = QTimer(self)
        self._ackTimer.setSingleShot(True)
        self._ackTimer.setInterval(ACK_DELAY_MS)
        self._ackTimer.timeout.connect(self._ack)
        app = QCoreApplication.instance()
        if app is not None:
            app.aboutToQuit.connect(self.shutdown)

    @Slot(list)
    def _on_rows(self, _rows: list[MessageRow]) -> None:
        # Called before the model's slot, in the same emission: an event posted now
        # comes after the model has the rows and the views have asked to repaint.
        QCoreApplication.postEvent(self, QEvent(_TAKEN))

    @Slot()
    def _ack(self) -> None:
        self.post(self.worker.ack)

    def customEvent(self, event: QEvent) -> None:
        if event.type() == _TAKEN:
            # The views asked to repaint with a low-priority posted event; ours is
            # behind it, so the ack timer starts once they have painted the batch.
            QCoreApplication.postEvent(self, QEvent(_PAINTED), _LOW_PRIORITY)
        elif event.type() == _PAINTED:
            self._ackTimer.start()

    def refresh(self) -> None:
        self.post(self.worker.refresh)

    def retry(self, ids: list[int]) -> None:
        self.post(self.worker.retry, [int(i) for i in ids])

    def retry_all(self) -> None:
        self.post(self.worker.retry_all)

    def delete(self, ids: list[int]) -> None:
        self.post(self.worker.delete, [int(i) for i in ids])

    def load_details(self, msg_id: int) -> None:
        self.post(self.worker.load_details, int(msg_id))

    def queue_draft(
        self,
        token: str,
        account: str,
        draft: Draft,
        send_at: float | None,
        protect: Protect | None = None,
    ) -> None:
        """Queue ``draft`` (signed and/or encrypted as ``protect`` asks); answers with
        ``queued(token, id)`` or ``failed(token, text)``: a recipient without a usable key
        fails it, and nothing is queued.

        The draft is copied, so the compose window may go on changing its own."""
        copy = draft.copy()
        if self.closed:
            self.failed.emit(token, self.tr("The outbox is closed; nothing was queued."))
            return
        self.post(self.worker.queue_draft, token, account, copy, send_at, protect)

    def cancel_scheduled(self, msg_id: int) -> None:
        """Undo send; answers with ``unscheduled(id, ok)`` (False: it already left)."""
        if self.closed:
            self.unscheduled.emit(int(msg_id), False)
            return
        self.post(self.worker.cancel_scheduled, int(msg_id))
