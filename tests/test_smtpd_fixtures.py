"""Self-tests of the SMTP test servers and fixtures, driven by plain smtplib.

Every client verifies certificates against ``ca_file`` and has a timeout: these tests prove
the fixtures behave as documented, so the mailgui tests built on them can be trusted.
"""

from __future__ import annotations

import dataclasses
import os
import smtplib
import ssl
import sys
import time
from pathlib import Path

import pytest
from processes import Profile
from smtp_servers import (
    DEFAULT_EHLO,
    LOCALHOST,
    CertName,
    FakeServerFactory,
    Faults,
    Received,
    RecordingServer,
    Security,
    SmtpServerFactory,
)

TIMEOUT = 5.0
"""For exchanges that should succeed: generous, only there so a bug cannot hang the suite."""
SHORT = 0.5
"""For exchanges that are meant to hang: how long the client waits before giving up."""

USERS = {"alice": "s3cret"}
SENDER = "alice@example.org"
MSG = (
    b"From: alice@example.org\r\nTo: bob@example.org\r\nSubject: hi\r\n\r\n"
    b".a line smtplib dot-stuffs\r\nsecond line\r\n"
)


def client_context(server: RecordingServer) -> ssl.SSLContext:
    """A verifying client context trusting only the test CA (as mailgui's --ca-file would)."""
    assert server.ca_file is not None
    return ssl.create_default_context(cafile=server.ca_file)


def connect(server: RecordingServer) -> smtplib.SMTP:
    """A client for ``server``, TLS-wrapped from the start for SMTPS."""
    if server.security == "tls":
        return smtplib.SMTP_SSL(
            server.host, server.port, context=client_context(server), timeout=TIMEOUT
        )
    return smtplib.SMTP(server.host, server.port, timeout=TIMEOUT)


# --------------------------------------------------------------------------------------------
# RecordingServer
# --------------------------------------------------------------------------------------------


def test_plain_send_is_recorded_with_envelope(smtp_server: SmtpServerFactory) -> None:
    server = smtp_server()
    with connect(server) as client:
        client.ehlo()
        assert not client.has_extn("auth")  # no users: AUTH is not offered
        client.sendmail(
            SENDER, ["bob@example.org", "carol@example.org"], MSG, mail_options=["BODY=8BITMIME"]
        )
        client.sendmail(SENDER, ["dave@example.org"], MSG)
    first, second = server.wait_for(2)
    assert first == Received(
        mail_from=SENDER,
        rcpt_tos=["bob@example.org", "carol@example.org"],
        mail_options=[f"SIZE={len(MSG)}", "BODY=8BITMIME"],  # aiosmtpd upper-cases them
        data=MSG,  # dot-unstuffed again, CRLF kept
        tls=False,
        login=None,
    )
    assert second.rcpt_tos == ["dave@example.org"]
    assert server.connections == 1


def test_data_is_unstuffed_only_at_crlf_line_starts(smtp_server: SmtpServerFactory) -> None:
    """Documents aiosmtpd: lines end at CRLF only, so a bare LF stays inside a "line"."""
    server = smtp_server()
    with connect(server) as client:
        # smtplib sends bytes as given, and stuffs a dot after *any* LF: "x\n..y\r\n".
        client.sendmail(SENDER, ["bob@example.org"], b"Subject: s\r\n\r\nx\n.y\r\n..z\r\n")
    [msg] = server.wait_for(1)
    assert msg.data == b"Subject: s\r\n\r\nx\n..y\r\n..z\r\n"


def test_starttls_then_auth(smtp_server: SmtpServerFactory) -> None:
    server = smtp_server("starttls", users=USERS)
    with connect(server) as client:
        client.ehlo()
        assert client.has_extn("starttls")
        assert not client.has_extn("auth")  # only after TLS
        assert client.mail(SENDER)[0] == 530  # must STARTTLS first
        client.starttls(context=client_context(server))
        client.ehlo()
        assert sorted(client.esmtp_features["auth"].split()) == ["LOGIN", "PLAIN"]
        assert client.mail(SENDER) == (530, b"5.7.0 Authentication required")
        client.login("alice", "s3cret")
        client.sendmail(SENDER, ["bob@example.org"], MSG)
    [msg] = server.wait_for(1)
    assert (msg.tls, msg.login, msg.data) == (True, "alice", MSG)
    assert server.auth_attempts == [("alice", True)]


