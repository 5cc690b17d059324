"""Measure how long the GUI thread's event loop stalls, apart from machine load.

A 5 ms QTimer records (wall ms, ms this thread waited for a CPU while runnable). On a
busy machine (CI runs two test workers on two cores) the OS hands the CPU to other
processes for tens of ms whatever the app does; that part of a gap is load, not a
stall of ours, so ``stall`` subtracts it. ``gap`` is the plain wall-clock figure.
"""

from __future__ import annotations

import itertools

from PySide6.QtCore import QElapsedTimer, QTimer


def cpu_wait_ms() -> float:
    """Time this thread spent runnable but not running (Linux schedstat; 0 elsewhere,
    which makes ``stall`` the plain wall-clock gap)."""
    try:
        with open("/proc/thread-self/schedstat") as f:
            return int(f.read().split()[1]) / 1e6
    except (OSError, IndexError, ValueError):
        return 0.0


class GapRecorder:
    def __init__(self, interval_ms: int = 5) -> None:
        self.ticks: list[tuple[float, float]] = []
        self._clock = QElapsedTimer()
        self._timer = QTimer()
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(self._tick)

    def _tick(self) -> None:
        self.ticks.append((self._clock.nsecsElapsed() / 1e6, cpu_wait_ms()))

    def start(self) -> None:
        self._clock.start()
        self._tick()
        self._timer.start()

    def stop(self) -> None:
        self._timer.stop()
        self._tick()

    @property
    def gap(self) -> float:
        return max((b[0] - a[0] for a, b in itertools.pairwise(self.ticks)), default=0.0)

    @property
    def stall(self) -> float:
        pairs = itertools.pairwise(self.ticks)
        return max(((b[0] - a[0]) - (b[1] - a[1]) for a, b in pairs), default=0.0)
