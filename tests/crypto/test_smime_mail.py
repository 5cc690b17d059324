"""S/MIME on send, checked with the real openssl: signed (detached), encrypted (enveloped
data), both; RFC 8551 media types; protected headers; unusable certificates refused;
Bcc recipients sent as separate copies."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from crypto_tools import SUBJECT, TEXT, Pki, addr, built, check_wire, exact_parts, openssl, parse

from mailgui.core.crypto import RecipientKeyError, SealOptions, SenderKeyError, seal, split_bcc
from mailgui.core.errors import InputError
from mailgui.core.outgoing import Outgoing

pytestmark = pytest.mark.timeout(120)


def options(pki: Pki, *recipients: str, **kwargs: object) -> SealOptions:
    return SealOptions(
        technology="smime",
        smime_cert=str(pki.cert("alice")),
        smime_key=str(pki.key("alice")),
        smime_recipient_certs=tuple(pki.cert(n).read_bytes() for n in recipients),
        **kwargs,  # type: ignore[arg-type]
    )


def verify(pki: Pki, data: bytes, tmp_path: Path) -> bytes:
    """openssl smime -verify against the test CA: the signed content."""
    source = tmp_path / "signed.eml"
    source.write_bytes(data)
    done = openssl("smime", "-verify", "-in", str(source), "-CAfile", str(pki.ca))
    assert done.returncode == 0, done.stderr.decode()
    assert b"Verification successful" in done.stderr
    return done.stdout


def decrypt(pki: Pki, name: str, data: bytes, tmp_path: Path) -> bytes:
    source = tmp_path / "encrypted.eml"
    source.write_bytes(data)
    done = openssl("cms", "-decrypt", "-in", str(source), "-recip", str(pki.cert(name)),
                   "-inkey", str(pki.key(name)))  # fmt: skip
    assert done.returncode == 0, done.stderr.decode()
    return done.stdout


def recipient_serials(data: bytes, tmp_path: Path) -> list[int]:
    source = tmp_path / "encrypted.eml"
    source.write_bytes(data)
    done = openssl("cms", "-cmsout", "-print", "-inform", "SMIME", "-in", str(source))
    assert done.returncode == 0, done.stderr.decode()
    return [int(h.replace(":", ""), 16) for h in
            re.findall(r"serialNumber: (?:0x)?([0-9A-Fa-f:]+)", done.stdout.decode())]  # fmt: skip


def serial(pki: Pki, name: str) -> int:
    from cryptography import x509

    return x509.load_pem_x509_certificate(pki.cert(name).read_bytes()).serial_number


def check_content(entity: bytes) -> None:
    msg = parse(entity.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n"))
    text = msg.get_body(("plain",))
    html = msg.get_body(("html",))
    assert text is not None and html is not None
    assert text.get_content().replace("\r\n", "\n") == TEXT
    assert "<b>Bob</b>" in html.get_content()
    [attachment] = list(msg.iter_attachments())
    assert attachment.get_payload(decode=True).endswith(b"\r\n \n\x00From x")


def test_signed_message_verifies_with_openssl(pki: Pki, tmp_path: Path) -> None:
    out = built(tmp_path)
    sealed = seal(options(pki, sign=True), out)
    check_wire(sealed.data)
    assert b"x-pkcs7" not in sealed.data
    head, (content, signature) = exact_parts(sealed.data)
    assert head.get_content_type() == "multipart/signed"
    assert head.get_param("protocol") == "application/pkcs7-signature"
    assert head.get_param("micalg") == "sha-256"
    assert parse(signature).get_content_type() == "application/pkcs7-signature"
    assert head["Subject"] == SUBJECT
    signed = verify(pki, sealed.data, tmp_path)
    assert signed.replace(b"\r\n", b"\n") == content.replace(b"\r\n", b"\n")
    check_content(content)


def test_encrypted_message_decrypts_with_openssl(pki: Pki, tmp_path: Path) -> None:
    out = built(tmp_path)
    sealed = seal(options(pki, "bob", encrypt=True), out)
    check_wire(sealed.data)
    msg = parse(sealed.data)
    assert msg.get_content_type() == "application/pkcs7-mime"
    assert msg.get_param("smime-type") == "enveloped-data"
    assert msg["Subject"] == "..." and b"quarterly" not in sealed.data
    assert b"x-pkcs7" not in sealed.data
    for reader in ("bob", "alice"):  # the recipient and the sender's own copy
        inner = decrypt(pki, reader, sealed.data, tmp_path)
        part = parse(inner)
        assert part["Subject"] == SUBJECT and part.get_param("protected-headers") == "v1"
        assert part["Message-ID"] == out.message_id
        check_content(inner)


def test_signed_and_encrypted(pki: Pki, tmp_path: Path) -> None:
    sealed = seal(options(pki, "bob", sign=True, encrypt=True), built(tmp_path))
    check_wire(sealed.data)
    inner = decrypt(pki, "bob", sealed.data, tmp_path)
    assert parse(inner).get_content_type() == "multipart/signed"
    content = verify(pki, inner, tmp_path)
    assert parse(content)["Subject"] == SUBJECT
    check_content(content)


def test_recipient_without_certificate_is_named(pki: Pki, tmp_path: Path) -> None:
    with pytest.raises(RecipientKeyError, match=r"bob@example.test") as caught:
        seal(options(pki, encrypt=True), built(tmp_path))
    assert caught.value.reason == "missing" and caught.value.exit_code == 65


def test_expired_certificate_is_refused(pki: Pki, tmp_path: Path) -> None:
    out = built(tmp_path, to=("bob", "carol"))
    with pytest.raises(RecipientKeyError, match=r"carol@example.test.*expired on") as caught:
        seal(options(pki, "bob", "carol", encrypt=True), out)
    assert caught.value.reason == "expired" and caught.value.technology == "smime"


def test_sender_certificate_must_be_for_the_sender(pki: Pki, tmp_path: Path) -> None:
    wrong = options(pki, sign=True)._replace(
        smime_cert=str(pki.cert("bob")), smime_key=str(pki.key("bob"))
    )
    with pytest.raises(SenderKeyError, match=r"not for alice@example.test"):
        seal(wrong, built(tmp_path))
    mismatched = options(pki, sign=True)._replace(smime_key=str(pki.key("bob")))
    with pytest.raises(SenderKeyError, match=r"does not belong"):
        seal(mismatched, built(tmp_path))


def test_bcc_needs_separate_copies(pki: Pki, tmp_path: Path) -> None:
    out = built(tmp_path, bcc=("frank",))
    opts = options(pki, "bob", "frank", encrypt=True)
    with pytest.raises(InputError, match=r"Bcc"):
        seal(opts, out)
    copies = split_bcc(out)
    assert [c.recipients for c in copies] == [[addr("bob")], [addr("frank")]]
    sealed: list[Outgoing] = [seal(opts, c) for c in copies]
    visible, hidden = sealed
    assert serial(pki, "frank") not in recipient_serials(visible.data, tmp_path)
    assert set(recipient_serials(visible.data, tmp_path)) == {
        serial(pki, "alice"),
        serial(pki, "bob"),
    }
    assert parse(decrypt(pki, "frank", hidden.data, tmp_path))["Subject"] == SUBJECT
    assert b"frank" not in visible.data.lower() and b"frank" not in hidden.data.lower()
