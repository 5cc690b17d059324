"""End-to-end: how the real CLI fails, and recovers, against real misbehaving SMTP servers.

Every test runs ``python -m mailgui`` in a fresh profile against loopback servers (the
``smtp_server``, ``fake_server`` and ``closed_port`` fixtures); nothing is mocked. For each
failure we check the exit code (DESIGN.md's sysexits), the message's state and
``last_error`` in ``outbox show --json``, that stderr is one sentence per unsent message,
and that the message stays in the outbox and later goes out with the same Message-ID and
Date it got when it was queued.
"""

from __future__ import annotations

import base64
import json
import re
import time
import tomllib
from types import SimpleNamespace

import pytest
import tomli_w
from helpers import (
    BOB,
    CAROL,
    SENDER,
    add_account,
    assert_one_sentence,
    assert_same_message,
    assert_sentences,
    files_containing,
    header,
    outbox_list,
    parse_time,
    queue,
    send,
    show,
)
from smtp_servers import DEFAULT_EHLO, Faults

PASSWORD = "s3cret-Horse-42"
NO_TLS_COMMANDS = ("MAIL", "RCPT", "DATA", "AUTH")


def deliver_later(
    profile, server, msg_id=1, *, command=("outbox", "flush"), repoint=True, password=None
):
    """Run ``command`` against a working ``server`` (first pointing the account at it with
    ``repoint``): the message that failed goes out with the Message-ID and Date it was queued
    with."""
    if repoint:
        add_account(profile, server, password=password)
    r = profile.run(*command)
    assert r.returncode == 0, r.stderr
    doc = show(profile, msg_id)
    assert doc["state"] == "sent" and doc["last_error"] is None
    got = server.wait_for(1)[-1]
    assert_same_message(doc, got.data)
    return doc


def verbs(commands):
    return [c.split(" ", 1)[0].upper() for c in commands]


# --- it works: every security mode -------------------------------------------------------


@pytest.mark.parametrize("security", ["none", "starttls", "tls"])
def test_every_security_mode_delivers(profile, smtp_server, security) -> None:
    users = None if security == "none" else {"me": PASSWORD}
    server = smtp_server(security, users=users)
    add_account(profile, server, password=None if security == "none" else PASSWORD)
    r = send(profile, "--json", to=(BOB, CAROL))
    assert r.returncode == 0, r.stderr
    assert r.stderr == ""
    doc = json.loads(r.stdout)
    assert doc["state"] == "sent" and doc["attempts"] == 1
    assert doc["last_error"] is None and doc["recipient_errors"] == {}
    (got,) = server.wait_for(1)
    assert got.mail_from == SENDER and got.rcpt_tos == [BOB, CAROL]
    if security == "none":
        assert not got.tls and got.login is None and server.auth_attempts == []
    else:  # AUTH only inside TLS: aiosmtpd records the login of an encrypted session
        assert got.tls and got.login == "me" and server.auth_attempts == [("me", True)]
    assert server.connections == 1
    assert_same_message(show(profile, doc["id"]), got.data)


# --- the server is not there, or will not talk ------------------------------------------


def test_connection_refused_defers_for_a_minute(profile, closed_port, smtp_server) -> None:
    add_account(profile, SimpleNamespace(host="127.0.0.1", port=closed_port))
    before = time.time()
    r = send(profile)
    after = time.time()
    assert r.returncode == 75, r.stderr
    assert "refused the connection" in assert_one_sentence(r.stderr)
    doc = show(profile, 1)
    assert doc["state"] == "deferred" and doc["attempts"] == 1
    assert "refused the connection" in doc["last_error"]
    assert before + 58 <= parse_time(doc["next_attempt_at"]) <= after + 62
    deliver_later(profile, smtp_server())


def test_server_that_never_greets_times_out(profile, fake_server, smtp_server) -> None:
    fake = fake_server(greeting=None)
    add_account(profile, fake, "--timeout", "1")
    started = time.monotonic()
    r = send(profile, timeout=15)
    elapsed = time.monotonic() - started
    assert r.returncode == 75, r.stderr
    assert elapsed < 5, f"took {elapsed:.1f} s with a 1 s timeout"
    assert "did not answer" in assert_one_sentence(r.stderr)
    doc = show(profile, 1)
    assert doc["state"] == "deferred" and "did not answer" in doc["last_error"]
    assert fake.commands == []
    deliver_later(profile, smtp_server())


