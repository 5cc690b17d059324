"""Small files of the profile (drafts, address book, server limits), written safely.

Atomic (a temporary file renamed over the old one, so a crash leaves the old or the
new content, never half of each) and private (mode 0600, folders 0700, whatever the
umask): they hold what people write and to whom.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from mailgui.core.log import get_logger

log = get_logger(__name__)


def read_json_object(path: Path) -> dict[str, Any]:
    """The JSON object in ``path``; {} when the file is missing, unreadable or not an
    object (logged): these files are conveniences, never a reason to stop."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        log.warning("%s cannot be read: %s", path, exc)
        return {}
    return data if isinstance(data, dict) else {}


def write_private(path: Path, content: str | bytes) -> None:
    """Write ``content`` (text as UTF-8) to ``path``, atomically and privately."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    data = content.encode("utf-8") if isinstance(content, str) else content
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(tmp, 0o600)  # an older temporary file may have had looser bits
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
