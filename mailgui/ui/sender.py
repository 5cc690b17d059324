"""The sender: core delivery in a worker QObject moved to its own QThread.

The GUI talks to it only through queued signals carrying plain data. It flushes
on start, when asked (a message was queued, "Send now"), when the next deferred
or scheduled message falls due, when another process (the CLI) changed the
outbox, and when the network comes back. Offline it waits instead of hammering.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, QThread, QTimer, Signal, Slot
from PySide6.QtNetwork import QNetworkInformation, QNetworkInterface

from mailgui.core.errors import OutboxReplacedError
from mailgui.core.log import get_logger
from mailgui.core.outbox import Outbox
from mailgui.core.sender_lock import SenderLock
from mailgui.ui.context import AppContext

log = get_logger(__name__)

if TYPE_CHECKING:  # imported by the sender thread: the first window does not need it
    from mailgui.core.delivery import Delivery

POLL_MS = 2000  # how often to look for messages queued by another process
INTERFACES_MS = 10_000  # without a reachability backend: how often to look at interfaces
MAX_SLEEP_S = 60.0  # re-check at least this often, whatever the schedule says


def has_network_interface() -> bool:
    """True when an interface other than loopback is up, running and has an address."""
    flag = QNetworkInterface.InterfaceFlag
    for interface in QNetworkInterface.allInterfaces():
        flags = interface.flags()
        if flags & flag.IsLoopBack or not (flags & flag.IsUp and flags & flag.IsRunning):
            continue
        if interface.addressEntries():
            return True
    return False


class _Worker(QObject):
    """Lives in the sender thread. Signals: see ``Sender``."""

    activity = Signal(str)
    progress = Signal(int, int, int)
    messageChanged = Signal(int, str, str)
    flushFinished = Signal(dict)

    def __init__(self, ctx: AppContext) -> None:
        super().__init__()
        self._ctx = ctx
        self.stopping = threading.Event()
        self._online = True
        self._outbox: Outbox | None = None
        self._delivery: Delivery | None = None
        self._timer: QTimer | None = None
        self._poll: QTimer | None = None
        self._version = -1
        # Only the holder of the profile's sender lock flushes automatically; when
        # `mailgui agent` holds it, this window only shows what the agent does.
        self._lock: SenderLock | None = None

    @Slot()
    def setup(self) -> None:
        """First slot run in the thread: everything thread-bound is created here."""
        from mailgui.core.delivery import Delivery  # SMTP, TLS, DNS: off the GUI thread
        from mailgui.core.server_limits import ServerLimits

        self._limits = ServerLimits.of(self._ctx.profile)

        self._outbox = self._ctx.open_outbox()
        self._lock = SenderLock.for_profile(self._ctx.profile)
        self._lock.acquire()  # False: an agent sends; retried before each automatic flush
        self._delivery = Delivery(
            self._outbox,
            self._ctx.accounts,
            password_lookup=self._ctx.password,
            listener=self._on_event,
        )
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(lambda: self.flush(False))
        self._poll = QTimer(self)
        self._poll.setInterval(POLL_MS)
        self._poll.timeout.connect(self._check_changes)
        self._poll.start()
        self._version = self._outbox.data_version()
        # The first flush goes behind what is already posted (an "offline" report
        # from before the thread ran must count).
        QTimer.singleShot(0, self, lambda: self.flush(False))

    @Slot(bool)
    def flush(self, include_deferred: bool) -> None:
        if self._delivery is None or self.stopping.is_set():
            return
        if not self._online and not include_deferred:
            self.activity.emit(self.tr("Offline: messages wait in the outbox."))
            self._schedule()
            return
        if not include_deferred and not self._may_send():
            self.activity.emit(
                self.tr("Another mailgui (the agent) is sending; the outbox shows its progress.")
            )
            self._schedule()
            return
        try:
            report = self._delivery.flush(
                include_deferred=include_deferred, should_stop=self.stopping.is_set
            )
        except OutboxReplacedError as exc:
            self._stop_for(exc)
            return
        except Exception as exc:  # never let the thread die; the outbox is unchanged
            self.activity.emit(self.tr("The sender hit an error: {0}").format(exc))
            self._schedule()
            return
        counts = Counter(o.state for o in report.outcomes)
        if report.outcomes:
            self.flushFinished.emit(dict(counts))
        self._schedule()
        if not self.stopping.is_set():
            self.activity.emit(self._idle_text())

    def _may_send(self) -> bool:
        """True when this process sends automatically (it holds, or now takes, the lock).
        "Send now" flushes anyway: the outbox's claims keep two senders apart. A lock
        file that cannot be made now counts as held by another (the agent)."""
        try:
            return self._lock is None or self._lock.acquire()
        except OSError:
            return False

    def _idle_text(self) -> str:
        assert self._outbox is not None
        when = self._outbox.next_wakeup()
        if when is None:
            return self.tr("Idle")
        return self.tr("Idle; next try at {0}").format(time.strftime("%H:%M", time.localtime(when)))

    def _schedule(self) -> None:
        if self._outbox is None or self._timer is None or self.stopping.is_set():
            return
        when = self._outbox.next_wakeup()
        delay = MAX_SLEEP_S if when is None else min(max(when - time.time(), 0.0), MAX_SLEEP_S)
        self._timer.start(int(delay * 1000) + 50)

    @Slot()
    def _check_changes(self) -> None:
        if self._outbox is None:
            return
        try:
            version = self._outbox.data_version()
        except OutboxReplacedError as exc:
            self._stop_for(exc)
            return
        if self._lock is not None and not self._lock.held and self._may_send():
            self._version = version  # the agent stopped: this window sends again, now
            self.flush(False)
        elif version != self._version:
            self._version = version
            if self._outbox.counts()["queued"]:
                self.flush(False)

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

    @Slot(bool)
    def set_online(self, online: bool) -> None:
        was, self._online = self._online, online
        if online and not was and self._may_send():
            self.flush(True)  # the network is back: deferred messages go now
        elif not online:
            self.activity.emit(self.tr("Offline: messages wait in the outbox."))

    @Slot()
    def teardown(self) -> None:
        """Last slot run in the thread: stop timers, close the database, end the loop."""
        for timer in (self._timer, self._poll):
            if timer is not None:
                timer.stop()
        if self._outbox is not None:
            self._outbox.close()
            self._outbox = None
        if self._lock is not None:
            self._lock.release()
        thread = self.thread()
        thread.quit()

    def abort(self) -> None:
        """Called from the GUI thread when quitting takes too long."""
        self.stopping.set()
        if self._delivery is not None:
            self._delivery.abort()

    def _on_event(self, kind: str, data: dict[str, Any]) -> None:
        if kind == "connecting":
            self.activity.emit(self.tr("Connecting to {0}…").format(data["server"]))
        elif kind == "sending":
            self.activity.emit(self.tr("Sending message {0}…").format(data["id"]))
        elif kind == "progress":
            self.progress.emit(data["id"], data["done"], data["total"])
        elif kind == "outcome":
            self.messageChanged.emit(data["id"], data["state"], data["error"] or "")
        self._limits.on_delivery_event(kind, data)


class Sender(QObject):
    """The GUI's handle on the sender thread.

    Signals:
        activity(str): what the sender is doing, in words.
        progress(int id, int done, int total): bytes of a message on the wire.
        messageChanged(int id, str state, str error): one attempt's outcome.
        flushFinished(dict): counts of outcomes by state of one flush.
        onlineChanged(bool): network reachability as the platform reports it.
    """

    activity = Signal(str)
    progress = Signal(int, int, int)
    messageChanged = Signal(int, str, str)
    flushFinished = Signal(dict)
    onlineChanged = Signal(bool)
    _flush = Signal(bool)
    _setOnline = Signal(bool)
    _teardown = Signal()

    def __init__(
        self, ctx: AppContext, parent: QObject | None = None, *, watch_network: bool = True
    ):
        super().__init__(parent)
        self._thread = QThread(self)
        self._thread.setObjectName("mailgui-sender")
        self._worker = _Worker(ctx)
        self._worker.moveToThread(self._thread)
        self._thread.started.connect(self._worker.setup)
        self._thread.finished.connect(self._worker.deleteLater)
        for name in ("activity", "progress", "messageChanged", "flushFinished"):
            getattr(self._worker, name).connect(getattr(self, name))
        self._flush.connect(self._worker.flush)
        self._setOnline.connect(self._worker.set_online)
        self._teardown.connect(self._worker.teardown)
        self.online = True
        self._network: QNetworkInformation | None = None
        self._interfaces: QTimer | None = None
        if watch_network and ctx.demo_port is None:  # the demo server is on loopback
            self._watch_network()

    def _watch_network(self) -> None:
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

    @Slot(QNetworkInformation.Reachability)
    def _reachability(self, value: QNetworkInformation.Reachability) -> None:
        self.set_online(value != QNetworkInformation.Reachability.Disconnected)

    def set_online(self, online: bool) -> None:
        """What the network watcher reports (tests and the headless agent call it too)."""
        if online != self.online:
            self.online = online
            self.onlineChanged.emit(online)
            self._setOnline.emit(online)

    def start(self) -> None:
        self._worker._online = self.online  # the thread is not running yet: no race
        self._thread.start()

    def request_flush(self, include_deferred: bool = False) -> None:
        """Ask for a flush; ``include_deferred`` ignores back-off ("Send now")."""
        self._flush.emit(include_deferred)

    def is_running(self) -> bool:
        return self._thread.isRunning()

    def shutdown(self, timeout_ms: int = 5000) -> bool:
        """Stop after the current message; cut the connection if that takes too long.
        True when the thread ended within the bound (then nothing is left sending)."""
        if not self._thread.isRunning():
            return True
        self._worker.stopping.set()
        self._teardown.emit()
        if self._thread.wait(timeout_ms):
            return True
        self._worker.abort()
        return bool(self._thread.wait(timeout_ms))
