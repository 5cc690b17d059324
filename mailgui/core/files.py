"""Small files of the profile (drafts, address book, server limits), written safely.

Atomic (a temporary file renamed over the old one, so a crash leaves the old or the
new content, never half of each) and private (mode 0600, folders 0700, whatever the
umask): they hold what people write and to whom.
"""

from __future__ import annotations

import os
from pathlib import Path


def write_private(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.chmod(tmp, 0o600)  # an older temporary file may have had looser bits
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