def test_implicit_tls_then_auth(smtp_server: SmtpServerFactory) -> None:
    server = smtp_server("tls", users=USERS)
    with connect(server) as client:
        client.ehlo()
        assert not client.has_extn("starttls")
        client.login("alice", "s3cret")
        client.sendmail(SENDER, ["bob@example.org"], MSG)
    [msg] = server.wait_for(1)
    assert (msg.tls, msg.login) == (True, "alice")


def test_plaintext_server_offers_auth_in_the_clear(smtp_server: SmtpServerFactory) -> None:
    """security="none" with users: the server a client must refuse to send a password to."""
    server = smtp_server("none", users=USERS)
    with connect(server) as client:
        client.ehlo()
        assert client.has_extn("auth")
        assert client.mail(SENDER)[0] == 530


@pytest.mark.parametrize("security", ["starttls", "tls"])
def test_wrong_password_gets_535(smtp_server: SmtpServerFactory, security: Security) -> None:
    server = smtp_server(security, users=USERS)
    with connect(server) as client:
        if security == "starttls":
            client.starttls(context=client_context(server))
        with pytest.raises(smtplib.SMTPAuthenticationError) as info:
            client.login("alice", "wrong")  # smtplib tries PLAIN, then LOGIN
    assert (info.value.smtp_code, info.value.smtp_error) == (
        535,
        b"5.7.8 Authentication credentials invalid",
    )
    assert server.auth_attempts == [("alice", False), ("alice", False)]
    assert server.messages == []


@pytest.mark.parametrize("security", ["starttls", "tls"])
@pytest.mark.parametrize(
    ("cert", "reason"),
    [("other-ca", "unable to get local issuer certificate"), ("wrong-host", "mismatch")],
)
def test_bad_certificates_fail_verification(
    smtp_server: SmtpServerFactory, security: Security, cert: CertName, reason: str
) -> None:
    server = smtp_server(security, users=USERS, cert=cert)
    with pytest.raises(ssl.SSLCertVerificationError) as info, connect(server) as client:
        client.starttls(context=client_context(server))  # (connect() already fails for SMTPS)
    assert reason in info.value.verify_message
    assert server.connections == 1
    assert server.auth_attempts == []


def test_wait_for_times_out_with_a_useful_message(smtp_server: SmtpServerFactory) -> None:
    server = smtp_server()
    with pytest.raises(AssertionError, match=r"expected 1 message\(s\) within 0.1 s, got 0"):
        server.wait_for(1, timeout=0.1)


# -- Faults -----------------------------------------------------------------------------------


def test_fault_mail_reply_always(smtp_server: SmtpServerFactory) -> None:
    server = smtp_server(faults=Faults(mail_reply="451 4.3.0 Try again later"))
    with connect(server) as client:
        for _ in range(2):
            with pytest.raises(smtplib.SMTPSenderRefused) as info:
                client.sendmail(SENDER, ["bob@example.org"], MSG)
            assert (info.value.smtp_code, info.value.smtp_error) == (
                451,
                b"4.3.0 Try again later",
            )
    assert server.messages == []


def test_fault_mail_reply_list_is_consumed(smtp_server: SmtpServerFactory) -> None:
    replies = ["550 5.7.1 Sender rejected", "250 2.1.0 Sender fine, says the fault"]
    server = smtp_server(faults=Faults(mail_reply=replies))
    with connect(server) as client:
        with pytest.raises(smtplib.SMTPSenderRefused) as info:
            client.sendmail(SENDER, ["bob@example.org"], MSG)
        assert info.value.smtp_code == 550
        assert client.mail(SENDER) == (250, b"2.1.0 Sender fine, says the fault")
        client.rset()
        client.sendmail(SENDER, ["bob@example.org"], MSG)  # list used up: normal again
    assert len(server.wait_for(1)) == 1
    assert replies == ["550 5.7.1 Sender rejected", "250 2.1.0 Sender fine, says the fault"]


