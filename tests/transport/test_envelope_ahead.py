"""The next envelope behind the final dot, against Debian's Postfix without CHUNKING.

A server that offers PIPELINING but not CHUNKING (aiosmtpd, and Postfix set up with
``smtpd_discard_ehlo_keywords = chunking``, as here) takes each body after DATA. The
final dot of one message then carries the next message's MAIL, RCPT and DATA (RFC 2920
§3.1), so a backlog costs one round trip per message, as with BDAT. What the next
message is comes from the outbox (``Outbox.peek_next``); if another sender takes it
first, the envelope written ahead is withdrawn and nothing of it is delivered.
"""

from __future__ import annotations

from typing import Any

import pytest
from postfix_server import PostfixServer
from test_bdat_postfix import disconnects, kill_while_a_final_reply_is_held, wait_commands, wire
from test_bdat_postfix import message as bdat_message
from waiting import until

from mailgui.core.accounts import Account, AccountStore
from mailgui.core.addresses import Mailbox
from mailgui.core.delivery import Delivery
from mailgui.core.events import DeliveryEvent, Sending
from mailgui.core.message import Draft, build
from mailgui.core.outbox import MessageRow, Outbox
from mailgui.core.transport import Envelope, Session

FROM = "me@example.org"


DOTTED = b"Hello.\r\n.a line with a dot\r\n"  # dot-stuffed on the wire, whole on arrival


def message(tag: str) -> bytes:
    return bdat_message(tag, DOTTED)


def envelope(rcpts: list[str], data: bytes) -> Envelope:
    return Envelope(FROM, tuple(rcpts), len(data))


def open_session(server: PostfixServer) -> Session:
    acct = Account(
        name="pf", email=FROM, host=server.host, port=server.port, security="none", timeout=10
    )
    session = Session(acct, None)
    session.open()
    assert "pipelining" in session.info.features
    assert "chunking" not in session.info.features
    return session


