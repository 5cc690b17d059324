"""The accounts dialog's "Find settings": :func:`mailgui.core.discovery.discover` in a
worker QObject moved to its own QThread, so the GUI never waits on DNS or probes.

The result is plain data: ``Discovery.as_json()`` (see ``account discover --json``), or
``{"error": text}`` when the address is not usable.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QCoreApplication, QObject, QThread, Signal, Slot

from mailgui.core.discovery import discover
from mailgui.core.errors import MailguiError

_live: list[tuple[QThread, QObject]] = []  # running threads, kept until they end


def _reap() -> None:
    for thread, worker in list(_live):
        if thread.isFinished():
            thread.wait()
            _live.remove((thread, worker))


def wait_all(timeout_ms: int = 10_000) -> bool:
    """On quit: let running look-ups end (each is bounded by its timeouts)."""
    ok = all(thread.wait(timeout_ms) for thread, _ in _live)
    _reap()
    return ok


class _Worker(QObject):
    done = Signal(int, dict)

    def __init__(self, run_id: int, address: str) -> None:
        super().__init__()
        self.run_id = run_id
        self.address = address

    @Slot()
    def run(self) -> None:
        try:
            result: dict[str, Any] = discover(self.address).as_json()
        except MailguiError as exc:
            result = {"error": exc.message}
        except Exception as exc:  # never let a bug kill the thread silently
            result = {"error": f"Looking for settings failed ({type(exc).__name__}: {exc})."}
        self.done.emit(self.run_id, result)
        thread = self.thread()
        if thread is not None:
            thread.quit()


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
        _reap()
        self._runs += 1
        thread = QThread()
        thread.setObjectName("mailgui-find-settings")
        worker = _Worker(self._runs, address)
        worker.moveToThread(thread)
        thread.started.connect(worker.run)
        worker.done.connect(self._on_done)
        _live.append((thread, worker))
        self._running = self._runs
        thread.start()

    def cancel(self) -> None:
        """Forget the running look-up (it ends on its own; its result is dropped)."""
        self._running = None

    @Slot(int, dict)
    def _on_done(self, run_id: int, result: dict[str, Any]) -> None:
        if run_id != self._running:
            return
        self._running = None
        self.finished.emit(result)
