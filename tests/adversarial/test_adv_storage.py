"""The outbox file under stress: a full disk while queueing, a damaged or locked database,
and the profile's files being private whatever the umask."""

from __future__ import annotations

import hashlib
import json
import os
import resource
import shutil
import signal
import sqlite3
import stat
import subprocess
from pathlib import Path
from typing import Any

import pytest
from adv_helpers import BODY_MARKER, build_message, one_sentence
from smtp_servers import HostileFactory

from mailgui.core.errors import EX_CONFIG, EX_TEMPFAIL, OutboxDamagedError, StorageError
from mailgui.core.outbox import Outbox
from mailgui.core.paths import Profile as Paths


def outbox_path(profile: Any) -> Path:
    return Paths.from_env(profile.env).outbox_file


def add_account(profile: Any, server: Any) -> None:
    r = profile.run(
        "account", "add", "work", "--email", "me@example.org", "--host", server.host,
        "--port", str(server.port), "--security", "none", "--timeout", "3",
    )  # fmt: skip
    assert r.returncode == 0, r.stderr


def queue(profile: Any, subject: str, body: str | None = BODY_MARKER, *extra: str) -> Any:
    text = ["--body", body] if body is not None else []
    return profile.run(
        "send", "--queue-only", "--json", "--to", "bob@example.org", "--subject", subject,
        *text, *extra,
    )  # fmt: skip


def listed(profile: Any) -> list[dict[str, Any]]:
    r = profile.run("outbox", "list", "--json")
    assert r.returncode == 0, r.stderr
    docs: list[dict[str, Any]] = json.loads(r.stdout)
    return docs


def integrity(path: Path) -> str:
    db = sqlite3.connect(path)
    try:
        return str(db.execute("PRAGMA integrity_check").fetchone()[0])
    finally:
        db.close()


# --- a full disk --------------------------------------------------------------------------


def test_disk_full_in_add_is_a_clear_error_and_keeps_what_was_there(tmp_path: Path) -> None:
    """SQLite's own "database or disk is full" (max_page_count: the real SQLITE_FULL path)."""
    with Outbox(tmp_path / "outbox.sqlite3") as box:
        ids = [box.add("work", build_message(i)) for i in range(3)]
        pages = box.db.execute("PRAGMA page_count").fetchone()[0]
        box.db.execute(f"PRAGMA max_page_count={pages}")
        big = build_message(9, subject="big")
        big = big._replace(data=big.data + b"x" * 200_000 + b"\r\n")
        with pytest.raises(StorageError) as info:
            box.add("work", big)
        err = info.value
        assert err.exit_code == EX_TEMPFAIL
        assert str(tmp_path / "outbox.sqlite3") in err.message
        assert "disk" in err.message and "not queued" in err.message
        assert [r.id for r in box.list_messages()] == ids  # nothing half-written
        assert all(BODY_MARKER.encode() in box.body(i) for i in ids)
        huge = big._replace(data=big.data + b"y" * 3_000_000 + b"\r\n")
        with pytest.raises(StorageError):  # written as a blob, in pieces
            box.add("work", huge)
        assert [r.id for r in box.list_messages()] == ids
        box.db.execute("PRAGMA max_page_count=1073741823")
        assert box.add("work", build_message(4)) > ids[-1]  # space again: works
    assert integrity(tmp_path / "outbox.sqlite3") == "ok"


def _limit_file_size(limit: int) -> None:
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # EFBIG instead of being killed
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))


def test_disk_full_while_queueing_from_the_cli(profile: Any, hostile: HostileFactory) -> None:
    """A real write failure: the CLI runs with a file-size limit (RLIMIT_FSIZE), so every
    write past 64 kB fails as on a full disk (EFBIG)."""
    add_account(profile, hostile())
    for i in range(3):
        r = queue(profile, f"Before {i}")
        assert r.returncode == 0, r.stderr
    big = profile.home.parent / "big.txt"
    big.write_text("x" * 300_000)
    r = subprocess.run(
        [*profile.command, "send", "--queue-only", "--to", "bob@example.org",
         "--subject", "Too big", "--body-file", str(big)],
        env=profile.env, capture_output=True, text=True, timeout=30,
        preexec_fn=lambda: _limit_file_size(64 * 1024),
    )  # fmt: skip
    assert r.returncode == EX_TEMPFAIL, r.stderr
    sentence = one_sentence(r.stderr)
    assert str(outbox_path(profile)) in sentence
    assert "free some disk space" in sentence and "not queued" in sentence
    docs = listed(profile)
    assert [d["subject"] for d in docs] == ["Before 0", "Before 1", "Before 2"]
    assert {d["state"] for d in docs} == {"queued"}
    assert integrity(outbox_path(profile)) == "ok"


