"""The outbox's files on disk, handled so that SQLite's locks survive.

SQLite locks its database with POSIX (``fcntl``) locks. Those belong to the *process*
and the file, not to a descriptor: closing *any* descriptor of the database file drops
every lock the process holds on it, SQLite's included ("How To Corrupt An SQLite
Database File", section 2.2). Another process then believes it is the last user,
checkpoints and deletes the ``-wal`` and ``-shm`` files, and from then on the two write
into different journals: committed messages vanish, or the file is damaged. So nothing
here opens the database file while this process may hold a connection to it:

- ``make_private`` creates a new file with ``O_EXCL`` (a file that did not exist has no
  connection yet) and tightens an existing one by *path* (``chmod``), never through a
  descriptor. SQLite gives ``-wal``, ``-shm`` and ``-journal`` the mode of the database.
- ``FileGuard`` makes the same class of bug loud instead of silent: before and after
  every write, it checks that the files SQLite has open in this process are still the
  ones at the outbox's path (not unlinked, not replaced). When they are not, every
  write in this process is refused (``core.outbox`` raises ``OutboxReplacedError``): the
  shared memory index is shared by all of a process's connections, so no connection of
  this process can be trusted until all of them are closed, that is until mailgui
  restarts.

The guard reads ``/proc/self/fd`` (Linux; elsewhere it is off). It watches the database,
``-wal`` and ``-shm``: SQLite never deletes those while a connection is open, whereas a
rollback ``-journal`` comes and goes with each transaction, legitimately.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

SUFFIXES = ("", "-wal", "-shm", "-journal")  # what make_private tightens
WATCHED = ("", "-wal", "-shm")  # what FileGuard checks
_PROC_FDS = "/proc/self/fd"
_DELETED = " (deleted)"

# Real paths of outboxes whose files were found deleted or replaced under this process.
_poisoned: dict[str, str] = {}


def make_private(path: Path) -> None:
    """Create ``path`` readable by its owner only, before SQLite does (it would use 0644),
    and tighten an existing database and its side files made under a looser umask."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    except FileExistsError:
        pass
    else:
        os.close(fd)  # safe: the file is new, so no connection of ours has it open
    for suffix in SUFFIXES:
        name = f"{path}{suffix}"
        try:
            mode = os.stat(name).st_mode
        except FileNotFoundError:
            continue
        if stat.S_IMODE(mode) & 0o077:
            os.chmod(name, 0o600)  # by path: opens no descriptor, so drops no lock


class FileGuard:
    """Watches the descriptors this process has open on one outbox's files."""

    def __init__(self, path: Path) -> None:
        self.real = os.path.realpath(path)
        # fd -> (suffix, st_dev, st_ino) of what it pointed to when last scanned
        self._known: dict[int, tuple[str, int, int]] = {}
        self._all_found = False  # the last scan found a descriptor of each watched file
        self._proc = os.path.isdir(_PROC_FDS)

    def _scan(self) -> None:
        self._known = {}
        self._all_found = False
        if not self._proc:
            return
        names = {f"{self.real}{s}": s for s in WATCHED}
        try:
            fds = os.listdir(_PROC_FDS)
        except OSError:
            return
        for entry in fds:
            try:
                fd = int(entry)
                target = os.readlink(f"{_PROC_FDS}/{entry}")
                suffix = names.get(target.removesuffix(_DELETED))
                if suffix is None:
                    continue
                st = os.fstat(fd)
            except (ValueError, OSError):
                continue  # the listing's own descriptor, or one closed meanwhile
            self._known[fd] = (suffix, st.st_dev, st.st_ino)
        self._all_found = len({s for s, _, _ in self._known.values()}) == len(WATCHED)

    def problem(self) -> str | None:
        """What is wrong with the files this process has open, in words, or None."""
        if self.real in _poisoned:
            return _poisoned[self.real]
        found = self._check()
        if found is None and not self._all_found:
            self._scan()  # first use, or SQLite opened its files since: look again
            found = self._check(rescanned=True)
        if found is not None:
            _poisoned[self.real] = found
        return found

    def _check(self, rescanned: bool = False) -> str | None:
        """One pass over the known descriptors: two system calls each, about 5 µs."""
        for fd, (suffix, dev, ino) in self._known.items():
            name = f"{self.real}{suffix}"
            try:
                st = os.fstat(fd)
            except OSError:
                st = None
            if st is None or (st.st_dev, st.st_ino) != (dev, ino):
                if rescanned:
                    continue  # closed again since the scan: not ours to judge
                self._scan()  # SQLite closed or reopened a file: start over
                return self._check(rescanned=True)
            if st.st_nlink == 0:
                return f"{name} was deleted while mailgui had it open"
            try:
                at_path = os.stat(name)
            except FileNotFoundError:
                return f"{name} was moved or deleted while mailgui had it open"
            except OSError:
                continue
            if (at_path.st_dev, at_path.st_ino) != (dev, ino):
                return f"{name} was replaced while mailgui had it open"
        return None
