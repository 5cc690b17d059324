"""The profile's rotating log file, and the loggers that write to it.

Nothing secret reaches it: smtplib's debug output (which shows AUTH) is never
enabled, and the only things logged are ids, states, hosts and server replies.

mailgui's modules get their loggers from ``get_logger`` here, never from
``logging.getLogger``: ``setup`` leaves ``logging`` unimported when nothing has imported
it yet (~10 ms of every ``mailgui sendmail``, which usually logs nothing), and the first
``get_logger`` then attaches the file's handler before anything is logged.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import logging
    from pathlib import Path

    from mailgui.core.paths import Profile

ROOT = "mailgui"
_pending: Path | None = None  # the log file of setup(), while logging is not imported


def setup(profile: Profile) -> None:
    """Attach the log file's handler once per process (the file opens on first use);
    when ``logging`` is not imported yet, at the first ``get_logger``."""
    global _pending
    profile.ensure()
    _pending = profile.log_file
    if "logging" in sys.modules:
        _attach()


def get_logger(name: str = ROOT) -> logging.Logger:
    """``logging.getLogger(name)``, with the log file's handler attached when ``setup``
    was called (``name`` is ``mailgui`` or below it, so its records reach the file)."""
    import logging

    _attach()
    return logging.getLogger(name)


def _attach() -> None:
    global _pending
    path, _pending = _pending, None
    if path is None:
        return
    import logging

    from mailgui.core.log_file import OnFirstRecord

    logger = logging.getLogger(ROOT)
    if any(getattr(h, "_mailgui", False) for h in logger.handlers):
        return
    logger.addHandler(OnFirstRecord(path))
    logger.setLevel(logging.INFO)
