"""SMTP PIPELINING (RFC 2920): the envelope in one write when the server offers it."""

from __future__ import annotations

import pytest

from mailgui.core.accounts import Account
from mailgui.core.errors import PermanentError, TransientError
from mailgui.core.transport import Envelope, Session
from tests.smtp_servers import FakeServerFactory

DATA = b"Subject: hi\r\n\r\nbody\r\n.starts with a dot\r\n"
PLAIN_EHLO = ("8BITMIME", "SIZE 10240000")


def _session(port: int) -> Session:
    acct = Account(
        name="p", email="me@example.org", host="127.0.0.1", port=port, security="none", timeout=5
    )
    session = Session(acct, None)
    session.open()
    return session


@pytest.mark.parametrize("ehlo", [("PIPELINING", *PLAIN_EHLO), PLAIN_EHLO])
def test_per_recipient_results_with_and_without_pipelining(
    fake_server: FakeServerFactory, ehlo: tuple[str, ...]
) -> None:
    server = fake_server(
        ehlo=ehlo, replies={"RCPT": ["250 2.1.5 ok", "550 5.1.1 no such user", "250 ok"]}
    )
    session = _session(server.port)
    try:
        result = session.send("me@example.org", ["a@x.test", "b@x.test", "c@x.test"], DATA)
        again = session.send("me@example.org", ["d@x.test"], DATA)  # same connection
    finally:
        session.close()
    assert result.accepted == ["a@x.test", "c@x.test"]
    assert list(result.refused) == ["b@x.test"]
    assert result.refused["b@x.test"].code == 550
    assert again.accepted == ["d@x.test"]
    verbs = [c.split(":")[0].split(" ")[0].upper() for c in server.commands]
    assert verbs[verbs.index("MAIL") :] == [
        "MAIL", "RCPT", "RCPT", "RCPT", "DATA", "MAIL", "RCPT", "DATA", "QUIT",
    ]  # fmt: skip
    assert server.messages == [DATA.replace(b"\n.", b"\n..")] * 2
    assert server.connections == 1


def test_a_refused_sender_is_permanent_and_sends_no_body(fake_server: FakeServerFactory) -> None:
    # This server answers DATA with 354 although MAIL was refused: nothing may follow.
    server = fake_server(replies={"MAIL": "550 5.7.1 sender rejected"})
    session = _session(server.port)
    try:
        with pytest.raises(PermanentError, match="sender rejected"):
            session.send("me@example.org", ["a@x.test"], DATA)
    finally:
        session.close()
    assert server.messages == []


def test_every_recipient_refused_sends_no_body(fake_server: FakeServerFactory) -> None:
    server = fake_server(replies={"RCPT": "450 4.2.0 mailbox busy"})
    session = _session(server.port)
    try:
        result = session.send("me@example.org", ["a@x.test", "b@x.test"], DATA)
    finally:
        session.close()
    assert result.accepted == []
    assert set(result.refused) == {"a@x.test", "b@x.test"}
    assert not result.refused["a@x.test"].permanent
    assert server.messages == []


def test_a_refused_message_leaves_the_envelope_behind_it_usable(
    fake_server: FakeServerFactory,
) -> None:
    """The next envelope rides behind the final dot (``then``); the dot's refusal is
    this message's alone: the next one goes out on the same connection."""
    server = fake_server(replies={".": ["554 5.7.1 spam", "250 ok"]})
    session = _session(server.port)
    try:
        with pytest.raises(PermanentError, match="spam"):
            session.send("me@example.org", ["a@x.test"], DATA, then=_next(["b@x.test"]))
        assert session.is_open
        result = session.send("me@example.org", ["b@x.test"], DATA)
    finally:
        session.close()
    assert result.accepted == ["b@x.test"]
    verbs = [c.split(":")[0].split(" ")[0].upper() for c in server.commands]
    assert verbs[verbs.index("MAIL") :] == ["MAIL", "RCPT", "DATA", "MAIL", "RCPT", "DATA", "QUIT"]
    assert server.connections == 1


def test_a_421_after_the_dot_drops_the_envelope_behind_it(fake_server: FakeServerFactory) -> None:
    server = fake_server(replies={".": "421 4.3.2 going down"})
    session = _session(server.port)
    try:
        with pytest.raises(TransientError, match="going down"):
            session.send("me@example.org", ["a@x.test"], DATA, then=_next(["b@x.test"]))
        assert not session.is_open
        session.expect(_next(["b@x.test"]))  # nothing is left to withdraw
    finally:
        session.close()
    assert server.messages == [DATA.replace(b"\n.", b"\n..")]


def test_no_envelope_ahead_without_pipelining(
    fake_server: FakeServerFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = fake_server(ehlo=PLAIN_EHLO)
    session = _session(server.port)
    assert session._smtp is not None
    writes: list[bytes] = []
    send = session._smtp.send

    def recording(data: str | bytes) -> None:
        writes.append(data.encode() if isinstance(data, str) else data)
        send(data)

    monkeypatch.setattr(session._smtp, "send", recording)
    try:
        session.send("me@example.org", ["a@x.test"], DATA, then=_next(["b@x.test"]))
        assert writes[-1].endswith(b"\r\n.\r\n")  # the final dot alone
        session.send("me@example.org", ["b@x.test"], DATA)
    finally:
        session.close()
    verbs = [c.split(":")[0].split(" ")[0].upper() for c in server.commands]
    assert verbs[verbs.index("MAIL") :] == ["MAIL", "RCPT", "DATA", "MAIL", "RCPT", "DATA", "QUIT"]
    assert len(server.messages) == 2


def _next(recipients: list[str]) -> Envelope:
    return Envelope("me@example.org", tuple(recipients), len(DATA))
