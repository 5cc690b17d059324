"""Signing in to an SMTP server with an OAuth2 access token (core/transport.py and
core/sasl.py): OAUTHBEARER or XOAUTH2 as the server offers, never a password mechanism,
Gmail's error challenge, one renewal when a token is refused, and the sign-in sentence."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from smtp_servers import RecordingServer, SmtpServerFactory

from mailgui.core.accounts import Account, AccountStore
from mailgui.core.addresses import Mailbox
from mailgui.core.credentials import Login
from mailgui.core.engine import Engine
from mailgui.core.errors import AuthError
from mailgui.core.hints import Hint
from mailgui.core.message import Draft, build
from mailgui.core.outbox import Outbox
from mailgui.core.paths import Profile
from mailgui.core.transport import Session

GOOD = "ya29.good-token"


class Tokens:
    """An OAuth2 source with a stale token first (or none), and one renewal."""

    def __init__(self, first: str | None, renewed: str | None = None) -> None:
        self.first, self.renewed = first, renewed
        self.refusals = 0

    def login(self, account: Account) -> Login | None:
        return None if self.first is None else Login(account.sasl_user, self.first, "oauth2")

    def refused(self, account: Account, login: Login) -> Login | None:
        self.refusals += 1
        if self.renewed is None or self.refusals > 1:
            return None
        return Login(account.sasl_user, self.renewed, "oauth2")


def accept(token: str) -> Callable[[str, str], bool]:
    return lambda user, given: user == "me@example.org" and given == token


def oauth_account(server: RecordingServer, ca_file: str) -> Account:
    return Account(
        name="work", email="me@example.org", host="127.0.0.1", port=server.port,
        security="starttls", ca_file=ca_file, oauth2="microsoft", check_recipients=False,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("offered", "used"),
    [(("XOAUTH2",), "XOAUTH2"), (("OAUTHBEARER", "XOAUTH2"), "OAUTHBEARER")],
)
def test_a_token_signs_in_with_the_mechanism_offered(
    smtp_server: SmtpServerFactory, ca_file: str, offered: tuple[str, ...], used: str
) -> None:
    server = smtp_server("starttls", users={"me@example.org": "pw"}, tokens=accept(GOOD),
                         oauth_mechanisms=offered)  # fmt: skip
    account = oauth_account(server, ca_file)
    with Session(account, Login("me@example.org", GOOD, "oauth2")) as session:
        info = session.open()
    assert info.authenticated_as == "me@example.org"
    assert server.mechanisms == [used] and server.auth_attempts == [("me@example.org", True)]


def test_an_oauth2_account_never_falls_back_to_a_password(
    smtp_server: SmtpServerFactory, ca_file: str
) -> None:
    server = smtp_server("starttls", users={"me@example.org": GOOD})  # PLAIN/LOGIN only
    account = oauth_account(server, ca_file)
    with pytest.raises(AuthError, match="does not offer OAuth2 sign-in") as refused:
        Session(account, Login("me@example.org", GOOD, "oauth2")).open()
    assert GOOD not in str(refused.value)
    with pytest.raises(AuthError):  # a password handed to an OAuth2 account is not used
        Session(account, Login("me@example.org", GOOD, "password")).open()
    assert server.auth_attempts == []


def test_a_refused_token_gets_the_error_challenge_answered(
    smtp_server: SmtpServerFactory, ca_file: str
) -> None:
    server = smtp_server("starttls", tokens=accept(GOOD), oauth_mechanisms=("XOAUTH2",))
    account = oauth_account(server, ca_file)
    with pytest.raises(AuthError) as refused:
        Session(account, Login("me@example.org", "ya29.expired", "oauth2")).open()
    err = refused.value
    assert err.code == 535 and "(401)" in str(err)
    assert err.said is not None and err.said.hint == Hint("sign-in", "work")
    assert str(err).endswith("sign in with 'mailgui account login work'.")
    assert "ya29" not in str(err)


@pytest.fixture
def profile_outbox(tmp_path: Path) -> tuple[Profile, Outbox]:
    profile = Profile.from_env({"MAILGUI_HOME": str(tmp_path / "home")})
    profile.ensure()
    return profile, Outbox(profile.outbox_file)


def _queue(engine: Engine, outbox: Outbox, account: Account) -> int:
    draft = Draft(sender=Mailbox("", "me@example.org"), to=[Mailbox("", "bob@example.org")],
                  subject="Hi", text="hello\n")  # fmt: skip
    return engine.queue(outbox, account, build(draft)).id


def test_delivery_renews_a_refused_token_once(
    smtp_server: SmtpServerFactory, ca_file: str, profile_outbox: tuple[Profile, Outbox]
) -> None:
    profile, outbox = profile_outbox
    server = smtp_server("starttls", tokens=accept(GOOD))
    store = AccountStore(profile.accounts_file)
    account = oauth_account(server, ca_file)
    store.save(account)
    tokens = Tokens("ya29.stale", GOOD)
    engine = Engine(profile, store, credentials=tokens)
    msg_id = _queue(engine, outbox, account)
    with outbox:
        report = engine.delivery(outbox).flush()
        assert [o.state for o in report.outcomes] == ["sent"]
    assert tokens.refusals == 1
    assert server.auth_attempts == [("me@example.org", False), ("me@example.org", True)]
    assert server.wait_for(1)[0].login == "me@example.org"
    assert msg_id


@pytest.mark.parametrize("first", [None, "ya29.revoked"])
def test_no_grant_keeps_the_message_and_says_to_sign_in(
    smtp_server: SmtpServerFactory,
    ca_file: str,
    profile_outbox: tuple[Profile, Outbox],
    first: str | None,
) -> None:
    profile, outbox = profile_outbox
    server = smtp_server("starttls", tokens=accept(GOOD))
    store = AccountStore(profile.accounts_file)
    account = oauth_account(server, ca_file)
    store.save(account)
    engine = Engine(profile, store, credentials=Tokens(first))
    msg_id = _queue(engine, outbox, account)
    with outbox:
        report = engine.delivery(outbox).flush()
        row = outbox.get(msg_id)
    assert [o.state for o in report.outcomes] == ["deferred"]
    assert isinstance(report.outcomes[0].error, AuthError)
    assert row.state == "deferred" and row.last_error_said is not None
    assert row.last_error_said.hint == Hint("sign-in", "work")
    assert "mailgui account login work" in (row.last_error or "")
    assert server.messages == []