def test_421_greeting_defers(profile, fake_server, smtp_server) -> None:
    fake = fake_server(greeting="421 4.3.2 Too busy, come back later")
    add_account(profile, fake)
    r = send(profile)
    assert r.returncode == 75, r.stderr
    assert "421 4.3.2 Too busy, come back later" in assert_one_sentence(r.stderr)
    doc = show(profile, 1)
    assert doc["state"] == "deferred"
    assert "421 4.3.2 Too busy, come back later" in doc["last_error"]
    assert fake.commands == [] and fake.messages == []
    deliver_later(profile, smtp_server())


# --- the server refuses the sender, the recipients or the message -----------------------


@pytest.mark.parametrize(
    ("reply", "code", "state", "command"),
    [
        ("451 4.3.0 Mail server temporarily busy", 75, "deferred", ("outbox", "flush")),
        ("550 5.7.1 Sender not allowed here", 69, "failed", ("outbox", "retry", "1")),
    ],
)
def test_mail_from_refused(profile, smtp_server, reply, code, state, command) -> None:
    server = smtp_server(faults=Faults(mail_reply=[reply]))
    add_account(profile, server)
    r = send(profile)
    assert r.returncode == code, r.stderr
    assert reply in assert_one_sentence(r.stderr)
    doc = show(profile, 1)
    assert doc["state"] == state and reply in doc["last_error"]
    assert (doc["next_attempt_at"] is None) == (state == "failed")
    assert server.messages == []
    deliver_later(profile, server, command=command, repoint=False)


def test_every_recipient_refused_fails(profile, smtp_server) -> None:
    refusals = {BOB: "550 5.1.1 No such user bob", CAROL: "550 5.1.1 No such user carol"}
    server = smtp_server(faults=Faults(rcpt_replies=refusals))
    add_account(profile, server)
    r = send(profile, to=(BOB, CAROL))
    assert r.returncode == 69, r.stderr
    line = assert_one_sentence(r.stderr)
    assert all(reply in line for reply in refusals.values())
    doc = show(profile, 1)
    assert doc["state"] == "failed"
    assert doc["recipient_errors"] == refusals
    assert all(reply in doc["last_error"] for reply in refusals.values())
    assert server.messages == []


def test_one_recipient_refused_the_others_get_it(profile, smtp_server) -> None:
    server = smtp_server(faults=Faults(rcpt_replies={BOB: "550 5.1.1 No such user bob"}))
    add_account(profile, server)
    r = send(profile, to=(BOB, CAROL))
    assert r.returncode == 0, r.stderr
    line = assert_one_sentence(r.stderr)
    assert BOB in line and "550 5.1.1 No such user bob" in line
    doc = show(profile, 1)
    assert doc["state"] == "sent" and doc["last_error"] is None
    assert doc["recipient_errors"] == {BOB: "550 5.1.1 No such user bob"}
    (got,) = server.wait_for(1)
    assert got.rcpt_tos == [CAROL]
    assert_same_message(doc, got.data)
    assert b"bob@example.org" in got.data  # still in the To header: only the envelope changes


def test_recipient_refused_for_now_is_retried_alone(profile, smtp_server) -> None:
    server = smtp_server(faults=Faults(rcpt_replies={BOB: ["450 4.2.1 Mailbox busy"]}))
    add_account(profile, server)
    r = send(profile, to=(BOB, CAROL))
    assert r.returncode == 75, r.stderr
    assert BOB in assert_one_sentence(r.stderr)
    (first,) = server.wait_for(1)
    assert first.rcpt_tos == [CAROL]
    doc = show(profile, 1)
    assert doc["state"] == "deferred" and doc["pending"] == [BOB]
    assert doc["recipient_errors"] == {BOB: "450 4.2.1 Mailbox busy"}

    r = profile.run("outbox", "flush")
    assert r.returncode == 0, r.stderr
    assert r.stderr == ""  # bob got it in the end: nothing to complain about
    first, second = server.wait_for(2)
    assert second.rcpt_tos == [BOB]
    assert second.data == first.data
    doc = show(profile, 1)
    assert doc["state"] == "sent" and doc["pending"] == [] and doc["attempts"] == 2
    assert doc["recipient_errors"] == {}
    assert_same_message(doc, second.data)


