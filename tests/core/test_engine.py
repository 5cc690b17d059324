"""The engine every face drives: queueing with the recipient-domain policy, the seams
for what comes after (credentials, sealers, steps after delivery), against a real
SMTP server with STARTTLS and AUTH."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
from smtp_servers import RecordingServer, SmtpServerFactory

from mailgui.core.accounts import Account, AccountStore
from mailgui.core.addresses import Mailbox
from mailgui.core.credentials import Login, Passwords
from mailgui.core.delivery import Outcome
from mailgui.core.engine import NULL_MX, Engine
from mailgui.core.hints import Hint
from mailgui.core.message import Draft, build
from mailgui.core.outbox import Outbox
from mailgui.core.outgoing import Outgoing
from mailgui.core.paths import Profile
from mailgui.core.recipient_checks import Finding


@pytest.fixture
def core_profile(tmp_path: Path) -> Profile:
    profile = Profile.from_env({"MAILGUI_HOME": str(tmp_path / "home")})
    profile.ensure()
    return profile


@pytest.fixture
def outbox(core_profile: Profile) -> Iterator[Outbox]:
    with Outbox(core_profile.outbox_file) as box:
        yield box


def message(*to: str) -> Outgoing:
    draft = Draft(
        sender=Mailbox("", "me@example.org"), to=[Mailbox("", a) for a in to],
        subject="Hello", text="body\n",
    )  # fmt: skip
    return build(draft)


ACCOUNT = Account(name="work", email="me@example.org", host="127.0.0.1", check_recipients=False)
NULL = Finding("nomail.example", "block", f"nomail.example {NULL_MX}.")


def test_queue_is_durable_and_takes_a_null_mx_recipient_out(
    core_profile: Profile, outbox: Outbox
) -> None:
    queued = Engine(core_profile).queue(
        outbox, ACCOUNT, message("bob@example.org", "eve@nomail.example"), findings=[NULL]
    )
    row = outbox.get(queued.id)
    assert row.pending == ["bob@example.org"]
    assert list(queued.refused) == ["eve@nomail.example"]
    assert not queued.failed
    assert NULL_MX in row.recipient_errors["eve@nomail.example"]


def test_a_message_left_with_nobody_fails_at_once(core_profile: Profile, outbox: Outbox) -> None:
    queued = Engine(core_profile).queue(
        outbox, ACCOUNT, message("eve@nomail.example"), findings=[NULL]
    )
    assert queued.failed and queued.blocked_domains == ["nomail.example"]
    assert outbox.get(queued.id).state == "failed"


def test_warnings_only_advise(core_profile: Profile, outbox: Outbox) -> None:
    typo = Finding("gmail.con", "warn", "gmail.con: did you mean gmail.com?", "gmail.com")
    queued = Engine(core_profile).queue(outbox, ACCOUNT, message("bob@gmail.con"), findings=[typo])
    assert (queued.refused, queued.findings) == ({}, [typo])
    assert outbox.get(queued.id).state == "queued"


def test_sealers_give_the_final_bytes_before_they_are_stored(
    core_profile: Profile, outbox: Outbox
) -> None:
    def seal(account: Account, out: Outgoing) -> Outgoing:
        return out._replace(data=b"X-Sealed-By: " + account.name.encode() + b"\r\n" + out.data)

    queued = Engine(core_profile, sealers=[seal]).queue(outbox, ACCOUNT, message("b@example.org"))
    assert outbox.body(queued.id).startswith(b"X-Sealed-By: work\r\n")


class Renewing:
    """A source whose first secret is stale and whose renewal works (OAuth2's shape)."""

    def __init__(self, good: str) -> None:
        self.good = good
        self.renewed = 0

    def login(self, account: Account) -> Login | None:
        return Login(account.username, "stale")

    def refused(self, account: Account, login: Login) -> Login | None:
        self.renewed += 1
        return Login(account.username, self.good) if self.renewed == 1 else None


class Filing:
    """A step after delivery: it sees what went out, and its outcomes join the report."""

    def __init__(self) -> None:
        self.seen: list[list[str]] = []

    def flush(
        self,
        outbox: Outbox,
        accounts: AccountStore,
        *,
        account: str | None,
        ids: Sequence[int] | None,
        include_deferred: bool,
    ) -> list[Outcome]:
        sent = [r for r in outbox.list_messages(state="sent")]
        self.seen.append([r.message_id for r in sent])
        return [Outcome(r.id, "filed") for r in sent]


AuthServer = tuple[RecordingServer, AccountStore, Account]


@pytest.fixture
def auth_server(core_profile: Profile, smtp_server: SmtpServerFactory, ca_file: str) -> AuthServer:
    """A STARTTLS server that wants AUTH (user me, password s3cret), and its account."""
    server = smtp_server("starttls", users={"me": "s3cret"})
    store = AccountStore(core_profile.accounts_file)
    account = Account(
        name="work", email="me@example.org", host="127.0.0.1", port=server.port,
        security="starttls", username="me", ca_file=ca_file, check_recipients=False,
    )  # fmt: skip
    store.save(account)
    return server, store, account


def test_delivery_renews_a_refused_login_once_and_runs_the_steps_after(
    core_profile: Profile,
    outbox: Outbox,
    auth_server: tuple[RecordingServer, AccountStore, Account],
) -> None:
    server, store, account = auth_server
    credentials = Renewing("s3cret")
    filing = Filing()
    engine = Engine(core_profile, store, credentials=credentials, after=[filing])
    queued = engine.queue(outbox, account, message("bob@example.org"))
    report = engine.delivery(outbox).flush()
    assert [(o.id, o.state) for o in report.outcomes] == [(queued.id, "sent"), (queued.id, "filed")]
    assert credentials.renewed == 1
    assert [m.login for m in server.wait_for(1)] == ["me"]
    assert server.auth_attempts == [("me", False), ("me", True)]
    assert filing.seen == [[outbox.get(queued.id).message_id]]


def test_a_password_refused_is_not_tried_again(
    core_profile: Profile,
    outbox: Outbox,
    auth_server: tuple[RecordingServer, AccountStore, Account],
) -> None:
    server, store, account = auth_server
    engine = Engine(core_profile, store, credentials=Passwords(lambda name: "wrong"))
    queued = engine.queue(outbox, account, message("bob@example.org"))
    report = engine.delivery(outbox).flush()
    assert [o.state for o in report.outcomes] == ["deferred"]
    assert server.auth_attempts == [("me", False)]
    row = outbox.get(queued.id)
    assert row.state == "deferred"
    # the fix is kept as data beside the command line's sentence, for the app's words
    assert row.last_error_said is not None
    assert row.last_error_said.hint == Hint("password-refused", "work")
    assert row.last_error == row.last_error_said.cli()
    assert row.last_error.endswith(
        "store the password again with 'mailgui account add work ... --password-stdin'."
    )
