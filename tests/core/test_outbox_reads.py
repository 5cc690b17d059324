"""Reading many messages (issue 19, a big outbox): ``list_messages`` and ``get_many``
read plain tuples, and ``iso`` remembers whole seconds; both must give exactly what
``MessageRow.from_sql`` and ``datetime`` give."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from mailgui.core.hints import Hint, Said
from mailgui.core.outbox import _COLUMNS, MessageRow, Outbox, iso, new_claimer
from mailgui.core.outgoing import Outgoing


def outgoing(n: int, *, to: list[str] | None = None) -> Outgoing:
    to = [f"rcpt{n % 3}@example.org"] if to is None else to
    return Outgoing(
        envelope_from="me@example.org",
        recipients=[*to, "carol@example.org"],
        data=f"Subject: s {n}\r\n\r\nbody\r\n".encode(),
        message_id=f"<{n}@example.org>",
        date=datetime.now(UTC),
        subject=f'Ünïcode "{n}"' if n % 2 else f"s {n}",
        sender="Me <me@example.org>",
        to=to,
        cc=["cc@example.org"] if n % 4 == 0 else [],
        bcc=["carol@example.org"],
        smtputf8=bool(n % 5 == 0),
    )


@pytest.fixture
def box(tmp_path: Path) -> Outbox:
    """An outbox whose messages differ in every column the readers convert."""
    outbox = Outbox(tmp_path / "outbox.sqlite3")
    claimer = new_claimer()
    with outbox.transaction():
        for n in range(40):
            outbox.add("work" if n % 2 else "home", outgoing(n), send_at=None)
    for n in range(1, 41, 3):  # some deferred with an error, its hint and recipient errors
        row = outbox.claim_next(claimer, "work" if n % 2 else "home")
        assert isinstance(row, MessageRow)
        said = Said("The server refused the password", Hint("password-refused", "work"), "; ")
        outbox.finish(
            row.id,
            claimer,
            "deferred",
            note="Deferred.",
            error="451 try later",
            said=said if n % 2 else None,
            next_attempt_at=1_800_000_000.25,
            recipient_errors={"carol@example.org": "550 no such user"},
        )
    outbox.db.execute(
        "UPDATE messages SET sent_copy = 'pending', copy_error = 'no folder', "
        "copy_next_at = 1800000100.5, signed = 'openpgp' WHERE id % 7 = 0"
    )
    return outbox


def reference(box: Outbox, where: str = "") -> list[MessageRow]:
    """What the readers returned before issue 19: ``from_sql`` on ``sqlite3.Row``s."""
    rows = box.db.execute(f"SELECT {_COLUMNS} FROM messages {where} ORDER BY id")
    return [MessageRow.from_sql(r) for r in rows]


def test_list_messages_gives_what_from_sql_gives(box: Outbox) -> None:
    assert box.list_messages() == reference(box)
    assert box.list_messages(state="deferred") == reference(box, "WHERE state = 'deferred'")
    assert box.list_messages(account="work") == reference(box, "WHERE account = 'work'")
    assert any(r.last_error_said is not None for r in box.list_messages())
    assert all(type(r.smtputf8) is bool for r in box.list_messages())


def test_get_many_gives_what_from_sql_gives_in_the_order_asked(box: Outbox) -> None:
    by_id = {r.id: r for r in reference(box)}
    ids = [17, 3, 999, 40, 1, 3]
    assert box.get_many(ids) == [by_id[i] for i in ids if i in by_id]


def test_rows_never_share_their_lists(box: Outbox) -> None:
    """Equal JSON texts are decoded once: each row must still get its own list."""
    rows = box.list_messages()
    same = [r for r in rows if r.to == rows[0].to]
    assert len(same) > 1
    same[0].to.append("changed@example.org")
    same[0].recipient_errors["x"] = "y"
    assert all("changed@example.org" not in r.to for r in same[1:])
    assert all("x" not in r.recipient_errors for r in rows[1:])
    assert box.list_messages() == reference(box)


@pytest.mark.parametrize(
    "ts",
    [
        0.0,
        1.0,
        1_800_000_000.0,
        1_800_000_000.25,
        1_800_000_000.998,
        1_800_000_000.9989,
        1_800_000_000.999,
        1_800_000_000.9999994,
        1_800_000_000.9999996,  # rounds to the next second in datetime
        1_799_999_999.9999999,
    ],
)
def test_iso_is_datetimes_text(ts: float) -> None:
    want = datetime.fromtimestamp(ts, UTC).isoformat(timespec="seconds")
    assert iso(ts) == want
    assert iso(ts) == want  # remembered or not, the same
    assert iso(None) is None


def test_as_json_of_listed_rows_is_unchanged(box: Outbox) -> None:
    docs = [r.as_json() for r in box.list_messages()]
    assert docs == [r.as_json() for r in reference(box)]
    json.dumps(docs)  # plain data
