"""BDAT (CHUNKING, RFC 3030) against Debian's Postfix: one round trip per message.

Postfix offers PIPELINING and CHUNKING, so ``Session.send`` writes MAIL, every RCPT,
``BDAT <size> LAST`` and the body at once, then reads the replies. What arrives is read
back from Postfix's delivery (``postfix_server``); what went over the wire, from the
session's own writes and reads, and from Postfix's log (its per-connection command
counts, ``bdat=N/M``).
"""

from __future__ import annotations

import itertools
import signal
import smtplib
import sqlite3
from collections import Counter
from typing import Any

import pytest
from postfix_server import PostfixServer
from processes import started
from smtp_servers import message_id_of
from waiting import until

from mailgui.core.accounts import Account
from mailgui.core.addresses import Mailbox
from mailgui.core.errors import PermanentError, ServerTimeoutError
from mailgui.core.message import Draft, build
from mailgui.core.outbox import Outbox
from mailgui.core.paths import Profile as Paths
from mailgui.core.transport import BDAT_AT_ONCE, CHUNK, Session

FROM = "me@example.org"


def message(tag: str, body: bytes = b"Hello.\r\n") -> bytes:
    return (
        f"From: {FROM}\r\nTo: a@x.test\r\nSubject: {tag}\r\n"
        f"Message-ID: <{tag}@example.org>\r\nMIME-Version: 1.0\r\n"
        "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
    ).encode() + body


def open_session(server: PostfixServer, **account: Any) -> Session:
    acct = Account(
        name="pf", email=FROM, host=server.host, port=server.port, security="none",
        timeout=10, **account,
    )  # fmt: skip
    session = Session(acct, None)
    session.open()
    assert {"pipelining", "chunking"} <= set(session.info.features)
    return session


