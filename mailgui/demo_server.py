"""The embedded SMTP server of ``mailgui --demo``: on 127.0.0.1, in memory, so a
newcomer sees the whole path work without a real account.

Product code, imported by the GUI (``ui/app.py``, the demo view) only in demo mode: it
loads aiosmtpd and asyncio. It imports nothing of mailgui; the command-line tour that
drives it through the real CLI is ``mailgui/demo_tour.py``.
"""

from __future__ import annotations

import socket
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from aiosmtpd.controller import Controller

__all__ = ["DemoServer", "Received"]


@dataclass(frozen=True)
class Received:
    mail_from: str
    rcpt_tos: list[str]
    data: bytes
    received_at: float = field(default_factory=time.time)  # epoch seconds


class _Handler:
    def __init__(self, server: DemoServer) -> None:
        self.server = server

    async def handle_DATA(self, _server: Any, _session: Any, envelope: Any) -> str:
        self.server._received(
            Received(envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content)
        )
        return "250 2.0.0 Accepted by the mailgui demo server"


class DemoServer:
    """A local SMTP server that keeps what it receives in memory (no TLS, no AUTH)."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.host = host
        self.port = _free_port(host)
        self.messages: list[Received] = []
        self._lock = threading.Condition()
        self._controller = Controller(
            _Handler(self), hostname=host, port=self.port, server_hostname="demo.mailgui"
        )

    def _received(self, msg: Received) -> None:
        with self._lock:
            self.messages.append(msg)
            self._lock.notify_all()

    def wait_for(self, n: int, timeout: float = 10.0) -> list[Received]:
        with self._lock:
            self._lock.wait_for(lambda: len(self.messages) >= n, timeout)
            return list(self.messages)

    def snapshot(self, start: int = 0) -> list[Received]:
        """The messages received so far from index ``start`` on (cheap; any thread)."""
        with self._lock:
            return self.messages[start:]

    def start(self) -> DemoServer:
        self._controller.start()
        return self

    def stop(self) -> None:
        self._controller.stop()


def _free_port(host: str) -> int:
    # aiosmtpd's Controller cannot take port 0 (its readiness check connects to it).
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])
