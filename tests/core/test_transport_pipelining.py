"""SMTP PIPELINING (RFC 2920): the envelope in one write when the server offers it."""

from __future__ import annotations

import pytest

from mailgui.core.accounts import Account
from mailgui.core.errors import PermanentError
from mailgui.core.transport import Session
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