def test_refused_for_good_and_for_now_retries_only_the_latter(profile, smtp_server) -> None:
    refusals = {BOB: "550 5.1.1 No such user bob", CAROL: ["450 4.2.1 Mailbox busy"]}
    server = smtp_server(faults=Faults(rcpt_replies=refusals))
    add_account(profile, server)
    r = send(profile, to=(BOB, CAROL))
    assert r.returncode == 75, r.stderr
    assert_one_sentence(r.stderr)
    doc = show(profile, 1)
    assert doc["state"] == "deferred" and doc["pending"] == [CAROL]
    assert doc["recipient_errors"] == {BOB: refusals[BOB], CAROL: "450 4.2.1 Mailbox busy"}
    assert server.messages == []

    r = profile.run("outbox", "flush")
    assert r.returncode == 0, r.stderr
    (got,) = server.wait_for(1)
    assert got.rcpt_tos == [CAROL]  # bob, refused for good, is not asked again
    doc = show(profile, 1)
    assert doc["state"] == "sent" and doc["recipient_errors"] == {BOB: refusals[BOB]}
    assert BOB in assert_one_sentence(r.stderr)
    assert_same_message(doc, got.data)


@pytest.mark.parametrize(
    ("reply", "code", "state", "command"),
    [
        ("554 5.6.0 Message content rejected", 69, "failed", ("outbox", "retry", "1")),
        ("452 4.3.1 Insufficient system storage", 75, "deferred", ("outbox", "flush")),
    ],
)
def test_message_refused_after_data(profile, smtp_server, reply, code, state, command) -> None:
    server = smtp_server(faults=Faults(data_reply=[reply]))
    add_account(profile, server)
    r = send(profile)
    assert r.returncode == code, r.stderr
    assert reply in assert_one_sentence(r.stderr)
    doc = show(profile, 1)
    assert doc["state"] == state and reply in doc["last_error"]
    assert server.messages == []
    deliver_later(profile, server, command=command, repoint=False)


# --- the line goes away after the message: maybe delivered -------------------------------


def test_drop_after_final_dot_sends_again_with_same_bytes(profile, smtp_server) -> None:
    server = smtp_server(faults=Faults(drop_after_dot=1))
    add_account(profile, server)
    r = send(profile)
    assert r.returncode == 75, r.stderr
    assert "may or may not have been delivered" in assert_one_sentence(r.stderr)
    doc = show(profile, 1)
    assert doc["state"] == "deferred"
    assert "may or may not have been delivered" in doc["last_error"]
    server.wait_for(1)  # the server did get it
    deliver_later(profile, server, repoint=False)
    first, second = server.wait_for(2)
    assert first.data == second.data  # at-least-once, and the very same message


def test_server_hanging_after_final_dot_times_out(profile, fake_server, smtp_server) -> None:
    fake = fake_server(hang_on=".")
    add_account(profile, fake, "--timeout", "1", "--data-timeout", "1")
    started = time.monotonic()
    r = send(profile, timeout=15)
    elapsed = time.monotonic() - started
    assert r.returncode == 75, r.stderr
    assert elapsed < 5, f"took {elapsed:.1f} s with a 1 s data timeout"
    assert "may or may not have been delivered" in assert_one_sentence(r.stderr)
    doc = show(profile, 1)
    assert doc["state"] == "deferred" and "did not answer" in doc["last_error"]
    assert len(fake.messages) == 1
    assert header(fake.messages[0], "Message-ID") == doc["message_id"]
    deliver_later(profile, smtp_server())


# --- TLS is not what the account demands: nothing is sent --------------------------------


