"""One desktop app per profile: a second start hands its request to the running one.

The running app listens on a ``QLocalServer`` named after the profile (a Unix socket in
the user's runtime folder). A second ``mailgui`` (say ``mailgui mailto:...`` from a
browser) connects, sends one JSON line (``{"mailto": URL or null}``) and exits once the
running app answered ``ok``. The receiver parses the link again itself: what comes over
the socket is treated like any other untrusted input.
"""

from __future__ import annotations

import hashlib
import json
import os
from typing import Any

from PySide6.QtCore import QObject, Signal, Slot
from PySide6.QtNetwork import QLocalServer, QLocalSocket

from mailgui.core.paths import Profile

CONNECT_MS = 1000
MAX_REQUEST = 128 * 1024


def server_name(profile: Profile) -> str:
    """Per user and per profile, so a demo or another MAILGUI_HOME runs on its own."""
    digest = hashlib.sha256(str(profile.data_dir.resolve()).encode()).hexdigest()[:16]
    return f"mailgui-{os.getuid() if hasattr(os, 'getuid') else 0}-{digest}"


def send_to_running(name: str, request: dict[str, Any], timeout_ms: int = CONNECT_MS) -> bool:
    """True when a running app took the request (then this process should just exit)."""
    sock = QLocalSocket()
    sock.connectToServer(name)
    if not sock.waitForConnected(timeout_ms):
        return False
    sock.write((json.dumps(request) + "\n").encode())
    sock.flush()
    ok = False
    if sock.waitForBytesWritten(timeout_ms) or sock.bytesToWrite() == 0:
        while sock.waitForReadyRead(timeout_ms * 3):
            if bytes(sock.readAll().data()).startswith(b"ok"):
                ok = True
                break
    sock.disconnectFromServer()
    return ok


class InstanceServer(QObject):
    """Listens for requests of later starts.

    Signals:
        received(dict): one request, already decoded from JSON (still untrusted).
    """

    received = Signal(dict)

    def __init__(self, name: str, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._server = QLocalServer(self)
        self._server.setSocketOptions(QLocalServer.SocketOption.UserAccessOption)
        if not self._server.listen(name):
            # Nobody answered on it (checked before): a socket left by a crashed app.
            QLocalServer.removeServer(name)
            self._server.listen(name)
        self._server.newConnection.connect(self._accept)
        self._buffers: dict[QLocalSocket, bytes] = {}

    @property
    def listening(self) -> bool:
        return self._server.isListening()

    @Slot()
    def _accept(self) -> None:
        while (sock := self._server.nextPendingConnection()) is not None:
            self._buffers[sock] = b""
            sock.readyRead.connect(lambda s=sock: self._read(s))
            sock.disconnected.connect(lambda s=sock: self._drop(s))

    def _read(self, sock: QLocalSocket) -> None:
        data = self._buffers.get(sock, b"") + bytes(sock.readAll().data())
        if len(data) > MAX_REQUEST:
            sock.abort()
            return
        self._buffers[sock] = data
        if b"\n" not in data:
            return
        line = data.split(b"\n", 1)[0]
        try:
            request = json.loads(line)
        except ValueError:
            request = None
        sock.write(b"ok\n" if isinstance(request, dict) else b"bad\n")
        sock.flush()
        if isinstance(request, dict):
            self.received.emit(request)

    def _drop(self, sock: QLocalSocket) -> None:
        self._buffers.pop(sock, None)
        sock.deleteLater()

    def close(self) -> None:
        self._server.close()
