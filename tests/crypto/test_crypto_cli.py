"""Signed and encrypted mail from the command line (DESIGN.md "Signed and encrypted
mail"): the account's keys, ``send``/``sendmail`` ``--sign``/``--encrypt``, ``cert
import``, the ``signed``/``encrypted`` JSON fields, and what the SMTP server received
checked with the real gpg and openssl."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

from crypto_tools import GpgKeys, Pki, addr, openssl
from processes import Profile
from smtp_servers import RecordingServer, SmtpServerFactory


def _account(profile: Profile, server: RecordingServer, *keys: str) -> None:
    r = profile.run(
        "account", "add", "work", "--email", addr("alice"), "--host", "127.0.0.1",
        "--port", str(server.port), "--security", "none", "--no-recipient-checks", *keys,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr


def _send(profile: Profile, *args: str) -> Any:
    return profile.run("send", "--account", "work", "--subject", "Keys", "--body", "Grüße\n",
                       "--json", *args)  # fmt: skip


def test_openpgp_signed_and_encrypted_from_send(
    profile: Profile, gpg_keys: GpgKeys, smtp_server: SmtpServerFactory, tmp_path: Path
) -> None:
    gpg_profile = replace(profile, env={**profile.env, "GNUPGHOME": gpg_keys.home})
    server = smtp_server("none")
    _account(gpg_profile, server, "--pgp-key", gpg_keys.fingerprints["alice"])
    r = _send(gpg_profile, "--to", addr("bob"), "--sign", "--encrypt")
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert (doc["signed"], doc["encrypted"], doc["state"]) == ("openpgp", "openpgp", "sent")
    data = server.wait_for(1)[0].data
    assert b"multipart/encrypted" in data and "Grüße".encode() not in data
    assert b"Subject: ...\r\n" in data  # the real one travels inside
    done = gpg_keys.gpg("--decrypt", input=data.split(b"\r\n\r\n", 1)[1])
    assert b"DECRYPTION_OKAY" in done.stderr, done.stderr
    # inside: the signed message (RFC 3156 6.1; its signature is checked in test_openpgp_mail)
    assert b"multipart/signed" in done.stdout and b"application/pgp-signature" in done.stdout
    assert "Grüße".encode() in done.stdout or b"Gr=C3=BC=C3=9Fe" in done.stdout
    shown = json.loads(gpg_profile.run("outbox", "show", str(doc["id"]), "--json").stdout)
    assert (shown["signed"], shown["encrypted"]) == ("openpgp", "openpgp")


def test_a_recipient_without_a_key_queues_nothing(
    profile: Profile, gpg_keys: GpgKeys, smtp_server: SmtpServerFactory
) -> None:
    gpg_profile = replace(profile, env={**profile.env, "GNUPGHOME": gpg_keys.home})
    server = smtp_server("none")
    _account(gpg_profile, server, "--pgp-key", gpg_keys.fingerprints["alice"])
    r = _send(gpg_profile, "--to", addr("bob"), "nobody@example.test", "--encrypt")
    assert r.returncode == 65, r.stderr
    assert "nobody@example.test" in r.stderr and "Traceback" not in r.stderr
    assert json.loads(gpg_profile.run("outbox", "list", "--json").stdout) == []
    assert server.messages == []


def test_sendmail_signs_and_plain_mail_carries_autocrypt(
    profile: Profile, gpg_keys: GpgKeys, smtp_server: SmtpServerFactory
) -> None:
    gpg_profile = replace(profile, env={**profile.env, "GNUPGHOME": gpg_keys.home})
    server = smtp_server("none")
    _account(gpg_profile, server, "--pgp-key", gpg_keys.fingerprints["alice"])
    message = f"From: {addr('alice')}\nTo: {addr('bob')}\nSubject: cron\n\nall done\n"
    r = gpg_profile.run("sendmail", "--sign", "--wait", "-t", input=message)
    assert r.returncode == 0, r.stderr
    r = _send(gpg_profile, "--to", addr("bob"))
    assert r.returncode == 0 and json.loads(r.stdout)["signed"] is None
    signed, plain = (m.data for m in server.wait_for(2))
    assert b"multipart/signed" in signed and b"application/pgp-signature" in signed
    assert b"\r\nAutocrypt: addr=" + addr("alice").encode() in plain


def test_smime_encrypted_to_an_imported_certificate(
    profile: Profile, pki: Pki, smtp_server: SmtpServerFactory, tmp_path: Path
) -> None:
    server = smtp_server("none")
    _account(profile, server, "--smime-cert", str(pki.cert("alice")),
             "--smime-key", str(pki.key("alice")))  # fmt: skip
    r = _send(profile, "--to", addr("bob"), "--encrypt")
    assert r.returncode == 65 and addr("bob") in r.stderr  # no certificate of bob's yet
    r = profile.run("cert", "import", str(pki.cert("bob")), "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)[0]["addresses"] == [addr("bob")]
    r = _send(profile, "--to", addr("bob"), "--encrypt", "--sign")
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert (doc["signed"], doc["encrypted"]) == ("smime", "smime")
    source = tmp_path / "received.eml"
    source.write_bytes(server.wait_for(1)[0].data)
    done = openssl("cms", "-decrypt", "-in", str(source), "-recip", str(pki.cert("bob")),
                   "-inkey", str(pki.key("bob")))  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert b"application/pkcs7-signature" in done.stdout


def test_an_accounts_defaults_sign_always_and_encrypt_when_every_recipient_has_a_key(
    profile: Profile, gpg_keys: GpgKeys, smtp_server: SmtpServerFactory
) -> None:
    """``--always-sign`` and ``--encrypt-when-possible``: ``send`` signs each message and
    encrypts it when every recipient has a key; one without a key gets it signed in
    clear (not refused: encryption was not asked for); ``--no-sign`` and ``--no-encrypt``
    leave one message out; ``sendmail`` signs only when asked."""
    gpg_profile = replace(profile, env={**profile.env, "GNUPGHOME": gpg_keys.home})
    server = smtp_server("none")
    _account(gpg_profile, server, "--pgp-key", gpg_keys.fingerprints["alice"], "--always-sign",
             "--encrypt-when-possible")  # fmt: skip
    shown = json.loads(gpg_profile.run("account", "show", "work", "--json").stdout)
    assert (shown["always_sign"], shown["encrypt_when_possible"]) == (True, True)

    def sent(*args: str) -> tuple[str | None, str | None]:
        r = _send(gpg_profile, *args)
        assert r.returncode == 0, r.stderr
        doc = json.loads(r.stdout)
        return doc["signed"], doc["encrypted"]

    assert sent("--to", addr("bob")) == ("openpgp", "openpgp")
    assert sent("--to", addr("bob"), "nobody@example.test") == ("openpgp", None)
    assert sent("--to", addr("bob"), "--no-encrypt") == ("openpgp", None)
    assert sent("--to", addr("bob"), "--no-sign", "--no-encrypt") == (None, None)
    r = _send(gpg_profile, "--to", "nobody@example.test", "--encrypt")  # asked: refused
    assert r.returncode == 65 and "nobody@example.test" in r.stderr
    message = f"From: {addr('alice')}\nTo: {addr('bob')}\nSubject: cron\n\nall done\n"
    r = gpg_profile.run("sendmail", "--wait", "-t", input=message)
    assert r.returncode == 0, r.stderr
    mails = [m.data for m in server.wait_for(5)]
    assert b"multipart/encrypted" in mails[0]
    assert b"multipart/signed" in mails[1] and b"multipart/encrypted" not in mails[1]
    assert b"multipart/signed" not in mails[3] and b"multipart/signed" not in mails[4]

    r = gpg_profile.run("account", "set", "work", "--always-sign", "off",
                        "--encrypt-when-possible", "off")  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert sent("--to", addr("bob")) == (None, None)


def test_defaults_need_a_key(profile: Profile, smtp_server: SmtpServerFactory) -> None:
    server = smtp_server("none")
    _account(profile, server)
    r = profile.run("account", "set", "work", "--always-sign", "on")
    assert r.returncode != 0 and "has no key" in r.stderr and "Traceback" not in r.stderr
