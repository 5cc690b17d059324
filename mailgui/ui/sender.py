"""The sender: core delivery in a worker QObject moved to its own QThread.

The GUI talks to it only through queued signals carrying plain data. It flushes
when the schedule every sender follows says so (``core.flush_schedule``: on start,
when a message falls due, when one was queued here or by another process, when the
account settings change, when the network comes back) and at once on "Send now".
Offline it waits instead of hammering.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, QTimer, Signal, Slot

from mailgui.core import flush_schedule
from mailgui.core.errors import OutboxReplacedError
from mailgui.core.events import Connecting, DeliveryEvent, Finished, Sending, Transferred
from mailgui.core.log import get_logger
from mailgui.core.outbox import Outbox
from mailgui.core.sender_lock import SenderLock
from mailgui.ui.context import AppContext
from mailgui.ui.worker_thread import WorkerThread

log = get_logger(__name__)

if TYPE_CHECKING:
    from PySide6.QtNetwork import QNetworkInformation  # loaded when the watch starts

    from mailgui.core.delivery import Delivery  # imported by the sender thread

POLL_MS = 2000  # how often to look for messages queued by another process
INTERFACES_MS = 10_000  # without a reachability backend: how often to look at interfaces
MAX_SLEEP_S = flush_schedule.MAX_SLEEP_S


def has_network_interface() -> bool:
    """True when an interface other than loopback is up, running and has an address."""
    from PySide6.QtNetwork import QNetworkInterface

    flag = QNetworkInterface.InterfaceFlag
    for interface in QNetworkInterface.allInterfaces():
        flags = interface.flags()
        if flags & flag.IsLoopBack or not (flags & flag.IsUp and flags & flag.IsRunning):
            continue
        if interface.addressEntries():
            return True
    return False


class _Worker(QObject):
    """Lives in the sender thread; flushes when ``core.flush_schedule`` says so.

    Signals:
        activity(str): what the sender is doing, in words.
        progress(int id, int done, int total): bytes of a message on the wire.
        messageChanged(int id, str state, str error): one attempt's outcome.
        flushFinished(dict): counts of outcomes by state of one flush.
        idle(): a flush is over and nothing is on the wire; the window words what
            waits ("next try" only for retries: it knows which message is which).
        otherSender(bool): another process (the agent) holds the sender lock and
            sends; False again once this one may send.
    """

    activity = Signal(str)
    progress = Signal(int, int, int)
    messageChanged = Signal(int, str, str)
    flushFinished = Signal(dict)
    idle = Signal()
    otherSender = Signal(bool)

    def __init__(self, ctx: AppContext) -> None:
        super().__init__()
        self._ctx = ctx
        self.stopping = threading.Event()
        self._online = True
        self._outbox: Outbox | None = None
        self._delivery: Delivery | None = None
        self._timer: QTimer | None = None
        self._poll: QTimer | None = None
        self._memory: flush_schedule.Memory | None = None
        self._waiting: str | None = None
        # Only the holder of the profile's sender lock flushes automatically; when
        # `mailgui agent` holds it, this window only shows what the agent does.
        self._lock: SenderLock | None = None

    def setup(self) -> None:
        """First run in the thread: everything thread-bound is created here."""
        self._outbox = self._ctx.open_outbox()
        self._lock = SenderLock.for_profile(self._ctx.profile)
        # SMTP, TLS, DNS: imported here, off the GUI thread
        self._delivery = self._ctx.engine().delivery(self._outbox, listener=self._on_event)
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self.look)
        self._poll = QTimer(self)
        self._poll.setInterval(POLL_MS)
        self._poll.timeout.connect(self.look)
        self._poll.start()
        self._memory = flush_schedule.remember(self._see())
        # The first look goes behind what is already posted (an "offline" report from
        # before the thread ran must count).
        QTimer.singleShot(0, self, self.look)

    def _see(self, *, asked: bool = False) -> flush_schedule.Seen:
        outbox = self._outbox
        assert outbox is not None
        return flush_schedule.Seen(
            now=time.time(),
            due_at=outbox.next_wakeup(),
            online=self._online,
            settings=flush_schedule.settings_stamp(self._ctx.profile),
            version=outbox.data_version(),
            queued=lambda: outbox.counts()["queued"],
            sender=self._may_send(),
            asked=asked,
        )

    @Slot()
    def look(self, *, asked: bool = False) -> None:
        """Flush if the schedule says so, else wait for the next message's time."""
        if self._outbox is None or self._memory is None or self.stopping.is_set():
            return
        try:
            seen = self._see(asked=asked)
        except OutboxReplacedError as exc:
            self._stop_for(exc)
            return
        flush, self._memory, waiting, held = flush_schedule.step(self._memory, seen)
        news = held is not None and held.reason in flush_schedule.NEWS
        if (waiting == "other-sender") != (self._waiting == "other-sender"):
            self.otherSender.emit(waiting == "other-sender")
        if waiting != self._waiting or (waiting is not None and news):
            self._waiting = waiting
            if waiting == "offline":
                self.activity.emit(self.tr("Offline: messages wait in the outbox."))
            elif waiting == "other-sender":
                self.activity.emit(
                    self.tr(
                        "Another mailgui (the agent) is sending; the outbox shows its progress."
                    )
                )
            elif waiting is None:
                self.idle.emit()  # back from offline or from another sender
        if flush is not None:
            log.debug("flush: %s", flush.reason)
            self._flush(flush.include_deferred)
        else:
            self._schedule(seen)

    def flush(self, include_deferred: bool) -> None:
        """A request: "Send now" (``include_deferred``) goes at once, as a person asked;
        a message queued here goes when the schedule lets it."""
        if include_deferred:
            self._flush(True)
        else:
            self.look(asked=True)

    def flush_queued(self) -> None:
        """One flush of what is queued, now (quitting: the messages just released from
        their undo delay); deferred ones keep their back-off."""
        self._flush(False)

    def _flush(self, include_deferred: bool) -> None:
        if self._delivery is None or self._outbox is None or self.stopping.is_set():
            return
        try:
            report = self._delivery.flush(
                include_deferred=include_deferred, should_stop=self.stopping.is_set
            )
            if self._memory is not None:
                self._memory = flush_schedule.flushed(
                    self._memory, version=self._outbox.data_version(), now=time.time()
                )
            seen = self._see()
        except OutboxReplacedError as exc:
            self._stop_for(exc)
            return
        except Exception as exc:  # never let the thread die; the outbox is unchanged
            self.activity.emit(self.tr("The sender hit an error: {0}").format(exc))
            self._retry_soon()
            return
        counts = Counter(o.state for o in report.outcomes)
        if report.outcomes:
            self.flushFinished.emit(dict(counts))
        self._schedule(seen)
        if not self.stopping.is_set():
            self.idle.emit()

    def _may_send(self) -> bool:
        """True when this process sends automatically (it holds, or now takes, the lock).
        A lock file that cannot be made now counts as held by another (the agent)."""
        try:
            return self._lock is None or self._lock.acquire()
        except OSError:
            return False

    def _schedule(self, seen: flush_schedule.Seen) -> None:
        if self._timer is None or self.stopping.is_set():
            return
        self._timer.start(int(flush_schedule.sleep_for(seen) * 1000) + 50)

    def _retry_soon(self) -> None:
        if self._timer is not None and not self.stopping.is_set():
            self._timer.start(int(MAX_SLEEP_S * 1000))

    def _stop_for(self, exc: OutboxReplacedError) -> None:
        """The outbox's files were replaced under this process (core/outbox_files.py):
        nothing it wrote would be read, so it sends no more until mailgui restarts, and
        lets another mailgui (the agent, a new window) take the sending over."""
        log.error("%s", exc)
        self._outbox, self._delivery = None, None
        for timer in (self._timer, self._poll):
            if timer is not None:
                timer.stop()
        if self._lock is not None:
            self._lock.release()
        self.activity.emit(str(exc))

    def set_online(self, online: bool) -> None:
        self._online = online
        if online:
            self.look()  # the network is back: deferred messages go now
        else:
            self._waiting = "offline"
            self.activity.emit(self.tr("Offline: messages wait in the outbox."))

    def teardown(self) -> None:
        """Last run in the thread: stop timers, close the database."""
        for timer in (self._timer, self._poll):
            if timer is not None:
                timer.stop()
        if self._outbox is not None:
            self._outbox.close()
            self._outbox = None
        if self._lock is not None:
            self._lock.release()

    def abort(self) -> None:
        """Called from the GUI thread when quitting takes too long."""
        self.stopping.set()
        if self._delivery is not None:
            self._delivery.abort()

    def _on_event(self, event: DeliveryEvent) -> None:
        match event:
            case Connecting(server=server):
                self.activity.emit(self.tr("Connecting to {0}…").format(server))
            case Sending(id=msg_id):
                self.activity.emit(self.tr("Sending message {0}…").format(msg_id))
            case Transferred(id=msg_id, done=done, total=total):
                self.progress.emit(msg_id, done, total)
            case Finished(id=msg_id, state=state, error=error):
                self.messageChanged.emit(msg_id, state, error or "")