def test_starttls_not_offered_is_a_config_error(profile, fake_server, ca_file, smtp_server):
    fake = fake_server(ehlo=[*DEFAULT_EHLO, "AUTH PLAIN LOGIN"])
    add_account(profile, fake, security="starttls", ca_file=ca_file, password=PASSWORD)
    r = send(profile)
    assert r.returncode == 78, r.stderr
    line = assert_one_sentence(r.stderr)
    assert "STARTTLS" in line and PASSWORD not in line
    doc = show(profile, 1)
    assert doc["state"] == "deferred" and "did not offer encryption" in doc["last_error"]
    assert "EHLO" in verbs(fake.commands)
    assert not set(NO_TLS_COMMANDS) & set(verbs(fake.commands)), fake.commands
    deliver_later(profile, smtp_server("starttls", users={"me": PASSWORD}), password=PASSWORD)


def test_starttls_refused_454_is_a_config_error(profile, fake_server, ca_file) -> None:
    reply = "454 4.7.0 TLS not available due to temporary reason"
    fake = fake_server(
        ehlo=[*DEFAULT_EHLO, "STARTTLS", "AUTH PLAIN LOGIN"], replies={"STARTTLS": reply}
    )
    add_account(profile, fake, security="starttls", ca_file=ca_file, password=PASSWORD)
    r = send(profile)
    assert r.returncode == 78, r.stderr
    # The code is shown; the words came before encryption (anyone could have written
    # them), so they are not (tests/adversarial/test_adv_starttls.py).
    sentence = assert_one_sentence(r.stderr)
    assert "454 4.7.0" in sentence and "temporary reason" not in sentence
    doc = show(profile, 1)
    assert doc["state"] == "deferred" and "454 4.7.0" in doc["last_error"]
    assert "temporary reason" not in doc["last_error"]
    assert "STARTTLS" in verbs(fake.commands)
    assert not set(NO_TLS_COMMANDS) & set(verbs(fake.commands)), fake.commands
    assert fake.messages == []


@pytest.mark.parametrize("cert", ["other-ca", "wrong-host"])
@pytest.mark.parametrize("security", ["starttls", "tls"])
def test_untrusted_certificate_is_a_config_error(profile, smtp_server, security, cert) -> None:
    server = smtp_server(security, users={"me": PASSWORD}, cert=cert)
    add_account(profile, server, password=PASSWORD)
    r = send(profile)
    assert r.returncode == 78, r.stderr
    assert "certificate" in assert_one_sentence(r.stderr)
    doc = show(profile, 1)
    assert doc["state"] == "deferred" and "certificate" in doc["last_error"]
    assert server.messages == [] and server.auth_attempts == []
    assert server.connections == 1


# --- passwords ---------------------------------------------------------------------------


def test_wrong_password_is_refused_and_never_stored(profile, smtp_server) -> None:
    wrong = "Wr0ng-Battery-Staple-77"
    server = smtp_server("starttls", users={"me": PASSWORD})
    add_account(profile, server, password=wrong)
    r = send(profile)
    assert r.returncode == 77, r.stderr
    line = assert_one_sentence(r.stderr)
    assert "535" in line and "password" in line
    assert wrong not in r.stderr + r.stdout
    doc = show(profile, 1)
    assert doc["state"] == "deferred" and "535 5.7.8" in doc["last_error"]
    assert server.messages == []
    assert (
        len(server.auth_attempts) == 1 and not server.auth_attempts[0][1]
    )  # one try, not one per mechanism

    # Nowhere in the profile: not the password, nor its AUTH PLAIN / LOGIN encodings.
    needles = [
        wrong.encode(),
        base64.b64encode(wrong.encode()),
        base64.b64encode(b"\0me\0" + wrong.encode()),
    ]
    assert (profile.home / "state" / "mailgui.log").stat().st_size > 0
    assert (profile.home / "config" / "accounts.toml").is_file()
    assert files_containing(profile.home, needles) == []

    deliver_later(profile, server, password=PASSWORD)
    assert files_containing(profile.home, [PASSWORD.encode()]) == []


