"""``mailgui account login``'s browser flow (RFC 8252) against the real test server: a
scripted browser follows the authorization URL, the server redirects back with a code,
and the grant ends in the keyring. Tampered state, refusal, timeout and cancel too."""

from __future__ import annotations

import shlex
import sys
import textwrap
import threading
import time
import urllib.parse
import webbrowser
from pathlib import Path

import pytest
from oauth2_checks import assert_no_secret
from oauth2_mock import MockOAuth2Server
from processes import Profile

from mailgui.core import passwords
from mailgui.core.errors import EX_NOPERM, AuthError
from mailgui.core.oauth2 import (
    OAuth2Settings,
    SignInCancelled,
    authorize_in_browser,
    sign_in,
)
from mailgui.core.oauth2.flow import SIGNED_IN_PAGE


def _query(url: str) -> dict[str, str]:
    return dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(url).query))


def test_sign_in_stores_the_refresh_token_in_the_keyring(
    oauth2_server: MockOAuth2Server,
    settings: OAuth2Settings,
    browser,
    keyring_profile: Profile,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level("DEBUG")
    shown: list[str] = []
    done = sign_in(settings, "work", show_url=shown.append, open_browser=browser.open)
    assert shown == browser.opened and len(shown) == 1
    assert browser.done.wait(10)
    assert browser.pages == [(200, browser.pages[0][1])]
    assert SIGNED_IN_PAGE in browser.pages[0][1]
    stored = passwords.load("work")
    assert stored is not None and stored == done.tokens.refresh_token
    assert done.tokens.access_token.count(".") == 2  # a signed JWT
    # The authorization request: PKCE S256, a state, the loopback redirect.
    asked = _query(shown[0])
    assert asked["code_challenge_method"] == "S256"
    assert len(asked["code_challenge"]) == 43
    assert len(asked["state"]) >= 32
    assert asked["client_id"] == "mailgui-tests"
    assert asked["redirect_uri"].startswith("http://127.0.0.1:")
    assert asked["redirect_uri"].endswith("/")
    # The exchange sent the verifier (the server checked it against the challenge).
    (exchange,) = oauth2_server.token_requests("authorization_code")
    assert exchange["code_verifier"] and len(exchange["code_verifier"]) >= 43
    assert exchange["redirect_uri"] == asked["redirect_uri"]
    assert "work" in repr(done) and done.tokens.access_token not in repr(done)
    assert_no_secret(
        [caplog.text, repr(done), repr(done.tokens)],
        [done.tokens.access_token, stored, exchange["code_verifier"]],
    )


def test_a_localhost_redirect_where_the_provider_wants_that_name(
    oauth2_server: MockOAuth2Server, settings: OAuth2Settings, browser
) -> None:
    from dataclasses import replace

    tokens = authorize_in_browser(
        replace(settings, redirect_host="localhost"), "work", open_browser=browser.open
    )
    assert tokens.refresh_token
    (asked,) = oauth2_server.log()["authorize"]
    assert asked["redirect_uri"].startswith("http://localhost:")


def test_no_browser_only_hands_out_the_url(settings: OAuth2Settings, browser) -> None:
    shown: list[str] = []

    def print_and_follow(url: str) -> None:
        shown.append(url)
        browser.open(url)  # the person opens it themselves

    opened: list[str] = []
    tokens = authorize_in_browser(
        settings, "work", show_url=print_and_follow, no_browser=True, open_browser=opened.append
    )
    assert opened == [] and len(shown) == 1
    assert tokens.access_token


def test_a_tampered_state_is_refused_at_once(
    oauth2_server: MockOAuth2Server,
    settings: OAuth2Settings,
    browser,
    keyring_profile: Profile,
) -> None:
    def tamper(url: str) -> str:
        query = _query(url)
        query["state"] = "not-the-state-mailgui-sent"
        return urllib.parse.urlsplit(url)._replace(query=urllib.parse.urlencode(query)).geturl()

    browser.rewrite = tamper
    started = time.monotonic()
    with pytest.raises(AuthError, match="state did not match") as raised:
        sign_in(settings, "work", open_browser=browser.open, timeout=60)
    assert time.monotonic() - started < 10  # not waited past for the right one
    assert raised.value.exit_code == EX_NOPERM
    assert "mailgui account login work" in str(raised.value)
    assert browser.done.wait(10)
    assert browser.pages[0][0] == 400 and "state did not match" in browser.pages[0][1]
    assert oauth2_server.token_requests() == []  # the code was never exchanged
    assert passwords.load("work") is None


def test_a_refusal_in_the_browser(settings: OAuth2Settings, keyring_profile: Profile) -> None:
    def refuse(url: str) -> bool:
        query = _query(url)
        answer = {"error": "access_denied", "state": query["state"]}
        target = f"{query['redirect_uri']}?{urllib.parse.urlencode(answer)}"
        threading.Thread(target=_get, args=(target,), daemon=True).start()
        return True

    with pytest.raises(AuthError, match="The sign-in was declined, so nothing was stored"):
        sign_in(settings, "work", open_browser=refuse, timeout=60)
    assert passwords.load("work") is None


def _get(url: str) -> None:
    import urllib.error
    import urllib.request

    try:
        urllib.request.urlopen(url, timeout=10).close()
    except urllib.error.HTTPError:
        pass


def test_other_paths_do_not_end_the_wait(settings: OAuth2Settings, browser) -> None:
    """A browser's /favicon.ico is not the redirect: the listener answers 404 and waits."""
    import urllib.error
    import urllib.request

    codes: list[int] = []

    def favicon_first(url: str) -> None:
        port = urllib.parse.urlsplit(_query(url)["redirect_uri"]).port
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/favicon.ico", timeout=10)
        except urllib.error.HTTPError as exc:
            codes.append(exc.code)
        browser.open(url)

    def open_browser(url: str) -> None:
        threading.Thread(target=favicon_first, args=(url,), daemon=True).start()

    tokens = authorize_in_browser(settings, "work", open_browser=open_browser)
    assert codes == [404]
    assert tokens.access_token


def test_no_answer_times_out(settings: OAuth2Settings, keyring_profile: Profile) -> None:
    started = time.monotonic()
    with pytest.raises(AuthError, match=r"within 1 second, so nothing was stored") as raised:
        sign_in(settings, "work", open_browser=lambda url: None, timeout=1)
    assert 0.9 < time.monotonic() - started < 5
    assert raised.value.exit_code == EX_NOPERM
    assert passwords.load("work") is None


def test_a_cancelled_sign_in(settings: OAuth2Settings) -> None:
    cancel = threading.Event()
    threading.Timer(0.3, cancel.set).start()
    with pytest.raises(SignInCancelled, match="cancelled"):
        authorize_in_browser(settings, "work", open_browser=lambda url: None, cancel=cancel)


FAKE_BROWSER = textwrap.dedent(
    """
    import sys, urllib.request
    with urllib.request.urlopen(sys.argv[2], timeout=15) as response:
        open(sys.argv[1], "w").write(response.read().decode())
    """
)


def test_the_browser_command_in_BROWSER_is_used(
    settings: OAuth2Settings,
    keyring_profile: Profile,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    script, page = tmp_path / "browser.py", tmp_path / "page.html"
    script.write_text(FAKE_BROWSER)
    command = shlex.join([sys.executable, str(script), str(page)])
    monkeypatch.setenv("BROWSER", f"{command} %s")
    # webbrowser reads $BROWSER once, on first use: make it read this one.
    monkeypatch.setattr(webbrowser, "_tryorder", None)
    monkeypatch.setattr(webbrowser, "_browsers", {})
    done = sign_in(settings, "work", timeout=30)
    assert passwords.load("work") == done.tokens.refresh_token
    deadline = time.monotonic() + 10
    while not page.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert SIGNED_IN_PAGE in page.read_text()
