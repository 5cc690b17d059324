"""``mailgui outbox list --json`` of many messages (issue 19, a big outbox): one JSON
document, an object a line, written by json's C encoder (``indent=`` would run its
pure-Python one: 2.6 s for 100 000 messages)."""

from __future__ import annotations

import contextlib
import gc
import io
import json
import sqlite3
from typing import TYPE_CHECKING, Any

import pytest
from backlog import outgoing

from mailgui import cli
from mailgui.core.outbox import MessageRow, Outbox, new_claimer

if TYPE_CHECKING:
    from processes import Profile


def written(docs: list[dict[str, Any]]) -> str:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        cli._print_json_list(docs)
    return out.getvalue()


def dumped(docs: list[dict[str, Any]]) -> str:
    """What ``_print_json_list`` writes: an object a line, inside the list's brackets."""
    return "[\n" + ",\n".join("  " + json.dumps(d, ensure_ascii=False) for d in docs) + "\n]\n"


ODD = 'é "quoted" back\\slash\ttab\nnewline \x01 \u2028 % %s {0} 😀'
MESSAGE: dict[str, Any] = {
    "id": 7,
    "account": "work",
    "state": "deferred",
    "subject": ODD,
    "from": "Me <me@example.org>",
    "to": ["bob@example.org", ODD],
    "cc": [],
    "bcc": ["carol@example.org"],
    "size": 2048,
    "created_at": "2026-12-08T02:00:00+00:00",
    "sent_at": None,
    "last_error": None,
    "recipient_errors": {"bob@example.org": "550 no", ODD: ODD},
    "sent_copy": None,
}


@pytest.mark.parametrize(
    "docs",
    [
        [{}],
        [MESSAGE],
        [MESSAGE, {**MESSAGE, "id": 8, "to": [], "recipient_errors": {}, "sent_at": "x"}],
        [{**MESSAGE, "%s key": "%", "size": 1.5, "to": [["nested"]]}],
    ],
)
def test_one_document_an_object_a_line(docs: list[dict[str, Any]]) -> None:
    text = written(docs)
    assert json.loads(text) == docs
    lines = text.rstrip("\n").split("\n")  # not splitlines(): U+2028 stays as it is
    assert lines[0] == "[" and lines[-1] == "]" and len(lines) == len(docs) + 2
    assert [json.loads(line.rstrip(",")) for line in lines[1:-1]] == docs
    assert "é" in text or not any("é" in json.dumps(d) for d in docs)  # not \u-escaped


def test_an_empty_list() -> None:
    assert written([]) == "[]\n"


def test_list_json_of_a_backlog_is_the_rows_as_json(profile: Profile) -> None:
    """The real command on 3 000 messages (some deferred with an error): its output is
    what json.dumps makes of every row's ``as_json``, and the collector is on after."""
    claimer = new_claimer()
    path = profile.home / "data" / "outbox.sqlite3"
    with Outbox(path) as box:
        with box.transaction():
            for n in range(3000):
                box.add("work", outgoing(n, "Backlog {n} — ünïcode"))
        with box.transaction():
            for _ in range(500):
                row = box.claim_next(claimer, "work")
                assert isinstance(row, MessageRow)
                box.finish(
                    row.id,
                    claimer,
                    "deferred",
                    note="Deferred.",
                    error="451 4.7.0 try again later",
                    next_attempt_at=1_900_000_000.5,
                    recipient_errors={"bob@example.org": "451 busy"},
                )
        want = [r.as_json() for r in box.list_messages()]
    r = profile.run("outbox", "list", "--json")
    assert r.returncode == 0, r.stderr
    assert r.stdout == dumped(want)
    assert len(json.loads(r.stdout)) == 3000
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert cli.main(["outbox", "list", "--json", "--state", "deferred"]) == 0
    assert out.getvalue() == dumped([d for d in want if d["state"] == "deferred"])
    assert gc.isenabled()
    with sqlite3.connect(path) as db:  # the listing read; it changed nothing it listed
        assert db.execute("SELECT COUNT(*) FROM messages").fetchone()[0] == 3000