def wire(session: Session, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """What the session writes and reads from now on: "write" and "read CODE", in order."""
    smtp = session._smtp
    assert smtp is not None
    events: list[str] = []
    send, getreply = smtp.send, smtp.getreply

    def recording_send(data: str | bytes) -> None:
        events.append("write")
        send(data)

    def recording_getreply() -> tuple[int, bytes]:
        reply = getreply()
        events.append(f"read {reply[0]}")
        return reply

    monkeypatch.setattr(smtp, "send", recording_send)
    monkeypatch.setattr(smtp, "getreply", recording_getreply)
    return events


def _sessions(server: PostfixServer) -> list[str]:
    """Postfix's "disconnect from" lines of connections that said EHLO: not the
    fixture's own wait for the banner (logged when Postfix gets to it, which may be
    after a test's first connection began)."""
    return [line for line in server.log_lines() if " disconnect from " in line and " ehlo=" in line]


def commands_of_last_connection(server: PostfixServer) -> str:
    """Postfix's count of the commands of the last connection that ended, e.g.
    "ehlo=1 mail=1 rcpt=1 bdat=1 quit=1 commands=5"."""
    lines = _sessions(server)
    return "ehlo=" + lines[-1].split(" ehlo=", 1)[1] if lines else ""


def wait_commands(server: PostfixServer, before: int) -> str:
    def ended() -> str:
        return commands_of_last_connection(server) if disconnects(server) > before else ""

    return until(ended, what="Postfix to log the connection's end")


def disconnects(server: PostfixServer) -> int:
    return len(_sessions(server))


def test_a_message_arrives_byte_exact_in_one_round_trip(
    postfix: PostfixServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    body = (
        b".a line that starts with a dot\r\n..two dots\r\n.\r\n"
        b"8-bit: gr\xc3\xbc\xc3\x9fe, \xe2\x82\xac, \xf0\x9f\x93\xa8\r\n"
        b"From the start of a line\r\n\r\nlast line\r\n"
    )
    data = message("exact", body)
    session = open_session(postfix)
    events = wire(session, monkeypatch)
    try:
        result = session.send(FROM, ["a@x.test", "b@x.test"], data)
    finally:
        session.close()
    assert result.accepted == ["a@x.test", "b@x.test"] and not result.refused
    assert result.reply is not None and result.reply.code == 250
    # One write (commands and body together), then MAIL, RCPT, RCPT and BDAT's replies.
    assert events[:5] == ["write", "read 250", "read 250", "read 250", "read 250"]
    got = postfix.wait_for(2, where=b"<exact@")
    assert sorted(a.recipient for a in got) == ["a@x.test", "b@x.test"]
    assert all(a.data == data for a in got)  # no dot-stuffing, 8-bit bytes untouched


def test_a_message_without_a_final_line_break_gets_one(postfix: PostfixServer) -> None:
    data = message("unterminated", b"no line break at the end")
    with open_session(postfix) as session:
        session.send(FROM, ["a@x.test"], data)
    (got,) = postfix.wait_for(1, where=b"<unterminated@")
    assert got.data == data + b"\r\n"  # BDAT's size counted the CRLF smtplib would add


def test_an_utf8_address_with_smtputf8(postfix: PostfixServer) -> None:
    data = message("utf8", "Grüße\r\n".encode())
    with open_session(postfix) as session:
        result = session.send("jörg@example.org", ["zoë@x.test"], data, smtputf8=True)
    assert result.accepted == ["zoë@x.test"]
    (got,) = postfix.wait_for(1, where=b"<utf8@")
    assert got.data == data


def test_several_messages_on_one_connection(postfix: PostfixServer) -> None:
    before = disconnects(postfix)
    with open_session(postfix) as session:
        for i in range(5):
            result = session.send(FROM, [f"n{i}@x.test"], message(f"several{i}"))
            assert result.accepted == [f"n{i}@x.test"]
    counts = wait_commands(postfix, before)
    assert "mail=5 rcpt=5 bdat=5 quit=1" in counts, counts
    for i in range(5):
        (got,) = postfix.wait_for(1, where=f"<several{i}@".encode())
        assert got.data == message(f"several{i}")


def test_a_refused_recipient_among_accepted_ones(postfix: PostfixServer) -> None:
    data = message("partly")
    with open_session(postfix) as session:
        result = session.send(FROM, ["a@x.test", "refused@x.test", "b@x.test"], data)
    assert result.accepted == ["a@x.test", "b@x.test"]
    assert list(result.refused) == ["refused@x.test"]
    refused = result.refused["refused@x.test"]
    assert refused.code == 554 and "no such user" in refused.text
    got = postfix.wait_for(2, where=b"<partly@")
    assert sorted(a.recipient for a in got) == ["a@x.test", "b@x.test"]


def test_all_recipients_refused_leaves_the_connection_usable(postfix: PostfixServer) -> None:
    before = disconnects(postfix)
    with open_session(postfix) as session:
        result = session.send(FROM, ["refused@x.test", "refused2@x.test"], message("nobody"))
        assert result.accepted == [] and result.reply is None
        assert sorted(result.refused) == ["refused2@x.test", "refused@x.test"]
        assert session.is_open
        after = session.send(FROM, ["a@x.test"], message("after-nobody"))
        assert after.accepted == ["a@x.test"]
    # The first BDAT went out with the envelope, and Postfix refused it (no recipient).
    counts = wait_commands(postfix, before)
    assert "mail=2 rcpt=1/3 bdat=1/2 rset=1 quit=1" in counts, counts
    assert postfix.wait_for(1, where=b"<after-nobody@")
    assert not postfix.wait_for(1, where=b"<nobody@", timeout=0.5)


def test_a_refused_sender_is_an_error(postfix: PostfixServer) -> None:
    # Postfix refuses a malformed sender address at MAIL, whatever follows it.
    with open_session(postfix) as session:
        with pytest.raises(PermanentError, match="refused the sender"):
            session.send("not an address@@", ["a@x.test"], message("bad-sender"))
        assert session.send(FROM, ["a@x.test"], message("after-bad")).accepted
    assert not postfix.wait_for(1, where=b"<bad-sender@", timeout=0.5)


@pytest.mark.parametrize("where", ["sender", "recipient"])
def test_no_cr_or_lf_in_addresses(
    postfix: PostfixServer, monkeypatch: pytest.MonkeyPatch, where: str
) -> None:
    # Addresses are checked long before (addresses.py); this is the last line of defence.
    # (smtplib's quoteaddr passes this one through as it is.)
    evil = "<>\r\nRCPT TO:<evil@x.test>"
    sender, rcpt = (evil, "a@x.test") if where == "sender" else (FROM, evil)
    with open_session(postfix) as session:
        events = wire(session, monkeypatch)
        with pytest.raises(ValueError, match="newline"):
            session.send(sender, [rcpt], message("inject"))
    assert events == ["write", "read 221"]  # nothing but the QUIT of closing
    assert not postfix.wait_for(1, where=b"<inject@", timeout=0.5)


def big_message(tag: str) -> bytes:
    line = b"." + b"0123456789" * 7 + b"\r\n"  # 73 bytes, every line starting with a dot
    return message(tag, line * (2 * BDAT_AT_ONCE // len(line)))


def test_a_big_message_waits_for_the_envelope_and_shows_progress(
    postfix: PostfixServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = big_message("big")
    assert len(data) > BDAT_AT_ONCE
    seen: list[tuple[int, int]] = []
    session = open_session(postfix)
    events = wire(session, monkeypatch)
    try:
        session.send(
            FROM, ["a@x.test"], data, progress=lambda done, total: seen.append((done, total))
        )
    finally:
        session.close()
    # The envelope (one write) and its replies first; then the chunk, piece by piece.
    pieces = -(-len(data) // CHUNK)
    assert events[: 3 + pieces + 1] == ["write", "read 250", "read 250", *["write"] * pieces,
                                        "read 250"]  # fmt: skip
    assert seen[-1] == (len(data), len(data)) and len(seen) == pieces
    assert all(a[0] < b[0] for a, b in itertools.pairwise(seen))
    (got,) = postfix.wait_for(1, where=b"<big@")
    assert got.data == data


def test_a_big_message_to_refused_recipients_is_not_uploaded(postfix: PostfixServer) -> None:
    before = disconnects(postfix)
    uploaded: list[int] = []
    with open_session(postfix) as session:
        result = session.send(
            FROM, ["refused@x.test"], big_message("big-nobody"),
            progress=lambda done, total: uploaded.append(done),
        )  # fmt: skip
    assert result.accepted == [] and uploaded == []
    counts = wait_commands(postfix, before)
    assert "bdat" not in counts, counts


def test_a_lost_final_reply_means_maybe_delivered(postfix: PostfixServer) -> None:
    postfix.policy.hold()  # Postfix has the whole message and asks before it answers
    with open_session(postfix, data_timeout=2) as session:
        with pytest.raises(ServerTimeoutError, match="may or may not have been delivered") as e:
            session.send(FROM, ["a@x.test"], message("unanswered"))
        assert e.value.connection_lost and not session.is_open
    assert postfix.policy.held.is_set()


def test_sigkill_while_a_final_reply_is_outstanding(profile: Any, postfix: PostfixServer) -> None:
    """Killed while Postfix holds the third message's final reply: the first two are
    sent, the third alone is in doubt (``sending``), the last two were never touched."""
    kill_while_a_final_reply_is_held(profile, postfix, "Kill")


def kill_while_a_final_reply_is_held(profile: Any, postfix: PostfixServer, tag: str) -> None:
    """Five messages (subjects "``tag`` 0" to 4) flushed by ``mailgui outbox flush``,
    killed while ``postfix`` holds the third final reply: two ``sent``, one
    ``sending``, two untouched; then a new flush, after which every message arrived
    and only the one in doubt may have arrived twice."""
    r = profile.run(
        "account", "add", "pf", "--email", FROM, "--host", postfix.host,
        "--port", str(postfix.port), "--security", "none", "--timeout", "10",
        "--data-timeout", "60",
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    outbox_file = Paths.from_env(profile.env).outbox_file
    ids: dict[int, str] = {}
    with Outbox(outbox_file) as box:
        for i in range(5):
            out = build(
                Draft(
                    sender=Mailbox("", FROM),
                    to=[Mailbox("", f"kill{i}@x.test")],
                    subject=f"{tag} {i}",
                    text=f"Message number {i}.\n",
                )
            )
            ids[box.add("pf", out)] = out.message_id
    where = f"Subject: {tag} ".encode()
    postfix.policy.hold(after=2)
    with started(profile, "outbox", "flush", "--json") as proc:

        def held() -> bool:
            assert proc.poll() is None, proc.communicate()
            return postfix.policy.held.is_set()

        until(held, what="Postfix to hold a final reply", interval=0.02)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        assert proc.returncode == -signal.SIGKILL

    with sqlite3.connect(outbox_file) as db:
        rows = dict(db.execute("SELECT id, state FROM messages").fetchall())
        untouched = db.execute(
            "SELECT COUNT(*) FROM messages WHERE state='queued' AND claimed_by IS NULL "
            "AND attempts=0"
        ).fetchone()[0]
    db.close()
    assert Counter(rows.values()) == Counter({"sent": 2, "sending": 1, "queued": 2}), rows
    assert untouched == 2
    (doubt,) = [i for i, state in rows.items() if state == "sending"]
    arrived = Counter(message_id_of(a.data) for a in postfix.wait_for(2, where=where))
    assert arrived == Counter(ids[i] for i, state in rows.items() if state == "sent")

    # Postfix now answers; the killed client is gone, so whether the held message is
    # delivered is Postfix's business. A new flush sends what is left: every message
    # arrives, and only the one in doubt may arrive twice.
    postfix.policy.release()
    r = profile.run("outbox", "flush", "--json", timeout=60)
    assert r.returncode == 0, r.stderr
    # Five at least; a sixth (the held message, twice) may come a moment later.
    arrived = Counter(message_id_of(a.data) for a in postfix.wait_for(6, where=where, timeout=3))
    assert set(arrived) == set(ids.values())
    assert all(n == 1 for mid, n in arrived.items() if mid != ids[doubt]), arrived
    assert arrived[ids[doubt]] in (1, 2)


def test_smtplib_itself_sees_the_same_server(postfix: PostfixServer) -> None:
    """The fixture is a plain SMTP server: smtplib's own sendmail (DATA) works too."""
    with smtplib.SMTP(postfix.host, postfix.port, timeout=10) as smtp:
        smtp.sendmail(FROM, ["a@x.test"], message("smtplib"))
    (got,) = postfix.wait_for(1, where=b"<smtplib@")
    assert got.data == message("smtplib")
