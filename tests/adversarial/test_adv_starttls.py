"""STARTTLS and certificate attacks from the NO STARTTLS study (Poddebniak et al., USENIX
Security 2021), each played by a hostile server that can really do TLS.

For every attack: no AUTH, MAIL, RCPT, DATA, password or message byte crosses in plaintext,
the message stays in the outbox, the error names the problem in plain words, and no server
text from before encryption is shown to the person.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from adv_helpers import (
    BODY_MARKER,
    PASSWORD,
    SUBJECT,
    USERNAME,
    add_account,
    one_sentence,
    outbox_list,
    secret_forms,
    send,
)
from smtp_servers import HostileFactory

from mailgui.core.accounts import Account
from mailgui.core.errors import AuthError, SecurityError
from mailgui.core.transport import Session

PRE_TLS = "PRE-TLS-MARKER"
"""Put into server text sent before encryption: it must never be shown."""
SENSITIVE = [b"AUTH", b"MAIL FROM", b"RCPT TO", b"DATA", SUBJECT.encode(), BODY_MARKER.encode()]


def assert_nothing_in_clear(server: Any, *, accepted: bool = False) -> None:
    clear = server.plaintext
    for needle in [*SENSITIVE, *secret_forms()]:
        assert needle not in clear, (needle, clear[:2000])
    assert bool(server.accepted) == accepted


def assert_kept(profile: Any, r: Any, *words: str) -> str:
    """The send failed with one sentence naming the problem; the message is still queued."""
    sentence = one_sentence(r.stderr)
    for word in words:
        assert word.lower() in sentence.lower(), sentence
    assert PRE_TLS not in r.stderr + r.stdout
    (doc,) = outbox_list(profile)
    assert doc["state"] == "deferred", doc
    assert doc["next_attempt_at"] is not None
    assert doc["last_error"] and PRE_TLS not in doc["last_error"]
    assert json.loads(r.stdout)["state"] == "deferred"
    return sentence


# --- capability stripping, STARTTLS refused or faked -------------------------------------


@pytest.mark.parametrize(
    ("case", "server_kwargs", "exit_code", "words"),
    [
        (
            "stripped",  # a man in the middle removes STARTTLS from the EHLO reply
            {"ehlo_plain": ("PIPELINING", "SIZE 10240000", "AUTH PLAIN LOGIN")},
            78,
            ["did not offer encryption (STARTTLS)", "nothing was sent"],
        ),
        (
            "error",  # STARTTLS answered with an error
            {"starttls_reply": f"454 4.7.0 TLS not available {PRE_TLS}\r\n".encode()},
            78,
            ["did not start encryption", "454", "nothing was sent"],
        ),
        (
            "250",  # STARTTLS "accepted" with 250: the client must not go on in plaintext
            {"starttls_reply": f"250 2.0.0 Ok go ahead {PRE_TLS}\r\n".encode()},
            78,
            ["did not start encryption", "250", "nothing was sent"],
        ),
        (
            "greeting-554",  # the pre-TLS greeting says something scary
            {"greeting": f"554 5.7.1 Account suspended, call +1-555-0100 {PRE_TLS}\r\n".encode()},
            75,  # words from before TLS decide nothing for good: retried later
            ["refused the connection", "554", "not shown"],
        ),
        (
            "ehlo-refused",
            {
                "replies": {
                    "EHLO": f"550 5.7.1 Reset your password at evil.example {PRE_TLS}\r\n".encode()
                }
            },
            75,
            ["refused ehlo", "550", "not shown"],
        ),
    ],
)
def test_starttls_downgrade_attacks(
    profile: Any,
    hostile: HostileFactory,
    ca_file: str,
    case: str,
    server_kwargs: dict[str, Any],
    exit_code: int,
    words: list[str],
) -> None:
    server = hostile(tls="starttls", **server_kwargs)
    add_account(profile, server, security="starttls", ca_file=ca_file)
    r = send(profile)
    assert r.returncode == exit_code, r.stderr
    assert_kept(profile, r, *words)
    assert_nothing_in_clear(server)
    assert server.verbs(tls=True) == []  # never got as far as TLS


# --- response injection ---------------------------------------------------------------------


def test_injection_in_the_220_packet_is_never_read_after_tls(
    profile: Any, hostile: HostileFactory, ca_file: str
) -> None:
    """'220 Ready' plus a forged EHLO reply in one packet (CVE-2011-0411 style, client side).
    If the client read the forged lines after the handshake, it would see SIZE 10 (and
    refuse the message) and every later reply would be one step behind."""
    injected = b"250-INJECTED.example\r\n250-SIZE 10\r\n250 AUTH PLAIN\r\n"
    server = hostile(tls="starttls", starttls_reply=b"220 2.0.0 Ready\r\n" + injected)
    add_account(profile, server, security="starttls", ca_file=ca_file)
    r = send(profile)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["state"] == "sent"
    assert "INJECTED" not in r.stdout + r.stderr
    assert_nothing_in_clear(server, accepted=True)
    assert server.verbs(tls=False) == ["EHLO", "STARTTLS"]
    assert server.verbs(tls=True) == ["EHLO", "AUTH", "MAIL", "RCPT", "DATA", "QUIT"]
    (body,) = server.accepted
    assert BODY_MARKER.encode() in body

    # In process: only the post-TLS capabilities are known.
    acct = Account(
        "work", "me@example.org", host=server.host, port=server.port, username=USERNAME,
        ca_file=ca_file, timeout=3,
    )  # fmt: skip
    with Session(acct, PASSWORD) as session:
        info = session.open()
    assert info.size_limit == 10240000
    assert not any(
        "injected" in k.lower() or "injected" in v.lower() for k, v in info.features.items()
    )
    assert info.tls_version and info.authenticated_as == USERNAME


def test_injection_after_the_client_hello_breaks_the_handshake(
    profile: Any, hostile: HostileFactory, ca_file: str
) -> None:
    """Plaintext written into the stream once TLS has begun is not TLS: the handshake
    fails, and the client neither falls back nor reads it as replies."""
    server = hostile(
        tls="starttls", after_starttls="inject", inject=b"250 INJECTED.example\r\n235 ok\r\n"
    )
    add_account(profile, server, security="starttls", ca_file=ca_file)
    r = send(profile)
    assert r.returncode == 78, r.stderr
    sentence = assert_kept(profile, r, "encrypted connection", "failed", "nothing was sent")
    assert "INJECTED" not in sentence
    assert "--security starttls" not in sentence  # it already is: no nonsense advice
    assert_nothing_in_clear(server)


# --- capabilities before and after TLS -------------------------------------------------------


def test_auth_offered_only_before_tls_is_never_used(
    profile: Any, hostile: HostileFactory, ca_file: str
) -> None:
    server = hostile(
        tls="starttls",
        ehlo_plain=("STARTTLS", "AUTH PLAIN LOGIN", "SIZE 10240000"),
        ehlo_tls=("PIPELINING", "SIZE 10240000"),
    )
    add_account(profile, server, security="starttls", ca_file=ca_file)
    r = send(profile)
    assert r.returncode == 77, r.stderr
    assert_kept(profile, r, "does not offer authentication (AUTH)")
    assert_nothing_in_clear(server)
    assert "AUTH" not in server.verbs()  # not in clear, not inside TLS either
    assert server.verbs(tls=True) == ["EHLO", "QUIT"]


def test_only_the_post_tls_capabilities_count(
    profile: Any, hostile: HostileFactory, ca_file: str
) -> None:
    """Before TLS: SIZE 10 and SMTPUTF8 missing; after: a real SIZE. The message (larger
    than 10 bytes) goes out, so the pre-TLS SIZE was forgotten."""
    server = hostile(
        tls="starttls",
        ehlo_plain=("STARTTLS", "SIZE 10", "X-PRE-TLS-ONLY"),
        ehlo_tls=("SIZE 10240000", "AUTH PLAIN"),
    )
    acct = Account(
        "work", "me@example.org", host=server.host, port=server.port, username=USERNAME,
        ca_file=ca_file, timeout=3,
    )  # fmt: skip
    with Session(acct, PASSWORD) as session:
        info = session.open()
        result = session.send(
            "me@example.org",
            ["bob@example.org"],
            b"x" * 100 + b"\r\n" + b"Message-ID: <a@b>\r\n\r\nbody\r\n",
        )
    assert info.size_limit == 10240000
    assert "x-pre-tls-only" not in info.features
    assert result.accepted == ["bob@example.org"]
    assert_nothing_in_clear(server, accepted=True)


# --- the wrong kind of port, and bad certificates -------------------------------------------


def test_plaintext_on_an_implicit_tls_port(
    profile: Any, hostile: HostileFactory, ca_file: str
) -> None:
    server = hostile(tls="none")  # speaks plain SMTP where the account expects TLS at once
    add_account(profile, server, security="tls", ca_file=ca_file)
    r = send(profile)
    assert r.returncode == 78, r.stderr
    assert_kept(profile, r, "encrypted connection", "failed", "may not speak SSL/TLS on this port")
    assert_nothing_in_clear(server)
    assert not {"EHLO", "AUTH", "MAIL", "RCPT", "DATA"} & set(server.verbs())


@pytest.mark.parametrize("security", ["starttls", "tls"])
@pytest.mark.parametrize(
    ("cert", "words"),
    [
        ("expired", ["certificate", "has expired"]),
        ("self-signed", ["certificate", "self", "signed"]),
        ("wrong-name", ["certificate", "not valid for"]),
    ],
)
def test_bad_certificates(
    profile: Any,
    hostile: HostileFactory,
    ca_file: str,
    security: str,
    cert: str,
    words: list[str],
) -> None:
    server = hostile(tls="starttls" if security == "starttls" else "implicit", cert=cert)
    add_account(profile, server, security=security, ca_file=ca_file)
    r = send(profile)
    assert r.returncode == 78, r.stderr
    sentence = assert_kept(profile, r, *words, "nothing was sent")
    if cert == "expired":
        assert "--ca-file" not in sentence  # a private CA is not the problem here
    assert_nothing_in_clear(server)
    assert server.verbs(tls=True) == []
    assert server.tls_errors  # the client hung up during the handshake


def test_pre_tls_greeting_is_not_shown_by_account_test(
    profile: Any, hostile: HostileFactory, ca_file: str
) -> None:
    server = hostile(
        tls="starttls", greeting=f"220 hostile.example {PRE_TLS} visit evil.example\r\n".encode()
    )
    add_account(profile, server, security="starttls", ca_file=ca_file)
    r = profile.run("account", "test", "work")
    assert r.returncode == 0, r.stderr
    assert PRE_TLS not in r.stdout + r.stderr
    assert "certificate verified" in r.stdout
    assert_nothing_in_clear(server)


def test_auth_refusal_inside_tls_is_shown_but_never_echoes_the_password(
    hostile: HostileFactory, ca_file: str
) -> None:
    """A server that repeats the credentials in its 535 reply: the error (which goes to the
    outbox, the log and stderr) keeps the server's words minus the secret."""
    plain = secret_forms()[2].decode()
    server = hostile(
        tls="starttls",
        replies={"AUTH": f"535 5.7.8 Bad credentials {plain} {PASSWORD}\r\n".encode()},
    )
    acct = Account(
        "work", "me@example.org", host=server.host, port=server.port, username=USERNAME,
        ca_file=ca_file, timeout=3,
    )  # fmt: skip
    with pytest.raises(AuthError) as info, Session(acct, PASSWORD) as session:
        session.open()
    exc = info.value
    text = " ".join(str(x) for x in (exc, exc.message, exc.reply, exc.server_words, repr(exc)))
    assert "Bad credentials" in text
    for form in secret_forms():
        assert form.decode() not in text
    assert_nothing_in_clear(server)


def test_security_error_class_for_stripping(hostile: HostileFactory, ca_file: str) -> None:
    server = hostile(tls="starttls", ehlo_plain=("AUTH PLAIN",))
    acct = Account(
        "work", "me@example.org", host=server.host, port=server.port, username=USERNAME,
        ca_file=ca_file, timeout=3,
    )  # fmt: skip
    with pytest.raises(SecurityError) as info, Session(acct, PASSWORD) as session:
        session.open()
    assert info.value.connection_lost or not session.is_open
    assert_nothing_in_clear(server)
