"""A copy in the Sent folder, end to end (DESIGN.md "A copy in the Sent folder"): the
command line sends through a real SMTP server (aiosmtpd) and files the copy in a real
Dovecot with the same login; the copy waits when IMAP is down and is filed by ``outbox
flush`` without sending the message again; a copy already there is not filed twice."""

from __future__ import annotations

import json
import socket
from typing import Any

from imap_server import Dovecot, ImapUser
from processes import Profile
from smtp_servers import RecordingServer, SmtpServerFactory


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _account(
    profile: Profile, smtp: RecordingServer, user: ImapUser, imap_port: int, ca_file: str,
    *extra: str,
) -> None:  # fmt: skip
    r = profile.run(
        "account", "add", "work", "--email", "me@example.org", "--host", "127.0.0.1",
        "--port", str(smtp.port), "--username", user.name, "--password-stdin",
        "--ca-file", ca_file, "--no-recipient-checks", "--imap-host", "127.0.0.1",
        "--imap-port", str(imap_port), *extra, input=user.password + "\n",
    )  # fmt: skip
    assert r.returncode == 0, r.stderr


def _send(profile: Profile, *extra: str) -> Any:
    r = profile.run("send", "--account", "work", "--to", "bob@example.org", "--bcc",
                    "carol@example.org", "--subject", "Filed", "--body", "hello", "--json",
                    *extra)  # fmt: skip
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def test_sent_and_filed_with_its_bcc(
    profile: Profile, dovecot: Dovecot, smtp_server: SmtpServerFactory, ca_file: str
) -> None:
    user = dovecot.add_user()
    smtp = smtp_server("starttls", users={user.name: user.password})
    _account(profile, smtp, user, dovecot.tls_port, ca_file)
    doc = _send(profile)
    assert (doc["state"], doc["sent_copy"], doc["sent_copy_error"]) == ("sent", "filed", None)
    delivered = smtp.wait_for(1)[0].data
    assert b"carol@example.org" not in delivered  # Bcc never in a delivered copy
    (copy,) = dovecot.messages(user)
    assert "\\Seen" in copy.flags
    assert b"Bcc: carol@example.org\r\n" in copy.data  # the sender's copy keeps it
    assert copy.data.replace(b"Bcc: carol@example.org\r\n", b"") == delivered


def test_a_copy_waits_for_imap_and_the_message_is_never_sent_again(
    profile: Profile, dovecot: Dovecot, smtp_server: SmtpServerFactory, ca_file: str
) -> None:
    user = dovecot.add_user()
    smtp = smtp_server("starttls", users={user.name: user.password})
    _account(profile, smtp, user, _closed_port(), ca_file)  # the IMAP server is down
    doc = _send(profile)
    assert (doc["state"], doc["sent_copy"]) == ("sent", "pending")
    assert "refused the connection" in doc["sent_copy_error"]
    assert user.password not in json.dumps(doc)
    _account(profile, smtp, user, dovecot.tls_port, ca_file)  # back up (settings fixed)
    r = profile.run("outbox", "flush")
    assert r.returncode == 0, r.stderr
    assert "Filed a copy of message" in r.stdout
    shown = json.loads(profile.run("outbox", "show", str(doc["id"]), "--json").stdout)
    assert (shown["state"], shown["sent_copy"]) == ("sent", "filed")
    assert len(smtp.messages) == 1 and len(dovecot.messages(user)) == 1


def test_a_copy_already_in_the_folder_is_not_filed_twice(
    profile: Profile, dovecot: Dovecot, smtp_server: SmtpServerFactory, ca_file: str
) -> None:
    """As after a crash between the APPEND and the outbox noting it."""
    user = dovecot.add_user()
    smtp = smtp_server("starttls", users={user.name: user.password})
    _account(profile, smtp, user, _closed_port(), ca_file)
    doc = _send(profile)
    with dovecot.client(user) as imap:  # what the crashed filer had appended
        imap.append("Sent", "(\\Seen)", None, smtp.wait_for(1)[0].data)
    _account(profile, smtp, user, dovecot.tls_port, ca_file)
    assert profile.run("outbox", "flush").returncode == 0
    shown = json.loads(profile.run("outbox", "show", str(doc["id"]), "--json").stdout)
    assert shown["sent_copy"] == "filed"
    assert len(dovecot.messages(user)) == 1


def test_a_missing_named_folder_fails_the_copy_and_retry_files_it(
    profile: Profile, dovecot: Dovecot, smtp_server: SmtpServerFactory, ca_file: str
) -> None:
    user = dovecot.add_user(("Sent", "Gesendet"))
    smtp = smtp_server("starttls", users={user.name: user.password})
    _account(profile, smtp, user, dovecot.tls_port, ca_file, "--sent-folder", "Versandt")
    doc = _send(profile)
    assert (doc["state"], doc["sent_copy"]) == ("sent", "failed")
    assert "Versandt" in doc["sent_copy_error"]
    _account(profile, smtp, user, dovecot.tls_port, ca_file, "--sent-folder", "Gesendet")
    r = profile.run("outbox", "retry", str(doc["id"]), "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["sent_copy"] == "filed"
    assert len(dovecot.messages(user, "Gesendet")) == 1 and len(smtp.messages) == 1


def test_no_copy_for_providers_that_file_it_themselves(profile: Profile) -> None:
    for name, host, imap, expected in [
        ("g", "smtp.gmail.com", "imap.gmail.com", None),
        ("o", "smtp-mail.outlook.com", "outlook.office365.com", None),
        ("f", "smtp.fastmail.com", "imap.fastmail.com", "auto"),
    ]:
        r = profile.run("account", "add", name, "--email", f"me@{name}.example", "--host", host,
                        "--imap-host", imap)  # fmt: skip
        assert r.returncode == 0, r.stderr
        doc = json.loads(profile.run("account", "show", name, "--json").stdout)
        assert doc["sent_copy_folder"] == expected, name


def test_a_refused_imap_login_says_how_to_fix_the_account(
    profile: Profile, dovecot: Dovecot, smtp_server: SmtpServerFactory, ca_file: str
) -> None:
    """The SMTP server takes the password, the IMAP server does not: sent, the copy waits,
    and its error names the account's fix as the SMTP side would."""
    user = dovecot.add_user()
    smtp = smtp_server("starttls", users={user.name: "only-smtp-knows"})
    stale = ImapUser(user.name, "only-smtp-knows")
    _account(profile, smtp, stale, dovecot.tls_port, ca_file)
    doc = _send(profile)
    assert doc["state"] == "sent" and doc["sent_copy"] in ("pending", "failed")
    error = doc["sent_copy_error"]
    assert "refused the user name or password" in error
    assert error.endswith("store the password again with 'mailgui account add work ... "
                          "--password-stdin'.")  # fmt: skip
    assert "only-smtp-knows" not in json.dumps(doc)
