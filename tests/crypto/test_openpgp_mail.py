"""PGP/MIME on send, checked with the real gpg: signed, encrypted, both; attachments, HTML
and UTF-8; protected headers; Bcc key ids hidden; unusable keys refused with the reason;
the Autocrypt header."""

from __future__ import annotations

import base64
import re
from pathlib import Path

import pytest
from crypto_tools import (
    SUBJECT,
    TEXT,
    GpgKeys,
    addr,
    built,
    check_wire,
    exact_parts,
    header_block,
    parse,
)

from mailgui.core.crypto import RecipientKeyError, SealOptions, SenderKeyError, seal, sealer
from mailgui.core.crypto.autocrypt import parse as parse_autocrypt
from mailgui.core.errors import EX_DATAERR, InputError

pytestmark = pytest.mark.timeout(120)


def options(keys: GpgKeys, **kwargs: object) -> SealOptions:
    return SealOptions(pgp_key=keys.fingerprints["alice"], gnupghome=keys.home, **kwargs)  # type: ignore[arg-type]


def verify(keys: GpgKeys, signed_entity: bytes, tmp_path: Path) -> tuple[bytes, str]:
    """gpg --verify of a multipart/signed entity: (the signed part, gpg's status)."""
    head, (content, signature_part) = exact_parts(signed_entity)
    assert head.get_content_type() == "multipart/signed"
    assert head.get_param("protocol") == "application/pgp-signature"
    sig = parse(signature_part)
    assert sig.get_content_type() == "application/pgp-signature"
    (tmp_path / "part").write_bytes(content)
    (tmp_path / "part.asc").write_bytes(sig.get_payload(decode=True))
    done = keys.gpg("--verify", str(tmp_path / "part.asc"), str(tmp_path / "part"))
    status = done.stderr.decode()
    assert done.returncode == 0, status
    assert "[GNUPG:] GOODSIG" in status and keys.fingerprints["alice"] in status
    # micalg names the hash gpg used (VALIDSIG's 8th field: the hash algorithm id)
    valid = re.search(r"VALIDSIG (\S+ ){7}(\d+)", status)
    assert valid is not None
    names = {"8": "pgp-sha256", "10": "pgp-sha512", "9": "pgp-sha384", "2": "pgp-sha1"}
    assert head.get_param("micalg") == names[valid.group(2)]
    return content, status


def decrypt(keys: GpgKeys, data: bytes) -> bytes:
    """gpg --decrypt of a multipart/encrypted message: the inner entity."""
    head, (version, encrypted) = exact_parts(data)
    assert head.get_content_type() == "multipart/encrypted"
    assert head.get_param("protocol") == "application/pgp-encrypted"
    assert parse(version).get_content_type() == "application/pgp-encrypted"
    assert b"Version: 1" in version
    part = parse(encrypted)
    assert part.get_content_type() == "application/octet-stream"
    armored = part.get_payload(decode=True)
    assert armored.startswith(b"-----BEGIN PGP MESSAGE-----")
    done = keys.gpg("--decrypt", input=armored)
    assert done.returncode == 0, done.stderr.decode()
    return done.stdout


def check_content(entity: bytes) -> None:
    """The original content is all there: UTF-8 text, HTML, the attachment."""
    msg = parse(entity)
    text = msg.get_body(("plain",))
    html = msg.get_body(("html",))
    assert text is not None and html is not None
    assert text.get_content().replace("\r\n", "\n") == TEXT
    assert "<b>Bob</b>" in html.get_content()
    attachments = list(msg.iter_attachments())
    assert [a.get_filename() for a in attachments] == ["numbers.bin"]
    assert attachments[0].get_payload(decode=True).endswith(b"\r\n \n\x00From x")


def test_signed_message_verifies_with_gpg(gpg_keys: GpgKeys, tmp_path: Path) -> None:
    out = built(tmp_path)
    sealed = seal(options(gpg_keys, sign=True), out)
    check_wire(sealed.data)
    assert sealed._replace(data=b"") == out._replace(data=b"")  # the envelope is kept
    content, _ = verify(gpg_keys, sealed.data, tmp_path)
    check_content(content)
    msg = parse(sealed.data)
    assert msg["Subject"] == SUBJECT  # not encrypted: the subject stays outside
    assert msg["To"] == "Bob Example <bob@example.test>"
    assert msg["Message-ID"] == out.message_id
    # transport-safe: 7-bit, no trailing white space, no "From " line in the signed part
    assert re.search(rb"[^\x00-\x7f]", content) is None
    assert re.search(rb"[ \t]\r\n", content) is None
    assert re.search(rb"(^|\r\n)From ", content) is None


