"""The outbox's files and SQLite's POSIX locks (core/outbox_files.py), with real processes.

Closing any descriptor of the database file drops every fcntl lock the process holds on
it. mailgui used to open and close the file for each new ``Outbox``; another process
then checkpointed and deleted the WAL under the first one, and committed rows vanished
(issue 13). These tests run the other process for real.
"""

from __future__ import annotations

import os
import sqlite3
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from test_outbox import outgoing  # the outbox tests' message builder

from mailgui.core import outbox_files
from mailgui.core.errors import OutboxReplacedError, StorageError
from mailgui.core.outbox import Outbox
from mailgui.core.outbox_files import make_private

# A second process: adds N messages through its own Outbox, then closes it (which makes
# SQLite checkpoint and delete the WAL when it believes it is the last user).
_OTHER = """
import sys
from datetime import UTC, datetime
from pathlib import Path
from mailgui.core.outbox import Outbox
from mailgui.core.outgoing import Outgoing
path, start, count = Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
with Outbox(path) as box:
    for n in range(start, start + count):
        box.add("work", Outgoing(
            envelope_from="me@example.org", recipients=["bob@example.org"],
            data=b"Subject: x\\r\\n\\r\\nbody\\r\\n", message_id=f"<{n}@example.org>",
            date=datetime.now(UTC), subject=f"m{n}", sender="me@example.org",
            to=["bob@example.org"], cc=[], bcc=[], smtputf8=False))
"""


def other_process_adds(path: Path, start: int, count: int) -> None:
    subprocess.run([sys.executable, "-c", _OTHER, str(path), str(start), str(count)], check=True)


def subjects(path: Path) -> set[str]:
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
        return {s for (s,) in db.execute("SELECT subject FROM messages")}


def deleted_outbox_files() -> list[str]:
    found = []
    for entry in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{entry}")
        except OSError:
            continue
        if "outbox.sqlite3" in target and target.endswith(" (deleted)"):
            found.append(target)
    return found


@pytest.fixture(autouse=True)
def _forget_poisoned() -> None:
    outbox_files._poisoned.clear()


def test_two_outboxes_in_one_process_keep_their_locks(tmp_path: Path) -> None:
    """The issue's reproduction: this process opens two Outboxes (as the app does, one
    per thread), another process adds and closes twice, this one adds again: all kept."""
    path = tmp_path / "outbox.sqlite3"
    first, second = Outbox(path), Outbox(path)
    try:
        first.add("work", outgoing(0))
        other_process_adds(path, 1000, 200)
        other_process_adds(path, 2000, 200)
        for n in range(5000, 5200):
            first.add("work", outgoing(n))
        second.add("work", outgoing(9000))
        assert deleted_outbox_files() == []
    finally:
        first.close()
        second.close()
    assert len(subjects(path)) == 602
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)


def test_a_lost_lock_is_loud_not_silent(tmp_path: Path) -> None:
    """The guard: when this process's locks are dropped anyway (here by the old bug,
    re-enacted: a descriptor of the database closed) and another process deletes the
    WAL under it, every write here is refused with a sentence, and nothing is lost of
    what the other process wrote."""
    path = tmp_path / "outbox.sqlite3"
    first, second = Outbox(path), Outbox(path)
    try:
        first.add("work", outgoing(0))
        os.close(os.open(path, os.O_RDWR))  # what _private_file used to do
        other_process_adds(path, 1000, 50)
        assert deleted_outbox_files()  # the WAL was unlinked under this process
        with pytest.raises(OutboxReplacedError) as caught:
            first.add("work", outgoing(1))
        assert "was deleted while mailgui had it open" in str(caught.value)
        assert "start it again" in str(caught.value)
        assert isinstance(caught.value, StorageError)  # the CLI's exit 75
        assert isinstance(caught.value, sqlite3.Error)  # the GUI's handlers catch it
        with pytest.raises(OutboxReplacedError):  # every connection of this process
            second.add("work", outgoing(2))
        with pytest.raises(OutboxReplacedError):  # the faces' change poll says it too
            first.data_version()
    finally:
        first.close()
        second.close()
    got = subjects(path)
    assert {f"m{n}" for n in range(1000, 1050)} <= got
    assert "test 1" not in got and "test 2" not in got


def test_an_outbox_moved_aside_while_open_is_noticed(tmp_path: Path) -> None:
    """A person moves the outbox's files aside while mailgui runs: it writes no more
    into the moved files, which nobody would read at that name any more."""
    path = tmp_path / "outbox.sqlite3"
    with Outbox(path) as box:
        box.add("work", outgoing(0))
        for suffix in ("", "-wal", "-shm"):
            os.rename(f"{path}{suffix}", tmp_path / f"aside.sqlite3{suffix}")
        with pytest.raises(OutboxReplacedError, match="was moved or deleted"):
            box.add("work", outgoing(1))
    outbox_files._poisoned.clear()  # as in a new process (the restart)
    with Outbox(path) as fresh:  # a new, empty outbox at the old name
        fresh.add("work", outgoing(2))
    assert subjects(path) == {"test 2"}


def test_a_healthy_outbox_is_never_flagged(tmp_path: Path) -> None:
    """Opening, closing and reopening connections here and in other processes (SQLite
    closes and reopens its files) is not mistaken for a deleted file."""
    path = tmp_path / "outbox.sqlite3"
    with Outbox(path) as box:
        for round_ in range(3):
            with Outbox(path) as other:
                other.add("work", outgoing(100 + round_))
            other_process_adds(path, 1000 * (round_ + 1), 5)
            box.add("work", outgoing(round_))
            box.data_version()
    assert len(subjects(path)) == 3 + 3 + 15


def test_files_are_made_private_by_path(tmp_path: Path) -> None:
    """New: created 0600 under a loose umask. Existing and loose (an older mailgui):
    tightened with chmod, which opens no descriptor; -wal and -shm too."""
    path = tmp_path / "outbox.sqlite3"
    old = os.umask(0o022)
    try:
        with Outbox(path) as box:
            box.add("work", outgoing(0))
            for suffix in ("", "-wal", "-shm"):
                mode = stat.S_IMODE(os.stat(f"{path}{suffix}").st_mode)
                assert mode == 0o600, (suffix, oct(mode))
            for suffix in ("", "-wal", "-shm"):
                os.chmod(f"{path}{suffix}", 0o644)
            make_private(path)  # while a connection is open: must not drop its locks
            for suffix in ("", "-wal", "-shm"):
                assert stat.S_IMODE(os.stat(f"{path}{suffix}").st_mode) == 0o600
            other_process_adds(path, 10, 5)
            box.add("work", outgoing(1))  # still shares the other's WAL: no guard trips
    finally:
        os.umask(old)
    assert len(subjects(path)) == 7