def test_disk_full_on_a_real_small_filesystem(profile: Any, hostile: HostileFactory) -> None:
    """A 1 MB tmpfs (needs root and mount): queue until the disk is full."""
    mnt = profile.home / "small"
    mnt.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mnt)], capture_output=True
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
    try:
        env = dict(profile.env, MAILGUI_HOME=str(mnt))
        small = type(profile)(home=mnt, env=env)
        add_account(small, hostile())
        body = profile.home.parent / "fill.txt"
        body.write_text("y" * 300_000)
        results = [queue(small, f"Fill {i}", None, "--body-file", str(body)) for i in range(5)]
        codes = [r.returncode for r in results]
        assert 0 in codes and EX_TEMPFAIL in codes, codes
        first_bad = codes.index(EX_TEMPFAIL)
        assert all(c == 0 for c in codes[:first_bad])
        sentence = one_sentence(results[first_bad].stderr)
        assert "free some disk space" in sentence
        kept = [json.loads(r.stdout)["subject"] for r in results if r.returncode == 0]
        assert [d["subject"] for d in listed(small)] == kept
    finally:
        subprocess.run(["umount", "-l", str(mnt)], capture_output=True)


# --- a damaged or locked outbox ----------------------------------------------------------


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _damage(path: Path, how: str) -> None:
    data = bytearray(path.read_bytes())
    if how == "garbage":
        data = bytearray(os.urandom(len(data)))
    elif how == "truncated":
        data = data[: len(data) // 3]
    elif how == "page":  # one page in the middle of the file overwritten
        page = len(data) // 4096 // 2
        data[page * 4096 : (page + 1) * 4096] = os.urandom(4096)
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("how", ["garbage", "truncated", "page"])
def test_a_damaged_outbox_is_named_kept_and_recoverable(
    profile: Any, hostile: HostileFactory, how: str
) -> None:
    server = hostile()
    add_account(profile, server)
    path = outbox_path(profile)
    path.parent.mkdir(parents=True, exist_ok=True)
    with Outbox(path) as box:
        for i in range(40):
            out = build_message(i, subject=f"Kept {i}")
            box.add("work", out._replace(data=out.data + b"z" * 3000 + b"\r\n"))
    assert not Path(str(path) + "-wal").exists() or Path(str(path) + "-wal").stat().st_size == 0
    _damage(path, how)
    digest = _digest(path)

    damaged = 0
    for args in (
        ["outbox", "list"], ["outbox", "show", "20"], ["outbox", "flush"],
        ["send", "--to", "bob@example.org", "--subject", "new", "--body", "b"],
    ):  # fmt: skip
        r = profile.run(*args)
        assert "Traceback" not in r.stderr and "internal error" not in r.stderr, (args, r.stderr)
        # 64: "no message 20" when damage hides rows without SQLite noticing
        assert r.returncode in (0, 64, EX_CONFIG), (args, r.stderr)
        assert path.exists()  # never deleted
        if r.returncode == EX_CONFIG:
            sentence = one_sentence(r.stderr)
            assert str(path) in sentence and "damaged" in sentence and "README" in sentence
            assert "deleted nothing" in sentence
            damaged += 1
        if args[:2] == ["outbox", "show"]:
            assert _digest(path) == digest  # reading changes nothing
    assert damaged >= 1
    for body in server.accepted:  # whatever went out is whole, never half-read garbage
        assert b"Subject: new" in body or (b"Subject: Kept" in body and b"zzzz" in body)

    # The README's recovery, step by step: move it aside (mailgui starts a new outbox),
    # rescue what SQLite can still read, load it into the new outbox.
    sent_before = sum(server.accepted_ids.values())
    aside = path.with_name("outbox.sqlite3.damaged")
    path.rename(aside)
    for suffix in ("-wal", "-shm"):
        Path(str(path) + suffix).unlink(missing_ok=True)
    assert listed(profile) == []  # the new, empty outbox
    sqlite = shutil.which("sqlite3")
    if sqlite is None:
        return
    out = subprocess.run([sqlite, str(aside), ".recover"], capture_output=True, timeout=30)
    if out.returncode != 0:  # Debian 12's sqlite3 3.40 .recover is broken: .dump then
        out = subprocess.run([sqlite, str(aside), ".dump"], capture_output=True, timeout=30)
    # .dump of a damaged file ends in "ROLLBACK; -- due to errors": keep what it read.
    rescued = out.stdout.replace(b"\nROLLBACK; -- due to errors\n", b"\nCOMMIT;\n")
    subprocess.run([sqlite, str(path)], input=rescued, capture_output=True, timeout=30)
    r = profile.run("outbox", "list", "--json")
    assert r.returncode == 0, r.stderr
    recovered = json.loads(r.stdout)
    print(f"{how}: rescued {len(recovered)} messages (40 queued, maybe 1 sent meanwhile)")
    assert all(d["subject"].startswith("Kept ") or d["subject"] == "new" for d in recovered)
    assert aside.exists()
    if how != "page":
        return
    assert recovered  # one bad page costs some messages, not all
    r = profile.run("outbox", "flush", "--json")  # what was rescued goes out
    assert "Traceback" not in r.stderr and "internal error" not in r.stderr, r.stderr
    states = [d["state"] for d in json.loads(r.stdout)]
    assert states and set(states) <= {"sent", "failed"}
    assert sum(server.accepted_ids.values()) == states.count("sent") + sent_before


def test_a_locked_outbox_is_a_clear_temporary_error(tmp_path: Path) -> None:
    path = tmp_path / "outbox.sqlite3"
    with Outbox(path) as box:
        ids = [box.add("work", build_message(i)) for i in range(2)]
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN EXCLUSIVE")  # an sqlite3 shell or a backup tool holding the lock
    try:
        with Outbox(path, busy_timeout=0.3) as box:  # opening while locked
            pass
    except StorageError as exc:
        opened = exc
    else:
        opened = None
    try:
        assert opened is not None
        assert opened.exit_code == EX_TEMPFAIL
        assert str(path) in opened.message and "locked by another program" in opened.message
    finally:
        other.execute("ROLLBACK")
    with Outbox(path, busy_timeout=0.3) as box:
        other.execute("BEGIN EXCLUSIVE")
        try:
            with pytest.raises(StorageError, match="locked by another program"):
                box.add("work", build_message(5))
            assert [r.id for r in box.list_messages()] == ids  # reading still works
        finally:
            other.execute("ROLLBACK")
        assert box.add("work", build_message(6)) == ids[-1] + 1
    other.close()


def test_damaged_error_class(tmp_path: Path) -> None:
    path = tmp_path / "outbox.sqlite3"
    path.write_bytes(b"this is not an SQLite database at all" * 200)
    with pytest.raises(OutboxDamagedError) as info:
        Outbox(path)
    assert info.value.exit_code == EX_CONFIG
    assert path.read_bytes().startswith(b"this is not")


# --- private files ------------------------------------------------------------------------


def test_profile_files_are_private_whatever_the_umask(
    profile: Any, hostile: HostileFactory, tmp_path: Path
) -> None:
    server = hostile()

    def run(*args: str, stdin: str | None = None) -> None:
        r = subprocess.run(
            [*profile.command, *args], env=profile.env, capture_output=True, text=True,
            input=stdin, timeout=30, preexec_fn=lambda: os.umask(0),
        )  # fmt: skip
        assert r.returncode == 0, r.stderr

    run("account", "add", "work", "--email", "me@example.org", "--host", server.host,
        "--port", str(server.port), "--security", "none")  # fmt: skip
    run("send", "--to", "bob@example.org", "--subject", "s", "--body", "b")
    run("outbox", "list")
    # while a connection is open the -wal and -shm files exist: check them too
    with Outbox(outbox_path(profile)) as box:
        box.add("work", build_message())
        seen = {}
        for path in profile.home.rglob("*"):
            seen[path.relative_to(profile.home).as_posix()] = stat.S_IMODE(path.stat().st_mode)
    expected_files = {
        "config/accounts.toml", "data/outbox.sqlite3", "data/outbox.sqlite3-wal",
        "data/outbox.sqlite3-shm", "state/mailgui.log",
    }  # fmt: skip
    assert expected_files <= set(seen), seen
    wrong = {
        p: oct(m) for p, m in seen.items()
        if m != (0o700 if (profile.home / p).is_dir() else 0o600)
    }  # fmt: skip
    assert not wrong, wrong


def test_existing_loose_files_are_made_private(profile: Any, hostile: HostileFactory) -> None:
    """A profile written by an older mailgui (0644 / 0755) is tightened on first use."""
    server = hostile()
    add_account(profile, server)
    assert queue(profile, "x").returncode == 0
    for path in profile.home.rglob("*"):
        path.chmod(0o755 if path.is_dir() else 0o644)
    assert queue(profile, "y").returncode == 0
    loose = [
        str(p) for p in profile.home.rglob("*")
        if p.name != "accounts.toml" and stat.S_IMODE(p.stat().st_mode) & 0o077
    ]  # fmt: skip
    assert not loose, loose


def test_a_log_write_error_prints_no_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The log is best effort: on a full disk its write errors are not printed over the
    one sentence the person needs (logging's default prints a traceback to stderr)."""
    import logging

    from mailgui.core.log_file import private_log

    handler = private_log(tmp_path / "x.log")
    try:
        assert stat.S_IMODE((tmp_path / "x.log").stat().st_mode) == 0o600
        handler.stream.close()

        class Full:
            def write(self, text: str) -> None:
                raise OSError(28, "No space left on device")

            def flush(self) -> None:
                pass

        handler.stream = Full()  # type: ignore[assignment]
        handler.emit(logging.LogRecord("mailgui", logging.INFO, __file__, 1, "m", None, None))
    finally:
        handler.close()
    assert capsys.readouterr().err == ""
