"""A scheduled message is dated when it is released (issue 17): its Date header says when
it left, its Message-ID stays, retries keep that Date; a sealed one keeps the send time
it was sealed with. Real SQLite files, a real SMTP server for the bytes that go out."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from email import message_from_bytes
from email.utils import parsedate_to_datetime
from pathlib import Path

import pytest
from clock import Clock
from smtp_servers import SmtpServerFactory

from mailgui.core.accounts import Account, AccountStore
from mailgui.core.addresses import Mailbox
from mailgui.core.dating import date_span, redated
from mailgui.core.engine import Engine
from mailgui.core.message import Draft, build
from mailgui.core.outbox import BODY_CHUNK, Outbox
from mailgui.core.outgoing import Outgoing
from mailgui.core.paths import Profile

HOUR = 3600.0


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def profile(tmp_path: Path) -> Profile:
    profile = Profile.from_env({"MAILGUI_HOME": str(tmp_path / "home")})
    profile.ensure()
    return profile


@pytest.fixture
def outbox(profile: Profile, clock: Clock) -> Iterator[Outbox]:
    with Outbox(profile.outbox_file, clock=clock) as box:
        yield box


def written(at: float, text: str = "body\n") -> Outgoing:
    draft = Draft(
        sender=Mailbox("", "me@example.org"), to=[Mailbox("", "bob@example.org")],
        subject="Monday's report", text=text,
    )  # fmt: skip
    return build(draft, now=datetime.fromtimestamp(at).astimezone())


def date_of(data: bytes) -> float:
    return parsedate_to_datetime(message_from_bytes(data)["Date"]).timestamp()


def test_the_header_is_found_only_in_the_header_block() -> None:
    data = (
        b"X-Date: no\r\nSubject: a\r\nDate: Mon, 07 Dec 2026 09:00:00 +0100\r\n\r\nDate: body\r\n"
    )
    start, end = date_span(data) or (0, 0)
    assert data[start:end] == b"Mon, 07 Dec 2026 09:00:00 +0100"
    assert date_span(b"Subject: a\r\n\r\nDate: Mon, 07 Dec 2026 09:00:00 +0100\r\n") is None
    folded = b"Date: Mon,\r\n 07 Dec 2026 09:00:00 +0100\r\nX: y\r\n\r\nb\r\n"
    when = datetime.fromisoformat("2026-12-08T10:30:00+01:00")
    assert redated(folded, when) == b"Date: Tue, 08 Dec 2026 10:30:00 +0100\r\nX: y\r\n\r\nb\r\n"


def test_released_late_it_is_dated_when_it_left_and_keeps_its_message_id(
    profile: Profile, outbox: Outbox, clock: Clock
) -> None:
    out = written(clock.now)
    queued = Engine(profile).queue(outbox, ACCOUNT, out, send_at=clock.now + HOUR)
    stored = outbox.body(queued.id)
    assert date_of(stored) == clock.now + HOUR  # until then it carries the send time
    clock.now += 3 * HOUR + 17  # the computer was off at the send time
    outbox.promote_due()
    released = outbox.body(queued.id)
    assert date_of(released) == clock.now
    assert len(released) == len(stored) == outbox.get(queued.id).size
    assert message_from_bytes(released)["Message-ID"] == out.message_id
    assert released.replace(released[: released.index(b"\r\n\r\n")], b"") == stored.replace(
        stored[: stored.index(b"\r\n\r\n")], b""
    )  # the body is untouched

    # a retry keeps that Date: only a release dates a message
    row = outbox.claim_next("A", "work")
    assert row is not None
    outbox.finish(row.id, "A", "deferred", note="x", error="451", next_attempt_at=clock.now + 60)
    clock.now += 600
    outbox.promote_due()
    assert outbox.body(queued.id) == released


def test_a_big_message_is_dated_in_place(profile: Profile, outbox: Outbox, clock: Clock) -> None:
    out = written(clock.now, "x" * 70 + "\n" + ("y" * 76 + "\n") * (2 * BODY_CHUNK // 77))
    assert len(out.data) > 2 * BODY_CHUNK
    msg_id = outbox.add("work", out, send_at=clock.now + HOUR)
    clock.now += 2 * HOUR
    outbox.promote_due()
    body = outbox.body(msg_id)
    assert date_of(body) == clock.now and body.endswith(out.data[-1000:])


def test_a_date_of_another_length_is_rewritten(outbox: Outbox, clock: Clock) -> None:
    out = written(clock.now)
    foreign = out.data.replace(
        out.data[out.data.index(b"Date: ") : out.data.index(b"\r\n", out.data.index(b"Date: "))],
        b"Date: 1 Jan 2027 08:00 GMT",
    )
    msg_id = outbox.add("work", out._replace(data=foreign), send_at=clock.now + HOUR)
    clock.now += HOUR
    outbox.promote_due()
    body = outbox.body(msg_id)
    assert date_of(body) == clock.now
    assert outbox.get(msg_id).size == len(body) != len(foreign)


def test_a_sealed_message_keeps_the_send_time_it_was_sealed_with(
    outbox: Outbox, clock: Clock
) -> None:
    out = written(clock.now)
    msg_id = outbox.add("work", out, send_at=clock.now + HOUR, sealed=("openpgp", None))
    clock.now += 2 * HOUR
    outbox.promote_due()
    assert outbox.get(msg_id).state == "queued"
    assert outbox.body(msg_id) == out.data


ACCOUNT = Account(name="work", email="me@example.org", host="127.0.0.1", check_recipients=False)


def test_what_the_server_receives_is_dated_at_the_release(
    profile: Profile, smtp_server: SmtpServerFactory, ca_file: str, tmp_path: Path
) -> None:
    """Whole way, on the real clock: queued for a second later, sent after two."""
    import time

    server = smtp_server("starttls")
    store = AccountStore(profile.accounts_file)
    account = ACCOUNT._replace(port=server.port, security="starttls", ca_file=ca_file)
    store.save(account)
    written_at = time.time() - 600  # written ten minutes ago, sent a second from now
    with Outbox(profile.outbox_file) as box:
        engine = Engine(profile, store)
        engine.queue(box, account, written(written_at), send_at=time.time() + 1)
        time.sleep(2)
        released = time.time()
        engine.delivery(box).flush()
    (got,) = server.wait_for(1)
    assert released - 1 <= date_of(got.data) <= time.time()
