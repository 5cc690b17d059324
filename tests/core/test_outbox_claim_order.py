"""claim_next takes the oldest due message through the messages_due index (schema 2)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from clock import Clock

from mailgui.core.addresses import Mailbox
from mailgui.core.message import Draft, build
from mailgui.core.outbox import SCHEMA_VERSION, MessageRow, Outbox, new_claimer


def _add(box: Outbox, account: str, subject: str) -> int:
    draft = Draft(
        sender=Mailbox("", "me@example.org"),
        to=[Mailbox("", "bob@example.org")],
        subject=subject,
        text="hi",
    )
    return box.add(account, build(draft))


def test_a_version_1_outbox_gets_the_index_and_the_hint_column(tmp_path: Path) -> None:
    path = tmp_path / "outbox.sqlite3"
    with Outbox(path) as box:
        _add(box, "a", "kept")
    db = sqlite3.connect(path)
    db.execute("DROP INDEX messages_due")
    db.execute("ALTER TABLE messages DROP COLUMN error_hint")  # added by version 3
    db.execute("DROP INDEX messages_copies")  # these by version 4
    db.execute("DROP TABLE sent_folders")
    for column in ("sent_copy", "copy_error", "copy_attempts", "copy_next_at",
                   "copy_claimed_by", "copy_claimed_at", "signed", "encrypted"):  # fmt: skip
        db.execute(f"ALTER TABLE messages DROP COLUMN {column}")
    db.execute("PRAGMA user_version=1")
    db.commit()
    db.close()
    with Outbox(path) as box:
        names = {r[1] for r in box.db.execute("PRAGMA index_list(messages)")}
        assert "messages_due" in names
        assert box.db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 4
        assert [r.subject for r in box.list_messages()] == ["kept"]
        assert box.list_messages()[0].last_error_said is None
        assert box.list_messages()[0].sent_copy is None


def test_oldest_first_across_queued_and_deferred(tmp_path: Path) -> None:
    clock = Clock(1000.0)
    with Outbox(tmp_path / "outbox.sqlite3", clock=clock) as box:
        ids = []
        for i in range(4):
            clock.advance(1)
            ids.append(_add(box, "a", f"m{i}"))
        _add(box, "other", "not this account")
        me = new_claimer()
        # m1 and m3 deferred: with include_deferred they keep their place in the order
        for msg_id in (ids[1], ids[3]):
            box.db.execute(
                "UPDATE messages SET state = 'deferred', next_attempt_at = 9999 WHERE id = ?",
                (msg_id,),
            )
        clock.advance(1)
        since = clock.now
        got = []
        while isinstance(
            row := box.claim_next(me, "a", include_deferred=True, since=since), MessageRow
        ):
            got.append(row.id)
        assert got == ids
        # without include_deferred only queued ones, and only the given ids
        box.db.execute("UPDATE messages SET state = 'queued', claimed_by = NULL")
        box.db.execute("UPDATE messages SET state = 'deferred' WHERE id = ?", (ids[0],))
        row = box.claim_next(me, "a", ids=[ids[0], ids[2]])
        assert isinstance(row, MessageRow) and row.id == ids[2]
        assert box.claim_next(me, "a", ids=[ids[0], ids[2]]) is None
        assert box.claim_next(me, "a", ids=[]) is None
