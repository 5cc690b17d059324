"""The headless sender behind ``mailgui agent``: the GUI sender's twin, without Qt.

It keeps the outbox moving: it flushes on start, when the next deferred or
scheduled message falls due (``Outbox.next_wakeup``), when another process
queued something (``Outbox.data_version``), when the account settings change
and when the network returns (a default route appears again). It sends only
while it holds the profile's sender lock (``sender_lock.py``), so a GUI and an
agent on one profile never both follow the schedule. ``stop()`` (SIGTERM) lets
the message on the wire finish, and cuts the connection after ``stop_grace``
seconds if the server takes longer: that message then goes back to the queue.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from mailgui.core.accounts import AccountStore
from mailgui.core.delivery import Delivery, FlushReport
from mailgui.core.errors import OutboxReplacedError
from mailgui.core.log import get_logger
from mailgui.core.outbox import Outbox
from mailgui.core.paths import Profile
from mailgui.core.sender_lock import SenderLock
from mailgui.core.server_limits import ServerLimits

log = get_logger("mailgui.agent")

POLL_S = 2.0  # how often to look for work queued by others, settings and the network
MAX_SLEEP_S = 60.0  # flush at least this often, whatever the schedule says
STOP_GRACE_S = 5.0  # on stop, how long the message on the wire may take to finish

_RTF_UP = 0x1


def network_up() -> bool | None:
    """True when the system has a default route (IPv4 or IPv6), False when it has none,
    None when this cannot be told (not Linux)."""
    try:
        v4 = Path("/proc/net/route").read_text().splitlines()[1:]
    except OSError:
        return None
    for line in v4:
        f = line.split()
        if len(f) > 7 and f[1] == "00000000" and f[7] == "00000000" and int(f[3], 16) & _RTF_UP:
            return True
    try:
        v6 = Path("/proc/net/ipv6_route").read_text().splitlines()
    except OSError:
        return False
    for line in v6:
        f = line.split()
        default = len(f) >= 10 and f[0] == "0" * 32 and f[1] == "00" and f[9] != "lo"
        if default and int(f[8], 16) & _RTF_UP:
            return True
    return False


def _mtime(path: Path) -> float | None:
    try:
        return path.stat().st_mtime_ns / 1e9
    except OSError:
        return None


class Agent:
    """Runs until ``stop()``; everything that talks to the world can be replaced."""

    def __init__(
        self,
        profile: Profile,
        *,
        poll: float = POLL_S,
        max_sleep: float = MAX_SLEEP_S,
        stop_grace: float = STOP_GRACE_S,
        network: Callable[[], bool | None] = network_up,
        clock: Callable[[], float] = time.time,
        delivery_factory: Callable[[Outbox, AccountStore], Delivery] | None = None,
    ) -> None:
        self.profile = profile
        self._limits = ServerLimits.of(profile)
        self.poll = poll
        self.max_sleep = max_sleep
        self.stop_grace = stop_grace
        self.network = network
        self.clock = clock
        self.delivery_factory = delivery_factory
        self.stopping = threading.Event()
        self._wake = threading.Event()
        self._delivery: Delivery | None = None
        self._abort_timer: threading.Timer | None = None
        self.flushes = 0  # for tests and the log

    # --- control, from a signal handler or another thread ----------------------------

    def stop(self) -> None:
        """Stop after the message on the wire; cut the connection if it takes too long.
        A second call cuts it at once."""
        if self.stopping.is_set():
            self._abort()
            return
        log.info("stopping: the message being sent (if any) finishes first")
        self.stopping.set()
        self._wake.set()
        timer = threading.Timer(self.stop_grace, self._abort)
        timer.daemon = True
        self._abort_timer = timer
        timer.start()

    def _abort(self) -> None:
        delivery = self._delivery
        if delivery is not None:
            log.warning(
                "the server is slow to answer; cutting the connection, the message stays queued"
            )
            delivery.abort()

    def _sleep(self, seconds: float) -> bool:
        """Wait; True when stopping."""
        if seconds > 0:
            self._wake.wait(seconds)
        return self.stopping.is_set()

    # --- the loop --------------------------------------------------------------------

    def run(self) -> int:
        lock = SenderLock.for_profile(self.profile)
        waited = False
        while not lock.acquire():
            if not waited:
                holder = lock.holder()
                log.info(
                    "another mailgui%s sends for this profile; waiting until it stops",
                    f" (pid {holder})" if holder else "",
                )
                waited = True
            if self._sleep(self.poll):
                log.info("stopped without sending")
                return 0
        try:
            with Outbox(self.profile.outbox_file) as outbox:
                self._loop(outbox)
        except OutboxReplacedError as exc:
            log.error("%s", exc)  # the log file keeps it too; the command exits 75
            raise
        finally:
            lock.release()
            if self._abort_timer is not None:
                self._abort_timer.cancel()
        log.info("stopped; nothing is left in flight")
        return 0

    def _loop(self, outbox: Outbox) -> None:
        store = AccountStore(self.profile.accounts_file)
        factory = self.delivery_factory or (
            lambda ob, st: Delivery(ob, st, listener=self._on_event)
        )
        self._delivery = factory(outbox, store)
        log.info("agent started for %s", self.profile.outbox_file)
        online = self.network()
        settings = _mtime(self.profile.accounts_file)
        self._flush(outbox, False, "start")
        version = outbox.data_version()
        last_flush = self.clock()
        while not self.stopping.is_set():
            when = outbox.next_wakeup()
            now = self.clock()
            wait = self.max_sleep if when is None else min(max(when - now, 0.0), self.max_sleep)
            if self._sleep(min(wait, self.poll)):
                break
            now = self.clock()
            reason, include_deferred = None, False
            state = self.network()
            if state is True and online is False:
                reason, include_deferred = "the network is back", True
            online = state if state is not None else online
            stamp = _mtime(self.profile.accounts_file)
            if stamp != settings:
                settings = stamp
                reason, include_deferred = "the account settings changed", True
            current = outbox.data_version()
            if current != version:
                version = current
                if reason is None and outbox.counts().get("queued"):
                    reason = "a message was queued"
            if reason is None and when is not None and now >= when:
                reason = "a message is due"
            if reason is None and now - last_flush >= self.max_sleep:
                reason = "periodic check"
            if reason is None:
                continue
            self._flush(outbox, include_deferred, reason)
            version = outbox.data_version()
            last_flush = self.clock()

    def _flush(self, outbox: Outbox, include_deferred: bool, reason: str) -> FlushReport | None:
        assert self._delivery is not None
        self.flushes += 1
        try:
            report = self._delivery.flush(
                include_deferred=include_deferred, should_stop=self.stopping.is_set
            )
        except OutboxReplacedError:
            raise  # nothing written now would be read: stop (systemd restarts the agent)
        except Exception:  # never die: the outbox is unchanged, the next round tries again
            log.exception("the flush (%s) hit an error", reason)
            return None
        if report.outcomes:
            states: dict[str, int] = {}
            for o in report.outcomes:
                states[o.state] = states.get(o.state, 0) + 1
            summary = ", ".join(f"{n} {s}" for s, n in sorted(states.items()))
            log.info("flush (%s): %s", reason, summary)
            when = outbox.next_wakeup()
            if when is not None and not self.stopping.is_set():
                at = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(max(when, self.clock())))
                log.info("next try at %s", at)
        return report

    def _on_event(self, kind: str, data: dict[str, Any]) -> None:
        self._limits.on_delivery_event(kind, data)
        if kind == "connecting":
            log.info("connecting to %s for account %r", data["server"], data["account"])
        elif kind == "sending":
            log.info("sending message %d", data["id"])