def test_encrypted_message_decrypts_with_protected_headers(
    gpg_keys: GpgKeys, tmp_path: Path
) -> None:
    out = built(tmp_path)
    sealed = seal(options(gpg_keys, encrypt=True), out)
    check_wire(sealed.data)
    outer = parse(sealed.data)
    assert outer["Subject"] == "..."
    assert outer["From"] == "Alice Sender <alice@example.test>"
    assert SUBJECT.encode() not in sealed.data and b"quarterly" not in sealed.data
    inner = decrypt(gpg_keys, sealed.data)
    msg = parse(inner)
    assert msg.get_param("protected-headers") == "v1"
    assert msg["Subject"] == SUBJECT
    assert msg["From"] == "Alice Sender <alice@example.test>"
    assert msg["To"] == "Bob Example <bob@example.test>"
    assert msg["Message-ID"] == out.message_id and msg["Date"] is not None
    check_content(inner)


def test_encrypted_to_every_recipient_and_the_sender(gpg_keys: GpgKeys, tmp_path: Path) -> None:
    sealed = seal(options(gpg_keys, encrypt=True), built(tmp_path))
    _, (_, encrypted) = exact_parts(sealed.data)
    listed = gpg_keys.gpg("--list-packets", input=parse(encrypted).get_payload(decode=True))
    ids = re.findall(r"pubkey enc packet: version \d+, algo \d+, keyid ([0-9A-F]{16})",
                     listed.stdout.decode())  # fmt: skip
    assert sorted(ids) == sorted([gpg_keys.subkeys["alice"], gpg_keys.subkeys["bob"]])


def test_signed_and_encrypted(gpg_keys: GpgKeys, tmp_path: Path) -> None:
    out = built(tmp_path)
    sealed = seal(options(gpg_keys, sign=True, encrypt=True), out)
    check_wire(sealed.data)
    assert parse(sealed.data)["Subject"] == "..."
    inner = decrypt(gpg_keys, sealed.data)
    assert parse(inner).get_content_type() == "multipart/signed"
    content, _ = verify(gpg_keys, inner, tmp_path)
    msg = parse(content)  # the signature covers the protected headers too
    assert msg["Subject"] == SUBJECT and msg.get_param("protected-headers") == "v1"
    check_content(content)


def test_bcc_key_ids_are_hidden(gpg_keys: GpgKeys, tmp_path: Path) -> None:
    out = built(tmp_path, bcc=("frank",))
    assert out.recipients == [addr("bob"), addr("frank")]
    sealed = seal(options(gpg_keys, encrypt=True), out)
    check_wire(sealed.data)
    assert b"frank" not in sealed.data.lower()
    _, (_, encrypted) = exact_parts(sealed.data)
    armored = parse(encrypted).get_payload(decode=True)
    listed = gpg_keys.gpg("--list-packets", input=armored).stdout.decode()
    ids = re.findall(r"pubkey enc packet: version \d+, algo \d+, keyid ([0-9A-F]{16})", listed)
    assert gpg_keys.subkeys["frank"] not in ids and gpg_keys.fingerprints["frank"][-16:] not in ids
    assert sorted(ids) == sorted(
        [gpg_keys.subkeys["alice"], gpg_keys.subkeys["bob"], "0000000000000000"]
    )
    # frank can still read it: only his own secret key is tried against the zero id
    inner = parse(decrypt(gpg_keys, sealed.data))
    assert "Bcc" not in inner and "frank" not in str(inner["To"])


@pytest.mark.parametrize(
    ("name", "reason", "words"),
    [
        ("carol", "expired", "expired on 2020-01-02"),
        ("dave", "revoked", "has been revoked"),
        ("erin", "untrusted", "is not verified"),
    ],
)
def test_unusable_recipient_key_is_refused_with_the_reason(
    gpg_keys: GpgKeys, tmp_path: Path, name: str, reason: str, words: str
) -> None:
    out = built(tmp_path, to=("bob", name))
    with pytest.raises(RecipientKeyError) as caught:
        seal(options(gpg_keys, sign=True, encrypt=True), out)
    error = caught.value
    assert isinstance(error, InputError) and error.exit_code == EX_DATAERR
    assert error.recipient == addr(name) and error.reason == reason
    assert addr(name) in str(error) and words in str(error)
    assert gpg_keys.fingerprints[name] in str(error)


