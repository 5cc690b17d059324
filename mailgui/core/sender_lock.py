"""Who sends automatically: one lock file per profile (``state/sender.lock``).

The GUI's sender thread and ``mailgui agent`` both follow the retry schedule; when
both run on one profile, the one holding this lock sends and the other only shows
the outbox. Explicit commands (``mailgui send``, ``outbox flush``, "Send now") do
not need the lock: the outbox's atomic claims already keep them from sending a
message twice. The lock is an ``flock`` on an open file, so the kernel releases it
when its process dies, however it dies.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from mailgui.core.paths import Profile

LOCK_NAME = "sender.lock"


def lock_path(profile: Profile) -> Path:
    return profile.state_dir / LOCK_NAME


class FileLock:
    """A non-blocking, process-wide lock on a file: ``acquire()`` is True when this
    process holds it. Also the desktop app's ``state/window.lock`` (one app per profile)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self) -> bool:
        """Take the lock if nobody holds it; True when this object holds it (now or already)."""
        if self._fd is not None:
            return True
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            return False
        self._fd = fd  # held from here on, whatever happens to the note below
        try:  # who holds it, for `holder()`; best effort (a full disk must not leak it)
            os.ftruncate(fd, 0)
            os.write(fd, f"{os.getpid()}\n".encode())
        except OSError:
            pass
        return True

    def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            try:
                fcntl.flock(fd, fcntl.LOCK_UN)
            finally:
                os.close(fd)

    def holder(self) -> int | None:
        """The pid written by the process holding the lock (for messages), if readable."""
        try:
            text = self.path.read_text().strip()
        except OSError:
            return None
        return int(text) if text.isdigit() else None

    def __enter__(self) -> FileLock:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


class SenderLock(FileLock):
    """The profile's sender lock: ``acquire()`` is True when this process sends."""

    @classmethod
    def for_profile(cls, profile: Profile) -> SenderLock:
        return cls(lock_path(profile))