def test_fault_rcpt_replies(smtp_server: SmtpServerFactory) -> None:
    faults = Faults(rcpt_replies={"nobody@example.org": "550 5.1.1 No such user"})
    server = smtp_server(faults=faults)
    with connect(server) as client:
        refused = client.sendmail(SENDER, ["bob@example.org", "Nobody@Example.org"], MSG)
        assert refused == {"Nobody@Example.org": (550, b"5.1.1 No such user")}
        with pytest.raises(smtplib.SMTPRecipientsRefused):
            client.sendmail(SENDER, ["nobody@example.org"], MSG)
    [msg] = server.wait_for(1)
    assert msg.rcpt_tos == ["bob@example.org"]


def test_fault_data_reply_rejects_and_is_not_recorded(smtp_server: SmtpServerFactory) -> None:
    server = smtp_server(faults=Faults(data_reply="554 5.6.0 Message rejected"))
    with connect(server) as client, pytest.raises(smtplib.SMTPDataError) as info:
        client.sendmail(SENDER, ["bob@example.org"], MSG)
    assert (info.value.smtp_code, info.value.smtp_error) == (554, b"5.6.0 Message rejected")
    assert server.messages == []


def test_fault_data_reply_list_then_accepts(smtp_server: SmtpServerFactory) -> None:
    server = smtp_server(faults=Faults(data_reply=["452 4.3.1 Insufficient storage"]))
    with connect(server) as client:
        with pytest.raises(smtplib.SMTPDataError) as info:
            client.sendmail(SENDER, ["bob@example.org"], MSG)
        assert info.value.smtp_code == 452
        client.sendmail(SENDER, ["bob@example.org"], MSG)
    assert len(server.wait_for(1)) == 1
    assert server.connections == 1


@pytest.mark.parametrize("security", ["none", "starttls", "tls"])
def test_fault_drop_after_dot(smtp_server: SmtpServerFactory, security: Security) -> None:
    server = smtp_server(security, faults=Faults(drop_after_dot=True))
    client = connect(server)
    try:
        if security == "starttls":
            client.starttls(context=client_context(server))
        with pytest.raises(smtplib.SMTPServerDisconnected):
            client.sendmail(SENDER, ["bob@example.org"], MSG)
    finally:
        client.close()
    [msg] = server.wait_for(1)  # recorded anyway: the "maybe sent" case
    assert msg.data == MSG


def test_fault_drop_after_dot_first_n_only(smtp_server: SmtpServerFactory) -> None:
    server = smtp_server(faults=Faults(drop_after_dot=1))
    with connect(server) as client, pytest.raises(smtplib.SMTPServerDisconnected):
        client.sendmail(SENDER, ["bob@example.org"], MSG)
    with connect(server) as client:
        client.sendmail(SENDER, ["bob@example.org"], MSG)
    assert len(server.wait_for(2)) == 2
    assert server.connections == 2


def test_fault_size_limit(smtp_server: SmtpServerFactory) -> None:
    server = smtp_server(faults=Faults(size_limit=1000))
    big = MSG + b"x" * 1000 + b"\r\n"
    with connect(server) as client:
        client.ehlo()
        assert client.esmtp_features["size"] == "1000"
        with pytest.raises(smtplib.SMTPSenderRefused) as info:
            client.sendmail(SENDER, ["bob@example.org"], big)  # smtplib sends SIZE=...
        assert info.value.smtp_code == 552
        # A client that does not declare SIZE is refused after the data instead.
        assert client.mail(SENDER)[0] == 250
        assert client.rcpt("bob@example.org")[0] == 250
        assert client.data(big)[0] == 552
    assert server.messages == []


