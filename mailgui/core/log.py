"""The profile's rotating log file.

Nothing secret reaches it: smtplib's debug output (which shows AUTH) is never
enabled, and the only things logged are ids, states, hosts and server replies.
"""

from __future__ import annotations

import io
import logging
import logging.handlers
import os

from mailgui.core.paths import Profile

logger = logging.getLogger("mailgui")


class _PrivateLog(logging.handlers.RotatingFileHandler):
    """The log file, readable by its owner only whatever the umask (each new file after
    a rotation too), and best effort: a log that cannot be written (full disk) must not
    print tracebacks over the one sentence the person needs."""

    def _open(self) -> io.TextIOWrapper:
        fd = os.open(self.baseFilename, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        if os.fstat(fd).st_mode & 0o077:
            os.fchmod(fd, 0o600)  # written by an older mailgui
        return open(fd, "a", encoding=self.encoding, errors=self.errors)  # rotating: always "a"

    def handleError(self, record: logging.LogRecord) -> None:
        pass


def setup(profile: Profile) -> None:
    """Attach the rotating file handler once per process."""
    if any(getattr(h, "_mailgui", False) for h in logger.handlers):
        return
    profile.ensure()
    try:
        handler = _PrivateLog(profile.log_file, maxBytes=1_000_000, backupCount=3, encoding="utf-8")
    except OSError:
        return  # no log rather than no mailgui
    handler._mailgui = True  # type: ignore[attr-defined]
    handler.setFormatter(
        logging.Formatter("%(asctime)s %(process)d %(levelname)s %(name)s: %(message)s")
    )
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
