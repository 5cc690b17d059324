"""Access tokens as ``Credentials``: refreshed from the keyring's grant before they
expire and once when refused, rotated grants stored, a dead grant → "sign in again"."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from oauth2_checks import assert_no_secret, files_holding
from oauth2_mock import MockOAuth2Server
from processes import Profile

from mailgui.core import passwords
from mailgui.core.accounts import Account
from mailgui.core.credentials import Login
from mailgui.core.errors import EX_CONFIG, EX_NOPERM, AuthError, ConfigError
from mailgui.core.oauth2 import (
    OAuth2Credentials,
    OAuth2Settings,
    SignedIn,
    SignInNeeded,
    is_signed_in,
    sign_out,
)

WORK = Account(name="work", email="me@example.test", host="smtp.example.test")


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def _credentials(settings: OAuth2Settings, clock: Clock | None = None) -> OAuth2Credentials:
    if clock is None:
        return OAuth2Credentials(lambda account: settings)
    return OAuth2Credentials(lambda account: settings, clock=clock)


def test_login_is_an_oauth2_login_for_the_accounts_address(
    oauth2_server: MockOAuth2Server,
    settings: OAuth2Settings,
    signed_in: Callable[[str], SignedIn],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level("DEBUG")
    signed_in("work")
    credentials = _credentials(settings)
    login = credentials.login(WORK)
    assert login is not None
    assert (login.user, login.mechanism) == ("me@example.test", "oauth2")
    assert login.secret.count(".") == 2
    assert len(oauth2_server.token_requests("refresh_token")) == 1
    assert credentials.login(WORK) == login  # kept in memory, not refreshed again
    assert len(oauth2_server.token_requests("refresh_token")) == 1
    named = WORK._replace(username="me-user")
    assert credentials.login(named) == Login("me-user", login.secret, "oauth2")
    assert_no_secret(
        [caplog.text, repr(credentials), repr(login)], [login.secret, passwords.load("work")]
    )
    assert "renewed the OAuth2 access token" in caplog.text


def test_the_token_is_signed_by_the_servers_key(
    oauth2_server: MockOAuth2Server, settings: OAuth2Settings, signed_in
) -> None:
    from joserfc import jwt
    from joserfc.jwk import KeySet

    signed_in("work")
    login = _credentials(settings).login(WORK)
    assert login is not None
    token = jwt.decode(login.secret, KeySet.import_key_set(oauth2_server.jwks()))
    assert token.claims["iss"] == oauth2_server.issuer


def test_an_account_without_oauth2_gets_no_login(keyring_profile: Profile) -> None:
    assert OAuth2Credentials(lambda account: None).login(WORK) is None
    assert OAuth2Credentials(lambda account: None).refused(WORK, Login("u", "t")) is None


def test_refreshed_shortly_before_expiry(
    oauth2_server: MockOAuth2Server, settings: OAuth2Settings, signed_in
) -> None:
    signed_in("work")
    oauth2_server.configure(ttl=3600)
    clock = Clock(1_000_000.0)
    credentials = _credentials(settings, clock)
    first = credentials.login(WORK)
    clock.now += 3600 - 61  # still more than the margin (60 s) left
    assert credentials.login(WORK) == first
    assert len(oauth2_server.token_requests("refresh_token")) == 1
    clock.now += 2  # 59 s left: renewed before the server would refuse it
    second = credentials.login(WORK)
    assert second is not None and first is not None and second.secret != first.secret
    assert len(oauth2_server.token_requests("refresh_token")) == 2


def test_a_short_lived_token_is_used_for_half_its_life(
    oauth2_server: MockOAuth2Server, settings: OAuth2Settings, signed_in
) -> None:
    signed_in("work")
    oauth2_server.configure(ttl=30)
    clock = Clock(5_000.0)
    credentials = _credentials(settings, clock)
    first = credentials.login(WORK)
    clock.now += 14
    assert credentials.login(WORK) == first
    clock.now += 2
    assert credentials.login(WORK) != first


def test_refused_forces_one_refresh(
    oauth2_server: MockOAuth2Server, settings: OAuth2Settings, signed_in
) -> None:
    signed_in("work")
    credentials = _credentials(settings)
    first = credentials.login(WORK)
    assert first is not None
    again = credentials.refused(WORK, first)
    assert again is not None and again.secret != first.secret and again.mechanism == "oauth2"
    assert len(oauth2_server.token_requests("refresh_token")) == 2
    # The renewed token refused too: the server refuses for another reason; no loop.
    assert credentials.refused(WORK, again) is None
    assert len(oauth2_server.token_requests("refresh_token")) == 2
    # A token another caller already replaced: the current one, without a refresh.
    assert credentials.refused(WORK, first) == again


def test_a_rotated_refresh_token_is_stored(
    oauth2_server: MockOAuth2Server, settings: OAuth2Settings, signed_in, keyring_profile
) -> None:
    done = signed_in("work")
    original = passwords.load("work")
    assert original == done.tokens.refresh_token
    credentials = _credentials(settings)
    credentials.login(WORK)
    rotated = passwords.load("work")
    assert rotated is not None and rotated != original
    # The old one is dead on the server; only the stored one keeps the account signed in.
    fresh = _credentials(settings)
    login = fresh.login(WORK)
    assert login is not None
    (first, second) = oauth2_server.token_requests("refresh_token")
    assert (first["refresh_token"], second["refresh_token"]) == (original, rotated)
    assert_no_secret([repr(credentials), repr(fresh)], [original, rotated])
    # Never anywhere on disk but the (test) keyring's own file.
    home = keyring_profile.home.parent
    keyring_dir = home / "xdg-data"
    for secret in (original, rotated, login.secret):
        assert files_holding(home, secret, except_under=keyring_dir) == []


def test_a_grant_that_is_not_rotated_stays(
    oauth2_server: MockOAuth2Server, settings: OAuth2Settings, signed_in
) -> None:
    signed_in("work")
    oauth2_server.configure(rotate=False)
    original = passwords.load("work")
    credentials = _credentials(settings)
    login = credentials.login(WORK)
    assert login is not None
    assert credentials.refused(WORK, login) is not None
    assert passwords.load("work") == original


def test_a_revoked_grant_says_to_sign_in_again(
    oauth2_server: MockOAuth2Server,
    settings: OAuth2Settings,
    signed_in,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level("DEBUG")
    signed_in("work")
    credentials = _credentials(settings)
    login = credentials.login(WORK)
    assert login is not None
    oauth2_server.revoke_all()
    with pytest.raises(SignInNeeded) as raised:
        credentials.refused(WORK, login)
    error = raised.value
    assert isinstance(error, AuthError) and error.exit_code == EX_NOPERM
    assert error.account == "work"
    assert str(error) == (
        "The sign-in of account work has expired or was revoked, so nothing was sent; "
        "sign in with 'mailgui account login work'."
    )
    assert_no_secret([str(error), caplog.text], [login.secret, passwords.load("work")])


def test_an_expired_grant_at_login_says_the_same(
    oauth2_server: MockOAuth2Server, settings: OAuth2Settings, signed_in
) -> None:
    signed_in("My Work")
    oauth2_server.configure(fail_next={"error": "invalid_grant"})
    account = WORK._replace(name="My Work")
    with pytest.raises(SignInNeeded, match=r"sign in with 'mailgui account login 'My Work''"):
        _credentials(settings).login(account)


def test_an_account_never_signed_in(settings: OAuth2Settings, keyring_profile) -> None:
    with pytest.raises(SignInNeeded) as raised:
        _credentials(settings).login(WORK)
    assert str(raised.value) == (
        "Account work is not signed in, so nothing was sent; "
        "sign in with 'mailgui account login work'."
    )
    assert not is_signed_in("work")


def test_a_client_the_server_does_not_know(
    oauth2_server: MockOAuth2Server, settings: OAuth2Settings, signed_in
) -> None:
    signed_in("work")
    oauth2_server.configure(fail_next={"error": "invalid_client", "status": 401})
    with pytest.raises(ConfigError, match=r"does not accept the client id") as raised:
        _credentials(settings).login(WORK)
    assert raised.value.exit_code == EX_CONFIG


def test_sign_out_forgets_the_grant(settings: OAuth2Settings, signed_in) -> None:
    signed_in("work")
    assert is_signed_in("work")
    sign_out("work")
    assert not is_signed_in("work")
    with pytest.raises(SignInNeeded):
        _credentials(settings).login(WORK)


def test_remember_primes_the_first_login(
    oauth2_server: MockOAuth2Server, settings: OAuth2Settings, signed_in
) -> None:
    done = signed_in("work")
    credentials = _credentials(settings)
    credentials.remember("work", settings, done.tokens)
    login = credentials.login(WORK)
    assert login is not None and login.secret == done.tokens.access_token
    assert oauth2_server.token_requests("refresh_token") == []