def test_five_messages_one_round_trip_each(
    postfix_data: PostfixServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = disconnects(postfix_data)
    datas = [message(f"ahead{i}") for i in range(5)]
    rcpts = [[f"n{i}@x.test"] for i in range(5)]
    session = open_session(postfix_data)
    events = wire(session, monkeypatch)
    try:
        for i in range(5):
            then = envelope(rcpts[i + 1], datas[i + 1]) if i < 4 else None
            result = session.send(FROM, rcpts[i], datas[i], then=then)
            assert result.accepted == rcpts[i] and result.reply is not None
            assert result.reply.code == 250
    finally:
        session.close()
    # The first message: its envelope (one write, three replies), its body. Each one
    # after that: one write (final dot + the next envelope), then the final reply and
    # the next envelope's three replies.
    assert events[:4] == ["write", "read 250", "read 250", "read 354"]
    per_message = ["write", "read 250", "read 250", "read 250", "read 354"]
    assert events[4 : 4 + 4 * 5] == per_message * 4
    assert events[24:] == ["write", "read 250", "write", "read 221"]  # the last; QUIT
    assert "mail=5 rcpt=5 data=5 quit=1" in wait_commands(postfix_data, before)
    for i in range(5):
        (got,) = postfix_data.wait_for(1, where=f"<ahead{i}@".encode())
        assert got.data == datas[i]  # dot-stuffed on the wire, whole on arrival


def test_the_next_message_refused_recipients_come_back_from_the_envelope_ahead(
    postfix_data: PostfixServer,
) -> None:
    first, partly, nobody, last = (message(t) for t in ("r1", "r2", "r3", "r4"))
    some = ["a@x.test", "refused@x.test"]
    none = ["refused@x.test", "refused2@x.test"]
    with open_session(postfix_data) as session:
        session.send(FROM, ["a@x.test"], first, then=envelope(some, partly))
        result = session.send(FROM, some, partly, then=envelope(none, nobody))
        assert result.accepted == ["a@x.test"] and list(result.refused) == ["refused@x.test"]
        # Postfix answers the DATA written ahead with 554 (no valid recipients).
        result = session.send(FROM, none, nobody, then=envelope(["b@x.test"], last))
        assert result.accepted == [] and sorted(result.refused) == sorted(none)
        assert session.is_open
        assert session.send(FROM, ["b@x.test"], last).accepted == ["b@x.test"]
    assert postfix_data.wait_for(1, where=b"<r4@")
    assert len(postfix_data.wait_for(1, where=b"<r2@")) == 1
    assert not postfix_data.wait_for(1, where=b"<r3@", timeout=0.5)


def test_an_envelope_written_for_another_message_is_withdrawn(
    postfix_data: PostfixServer,
) -> None:
    """The next message is not the one announced: Postfix said 354 to the DATA written
    ahead, so the connection is closed (no QUIT, which would be text), and nothing of
    the announced message is delivered."""
    before = disconnects(postfix_data)
    with open_session(postfix_data) as session:
        session.send(
            FROM, ["a@x.test"], message("w1"), then=envelope(["withdrawn@x.test"], b"x\r\n")
        )
        session.expect(envelope(["c@x.test"], message("w3")))
        assert not session.is_open
    counts = wait_commands(postfix_data, before)
    assert "quit" not in counts and "mail=2 rcpt=2" in counts, counts
    assert postfix_data.wait_for(1, where=b"<w1@")
    assert not [a for a in postfix_data.arrivals() if a.recipient == "withdrawn@x.test"]


def test_a_message_another_sender_took_is_withdrawn_not_sent(
    postfix_data: PostfixServer, tmp_path: Any
) -> None:
    """Between the peek and the claim another sender takes the next message: the
    envelope written for it is withdrawn (the connection closed in DATA), the message
    that is claimed instead goes out on a new connection, and the taken one is never
    sent by this flush. A sender racing another one writes no more envelopes ahead
    (each withdrawal costs a connection)."""
    outbox_file = tmp_path / "outbox.sqlite3"
    accounts = AccountStore(tmp_path / "accounts.toml")
    accounts.save(
        Account(
            name="pf", email=FROM, host=postfix_data.host, port=postfix_data.port,
            security="none", timeout=10,
        )
    )  # fmt: skip
    ids = []
    with Outbox(outbox_file) as box:
        for i in range(4):
            out = build(
                Draft(
                    sender=Mailbox("", FROM),
                    to=[Mailbox("", f"took{i}@x.test")],
                    subject=f"Took {i}",
                    text="Hello.\n",
                )
            )
            ids.append(box.add("pf", out))
    other = Outbox(outbox_file)

    def listener(event: DeliveryEvent) -> None:
        if isinstance(event, Sending) and event.id == ids[0]:
            # The first message's envelope is out; the second is peeked (its envelope
            # will ride behind the first's dot) and taken now by someone else.
            taken = other.claim_next("someone-else", "pf")
            assert isinstance(taken, MessageRow) and taken.id == ids[1]

    before = disconnects(postfix_data)
    with Outbox(outbox_file) as box:
        peeked: list[int] = []
        peek = box.peek_next

        def counting(*args: Any, **kwargs: Any) -> MessageRow | None:
            row = peek(*args, **kwargs)
            peeked.append(-1 if row is None else row.id)
            return row

        box.peek_next = counting  # type: ignore[method-assign]
        report = Delivery(box, accounts, listener=listener).flush()
        states = {i: box.get(i).state for i in ids}
    other.close()
    assert [o.state for o in report.outcomes] == ["sent", "sent", "sent"]
    assert states == {ids[0]: "sent", ids[1]: "sending", ids[2]: "sent", ids[3]: "sent"}
    assert peeked == [ids[1]]  # after the withdrawal, no envelope ahead
    until(lambda: disconnects(postfix_data) >= before + 2, what="two connections to end")
    got = sorted(a.recipient for a in postfix_data.wait_for(3, where=b"Subject: Took "))
    assert got == ["took0@x.test", "took2@x.test", "took3@x.test"]


def test_sigkill_while_a_final_reply_is_outstanding(
    profile: Any, postfix_data: PostfixServer
) -> None:
    """Killed while Postfix holds the third message's final reply, with the fourth
    message's envelope behind that dot: two sent, the third alone in doubt, the fourth
    and fifth untouched (nothing of the fourth was delivered: an envelope is not a
    message); after the next flush all arrived, only the third possibly twice."""
    kill_while_a_final_reply_is_held(profile, postfix_data, "Ahead kill")
