"""The profile's rotating log file.

Nothing secret reaches it: smtplib's debug output (which shows AUTH) is never
enabled, and the only things logged are ids, states, hosts and server replies.
"""

from __future__ import annotations

import logging
import logging.handlers

from mailgui.core.paths import Profile

logger = logging.getLogger("mailgui")


def setup(profile: Profile) -> None:
    """Attach the rotating file handler once per process."""
    if any(getattr(h, "_mailgui", False) for h in logger.handlers):
        return
    profile.ensure()
    handler = logging.handlers.RotatingFileHandler(
        profile.log_file, maxBytes=1_000_000, backupCount=3, encoding="utf-8"
    )
    handler._mailgui = True  # type: ignore[attr-defined]
    handler.setFormatter(
        logging.Formatter("%(asctime)s %(process)d %(levelname)s %(name)s: %(message)s")
    )
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
