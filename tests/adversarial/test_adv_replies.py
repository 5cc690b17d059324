"""Servers that answer badly: one byte at a time, far too slowly, 10 MB of garbage, a reply
cut off by a closed line, terminal escape sequences. Each ends in a clear transient error
(the message stays in the outbox, nothing is failed for good by noise), within the
account's timeout, and without reading more than a bounded amount.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import pytest
from adv_helpers import BODY_MARKER, build_message, engine
from smtp_servers import HostileFactory

from mailgui.core.accounts import Account
from mailgui.core.errors import ServerTimeoutError, TransientError
from mailgui.core.transport import MAX_REPLY, Session

TEN_MB = 10 * 1024 * 1024


def account(server: Any, timeout: float = 2.0) -> Account:
    return Account(
        "work", "me@example.org", host=server.host, port=server.port, security="none",
        timeout=timeout, data_timeout=timeout,
    )  # fmt: skip


def test_replies_one_byte_at_a_time_still_work(tmp_path: Path, hostile: HostileFactory) -> None:
    server = hostile(dribble=0.0)  # every byte of every reply in its own TCP segment
    outbox, _, delivery = engine(tmp_path, server)
    ids = [outbox.add("work", build_message(i)) for i in range(3)]
    report = delivery.flush()
    assert [o.state for o in report.outcomes] == ["sent"] * 3
    assert sum(server.accepted_ids.values()) == 3
    assert {outbox.get(i).state for i in ids} == {"sent"}
    assert server.connections == 1


def test_a_reply_dribbled_slower_than_the_timeout_times_out_once(
    tmp_path: Path, hostile: HostileFactory
) -> None:
    """One byte every 0.3 s: each recv() is within a 1 s timeout, but the greeting alone
    would take 10 s. The reply as a whole gets the timeout."""
    server = hostile(dribble=0.3, greeting=b"220 " + b"s" * 30 + b"\r\n")
    started = time.monotonic()
    with pytest.raises(ServerTimeoutError) as info, Session(account(server, 1.0), None) as s:
        s.open()
    assert time.monotonic() - started < 2.5
    assert "did not answer within 1 second" in info.value.message


@pytest.mark.parametrize(
    "garbage",
    [
        pytest.param(lambda: os.urandom(TEN_MB), id="binary-noise"),
        pytest.param(
            lambda: b"250-" + b"A" * 60 + b"\r\n" * 1 + b"250-xx\r\n" * (TEN_MB // 8),
            id="endless-multiline",
        ),
        pytest.param(lambda: b"this is not smtp\r\n" * (TEN_MB // 18), id="text-lines"),
        pytest.param(lambda: b"2" * TEN_MB, id="one-long-line"),
    ],
)
@pytest.mark.parametrize("where", ["greeting", "dot"])
def test_ten_megabytes_of_garbage(
    tmp_path: Path, hostile: HostileFactory, garbage: Any, where: str
) -> None:
    data = garbage()
    server = hostile(greeting=data) if where == "greeting" else hostile(replies={".": data})
    outbox, _, delivery = engine(tmp_path, server)
    msg_id = outbox.add("work", build_message())
    started = time.monotonic()
    (outcome,) = delivery.flush().outcomes
    assert time.monotonic() - started < 5
    row = outbox.get(msg_id)
    assert (outcome.state, row.state) == ("deferred", "deferred")  # never failed by noise
    assert isinstance(outcome.error, TransientError)
    text = row.last_error or ""
    assert "not an SMTP reply" in text, text
    assert len(text) < 400 and "AAAA" not in text and "this is not smtp" not in text
    if where == "dot":
        assert "may or may not have been delivered" in text


def test_bounded_reader_reads_at_most_a_reply_limit(hostile: HostileFactory) -> None:
    server = hostile(greeting=b"220-ok\r\n" * (TEN_MB // 8))
    with pytest.raises(TransientError), Session(account(server), None) as s:
        s.open()
    assert MAX_REPLY <= 64 * 1024


@pytest.mark.parametrize(
    ("where", "partial", "maybe_sent"),
    [
        ("greeting", b"22", False),
        ("EHLO", b"250-hostile.example\r\n250-PIPE", False),
        ("MAIL", b"250-ok\r\n", False),
        (".", b"25", True),  # the reply to the final dot, cut: "maybe delivered"
    ],
)
def test_server_closes_mid_reply(
    tmp_path: Path, hostile: HostileFactory, where: str, partial: bytes, maybe_sent: bool
) -> None:
    if where == "greeting":
        server = hostile(greeting=partial, hangup_after=["greeting"])
    else:
        server = hostile(replies={where: partial}, hangup_after=[where])
    outbox, _, delivery = engine(tmp_path, server)
    msg_id = outbox.add("work", build_message())
    (outcome,) = delivery.flush().outcomes
    row = outbox.get(msg_id)
    assert (outcome.state, row.state) == ("deferred", "deferred")
    assert isinstance(outcome.error, TransientError) and outcome.error.connection_lost
    assert "closed the connection" in (row.last_error or "")
    assert ("may or may not have been delivered" in (row.last_error or "")) == maybe_sent


def test_escape_sequences_in_replies_are_defused(
    tmp_path: Path, hostile: HostileFactory, profile: Any
) -> None:
    evil = b"550 5.7.1 \x1b[2J\x1b]0;owned\x07 rejected \xe2\x80\xae evil\r\n"
    server = hostile(replies={"MAIL": evil})
    r = profile.run(
        "account", "add", "work", "--email", "me@example.org", "--host", server.host,
        "--port", str(server.port), "--security", "none", "--timeout", "3",
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    r = profile.run("send", "--to", "bob@example.org", "--subject", "x", "--body", BODY_MARKER)
    assert r.returncode == 69, r.stderr
    assert "rejected" in r.stderr
    for bad in ("\x1b", "\x07", "\u202e"):
        assert bad not in r.stderr and bad not in r.stdout
    r = profile.run("outbox", "list", "--json")
    assert "\\u001b" not in r.stdout and "\x1b" not in r.stdout
