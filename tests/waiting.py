"""Waiting for something another thread or process does (plain module, no fixtures).

GUI tests wait with ``qtbot.waitUntil`` / ``qtbot.waitSignal`` instead: those keep Qt's event
loop running. Use :func:`until` where nothing needs an event loop: a CLI process, a
server thread, the agent's thread.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")

WAIT = 20.0
"""Upper bound for any single wait on another process or thread: generous, so a loaded
machine does not fail a test, and only reached when something is wrong."""


def until(
    check: Callable[[], T], timeout: float = WAIT, what: str = "condition", interval: float = 0.05
) -> T:
    """Call ``check`` every ``interval`` seconds until it returns something true; return that.

    ``AssertionError("timed out waiting for <what>")`` after ``timeout`` seconds. ``check`` is
    always called at least once, and once more at the deadline; an AssertionError it raises
    itself (say, "the process exited") ends the wait at once.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)
