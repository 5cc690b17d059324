"""The headless sender behind ``mailgui agent``: the GUI sender's twin, without Qt.

It keeps the outbox moving on the schedule every sender follows
(``core.flush_schedule``: on start, when a message falls due, when another process
queued one, when the account settings change and when the network returns, that is
when a default route appears again; nothing while there is none). It sends only
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

from mailgui.core import flush_schedule
from mailgui.core.accounts import AccountStore
from mailgui.core.delivery import Delivery, FlushReport
from mailgui.core.engine import Engine
from mailgui.core.errors import OutboxReplacedError
from mailgui.core.events import Connecting, DeliveryEvent, Sending
from mailgui.core.log import get_logger
from mailgui.core.outbox import Outbox
from mailgui.core.paths import Profile
from mailgui.core.sender_lock import SenderLock

log = get_logger("mailgui.agent")

POLL_S = 2.0  # how often to look for work queued by others, settings and the network
MAX_SLEEP_S = flush_schedule.MAX_SLEEP_S
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
        self.engine = Engine(profile)
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
        self._delivery = (
            self.delivery_factory(outbox, self.engine.accounts)
            if self.delivery_factory is not None
            else self.engine.delivery(outbox, listener=self._on_event)
        )
        log.info("agent started for %s", self.profile.outbox_file)
        memory = flush_schedule.remember(self._look(outbox))  # it holds the lock
        waiting: str | None = None
        while not self.stopping.is_set():
            seen = self._look(outbox)
            flush, memory, now_waiting, _ = flush_schedule.step(
                memory, seen, max_sleep=self.max_sleep
            )
            if now_waiting != waiting and now_waiting == "offline":
                log.info("offline (no default route): messages wait in the outbox")
            waiting = now_waiting
            if flush is not None:
                self._flush(outbox, flush.include_deferred, flush.reason)
                memory = flush_schedule.flushed(
                    memory, version=outbox.data_version(), now=self.clock()
                )
                seen = self._look(outbox)
            wait = flush_schedule.sleep_for(seen, max_sleep=self.max_sleep)
            if self._sleep(min(wait, self.poll)):
                break

    def _look(self, outbox: Outbox) -> flush_schedule.Seen:
        return flush_schedule.Seen(
            now=self.clock(),
            due_at=outbox.next_wakeup(),
            online=self.network(),
            settings=flush_schedule.settings_stamp(self.profile),
            version=outbox.data_version(),
            queued=lambda: outbox.counts().get("queued", 0),
        )

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

    def _on_event(self, event: DeliveryEvent) -> None:
        match event:
            case Connecting(account=account, server=server):
                log.info("connecting to %s for account %r", server, account)
            case Sending(id=msg_id):
                log.info("sending message %d", msg_id)
