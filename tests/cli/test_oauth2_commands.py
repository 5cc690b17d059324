"""OAuth2 accounts on the command line (DESIGN.md "Signing in with OAuth2"): the account
options and their JSON, the mistakes refused, and a message sent with a token command
against a server that takes only tokens."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from smtp_servers import SmtpServerFactory

TOKEN = "ya29.from-the-command"


def add(profile: Any, *extra: str, input: str | None = None) -> Any:
    return profile.run(
        "account", "add", "work", "--email", "me@example.org", "--host", "smtp.example.org",
        *extra, input=input,
    )  # fmt: skip


def show(profile: Any) -> dict[str, Any]:
    r = profile.run("account", "show", "work", "--json")
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def test_an_oauth2_account_and_its_json(profile: Any) -> None:
    r = add(profile, "--oauth2", "microsoft", "--client-id", "my-app-id", "--scope",
            "https://outlook.office.com/SMTP.Send", "offline_access")  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert "mailgui account login work" in r.stderr  # not signed in yet
    doc = show(profile)
    assert doc["auth"] == "oauth2" and doc["has_password"] is False
    assert doc["oauth2"] == {
        "issuer": "microsoft", "client_id": "my-app-id",
        "scopes": ["https://outlook.office.com/SMTP.Send", "offline_access"],
        "token_command": None, "signed_in": False,
    }  # fmt: skip


def test_a_password_account_says_so(profile: Any) -> None:
    assert add(profile, "--username", "me").returncode == 0
    doc = show(profile)
    assert doc["auth"] == "password" and doc["oauth2"] is None
    r = profile.run("account", "login", "work")
    assert r.returncode == 64 and "does not sign in with OAuth2" in r.stderr


def test_mistakes_are_refused_with_one_sentence(profile: Any) -> None:
    for extra, code, words in [
        (["--oauth2", "google", "--password-stdin"], 64, "takes no password"),
        (["--oauth2", "http://issuer.example.org"], 64, "https URL of an issuer"),
        (["--oauth2", "google", "--security", "none"], 78, "never sent unencrypted"),
        (["--client-id", "x"], 64, "go with --oauth2"),
        (["--oauth2-token-command", "'unclosed"], 64, "check its quotes"),
    ]:
        r = add(profile, *extra, input="pw\n")
        assert r.returncode == code, (extra, r.returncode, r.stderr)
        assert words in r.stderr and "Traceback" not in r.stderr
        assert len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert profile.run("account", "list", "--json").stdout.strip() == "[]"


def test_a_client_secret_goes_to_the_keyring_only(profile: Any, tmp_path: Path) -> None:
    secret = "GOCSPX-not-in-any-file"
    r = add(profile, "--oauth2", "google", "--client-id", "id", "--client-secret-stdin",
            input=secret + "\n")  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert secret not in profile.run("account", "show", "work", "--json").stdout
    home = Path(profile.env["MAILGUI_HOME"])
    assert not [p for p in home.rglob("*") if p.is_file() and secret.encode() in p.read_bytes()]
    assert profile.run("account", "remove", "work").returncode == 0
    keyrings = Path(profile.env["XDG_DATA_HOME"])
    assert not [
        p for p in keyrings.rglob("*") if p.is_file() and b"client-secret" in p.read_bytes()
    ]


def test_send_with_a_token_command(
    profile: Any, smtp_server: SmtpServerFactory, ca_file: str, tmp_path: Path
) -> None:
    server = smtp_server(
        "starttls", tokens=lambda user, token: (user, token) == ("me@example.org", TOKEN),
        oauth_mechanisms=("XOAUTH2",),
    )  # fmt: skip
    script = tmp_path / "token.py"
    script.write_text(f"print({TOKEN!r})\n")
    r = profile.run(
        "account", "add", "work", "--email", "me@example.org", "--host", "127.0.0.1",
        "--port", str(server.port), "--ca-file", ca_file, "--no-recipient-checks",
        "--oauth2-token-command", f"{sys.executable} {script}",
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert show(profile)["oauth2"]["signed_in"] is True
    r = profile.run("send", "--account", "work", "--to", "bob@example.org", "--subject", "Hi",
                    "--body", "hello")  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert server.wait_for(1)[0].login == "me@example.org"
    assert server.mechanisms == ["XOAUTH2"]
    home = Path(profile.env["MAILGUI_HOME"])
    assert not [p for p in home.rglob("*") if p.is_file() and TOKEN.encode() in p.read_bytes()]


def test_a_refused_token_keeps_the_message_and_exits_77(
    profile: Any, smtp_server: SmtpServerFactory, ca_file: str, tmp_path: Path
) -> None:
    server = smtp_server("starttls", tokens=lambda user, token: False)
    script = tmp_path / "token.py"
    script.write_text("print('ya29.always-refused')\n")
    r = profile.run(
        "account", "add", "work", "--email", "me@example.org", "--host", "127.0.0.1",
        "--port", str(server.port), "--ca-file", ca_file, "--no-recipient-checks",
        "--oauth2-token-command", f"{sys.executable} {script}",
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    r = profile.run("send", "--account", "work", "--to", "bob@example.org", "--subject", "Hi",
                    "--body", "hello", "--json")  # fmt: skip
    assert r.returncode == 77, r.stderr
    assert "--oauth2-token-command" in r.stderr and "ya29" not in r.stderr + r.stdout
    rows = json.loads(profile.run("outbox", "list", "--json").stdout)
    assert [m["state"] for m in rows] == ["deferred"]


def test_switching_a_password_account_to_oauth2_drops_the_password(profile: Any) -> None:
    assert add(profile, "--username", "me", "--password-stdin", input="old-pw\n").returncode == 0
    assert show(profile)["has_password"] is True
    assert add(profile, "--oauth2", "google", "--client-id", "id").returncode == 0
    doc = show(profile)
    assert doc["auth"] == "oauth2" and doc["oauth2"]["signed_in"] is False  # not the password
    keyrings = Path(profile.env["XDG_DATA_HOME"])
    assert not [p for p in keyrings.rglob("*") if p.is_file() and b"old-pw" in p.read_bytes()]
