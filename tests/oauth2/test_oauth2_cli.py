"""The whole OAuth2 path through the command line, as a user runs it: ``account add
--oauth2 ISSUER``, ``account login`` with the browser from ``$BROWSER``, then ``send``
through an SMTP server that checks the access token's signature with the issuer's
keys; and the sentence and exit 77 once the grant is revoked."""

from __future__ import annotations

import json
import shlex
import sys
import textwrap
import time
from dataclasses import replace
from pathlib import Path

from joserfc import jwt
from joserfc.jwk import KeySet
from oauth2_mock import MockOAuth2Server
from processes import Profile
from smtp_servers import SmtpServerFactory

BROWSER = textwrap.dedent(
    """
    import sys, urllib.request
    with urllib.request.urlopen(sys.argv[1], timeout=15) as response:
        response.read()
    """
)


def valid_for(server: MockOAuth2Server, user: str):  # type: ignore[no-untyped-def]
    """What a provider's SMTP server does: the token's signature, issuer and expiry."""
    keys = KeySet.import_key_set(server.jwks())

    def check(given_user: str, token: str) -> bool:
        try:
            claims = jwt.decode(token, keys).claims
        except ValueError:
            return False
        return (
            given_user == user
            and claims.get("iss") == server.issuer
            and float(claims.get("exp", 0)) > time.time()
        )

    return check


def test_add_login_send_and_revoked(
    profile: Profile,
    oauth2_server: MockOAuth2Server,
    smtp_server: SmtpServerFactory,
    ca_file: str,
    tmp_path: Path,
) -> None:
    smtp = smtp_server("starttls", tokens=valid_for(oauth2_server, "me@example.org"),
                       oauth_mechanisms=("XOAUTH2",))  # fmt: skip
    r = profile.run(
        "account", "add", "work", "--email", "me@example.org", "--host", "127.0.0.1",
        "--port", str(smtp.port), "--ca-file", ca_file, "--no-recipient-checks",
        "--oauth2", oauth2_server.issuer, "--client-id", "mailgui-tests",
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    script = tmp_path / "browser.py"
    script.write_text(BROWSER)
    browser = f"{shlex.join([sys.executable, str(script)])} %s"
    browsing = replace(profile, env={**profile.env, "BROWSER": browser})
    r = browsing.run("account", "login", "work")
    assert r.returncode == 0, r.stderr
    assert "Signed in to account 'work'" in r.stdout
    doc = json.loads(profile.run("account", "show", "work", "--json").stdout)
    assert doc["auth"] == "oauth2" and doc["oauth2"]["signed_in"] is True
    assert doc["oauth2"]["issuer"] == oauth2_server.issuer

    r = profile.run("send", "--account", "work", "--to", "bob@example.org", "--subject", "Hi",
                    "--body", "hello", "--json")  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["state"] == "sent"
    assert smtp.wait_for(1)[0].login == "me@example.org"

    oauth2_server.revoke_all()
    r = profile.run("send", "--account", "work", "--to", "bob@example.org", "--subject", "Again",
                    "--body", "hello", "--json")  # fmt: skip
    assert r.returncode == 77, r.stderr
    assert "sign in with 'mailgui account login work'" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1 and "Traceback" not in r.stderr
    assert json.loads(r.stdout)["state"] == "deferred"  # kept, to go out once signed in again
    assert len(smtp.messages) == 1


def test_login_without_a_browser_prints_the_address(
    profile: Profile, oauth2_server: MockOAuth2Server
) -> None:
    r = profile.run(
        "account", "add", "work", "--email", "me@example.org", "--host", "smtp.example.org",
        "--oauth2", oauth2_server.issuer, "--client-id", "mailgui-tests",
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    r = profile.run("account", "login", "work", "--no-browser", "--timeout", "1")
    assert r.returncode == 77, r.stderr
    assert "Open this address to sign in" in r.stderr and "code_challenge_method=S256" in r.stderr
    assert "Traceback" not in r.stderr


def test_the_agent_keeps_messages_for_a_revoked_grant_and_sends_them_after_login(
    profile: Profile,
    oauth2_server: MockOAuth2Server,
    smtp_server: SmtpServerFactory,
    ca_file: str,
    tmp_path: Path,
) -> None:
    """``mailgui agent`` with a grant the server revoked: the messages wait, the log says
    once what to do, nothing hammers the token endpoint or the SMTP server; after
    ``account login`` (another process), the agent sends them by itself."""
    import signal

    from processes import sender_lock_held, started
    from waiting import WAIT, until

    smtp = smtp_server("starttls", tokens=valid_for(oauth2_server, "me@example.org"))
    r = profile.run(
        "account", "add", "work", "--email", "me@example.org", "--host", "127.0.0.1",
        "--port", str(smtp.port), "--ca-file", ca_file, "--no-recipient-checks",
        "--oauth2", oauth2_server.issuer, "--client-id", "mailgui-tests",
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    script = tmp_path / "browser.py"
    script.write_text(BROWSER)
    browsing = replace(
        profile, env={**profile.env, "BROWSER": f"{shlex.join([sys.executable, str(script)])} %s"}
    )
    assert browsing.run("account", "login", "work").returncode == 0
    oauth2_server.revoke_all()
    for i in range(3):
        r = profile.run("send", "--account", "work", "--to", "bob@example.org", "--subject",
                        f"Waiting {i}", "--body", "hello", "--queue-only")  # fmt: skip
        assert r.returncode == 0, r.stderr

    def states() -> list[str]:
        out = profile.run("outbox", "list", "--json").stdout
        return sorted(m["state"] for m in json.loads(out))

    with started(profile, "agent") as proc:
        sender_lock_held(profile, proc, "agent")
        until(lambda: states() == ["deferred"] * 3, what="the messages to wait for sign-in")
        refreshes = len(oauth2_server.token_requests("refresh_token"))
        assert 1 <= refreshes <= 2  # one refusal for the account, not one per message
        time.sleep(3)  # the agent looks every second: it must not try again meanwhile
        assert len(oauth2_server.token_requests("refresh_token")) == refreshes
        assert smtp.messages == []

        assert browsing.run("account", "login", "work").returncode == 0
        until(lambda: states() == ["sent"] * 3, what="the agent to send them after login")
        assert len(smtp.wait_for(3)) == 3
        proc.send_signal(signal.SIGTERM)
        _out, err = proc.communicate(timeout=WAIT)
    told = [line for line in err.splitlines() if "mailgui account login work" in line]
    assert len(told) == 1, err  # said once, for the account, not once per message
    assert "account 'work'" in told[0] and "(3 messages wait)" in told[0], told
