"""The running app's side of ``single_instance``: a ``QLocalServer`` that takes the
requests of later starts. Made after the window's first paint (QtNetwork is ~10 ms to
import)."""

from __future__ import annotations

import json

from PySide6.QtCore import QObject, Signal, Slot
from PySide6.QtNetwork import QLocalServer, QLocalSocket

from mailgui.core.log import get_logger

MAX_REQUEST = 128 * 1024


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
            if not self._server.listen(name):
                get_logger().warning(
                    "cannot listen on %s (%s): a second start will open its own window",
                    name,
                    self._server.errorString(),
                )
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