def test_username_without_encryption_is_refused_at_add(profile, smtp_server) -> None:
    server = smtp_server("none", users={"me": PASSWORD})
    r = profile.run(
        "account", "add", "work", "--email", SENDER, "--host", server.host,
        "--port", str(server.port), "--security", "none",
        "--username", "me", "--password-stdin", input=PASSWORD + "\n",
    )  # fmt: skip
    assert r.returncode == 78, r.stderr
    assert "unencrypted" in assert_one_sentence(r.stderr)
    assert json.loads(profile.run("account", "list", "--json").stdout) == []
    assert files_containing(profile.home, [PASSWORD.encode()]) == []


def test_plaintext_server_offering_auth_never_gets_a_password(profile, smtp_server) -> None:
    server = smtp_server("none", users={"me": PASSWORD})  # offers AUTH without TLS
    add_account(profile, server)  # a "none" account: no user name, no password
    r = send(profile)
    assert r.returncode == 77, r.stderr  # a settings problem, not the message's fault
    assert "530 5.7.0 Authentication required" in assert_one_sentence(r.stderr)
    assert show(profile, 1)["state"] == "deferred"
    assert server.auth_attempts == [] and server.messages == []


def test_hand_edited_username_on_plaintext_account_is_refused(profile, smtp_server) -> None:
    server = smtp_server("starttls", users={"me": PASSWORD})
    add_account(profile, server, password=PASSWORD)
    (queued,) = queue(profile)
    accounts = profile.home / "config" / "accounts.toml"
    config = tomllib.loads(accounts.read_text())
    config["accounts"]["work"]["security"] = "none"  # still has username = "me"
    accounts.write_text(tomli_w.dumps(config))
    r = profile.run("outbox", "flush")
    assert r.returncode == 78, r.stderr
    assert "unencrypted" in assert_one_sentence(r.stderr)
    doc = show(profile, queued["id"])
    assert doc["state"] == "deferred" and doc["message_id"] == queued["message_id"]
    assert server.connections == 0 and server.auth_attempts == []


# --- size --------------------------------------------------------------------------------

_SIZE = re.compile(r"(\d+(?:\.\d+)?)\s*(bytes|kB|KB|MB)")
_UNIT = {"bytes": 1, "kB": 1000, "KB": 1000, "MB": 1_000_000}


def test_message_over_size_limit_fails_before_data(profile, smtp_server, tmp_path) -> None:
    server = smtp_server(faults=Faults(size_limit=2000))
    attachment = tmp_path / "photo.bin"
    attachment.write_bytes(bytes(range(256)) * 40)  # 10 KB
    add_account(profile, server)
    r = send(profile, "--attach", str(attachment))
    assert r.returncode == 69, r.stderr
    line = assert_one_sentence(r.stderr)
    doc = show(profile, 1)
    assert doc["state"] == "failed" and doc["size"] > 10240
    assert server.messages == []
    for text in (line, doc["last_error"]):
        sizes = [float(n) * _UNIT[unit] for n, unit in _SIZE.findall(text)]
        assert len(sizes) == 2, text
        assert sizes[0] == pytest.approx(doc["size"], rel=0.05), text
        assert sizes[1] == pytest.approx(2000, rel=0.05), text


# --- many messages -----------------------------------------------------------------------


def test_one_connection_for_many_messages(profile, smtp_server) -> None:
    server = smtp_server()
    add_account(profile, server)
    queued = queue(profile, 5)
    assert server.connections == 0
    r = profile.run("outbox", "flush", "--json")
    assert r.returncode == 0, r.stderr
    docs = json.loads(r.stdout)
    assert [d["state"] for d in docs] == ["sent"] * 5
    got = server.wait_for(5)
    assert server.connections == 1
    assert [header(m.data, "Message-ID") for m in got] == [q["message_id"] for q in queued]


