"""The outbox: durable states, atomic claims, crash recovery (real SQLite files)."""

import json
import multiprocessing
import os
import signal
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from clock import Clock

from mailgui.core.errors import UsageError
from mailgui.core.outbox import Outbox, new_claimer
from mailgui.core.outgoing import Outgoing


def outgoing(n: int = 1) -> Outgoing:
    return Outgoing(
        envelope_from="me@example.org",
        recipients=["bob@example.org", "carol@example.org"],
        data=f"Subject: test {n}\r\n\r\nbody\r\n".encode(),
        message_id=f"<{n}@example.org>",
        date=datetime.now(UTC),
        subject=f"test {n}",
        sender="me@example.org",
        to=["bob@example.org"],
        cc=[],
        bcc=["carol@example.org"],
        smtputf8=False,
    )


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def outbox(tmp_path: Path, clock: Clock) -> Outbox:
    with Outbox(tmp_path / "outbox.sqlite3", clock=clock) as box:
        yield box


def test_add_is_durable_and_readable_by_another_connection(outbox: Outbox) -> None:
    msg_id = outbox.add("work", outgoing())
    other = sqlite3.connect(outbox.path)
    assert other.execute("SELECT state FROM messages WHERE id = ?", (msg_id,)).fetchone() == (
        "queued",
    )
    assert other.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    row = outbox.get(msg_id)
    assert row.pending == ["bob@example.org", "carol@example.org"]
    assert outbox.body(msg_id).startswith(b"Subject: test 1")
    doc = row.as_json()
    assert set(doc) >= {
        "id",
        "account",
        "state",
        "subject",
        "from",
        "to",
        "cc",
        "bcc",
        "message_id",
        "created_at",
        "send_at",
        "next_attempt_at",
        "sent_at",
        "attempts",
        "last_error",
        "recipient_errors",
    }
    json.dumps(doc)


def test_scheduled_then_due(outbox: Outbox, clock: Clock) -> None:
    msg_id = outbox.add("work", outgoing(), send_at=clock.now + 60)
    assert outbox.get(msg_id).state == "scheduled"
    outbox.promote_due()
    assert outbox.claim_next("me", "work", include_deferred=True) is None
    clock.now += 61
    outbox.promote_due()
    assert outbox.get(msg_id).state == "queued"


def test_claim_is_exclusive_and_finish_needs_the_claim(outbox: Outbox, clock: Clock) -> None:
    msg_id = outbox.add("work", outgoing())
    row = outbox.claim_next("A", "work")
    assert row is not None and row.state == "sending" and row.attempts == 1
    assert outbox.claim_next("B", "work") is None
    outbox.finish(msg_id, "B", "sent", note="not mine")  # ignored: B has no claim
    assert outbox.get(msg_id).state == "sending"
    outbox.finish(
        msg_id, "A", "deferred", note="x", error="451 later", next_attempt_at=clock.now + 60
    )
    row = outbox.get(msg_id)
    assert (row.state, row.last_error, row.claimed_by) == ("deferred", "451 later", None)
    assert outbox.claim_next("B", "work") is None  # back-off
    assert outbox.claim_next("B", "work", include_deferred=True, since=clock.now + 1) is not None


def test_deferred_becomes_queued_when_due(outbox: Outbox, clock: Clock) -> None:
    msg_id = outbox.add("work", outgoing())
    outbox.claim_next("A", "work")
    outbox.finish(msg_id, "A", "deferred", note="x", error="e", next_attempt_at=clock.now + 60)
    clock.now += 60
    outbox.promote_due()
    assert outbox.get(msg_id).state == "queued"


def test_retry_and_delete(outbox: Outbox) -> None:
    msg_id = outbox.add("work", outgoing())
    outbox.claim_next("A", "work")
    with pytest.raises(UsageError, match="being sent"):
        outbox.delete(msg_id)
    outbox.finish(msg_id, "A", "failed", note="x", error="550 no")
    assert outbox.retry(msg_id).state == "queued"
    outbox.delete(msg_id)
    with pytest.raises(UsageError, match="no message"):
        outbox.get(msg_id)


def test_sent_records_recipient_errors_and_history(outbox: Outbox) -> None:
    msg_id = outbox.add("work", outgoing())
    outbox.claim_next("A", "work")
    outbox.finish(
        msg_id, "A", "sent", note="ok", recipient_errors={"carol@example.org": "550 no"}, pending=[]
    )
    row = outbox.get(msg_id)
    assert row.state == "sent" and row.sent_at is not None
    assert row.recipient_errors == {"carol@example.org": "550 no"}
    assert [e.kind for e in outbox.events(msg_id)] == ["queued", "sent"]
    assert len(outbox.recent_sends("work")) == 1


def test_claim_of_a_dead_process_is_recovered(outbox: Outbox) -> None:
    msg_id = outbox.add("work", outgoing())
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        claimer = f"{new_claimer().split('|')[0]}|{proc.pid}||x"
        outbox.claim_next(claimer, "work")
        assert outbox.recover_stale() == []  # alive: hands off
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert outbox.recover_stale() == [msg_id]
    row = outbox.get(msg_id)
    assert row.state == "queued" and "may arrive twice" in (row.last_error or "")


def test_expired_claim_of_unknown_host_is_recovered(outbox: Outbox, clock: Clock) -> None:
    msg_id = outbox.add("work", outgoing())
    outbox.claim_next("elsewhere|1||x", "work")
    assert outbox.recover_stale() == []
    clock.now += 31 * 60
    assert outbox.recover_stale() == [msg_id]


def _claim_all(path: str, name: str, queue: "multiprocessing.Queue[list[int]]") -> None:
    box = Outbox(Path(path))
    got = []
    while row := box.claim_next(name, "work"):
        got.append(row.id)
    queue.put(got)


def test_concurrent_claims_from_processes_never_overlap(tmp_path: Path) -> None:
    path = tmp_path / "outbox.sqlite3"
    with Outbox(path) as box:
        ids = {box.add("work", outgoing(i)) for i in range(200)}
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    procs = [ctx.Process(target=_claim_all, args=(str(path), f"p{i}", queue)) for i in range(3)]
    for p in procs:
        p.start()
    results = [queue.get(timeout=60) for _ in procs]
    for p in procs:
        p.join(timeout=30)
    claimed = [i for r in results for i in r]
    assert sorted(claimed) == sorted(ids)  # each exactly once
    assert os.path.exists(path)


def test_a_lazy_commit_leaves_the_connection_durable_and_settle_syncs_it(
    outbox: Outbox,
) -> None:
    """The sender's outcome + claim commit may skip its fsync (see Outbox.transaction);
    every other write still syncs, and settle() puts the lazy ones on disk."""
    outbox.add("work", outgoing(1))  # synced: the next lazy commit, within a second, need not
    with outbox.transaction(lazy=True):
        row = outbox.claim_next("A", "work")
    assert row is not None
    assert outbox.db.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL again
    assert outbox._unsynced
    outbox.settle()
    assert not outbox._unsynced
    # killed now, another connection reads what the lazy commit wrote (it is in the WAL)
    other = sqlite3.connect(outbox.path)
    assert other.execute("SELECT state FROM messages").fetchone() == ("sending",)
