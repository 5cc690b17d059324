"""An embedded SMTP server on 127.0.0.1, so a newcomer sees the whole path work.

``python -m mailgui.demo`` sets up a throw-away profile with a "Demo" account
pointing at this server, sends a message through the real command line, and
prints what the server received. (The GUI's ``--demo`` will use the same server.)
"""

from __future__ import annotations

import os
import shlex
import socket
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from typing import Any

from aiosmtpd.controller import Controller


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


def main() -> int:
    from mailgui.cli import main as cli

    server = DemoServer().start()
    try:
        home = os.environ.setdefault("MAILGUI_HOME", tempfile.mkdtemp(prefix="mailgui-demo-"))
        print(f"Demo profile: {home}")
        print(f"Demo SMTP server listening on {server.host}:{server.port}\n")
        steps = [
            [
                "account",
                "add",
                "Demo",
                "--email",
                "you@demo.mailgui",
                "--display-name",
                "Demo User",
                "--host",
                server.host,
                "--port",
                str(server.port),
                "--security",
                "none",
                "--no-recipient-checks",  # demo.mailgui is not in the public DNS
            ],
            [
                "send",
                "--account",
                "Demo",
                "--to",
                "Friend <friend@demo.mailgui>",
                "--subject",
                "Hello from mailgui ✉",
                "--body",
                "It works: queued durably, then sent.\n",
            ],
            ["outbox", "list"],
        ]
        for argv in steps:
            print("$ mailgui " + shlex.join(argv))
            code = cli(argv)
            sys.stdout.flush()
            if code:
                return code
            print()
        for msg in server.wait_for(1):
            parsed = message_from_bytes(msg.data, policy=policy.default)
            print(f"The demo server received a message for {', '.join(msg.rcpt_tos)}:")
            for key in ("From", "To", "Subject", "Date", "Message-ID"):
                print(f"  {key}: {parsed[key]}")
        return 0
    finally:
        server.stop()


if __name__ == "__main__":
    raise SystemExit(main())