def test_one_bad_message_does_not_block_the_others(profile, smtp_server) -> None:
    reply = "550 5.6.0 Message content rejected"
    server = smtp_server(faults=Faults(data_reply=["250 2.0.0 OK", reply]))
    add_account(profile, server)
    queued = queue(profile, 3)
    r = profile.run("outbox", "flush")
    assert r.returncode == 69, r.stderr
    line = assert_one_sentence(r.stderr)
    assert line.startswith(f"Message {queued[1]['id']} failed") and reply in line
    states = [d["state"] for d in outbox_list(profile)]
    assert states == ["sent", "failed", "sent"]
    got = server.wait_for(2)
    assert [header(m.data, "Subject") for m in got] == ["Message 1", "Message 3"]
    assert server.connections == 1


# --- back-off and retries ----------------------------------------------------------------


@pytest.mark.parametrize("command", [("outbox", "flush"), ("outbox", "retry", "1")])
def test_flush_and_retry_ignore_back_off(profile, smtp_server, command) -> None:
    server = smtp_server(faults=Faults(mail_reply=["451 4.3.0 Try again later"]))
    add_account(profile, server)
    assert send(profile).returncode == 75
    doc = show(profile, 1)
    assert doc["state"] == "deferred" and parse_time(doc["next_attempt_at"]) > time.time() + 30
    r = profile.run(*command)
    assert r.returncode == 0, r.stderr
    assert r.stderr == ""
    doc = show(profile, 1)
    assert doc["state"] == "sent" and doc["attempts"] == 2 and doc["next_attempt_at"] is None
    assert_same_message(doc, server.wait_for(1)[0].data)


def test_retry_all_requeues_failed_messages(profile, smtp_server) -> None:
    reply = "550 5.7.1 Sender not allowed here"
    server = smtp_server(faults=Faults(mail_reply=[reply, reply]))
    add_account(profile, server)
    queued = queue(profile, 2)
    r = profile.run("outbox", "flush")
    assert r.returncode == 69, r.stderr
    assert_sentences(r.stderr, 2)
    assert [d["state"] for d in outbox_list(profile)] == ["failed", "failed"]

    r = profile.run("outbox", "flush")  # flush leaves failed messages alone
    assert r.returncode == 0, r.stderr
    assert [(d["state"], d["attempts"]) for d in outbox_list(profile)] == [("failed", 1)] * 2

    r = profile.run("outbox", "retry", "--all", "--json")
    assert r.returncode == 0, r.stderr
    assert [d["state"] for d in json.loads(r.stdout)] == ["sent", "sent"]
    got = server.wait_for(2)
    assert [header(m.data, "Message-ID") for m in got] == [q["message_id"] for q in queued]


def test_rate_limit_holds_messages_back(profile, smtp_server) -> None:
    server = smtp_server()
    add_account(profile, server)
    accounts = profile.home / "config" / "accounts.toml"
    config = tomllib.loads(accounts.read_text())
    config["accounts"]["work"]["limits"]["per_minute"] = 2
    accounts.write_text(tomli_w.dumps(config))
    shown = json.loads(profile.run("account", "show", "work", "--json").stdout)
    assert shown["limits"]["per_minute"] == 2

    queue(profile, 4)
    before = time.time()
    r = profile.run("outbox", "flush")
    assert r.returncode == 75, r.stderr
    assert all("Held back" in line for line in assert_sentences(r.stderr, 2))
    docs = outbox_list(profile)
    assert [d["state"] for d in docs] == ["sent", "sent", "deferred", "deferred"]
    for held in docs[2:]:
        assert "Held back" in held["last_error"] and "2 per minute" in held["last_error"]
        assert held["attempts"] == 0
        assert before < parse_time(held["next_attempt_at"]) <= before + 62
    assert len(server.wait_for(2)) == 2

    r = profile.run("outbox", "flush")  # flush ignores back-off, not the provider's limit
    assert r.returncode == 75, r.stderr
    assert [d["attempts"] for d in outbox_list(profile)] == [1, 1, 0, 0]
    assert len(server.messages) == 2 and server.connections == 1


# --- configuration -----------------------------------------------------------------------


def test_unknown_account_is_a_config_error(profile, smtp_server) -> None:
    add_account(profile, smtp_server())
    r = send(profile, "--account", "nope")
    assert r.returncode == 78, r.stderr
    line = assert_one_sentence(r.stderr)
    assert "'nope'" in line and "work" in line
    assert outbox_list(profile) == []
