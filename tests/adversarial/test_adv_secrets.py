"""Secrets: after a full run with a marker password (add, test, send, fail a login,
sendmail, flush, list, show, --json everywhere), the password is in no file of the
profile, no log, the outbox, no output and no exception message; only the keyring has it.
"""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import pytest
from adv_helpers import PASSWORD, USERNAME, files_containing, secret_forms
from smtp_servers import SmtpServerFactory

from mailgui.core.accounts import Account
from mailgui.core.errors import AuthError
from mailgui.core.transport import Session

WRONG = "Wr0ng-Marker-Password-5e1a"


def test_no_password_anywhere_after_a_full_run(
    profile: Any, smtp_server: SmtpServerFactory, ca_file: str, tmp_path: Path
) -> None:
    server = smtp_server("starttls", users={USERNAME: PASSWORD})
    outputs: list[str] = []

    def run(*args: str, input: str | None = None, ok: tuple[int, ...] = (0,)) -> str:
        r = profile.run(*args, input=input)
        outputs.extend([r.stdout, r.stderr])
        assert r.returncode in ok, (args, r.stderr)
        assert "Traceback" not in r.stderr
        return r.stdout

    add = [
        "account", "add", "work", "--email", "me@example.org", "--host", server.host,
        "--port", str(server.port), "--username", USERNAME, "--password-stdin",
        "--ca-file", ca_file, "--timeout", "5",
    ]  # fmt: skip
    run(*add, input=PASSWORD + "\n")
    run("account", "list", "--json")
    run("account", "show", "work", "--json")
    run("account", "show", "work")
    run("account", "test", "work")
    run("send", "--to", "bob@example.org", "--subject", "one", "--body", "b", "--json")
    run("send", "--to", "bob@example.org", "--subject", "two", "--body", "b", "--queue-only")
    run("outbox", "flush", "--json")
    run("sendmail", "--wait", "bob@example.org", input="Subject: three\n\nbody\n")
    run("outbox", "list", "--json")
    run("outbox", "show", "1", "--json")
    run("outbox", "show", "1")
    # A wrong password: refused by the server, reported, deferred; then the right one.
    run(*add, input=WRONG + "\n")
    run("send", "--to", "bob@example.org", "--subject", "four", "--body", "b", ok=(77,))
    run("account", "test", "work", ok=(77,))
    run("outbox", "list")
    run(*add, input=PASSWORD + "\n")
    run("outbox", "flush", "--json")
    run("outbox", "list", "--json")
    assert len(server.messages) == 4
    assert all(m.tls and m.login == USERNAME for m in server.messages)
    assert (USERNAME, False) in server.auth_attempts

    # In process too: the exception of a refused login.
    acct = Account(
        "work", "me@example.org", host=server.host, port=server.port, username=USERNAME,
        ca_file=ca_file, timeout=5,
    )  # fmt: skip
    with pytest.raises(AuthError) as info, Session(acct, WRONG) as session:
        session.open()
    exc = info.value
    outputs += [str(exc), repr(exc), exc.message, str(exc.reply), str(exc.server_words)]

    needles = secret_forms(PASSWORD) + secret_forms(WRONG)
    assert not files_containing(profile.home, needles)
    log = next(profile.home.rglob("mailgui.log"))
    assert b"connected to" in log.read_bytes()  # the log was written, and is clean
    for text in outputs:
        for needle in needles:
            assert needle.decode() not in text, (needle, text)
    # The check can see a password: the (plaintext, test-only) keyring file holds it.
    keyring_files = [p for p in tmp_path.rglob("*") if p.is_file() and "keyring" in str(p)]
    assert files_containing(tmp_path / "xdg-data", [base64.b64encode(PASSWORD.encode())]) or any(
        PASSWORD.encode() in p.read_bytes() for p in keyring_files
    )
