"""The accounts dialog's "Find settings": :func:`mailgui.core.discovery.discover` in a
worker QObject moved to its own QThread, so the GUI never waits on DNS or probes.

The result is plain data: ``Discovery.as_json()`` (see ``account discover --json``), or
``{"error": text}`` when the address is not usable.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from PySide6.QtCore import QCoreApplication, QObject, Signal

from mailgui.core.discovery import discover
from mailgui.core.errors import MailguiError
from mailgui.ui.error_words import error_text
from mailgui.ui.worker_thread import WorkerThread
from mailgui.ui.worker_thread import wait_all as _wait_all

THREAD_NAME = "mailgui-find-settings"


def wait_all(timeout_ms: int = 10_000) -> bool:
    """On quit: let running look-ups end (each is bounded by its timeouts)."""
    return _wait_all(timeout_ms, THREAD_NAME)


class _Finder(QObject):
    """Lives in a look-up thread; ``run`` returns the result for one address."""

    def __init__(self, address: str) -> None:
        super().__init__()
        self.address = address

    def run(self) -> dict[str, Any]:
        try:
            result: dict[str, Any] = discover(self.address).as_json()
        except MailguiError as exc:
            result = {"error": error_text(exc)}
        except Exception as exc:  # never let a bug kill the thread silently
            result = {"error": f"Looking for settings failed ({type(exc).__name__}: {exc})."}
        return result


class SettingsFinder(QObject):
    """Finds submission settings for one address at a time, off the GUI thread.

    Signals:
        finished(dict): the discovery result (only for the latest ``start``).
    """

    finished = Signal(dict)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._runs = 0
        self._running: int | None = None
        app = QCoreApplication.instance()
        if app is not None:
            app.aboutToQuit.connect(wait_all)

    def is_running(self) -> bool:
        return self._running is not None

    def start(self, address: str) -> None:
        self._runs += 1
        worker = _Finder(address)
        thread = WorkerThread(worker, THREAD_NAME)
        thread.post(worker.run, reply=partial(self._on_done, self._runs))
        self._running = self._runs
        thread.start()
        thread.stop()  # ends once the look-up has run (it is kept until then)

    def cancel(self) -> None:
        """Forget the running look-up (it ends on its own; its result is dropped)."""
        self._running = None

    def _on_done(self, run_id: int, result: dict[str, Any]) -> None:
        if run_id != self._running:
            return
        self._running = None
        self.finished.emit(result)