def test_servers_get_their_own_ports_and_stop(smtp_server: SmtpServerFactory) -> None:
    first, second = smtp_server(), smtp_server("tls")
    assert first.port != second.port
    first.stop()
    first.stop()  # idempotent
    with pytest.raises(ConnectionRefusedError):
        smtplib.SMTP(first.host, first.port, timeout=TIMEOUT)


# --------------------------------------------------------------------------------------------
# FakeServer
# --------------------------------------------------------------------------------------------


def test_fake_defaults_accept_mail_and_record_raw_wire_bytes(
    fake_server: FakeServerFactory,
) -> None:
    fake = fake_server()
    body = b"Subject: s\r\n\r\n.dot\r\nbare\nlf\r\n"
    with smtplib.SMTP(fake.host, fake.port, timeout=TIMEOUT) as client:
        client.ehlo("client.example")
        assert client.esmtp_features == {"pipelining": "", "8bitmime": "", "size": "10240000"}
        client.sendmail(SENDER, ["bob@example.org"], body)
    assert fake.messages == [b"Subject: s\r\n\r\n..dot\r\nbare\nlf\r\n"]  # not unstuffed
    assert fake.commands == [
        "ehlo client.example",
        f"mail FROM:<{SENDER}> size={len(body)}",
        "rcpt TO:<bob@example.org>",
        "data",
        "QUIT",
    ]
    assert fake.connections == 1


def test_fake_never_greets(fake_server: FakeServerFactory) -> None:
    fake = fake_server(greeting=None)
    started = time.monotonic()
    with pytest.raises(smtplib.SMTPServerDisconnected, match="timed out"):
        smtplib.SMTP(fake.host, fake.port, timeout=SHORT)
    assert SHORT <= time.monotonic() - started < SHORT + 2
    assert fake.connections == 1


def test_fake_421_greeting(fake_server: FakeServerFactory) -> None:
    fake = fake_server(greeting="421 4.3.2 Too busy, try later")
    with pytest.raises(smtplib.SMTPConnectError) as info:
        smtplib.SMTP(fake.host, fake.port, timeout=TIMEOUT)
    assert (info.value.smtp_code, info.value.smtp_error) == (421, b"4.3.2 Too busy, try later")
    assert fake.commands == []


def test_fake_does_not_offer_starttls(fake_server: FakeServerFactory) -> None:
    fake = fake_server()
    with smtplib.SMTP(fake.host, fake.port, timeout=TIMEOUT) as client:
        client.ehlo()
        assert not client.has_extn("starttls")
        with pytest.raises(smtplib.SMTPNotSupportedError):
            client.starttls()
    assert fake.commands[-1] == "QUIT"


def test_fake_starttls_454(fake_server: FakeServerFactory) -> None:
    reply = "454 4.7.0 TLS not available due to temporary reason"
    fake = fake_server(ehlo=[*DEFAULT_EHLO, "STARTTLS"], replies={"STARTTLS": reply})
    with smtplib.SMTP(fake.host, fake.port, timeout=TIMEOUT) as client:
        client.ehlo()
        assert client.has_extn("starttls")
        with pytest.raises(smtplib.SMTPResponseException) as info:
            client.starttls()
        assert info.value.smtp_code == 454
    assert fake.commands[-2:] == ["STARTTLS", "QUIT"]


def test_fake_refuses_to_pretend_tls(fake_server: FakeServerFactory) -> None:
    with pytest.raises(ValueError, match="cannot do TLS"):
        fake_server(replies={"STARTTLS": "220 go ahead"})


def test_fake_drop_after_dot(fake_server: FakeServerFactory) -> None:
    fake = fake_server(drop_after_dot=True)
    client = smtplib.SMTP(fake.host, fake.port, timeout=TIMEOUT)
    try:
        with pytest.raises(smtplib.SMTPServerDisconnected):
            client.sendmail(SENDER, ["bob@example.org"], MSG)
    finally:
        client.close()
    assert fake.messages == [MSG.replace(b"\n.", b"\n..")]