class Sender(WorkerThread[_Worker]):
    """The GUI's handle on the sender thread.

    Signals: those of ``_Worker`` (activity, progress, messageChanged, flushFinished, idle,
    otherSender),
    and onlineChanged(bool): network reachability as the platform reports it.
    """

    onlineChanged = Signal(bool)

    def __init__(
        self, ctx: AppContext, parent: QObject | None = None, *, watch_network: bool = True
    ):
        worker = _Worker(ctx)
        super().__init__(
            worker,
            "mailgui-sender",
            parent,
            setup=worker.setup,
            teardown=worker.teardown,
            interrupt=worker.stopping.set,
            abort=worker.abort,
        )
        self._ctx = ctx
        self.online = True
        self._network: QNetworkInformation | None = None
        self._interfaces: QTimer | None = None
        self._watching = False
        if watch_network:
            self.watch_network()

    def watch_network(self) -> None:
        """Follow the network's reachability (once; not in --demo mode, whose server is on
        loopback). The app's start calls it after the window's first paint: QtNetwork and
        its reachability backend (~5–10 ms) are not needed to draw the outbox; until then
        the sender counts as online, as it does when the platform cannot tell."""
        if self._watching or self._ctx.demo_port is not None:
            return
        self._watching = True
        from PySide6.QtNetwork import QNetworkInformation

        if QNetworkInformation.loadBackendByFeatures(QNetworkInformation.Feature.Reachability):
            self._network = QNetworkInformation.instance()
        if self._network is not None:
            self._network.reachabilityChanged.connect(self._reachability)
            self._reachability(self._network.reachability())
        else:
            self.watch_interfaces()

    def watch_interfaces(self) -> None:
        """The fallback when the platform has no reachability backend: a cheap look at
        the interfaces (well under a millisecond) every ``INTERFACES_MS``, so mail goes
        out soon after a cable or Wi-Fi comes back rather than at the next back-off."""
        self._interfaces = QTimer(self)
        self._interfaces.setInterval(INTERFACES_MS)
        self._interfaces.timeout.connect(self.check_interfaces)
        self._interfaces.start()
        self.check_interfaces()

    @Slot()
    def check_interfaces(self) -> None:
        self.set_online(has_network_interface())

    def _reachability(self, value: QNetworkInformation.Reachability) -> None:
        from PySide6.QtNetwork import QNetworkInformation

        self.set_online(value != QNetworkInformation.Reachability.Disconnected)

    def set_online(self, online: bool) -> None:
        """What the network watcher reports (tests and the headless agent call it too)."""
        if online != self.online:
            self.online = online
            self.onlineChanged.emit(online)
            self.post(self.worker.set_online, online)

    def start(self) -> None:
        self.worker._online = self.online  # the thread is not running yet: no race
        super().start()

    def request_flush(self, include_deferred: bool = False) -> None:
        """Ask for a flush; ``include_deferred`` ignores back-off ("Send now")."""
        self.post(self.worker.flush, include_deferred)

    def shutdown(self, timeout_ms: int = 5000, abort_wait_ms: int | None = None) -> bool:
        """Stop after the current message; cut the connection if that takes too long.
        True when the thread ended within the bound (then nothing is left sending)."""
        return super().shutdown(timeout_ms, abort_wait_ms)
