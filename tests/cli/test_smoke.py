"""End-to-end: the real CLI process against real SMTP servers."""

import json

from helpers import add_account
from smtp_servers import Faults


def test_send_starttls_auth(profile, smtp_server) -> None:
    server = smtp_server("starttls", users={"me": "s3cret"})
    add_account(profile, server, password="s3cret")
    r = profile.run(
        "send",
        "--to",
        "bob@example.org",
        "--bcc",
        "eve@example.org",
        "--subject",
        "Hi",
        "--body",
        "Hello",
        "--json",
    )
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["state"] == "sent"
    (got,) = server.wait_for(1)
    assert got.tls and got.login == "me"
    assert got.rcpt_tos == ["bob@example.org", "eve@example.org"]
    assert b"eve@" not in got.data


def test_send_tls_and_transient(profile, smtp_server) -> None:
    server = smtp_server("tls", faults=Faults(data_reply=["451 4.3.0 Try later"]))
    add_account(profile, server)
    r = profile.run("send", "--to", "bob@example.org", "--subject", "Hi", "--body", "x", "--json")
    assert r.returncode == 75, r.stderr
    doc = json.loads(r.stdout)
    assert doc["state"] == "deferred" and "451" in doc["last_error"]
    r = profile.run("outbox", "flush", "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)[0]["state"] == "sent"
    server.wait_for(1)