@pytest.mark.parametrize("verb", ["DATA", "."])
def test_fake_hang_on(fake_server: FakeServerFactory, verb: str) -> None:
    fake = fake_server(hang_on=verb)
    client = smtplib.SMTP(fake.host, fake.port, timeout=SHORT)
    try:
        with pytest.raises(smtplib.SMTPServerDisconnected, match="timed out"):
            client.sendmail(SENDER, ["bob@example.org"], MSG)
    finally:
        client.close()
    assert fake.commands[-1] == "data"
    assert len(fake.messages) == (1 if verb == "." else 0)


def test_fake_scripted_replies(fake_server: FakeServerFactory) -> None:
    fake = fake_server(
        replies={"MAIL": ["451 4.3.0 Try again later"], "AUTH": "535 5.7.8 Bad credentials"}
    )
    with smtplib.SMTP(fake.host, fake.port, timeout=TIMEOUT) as client:
        with pytest.raises(smtplib.SMTPSenderRefused) as info:
            client.sendmail(SENDER, ["bob@example.org"], MSG)
        assert info.value.smtp_code == 451
        client.sendmail(SENDER, ["bob@example.org"], MSG)  # list used up: default again
        assert client.docmd("AUTH", "PLAIN AGFsaWNlAHMzY3JldA==")[0] == 535
    assert len(fake.messages) == 1
    assert "AUTH PLAIN AGFsaWNlAHMzY3JldA==" in fake.commands


def test_fake_421_reply_closes_the_connection(fake_server: FakeServerFactory) -> None:
    fake = fake_server(replies={"MAIL": "421 4.3.2 Shutting down"})
    client = smtplib.SMTP(fake.host, fake.port, timeout=TIMEOUT)
    try:
        assert client.mail(SENDER)[0] == 421
        with pytest.raises(smtplib.SMTPServerDisconnected):
            client.noop()
    finally:
        client.close()


def test_closed_port_refuses(closed_port: int) -> None:
    with pytest.raises(ConnectionRefusedError):
        smtplib.SMTP(LOCALHOST, closed_port, timeout=TIMEOUT)


# --------------------------------------------------------------------------------------------
# profile
# --------------------------------------------------------------------------------------------

ECHO = """
import os, sys
for name in ("MAILGUI_HOME", "PYTHON_KEYRING_BACKEND", "XDG_DATA_HOME", "QT_QPA_PLATFORM"):
    print(name, os.environ[name])
print("own-session", os.getsid(0) == os.getpid())
print("argv", sys.argv[1:])
sys.stdout.flush()
sys.stdout.buffer.write(sys.stdin.buffer.read())
"""


def test_profile_environment(profile: Profile, tmp_path: Path) -> None:
    assert profile.home.is_dir()
    assert list(profile.home.iterdir()) == []
    assert str(profile.home).startswith(str(tmp_path))
    for name in ("MAILGUI_HOME", "PYTHON_KEYRING_BACKEND", "XDG_DATA_HOME", "XDG_CONFIG_HOME"):
        assert os.environ[name] == profile.env[name]
    assert profile.env["PYTHON_KEYRING_BACKEND"] == "keyrings.alt.file.PlaintextKeyring"
    assert profile.env["XDG_DATA_HOME"].startswith(str(tmp_path))
    assert profile.env["QT_QPA_PLATFORM"] == "offscreen"
    assert profile.command == [sys.executable, "-m", "mailgui"]


def test_profile_run_modes(profile: Profile) -> None:
    echo = dataclasses.replace(profile, command=[sys.executable, "-c", ECHO])
    result = echo.run("send", profile.home, input="héllo\n")
    assert result.returncode == 0, result.stderr
    assert f"MAILGUI_HOME {profile.home}\n" in result.stdout
    assert "QT_QPA_PLATFORM offscreen\n" in result.stdout
    assert "own-session True\n" in result.stdout
    assert f"argv ['send', '{profile.home}']\n" in result.stdout
    assert result.stdout.endswith("héllo\n")

    raw = echo.run(input=b"\x00\xff")
    assert raw.stdout.endswith(b"\x00\xff")

    no_input = echo.run()  # stdin is /dev/null: reading it ends at once
    assert no_input.stdout.endswith("argv []\n")
