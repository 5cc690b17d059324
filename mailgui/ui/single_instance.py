"""One desktop app per profile: a second start hands its request to the running one.

The running app listens on a ``QLocalServer`` at a Unix socket named after the profile,
in the user's runtime folder (``$XDG_RUNTIME_DIR``, else the temporary folder). A second
``mailgui`` (say ``mailgui mailto:...`` from a browser) connects, sends one JSON line
(``{"mailto": URL or null}``) and exits once the running app answered ``ok``. The
receiver parses the link again itself: what comes over the socket is treated like any
other untrusted input.

The second start's side is a plain ``socket``: it runs before any window, and QtNetwork
(~10 ms to import) is then needed only by the app that stays, after its first paint.
"""

from __future__ import annotations

import json
import os
import zlib
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, Signal, Slot

if TYPE_CHECKING:
    from PySide6.QtNetwork import QLocalSocket

    from mailgui.core.paths import Profile

CONNECT_MS = 1000
MAX_REQUEST = 128 * 1024
_SUN_PATH = 100  # a Unix socket's path must fit in sun_path (108 bytes on Linux)


def server_name(profile: Profile) -> str:
    """The socket's full path: per user and per profile, so a demo or another
    MAILGUI_HOME runs on its own."""
    digest = zlib.crc32(str(profile.data_dir.resolve()).encode())
    name = f"mailgui-{os.getuid() if hasattr(os, 'getuid') else 0}-{digest:08x}"
    folder = os.environ.get("XDG_RUNTIME_DIR") or os.environ.get("TMPDIR") or "/tmp"
    if not os.path.isdir(folder) or len(folder) + len(name) + 1 > _SUN_PATH:
        folder = "/tmp"
    return os.path.join(folder, name)


def send_to_running(name: str, request: dict[str, Any], timeout_ms: int = CONNECT_MS) -> bool:
    """True when a running app took the request (then this process should just exit)."""
    import socket

    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout_ms / 1000)
        try:
            sock.connect(name)
        except OSError:  # no socket file, or nobody listening on it (a crashed app's)
            return False
        try:
            sock.sendall((json.dumps(request) + "\n").encode())
            sock.settimeout(timeout_ms * 3 / 1000)
            answer = b""
            while b"\n" not in answer and len(answer) < 64:
                chunk = sock.recv(64)
                if not chunk:
                    break
                answer += chunk
        except OSError:
            return False
    return answer.startswith(b"ok")


class InstanceServer(QObject):
    """Listens for requests of later starts.

    Signals:
        received(dict): one request, already decoded from JSON (still untrusted).
    """

    received = Signal(dict)

    def __init__(self, name: str, parent: QObject | None = None) -> None:
        from PySide6.QtNetwork import QLocalServer

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
