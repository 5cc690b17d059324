"""The delivery engine in-process: real outbox file, real accounts file, real SMTP servers,
and a fake clock for back-off, give-up and rate limits (DESIGN.md, "Outbox states")."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from clock import DAY, T0, Clock
from smtp_servers import Faults, RecordingServer, SmtpServerFactory, message_id_of

from mailgui.core.accounts import Account, AccountStore, RateLimits, RetryPolicy
from mailgui.core.addresses import Mailbox
from mailgui.core.credentials import Passwords
from mailgui.core.delivery import Delivery
from mailgui.core.errors import EX_CONFIG, EX_OK, EX_TEMPFAIL, EX_UNAVAILABLE
from mailgui.core.events import Connected, Connecting, DeliveryEvent, Finished, Sending, Transferred
from mailgui.core.message import Draft, build
from mailgui.core.outbox import Outbox


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def outbox(tmp_path: Path, clock: Clock) -> Iterator[Outbox]:
    with Outbox(tmp_path / "outbox.sqlite3", clock=clock) as box:
        yield box


@pytest.fixture
def store(tmp_path: Path) -> AccountStore:
    return AccountStore(tmp_path / "accounts.toml")


def add_account(store: AccountStore, port: int, name: str = "work", **settings: Any) -> Account:
    acct = Account(
        name=name,
        email="me@example.org",
        host="127.0.0.1",
        port=port,
        security="none",
        timeout=5.0,
        data_timeout=5.0,
        **settings,
    )
    store.save(acct)
    return store.get(name)  # as read back from the TOML file


def queue(
    outbox: Outbox,
    n: int = 1,
    account: str = "work",
    attachments: list[Path] | None = None,
) -> list[int]:
    ids = []
    for i in range(n):
        draft = Draft(
            sender=Mailbox("Me", "me@example.org"),
            to=[Mailbox("", "bob@example.org")],
            subject=f"Message {i}",
            text=f"Hello {i}.\n",
            attachments=attachments or [],
        )
        ids.append(outbox.add(account, build(draft)))
    return ids


_KINDS = {
    Connecting: "connecting",
    Connected: "connected",
    Sending: "sending",
    Transferred: "progress",
    Finished: "outcome",
}


def kind_and_data(event: DeliveryEvent) -> tuple[str, dict[str, Any]]:
    return _KINDS[type(event)], event._asdict()


class Recorder:
    """A listener keeping every event, as (kind, fields)."""

    def __init__(self) -> None:
        self.events: list[tuple[str, dict[str, Any]]] = []

    def __call__(self, event: DeliveryEvent) -> None:
        self.events.append(kind_and_data(event))

    def kinds(self) -> list[str]:
        return [k for k, _ in self.events]


def delivery(outbox: Outbox, store: AccountStore, clock: Clock, **kwargs: Any) -> Delivery:
    credentials = Passwords(lambda name: "pw")
    return Delivery(outbox, store, clock=clock, credentials=credentials, **kwargs)


# --- back-off and giving up ---------------------------------------------------------------


def test_backoff_doubles_from_one_minute_to_thirty(
    outbox: Outbox, store: AccountStore, clock: Clock, closed_port: int
) -> None:
    add_account(store, closed_port)
    (msg_id,) = queue(outbox)
    rec = Recorder()
    d = delivery(outbox, store, clock, listener=rec)

    expected = [60, 120, 240, 480, 960, 1800, 1800, 1800]
    for attempt, delay in enumerate(expected, start=1):
        report = d.flush()
        assert [(o.id, o.state) for o in report.outcomes] == [(msg_id, "deferred")]
        assert report.exit_code() == EX_TEMPFAIL
        row = outbox.get(msg_id)
        assert row.state == "deferred"
        assert row.attempts == attempt
        assert row.next_attempt_at == clock.now + delay
        assert "refused the connection" in (row.last_error or "")
        assert row.claimed_by is None

        # Just before the back-off ends, the sender leaves it alone (no connection either).
        clock.now = row.next_attempt_at - 1
        rec.events.clear()
        assert d.flush().outcomes == []
        assert rec.events == []
        after = outbox.get(msg_id)
        assert (after.state, after.attempts) == ("deferred", attempt)
        clock.now = row.next_attempt_at  # exactly due

    kinds = [e.kind for e in outbox.events(msg_id)]
    assert kinds == ["queued"] + ["deferred"] * len(expected)


def test_gives_up_after_five_days_with_the_last_error(
    outbox: Outbox, store: AccountStore, clock: Clock, closed_port: int
) -> None:
    add_account(store, closed_port)
    (msg_id,) = queue(outbox)
    d = delivery(outbox, store, clock)

    assert d.flush().outcomes[0].state == "deferred"
    clock.now = T0 + 5 * DAY - 60  # still inside the five days
    assert d.flush().outcomes[0].state == "deferred"
    assert outbox.get(msg_id).state == "deferred"

    clock.now = T0 + 5 * DAY + 60
    report = d.flush()
    assert [o.state for o in report.outcomes] == ["failed"]
    assert report.exit_code() == EX_UNAVAILABLE
    row = outbox.get(msg_id)
    assert row.state == "failed"
    assert row.next_attempt_at is None
    assert row.attempts == 3
    assert row.last_error is not None
    assert row.last_error.startswith("Gave up after 5 days")
    assert "refused the connection" in row.last_error  # the last error is kept
    assert str(closed_port) in row.last_error
    assert outbox.events(msg_id)[-1].kind == "failed"

    # Failed messages are left alone until the user acts.
    clock.now += 10 * DAY
    assert d.flush().outcomes == []
    assert outbox.get(msg_id).state == "failed"


def test_retry_policy_is_per_account(
    outbox: Outbox, store: AccountStore, clock: Clock, closed_port: int
) -> None:
    add_account(
        store,
        closed_port,
        name="quick",
        retry=RetryPolicy(first_delay=10, max_delay=25, give_up_after=3600),
    )
    add_account(store, closed_port, name="patient")
    (quick,) = queue(outbox, account="quick")
    (patient,) = queue(outbox, account="patient")
    d = delivery(outbox, store, clock)

    delays = []
    for _ in range(3):
        d.flush()
        row = outbox.get(quick)
        assert row.next_attempt_at is not None
        delays.append(row.next_attempt_at - clock.now)
        clock.now = row.next_attempt_at
    assert delays == [10, 20, 25]
    row = outbox.get(patient)
    assert (row.attempts, row.next_attempt_at) == (1, T0 + 60)  # the default policy

    clock.now = T0 + 3600
    d.flush()
    row = outbox.get(quick)
    assert row.state == "failed"
    assert row.last_error is not None
    assert row.last_error.startswith("Gave up after")
    assert "refused the connection" in row.last_error
    assert outbox.get(patient).state == "deferred"  # five days are far away for this one


# --- replies ----------------------------------------------------------------------------


def test_permanent_reply_fails_at_once_with_the_servers_words(
    outbox: Outbox, store: AccountStore, clock: Clock, smtp_server: SmtpServerFactory
) -> None:
    server = smtp_server(faults=Faults(data_reply="554 5.7.1 Looks like spam to me"))
    add_account(store, server.port)
    (msg_id,) = queue(outbox)
    report = delivery(outbox, store, clock).flush()
    assert [o.state for o in report.outcomes] == ["failed"]
    assert report.exit_code() == EX_UNAVAILABLE
    row = outbox.get(msg_id)
    assert (row.state, row.attempts, row.next_attempt_at) == ("failed", 1, None)
    assert "554 5.7.1 Looks like spam to me" in (row.last_error or "")
    events = outbox.events(msg_id)
    assert [e.kind for e in events] == ["queued", "failed"]
    assert "554 5.7.1 Looks like spam to me" in events[-1].text
    assert server.messages == []
    # Not retried by later flushes, even ignoring back-off.
    clock.now += DAY
    assert delivery(outbox, store, clock).flush(include_deferred=True).outcomes == []


def test_a_rate_refusal_defers_the_accounts_other_messages_without_trying_them(
    outbox: Outbox, store: AccountStore, clock: Clock, smtp_server: SmtpServerFactory
) -> None:
    """After "450 4.7.1 too much mail" the rest of the account's messages would only
    hear the same (and annoy the provider): deferred in this round without a try. A
    later round sends them all."""
    server = smtp_server(faults=Faults(mail_reply=["450 4.7.1 Sender rejected: too much mail"]))
    add_account(store, server.port)
    ids = queue(outbox, 4)
    report = delivery(outbox, store, clock).flush()
    assert [o.state for o in report.outcomes] == ["deferred"] * 4
    assert server.messages == []
    assert "too much mail" in (outbox.get(ids[0]).last_error or "")
    for msg_id in ids[1:]:
        error = outbox.get(msg_id).last_error or ""
        assert error.startswith("Not tried in this round"), error
        assert "450 4.7.1" in error
    clock.now += DAY
    report = delivery(outbox, store, clock).flush()
    assert [o.state for o in report.outcomes] == ["sent"] * 4
    assert len(server.messages) == 4


def test_transient_then_permanent_counts_attempts_and_keeps_history(
    outbox: Outbox, store: AccountStore, clock: Clock, smtp_server: SmtpServerFactory
) -> None:
    server = smtp_server(
        faults=Faults(mail_reply=["451 4.3.0 Try again later", "550 5.7.1 Sender rejected"])
    )
    add_account(store, server.port)
    (msg_id,) = queue(outbox)
    d = delivery(outbox, store, clock)

    assert [o.state for o in d.flush().outcomes] == ["deferred"]
    row = outbox.get(msg_id)
    assert row.attempts == 1 and "451 4.3.0 Try again later" in (row.last_error or "")
    clock.now = row.next_attempt_at or 0
    assert [o.state for o in d.flush().outcomes] == ["failed"]
    row = outbox.get(msg_id)
    assert (row.state, row.attempts) == ("failed", 2)
    assert "550 5.7.1 Sender rejected" in (row.last_error or "")
    events = outbox.events(msg_id)
    assert [e.kind for e in events] == ["queued", "deferred", "failed"]
    assert [e.at for e in events] == [T0, T0, T0 + 60]
    assert "451" in events[1].text and "550" in events[2].text
    assert server.messages == []


# --- rate limits --------------------------------------------------------------------------


def test_rate_limit_defers_the_excess_without_counting_attempts(
    outbox: Outbox, store: AccountStore, clock: Clock, smtp_server: SmtpServerFactory
) -> None:
    server = smtp_server()
    add_account(store, server.port, limits=RateLimits(per_minute=2))
    ids = queue(outbox, 5)
    d = delivery(outbox, store, clock)

    report = d.flush()
    assert [(o.id, o.state) for o in report.outcomes] == [
        (ids[0], "sent"),
        (ids[1], "sent"),
        (ids[2], "deferred"),
        (ids[3], "deferred"),
        (ids[4], "deferred"),
    ]
    assert len(server.messages) == 2
    for msg_id in ids[2:]:
        row = outbox.get(msg_id)
        assert row.state == "deferred"
        assert row.attempts == 0  # held back is not a failed try
        assert row.next_attempt_at == T0 + 60  # when the one-minute window frees
        assert "2 per minute" in (row.last_error or "")

    # Before the window frees, nothing moves; then two more go, and later the last one.
    clock.now = T0 + 59
    assert d.flush().outcomes == []
    clock.now = T0 + 60
    report = d.flush()
    assert [o.state for o in report.outcomes] == ["sent", "sent", "deferred"]
    assert outbox.get(ids[4]).next_attempt_at == T0 + 120
    clock.now = T0 + 120
    assert [o.state for o in d.flush().outcomes] == ["sent"]

    got = server.wait_for(5)
    assert len(got) == 5
    assert {message_id_of(m.data) for m in got} == {outbox.get(i).message_id for i in ids}
    for msg_id in ids:
        row = outbox.get(msg_id)
        assert (row.state, row.attempts, row.last_error) == ("sent", 1, None)


# --- what the listener hears ------------------------------------------------------------


def _plain(value: Any) -> bool:
    if isinstance(value, str | int | float | bool) or value is None:
        return True
    if isinstance(value, list):
        return all(_plain(v) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and _plain(v) for k, v in value.items())
    return False


def test_listener_hears_connect_send_progress_and_outcome(
    outbox: Outbox,
    store: AccountStore,
    clock: Clock,
    smtp_server: SmtpServerFactory,
    tmp_path: Path,
) -> None:
    server = smtp_server()
    add_account(store, server.port)
    attachment = tmp_path / "data.bin"
    attachment.write_bytes(bytes(range(256)) * 800)  # ~200 KB: several 64 KB chunks
    (msg_id,) = queue(outbox, attachments=[attachment])
    rec = Recorder()
    report = delivery(outbox, store, clock, listener=rec).flush()
    assert [o.state for o in report.outcomes] == ["sent"]

    for kind, data in rec.events:
        assert _plain(data), (kind, data)
        json.dumps(data)
    kinds = rec.kinds()
    assert kinds[:3] == ["connecting", "connected", "sending"]
    assert kinds[-1] == "outcome"
    assert set(kinds[3:-1]) == {"progress"}
    assert kinds.count("progress") >= 3

    events = dict(rec.events[:3])
    assert events["connecting"]["account"] == "work"
    assert events["connecting"]["server"] == f"127.0.0.1:{server.port}"
    row = outbox.get(msg_id)
    assert events["sending"] == {"id": msg_id, "account": "work", "size": row.size}

    progress = [data for kind, data in rec.events if kind == "progress"]
    assert all(p["id"] == msg_id for p in progress)
    done = [p["done"] for p in progress]
    assert done == sorted(done) and len(set(done)) == len(done)
    wire = re.sub(rb"(?m)^\.", b"..", outbox.body(msg_id))  # what goes on the wire
    assert {p["total"] for p in progress} == {len(wire)}
    assert done[-1] == len(wire)

    assert rec.events[-1][1] == {"id": msg_id, "state": "sent", "error": None}
    (got,) = server.wait_for(1)
    assert got.data == outbox.body(msg_id)


def test_listener_hears_the_error_of_a_deferral(
    outbox: Outbox, store: AccountStore, clock: Clock, closed_port: int
) -> None:
    add_account(store, closed_port)
    (msg_id,) = queue(outbox)
    rec = Recorder()
    delivery(outbox, store, clock, listener=rec).flush()
    assert rec.kinds() == ["connecting", "outcome"]
    outcome = rec.events[-1][1]
    assert outcome["id"] == msg_id and outcome["state"] == "deferred"
    assert isinstance(outcome["error"], str) and "refused the connection" in outcome["error"]


# --- stopping -----------------------------------------------------------------------------


def test_should_stop_leaves_the_rest_queued(
    outbox: Outbox, store: AccountStore, clock: Clock, smtp_server: SmtpServerFactory
) -> None:
    server = smtp_server()
    add_account(store, server.port)
    ids = queue(outbox, 4)
    rec = Recorder()
    d = delivery(outbox, store, clock, listener=rec)
    report = d.flush(should_stop=lambda: "outcome" in rec.kinds())
    assert [(o.id, o.state) for o in report.outcomes] == [(ids[0], "sent")]
    assert len(server.wait_for(1)) == 1
    for msg_id in ids[1:]:
        row = outbox.get(msg_id)
        assert (row.state, row.attempts, row.claimed_by, row.last_error) == (
            "queued",
            0,
            None,
            None,
        )
    assert outbox.counts()["sending"] == 0
    # A later flush sends the rest.
    assert [o.state for o in d.flush().outcomes] == ["sent"] * 3
    assert len(server.wait_for(4)) == 4


def test_should_stop_before_anything_sends_nothing(
    outbox: Outbox, store: AccountStore, clock: Clock, smtp_server: SmtpServerFactory
) -> None:
    server = smtp_server()
    add_account(store, server.port)
    ids = queue(outbox, 2)
    assert delivery(outbox, store, clock).flush(should_stop=lambda: True).outcomes == []
    assert [outbox.get(i).state for i in ids] == ["queued", "queued"]
    assert server.connections == 0


# --- retries resend the same bytes ----------------------------------------------------------


def test_retry_after_a_lost_reply_sends_the_same_bytes(
    outbox: Outbox, store: AccountStore, clock: Clock, smtp_server: SmtpServerFactory
) -> None:
    server: RecordingServer = smtp_server(faults=Faults(drop_after_dot=1))
    add_account(store, server.port)
    (msg_id,) = queue(outbox)
    d = delivery(outbox, store, clock)

    report = d.flush()
    assert [o.state for o in report.outcomes] == ["deferred"]
    row = outbox.get(msg_id)
    assert "may arrive twice" in (row.last_error or "")
    clock.now = row.next_attempt_at or 0
    assert [o.state for o in d.flush().outcomes] == ["sent"]

    first, second = server.wait_for(2)
    assert first.data == second.data == outbox.body(msg_id)
    assert message_id_of(second.data) == row.message_id
    assert (first.mail_from, first.rcpt_tos) == (second.mail_from, second.rcpt_tos)
    assert outbox.get(msg_id).attempts == 2


# --- accounts that cannot send --------------------------------------------------------------


def test_message_of_a_removed_account_is_deferred_with_a_config_error(
    outbox: Outbox, store: AccountStore, clock: Clock, smtp_server: SmtpServerFactory
) -> None:
    server = smtp_server()
    add_account(store, server.port)
    (orphan,) = queue(outbox, account="gone")
    (fine,) = queue(outbox, account="work")
    rec = Recorder()
    report = delivery(outbox, store, clock, listener=rec).flush()

    states = {o.id: o.state for o in report.outcomes}
    assert states == {orphan: "deferred", fine: "sent"}
    assert report.exit_code() == EX_CONFIG
    row = outbox.get(orphan)
    assert row.state == "deferred"
    assert row.next_attempt_at is not None and row.next_attempt_at > clock.now
    assert "no account named 'gone'" in (row.last_error or "")
    assert "mailgui account add" in (row.last_error or "")
    assert [d["account"] for k, d in rec.events if k == "connecting"] == ["work"]
    assert len(server.wait_for(1)) == 1

    # Adding the account back lets it go.
    add_account(store, server.port, name="gone")
    clock.now = row.next_attempt_at
    report = delivery(outbox, store, clock).flush()
    assert [(o.id, o.state) for o in report.outcomes] == [(orphan, "sent")]
    assert report.exit_code() == EX_OK


def test_direct_account_without_dns_is_deferred(
    outbox: Outbox, store: AccountStore, clock: Clock
) -> None:
    """Direct delivery itself is covered in test_discovery_direct.py; here DNS is the
    refusing guard of conftest.py, which must defer the message, not fail it."""
    store.save(Account(name="direct", email="me@example.org", direct=True))
    (msg_id,) = queue(outbox, account="direct")
    report = delivery(outbox, store, clock).flush()
    assert [o.state for o in report.outcomes] == ["deferred"]
    assert report.exit_code() == EX_TEMPFAIL
    row = outbox.get(msg_id)
    assert row.state == "deferred" and row.pending == ["bob@example.org"]
    assert "DNS server could not answer" in row.recipient_errors["bob@example.org"]


# --- two senders on one outbox ------------------------------------------------------------


def _interleaved(outbox: Outbox, store: AccountStore, clock: Clock) -> tuple[list[int], list[int]]:
    """Sender A starts its first message; while it is in flight, sender B (another
    connection, another claimer) flushes. Returns the ids each of them handled."""
    other = Outbox(outbox.path, clock=clock)
    b_runs: list[list[int]] = []

    def listener(event: DeliveryEvent) -> None:
        if isinstance(event, Sending) and not b_runs:
            b_runs.append(delivery(other, store, clock).flush().ids)

    try:
        a_ids = delivery(outbox, store, clock, listener=listener).flush().ids
    finally:
        other.close()
    assert len(b_runs) == 1
    return a_ids, b_runs[0]


def test_a_second_sender_never_takes_the_message_in_flight(
    outbox: Outbox,
    store: AccountStore,
    clock: Clock,
    smtp_server: SmtpServerFactory,
) -> None:
    server = smtp_server()
    add_account(store, server.port)
    ids = queue(outbox, 3)
    a_ids, b_ids = _interleaved(outbox, store, clock)
    assert a_ids == [ids[0]]
    assert sorted(b_ids) == ids[1:]
    got = server.wait_for(3)
    assert sorted(message_id_of(m.data) for m in got) == sorted(
        outbox.get(i).message_id for i in ids
    )
    assert all(outbox.get(i).state == "sent" for i in ids)


def test_rate_limit_holds_across_two_senders(
    outbox: Outbox,
    store: AccountStore,
    clock: Clock,
    smtp_server: SmtpServerFactory,
) -> None:
    server = smtp_server()
    add_account(store, server.port, limits=RateLimits(per_minute=2))
    queue(outbox, 3)
    _interleaved(outbox, store, clock)
    assert len(server.messages) <= 2  # all at T0: at most 2 in that minute
