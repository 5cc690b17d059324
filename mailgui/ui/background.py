"""Short jobs on a QThreadPool whose results come back to the GUI thread.

A job may outlive the window that started it, so it does not emit on that window: it
emits ``relay().done(request, result)`` on one QObject that lives as long as the
application (in the GUI thread, so the signal is queued there), and each requester keeps
the ids it started and ignores the others.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable

from PySide6.QtCore import QCoreApplication, QObject, QThreadPool, Signal

__all__ = ["relay", "run"]


class _Relay(QObject):
    done = Signal(int, object)  # request id, the job's result


_relay: _Relay | None = None
_requests = itertools.count(1)


def relay() -> _Relay:
    global _relay
    if _relay is None:
        _relay = _Relay(QCoreApplication.instance())
    return _relay


def run(job: Callable[[], object], pool: QThreadPool | None = None) -> int:
    """Start ``job`` on ``pool`` (Qt's global pool by default) and return its request id;
    its result arrives as ``relay().done(request, result)``. ``job`` must not raise."""
    request, done = next(_requests), relay().done
    (pool or QThreadPool.globalInstance()).start(lambda: done.emit(request, job()))
    return request