def test_recipient_without_key_is_named(gpg_keys: GpgKeys, tmp_path: Path) -> None:
    out = built(tmp_path)._replace(recipients=[addr("bob"), "nobody@example.test"])
    with pytest.raises(RecipientKeyError, match=r"nobody@example.test") as caught:
        sealer(options(gpg_keys, encrypt=True))(None, out)  # type: ignore[arg-type]
    assert caught.value.reason == "missing" and caught.value.exit_code == 65
    assert "nothing was queued" in str(caught.value)


def test_bcc_without_key_is_refused_too(gpg_keys: GpgKeys, tmp_path: Path) -> None:
    out = built(tmp_path, bcc=("carol",))
    with pytest.raises(RecipientKeyError, match=r"carol@example.test"):
        seal(options(gpg_keys, encrypt=True), out)


def test_sender_key_must_exist(gpg_keys: GpgKeys, tmp_path: Path) -> None:
    bad = SealOptions(sign=True, pgp_key="0" * 40, gnupghome=gpg_keys.home)
    with pytest.raises(SenderKeyError, match=r"no secret key") as caught:
        seal(bad, built(tmp_path))
    assert caught.value.exit_code == 78
    bobs = SealOptions(sign=True, pgp_key=gpg_keys.fingerprints["bob"], gnupghome=gpg_keys.home)
    with pytest.raises(SenderKeyError, match=r"no user id for alice@example.test"):
        seal(bobs, built(tmp_path))


def test_autocrypt_header(gpg_keys: GpgKeys, tmp_path: Path) -> None:
    out = built(tmp_path)
    for opts in (options(gpg_keys), options(gpg_keys, sign=True), options(gpg_keys, encrypt=True)):
        sealed = seal(opts, out)
        check_wire(sealed.data)
        values = parse(sealed.data).get_all("Autocrypt")
        assert values is not None and len(values) == 1
        attrs = parse_autocrypt(str(values[0]))
        assert attrs["addr"] == addr("alice")
        keydata = base64.b64decode(attrs["keydata"])
        packets = gpg_keys.gpg("--list-packets", input=keydata).stdout.decode()
        # minimal: primary key, one user id, one encryption subkey, a signature for each
        assert packets.count(":public key packet:") == 1
        assert packets.count(":user ID packet:") == 1 and "alice@example.test" in packets
        assert packets.count(":public sub key packet:") == 1
        assert packets.count(":signature packet:") == 2
        for line in header_block(sealed.data).split(b"\r\n"):
            assert len(line) <= 78
    # without any key: no header, and nothing changes
    assert seal(SealOptions(), out) == out


def test_gnupghome_from_the_environment(
    gpg_keys: GpgKeys, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GNUPGHOME", gpg_keys.home)
    opts = SealOptions(sign=True, pgp_key=gpg_keys.fingerprints["alice"])
    sealed = seal(opts, built(tmp_path))
    assert parse(sealed.data).get_content_type() == "multipart/signed"


def test_seven_bit_text_with_trailing_spaces_is_made_safe(
    gpg_keys: GpgKeys, tmp_path: Path
) -> None:
    from crypto_tools import box

    from mailgui.core.message import Draft, build

    out = build(Draft(sender=box("alice"), to=[box("bob")], subject="plain",
                      text="ascii line with trailing spaces   \nFrom the top\n.\n"))  # fmt: skip
    assert b"spaces   \r\n" in out.data  # message.py sends it as 7bit as it is
    sealed = seal(options(gpg_keys, sign=True), out)
    content, _ = verify(gpg_keys, sealed.data, tmp_path)
    assert b"spaces   \r\n" not in content and b"\r\nFrom " not in content
    part = parse(content)
    assert part["Content-Transfer-Encoding"] == "quoted-printable"
    assert part.get_content() == "ascii line with trailing spaces   \r\nFrom the top\r\n.\r\n"
