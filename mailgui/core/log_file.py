"""The profile's log file: a rotating file, readable by its owner only, opened on the
first record (``core.log`` attaches it; this module is imported only then)."""

from __future__ import annotations

import io
import logging
import os
from pathlib import Path


class OnFirstRecord(logging.Handler):
    """Opens the rotating log (and imports logging.handlers, with pickle, queue and
    socket: ~5 ms) on the first record: a command that logs nothing never pays for it."""

    def __init__(self, path: Path) -> None:
        super().__init__()
        self._path = path
        self._file: logging.FileHandler | None = None
        self._failed = False
        self._mailgui = True
        self._opening = False
        self._early: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:  # called under self.lock (an RLock)
        if self._file is None and not self._failed:
            if self._opening:
                # Logged from a signal handler while this thread imports logging.handlers
                # (the agent's SIGTERM right after its start): importing it again here
                # would meet the half-made module ("cannot access submodule"). Kept for
                # when the file is open.
                self._early.append(record)
                return
            self._opening = True
            try:
                self._file = private_log(self._path)
            except OSError:
                self._failed = True  # no log rather than no mailgui
            finally:
                self._opening = False
        if self._file is not None:
            self._file.emit(record)
            early, self._early = self._early, []
            for later in early:
                self._file.emit(later)

    def flush(self) -> None:
        if self._file is not None:
            self._file.flush()

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
        super().close()


def private_log(path: Path) -> logging.FileHandler:
    import logging.handlers

    class _PrivateLog(logging.handlers.RotatingFileHandler):
        """The log file, readable by its owner only whatever the umask (each new file
        after a rotation too), and best effort: a log that cannot be written (full disk)
        must not print tracebacks over the one sentence the person needs."""

        def _open(self) -> io.TextIOWrapper:
            fd = os.open(self.baseFilename, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            if os.fstat(fd).st_mode & 0o077:
                os.fchmod(fd, 0o600)  # written by an older mailgui
            return open(fd, "a", encoding=self.encoding, errors=self.errors)  # always "a"

        def handleError(self, record: logging.LogRecord) -> None:
            pass

    handler = _PrivateLog(path, maxBytes=1_000_000, backupCount=3, encoding="utf-8")
    handler.setFormatter(
        logging.Formatter("%(asctime)s %(process)d %(levelname)s %(name)s: %(message)s")
    )
    return handler
