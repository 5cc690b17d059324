"""Direct delivery (no relay): MX routing through the test DNS to local aiosmtpd servers,
reached on an unprivileged port through MAILGUI_DIRECT_PORT."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from clock import T0, Clock
from dns_server import DnsServer
from smtp_servers import Faults, SmtpServerFactory

from mailgui.core.accounts import Account, AccountStore
from mailgui.core.addresses import Mailbox
from mailgui.core.delivery import Delivery
from mailgui.core.direct import DirectRouter, OpportunisticSession
from mailgui.core.errors import EX_OK, EX_TEMPFAIL, EX_UNAVAILABLE
from mailgui.core.message import Draft, build
from mailgui.core.outbox import Outbox
from mailgui.core.resolver import Lookup
from mailgui.core.transport import Session


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def outbox(tmp_path: Path, clock: Clock) -> Iterator[Outbox]:
    with Outbox(tmp_path / "outbox.sqlite3", clock=clock) as box:
        yield box


@pytest.fixture
def store(tmp_path: Path) -> AccountStore:
    store = AccountStore(tmp_path / "accounts.toml")
    store.save(Account(name="direct", email="me@sender.test", direct=True, timeout=3.0))
    return store


def queue(outbox: Outbox, *to: str) -> int:
    draft = Draft(
        sender=Mailbox("Me", "me@sender.test"),
        to=[Mailbox("", a) for a in to],
        subject="Direct",
        text="Hello.\n",
    )
    return outbox.add("direct", build(draft))


def test_two_domains_one_failing(
    dns_server: DnsServer,
    smtp_server: SmtpServerFactory,
    outbox: Outbox,
    store: AccountStore,
    clock: Clock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    server = smtp_server("none")
    monkeypatch.setenv("MAILGUI_DIRECT_PORT", str(server.port))
    dns_server.add("good.test", "MX", "10 mx.good.test.").add("mx.good.test", "A", "127.0.0.1")
    # 127.0.0.2 is loopback too, but nothing listens there: connection refused
    dns_server.add("down.test", "MX", "10 mx.down.test.").add("mx.down.test", "A", "127.0.0.2")
    msg = queue(outbox, "ann@good.test", "bob@down.test", "cat@good.test")

    report = Delivery(outbox, store, clock=clock).flush()

    (received,) = server.wait_for(1)
    assert received.rcpt_tos == ["ann@good.test", "cat@good.test"]  # one transaction per domain
    assert received.mail_from == "me@sender.test"
    row = outbox.get(msg)
    assert row.state == "deferred" and row.pending == ["bob@down.test"]
    assert set(row.recipient_errors) == {"bob@down.test"}
    assert "No mail server of down.test could be reached" in row.recipient_errors["bob@down.test"]
    assert "port 25" in row.recipient_errors["bob@down.test"]
    assert report.exit_code() == EX_TEMPFAIL

    # the domain's server comes back: only the waiting recipient gets it, the error is cleared
    dns_server.add("mx.down.test", "A", "127.0.0.1")
    clock.now = row.next_attempt_at or T0
    report = Delivery(outbox, store, clock=clock).flush()
    assert report.exit_code() == EX_OK
    second = server.wait_for(2)[1]
    assert second.rcpt_tos == ["bob@down.test"]
    row = outbox.get(msg)
    assert row.state == "sent" and row.recipient_errors == {}


def test_mx_preference_order_and_fallback(
    dns_server: DnsServer,
    smtp_server: SmtpServerFactory,
    outbox: Outbox,
    store: AccountStore,
    clock: Clock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    server = smtp_server("none")
    monkeypatch.setenv("MAILGUI_DIRECT_PORT", str(server.port))
    dns_server.add("x.test", "MX", "20 backup.x.test.").add("backup.x.test", "A", "127.0.0.1")
    dns_server.add("x.test", "MX", "10 primary.x.test.").add("primary.x.test", "A", "127.0.0.3")
    msg = queue(outbox, "ann@x.test")
    Delivery(outbox, store, clock=clock).flush()
    assert outbox.get(msg).state == "sent"
    assert dns_server.asked("primary.x.test", "A") >= 1  # tried first, refused
    assert server.wait_for(1)[0].rcpt_tos == ["ann@x.test"]


def test_implicit_mx_null_mx_and_nxdomain(
    dns_server: DnsServer,
    smtp_server: SmtpServerFactory,
    outbox: Outbox,
    store: AccountStore,
    clock: Clock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    server = smtp_server("none")
    monkeypatch.setenv("MAILGUI_DIRECT_PORT", str(server.port))
    dns_server.add("implicit.test", "A", "127.0.0.1")  # no MX: the domain itself
    dns_server.add("null.test", "MX", "0 .")
    msg = queue(outbox, "ann@implicit.test", "bob@null.test", "cat@nowhere.test")

    report = Delivery(outbox, store, clock=clock).flush()

    assert server.wait_for(1)[0].rcpt_tos == ["ann@implicit.test"]
    row = outbox.get(msg)
    # the others are refused for good, per recipient; the message counts as sent
    assert row.state == "sent" and row.pending == []
    assert row.recipient_errors["bob@null.test"].startswith("556 5.1.10 The domain null.test")
    assert "accepts no mail" in row.recipient_errors["bob@null.test"]
    assert row.recipient_errors["cat@nowhere.test"].startswith("550 5.1.2")
    assert "does not exist" in row.recipient_errors["cat@nowhere.test"]
    assert report.exit_code() == EX_OK


def test_only_null_mx_fails_the_message(
    dns_server: DnsServer, outbox: Outbox, store: AccountStore, clock: Clock
) -> None:
    dns_server.add("null.test", "MX", "0 .")
    msg = queue(outbox, "bob@null.test")
    report = Delivery(outbox, store, clock=clock).flush()
    assert outbox.get(msg).state == "failed"
    assert report.exit_code() == EX_UNAVAILABLE


def test_opportunistic_starttls_accepts_any_certificate(
    dns_server: DnsServer,
    smtp_server: SmtpServerFactory,
    outbox: Outbox,
    store: AccountStore,
    clock: Clock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    server = smtp_server("starttls", cert="other-ca")  # a CA nobody trusts, as on many MX
    monkeypatch.setenv("MAILGUI_DIRECT_PORT", str(server.port))
    dns_server.add("tls.test", "MX", "10 mx.tls.test.").add("mx.tls.test", "A", "127.0.0.1")
    msg = queue(outbox, "ann@tls.test")
    Delivery(outbox, store, clock=clock).flush()
    assert outbox.get(msg).state == "sent"
    assert server.wait_for(1)[0].tls is True


def test_relay_sessions_still_verify_certificates() -> None:
    """The unverified context belongs to OpportunisticSession only."""
    relay = Session(Account(name="r", email="me@x.test", host="127.0.0.1"), None)
    assert relay._context().verify_mode.name == "CERT_REQUIRED"
    assert relay._context().check_hostname is True
    direct = OpportunisticSession(
        Account(name="d", email="me@x.test", direct=True), "mx.x.test", "127.0.0.1", 25
    )
    assert direct._context().verify_mode.name == "CERT_NONE"


def test_refused_recipient_is_recorded_per_recipient(
    dns_server: DnsServer,
    smtp_server: SmtpServerFactory,
    outbox: Outbox,
    store: AccountStore,
    clock: Clock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    server = smtp_server(
        "none", faults=Faults(rcpt_replies={"bob@a.test": "550 5.1.1 No such user"})
    )
    monkeypatch.setenv("MAILGUI_DIRECT_PORT", str(server.port))
    dns_server.add("a.test", "MX", "10 mx.a.test.").add("mx.a.test", "A", "127.0.0.1")
    msg = queue(outbox, "ann@a.test", "bob@a.test")
    Delivery(outbox, store, clock=clock).flush()
    row = outbox.get(msg)
    assert row.state == "sent"
    assert row.recipient_errors == {"bob@a.test": "550 5.1.1 No such user"}


def test_dns_timeout_defers_within_bounds(
    dns_server: DnsServer, outbox: Outbox, store: AccountStore, clock: Clock
) -> None:
    dns_server.hang("slow.test")
    msg = queue(outbox, "ann@slow.test")
    router = DirectRouter(
        store.get("direct"), port=25, lookup=Lookup(dns_server.address, timeout=1)
    )
    started = time.monotonic()
    report = Delivery(outbox, store, clock=clock, direct_factory=lambda a, p: router).flush()
    assert time.monotonic() - started < 4
    row = outbox.get(msg)
    assert row.state == "deferred" and report.exit_code() == EX_TEMPFAIL
    assert "did not answer within" in row.recipient_errors["ann@slow.test"]
