"""The crypto package's pieces without the tools: imports stay cheap and Qt-free,
canonicalisation, protected headers, the Autocrypt header, the sealer seam."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from crypto_tools import GpgKeys, addr, built, check_wire, exact_parts, parse, smtp_send

from mailgui.core.accounts import Account
from mailgui.core.crypto import SealOptions, seal, sealer
from mailgui.core.crypto.autocrypt import header as autocrypt_header
from mailgui.core.crypto.autocrypt import parse as parse_autocrypt
from mailgui.core.crypto.mime_parts import canonical, split
from mailgui.core.crypto.protected_headers import protect


def test_importing_the_package_loads_no_crypto_library_and_no_qt() -> None:
    code = (
        "import sys, mailgui.core.crypto, mailgui.core.crypto.openpgp, "
        "mailgui.core.crypto.smime, mailgui.core.crypto.autocrypt;"
        "print(sorted({m.split('.')[0] for m in sys.modules} & "
        "{'gnupg', 'cryptography', 'PySide6', 'email'}))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    # the email package is there already for every message; the rest only when sealing
    assert done.stdout.strip() in ("[]", "['email']")


def test_sealing_loads_no_qt(gpg_keys: GpgKeys, tmp_path: Path) -> None:
    here, key, home = str(Path(__file__).parent), gpg_keys.fingerprints["alice"], gpg_keys.home
    code = (
        f"import sys; from pathlib import Path; sys.path.insert(0, {here!r});"
        "from crypto_tools import built; from mailgui.core.crypto import SealOptions, seal;"
        f"opts = SealOptions(sign=True, encrypt=True, pgp_key={key!r}, gnupghome={home!r});"
        f"seal(opts, built(Path({str(tmp_path)!r})));"
        "print('PySide6' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"


def test_safe_content_is_signed_as_it_is(tmp_path: Path) -> None:
    from crypto_tools import box

    from mailgui.core.message import Draft, build

    out = build(Draft(sender=box("alice"), to=[box("bob")], subject="s", text="Hi.\n"))
    content = split(out).content
    assert canonical(content) == content
    eight_bit = b"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n"
    eight_bit += b"\r\nGr\xc3\xbc\xc3\x9fe  \r\n"
    safe = canonical(eight_bit)
    assert safe.isascii() and b"quoted-printable" in safe.lower()
    assert parse(safe).get_content() == "Grüße  \r\n"


def test_protected_headers_copy_the_real_ones(tmp_path: Path) -> None:
    out = built(tmp_path)
    cut = split(out)
    outer, inner = protect(cut.outer, cut.content)
    assert [f.raw for f in outer if f.name == "subject"] == [b"Subject: ..."]
    msg = parse(inner)
    assert msg.get_param("protected-headers") == "v1"
    assert msg["To"] == "Bob Example <bob@example.test>" and msg["Date"] is not None
    assert not any(f.name.startswith("content-") for f in outer)


def test_autocrypt_header_round_trip() -> None:
    field = autocrypt_header("alice@example.test", bytes(range(256)) * 3)
    value = field.raw.decode().split(":", 1)[1]
    assert all(len(line) <= 78 for line in field.raw.split(b"\r\n"))
    attrs = parse_autocrypt(value)
    assert attrs["addr"] == "alice@example.test"
    import base64

    assert base64.b64decode(attrs["keydata"]) == bytes(range(256)) * 3
    with pytest.raises(ValueError):
        parse_autocrypt("addr=a@b.example; unknown=1; keydata=AAAA")
    with pytest.raises(ValueError):
        parse_autocrypt("addr=a@b.example")


def test_the_engine_seals_with_the_accounts_key(
    gpg_keys: GpgKeys, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mailgui.core.engine import Engine, Protect

    class _Profile:
        accounts_file = tmp_path / "accounts.toml"
        config_dir = tmp_path / "config"

    monkeypatch.setenv("GNUPGHOME", str(gpg_keys.home))
    account = Account(
        "work", addr("alice"), host="smtp.example.test", pgp_key=gpg_keys.fingerprints["alice"]
    )
    engine = Engine(_Profile())  # type: ignore[arg-type]
    sealed, kinds = engine.seal(account, built(tmp_path), Protect(sign=True))
    assert kinds == ("openpgp", None)
    assert parse(sealed.data).get_content_type() == "multipart/signed"
    plain, kinds = engine.seal(account, built(tmp_path))  # not asked: only Autocrypt
    assert kinds == (None, None) and parse(plain.data)["Autocrypt"] is not None
    assert parse(plain.data).get_content_type() != "multipart/signed"
    opts = SealOptions(sign=True, pgp_key=gpg_keys.fingerprints["alice"], gnupghome=gpg_keys.home)
    by_sealer, _ = Engine(_Profile(), sealers=[sealer(opts)]).seal(  # type: ignore[arg-type]
        account._replace(pgp_key=""), built(tmp_path)
    )
    assert parse(by_sealer.data).get_content_type() == "multipart/signed"


@pytest.mark.parametrize("kind", ["sign", "encrypt"])
def test_what_the_server_received_verifies(
    gpg_keys: GpgKeys, tmp_path: Path, smtp_server, kind: str
) -> None:
    opts = SealOptions(
        sign=kind == "sign",
        encrypt=kind == "encrypt",
        pgp_key=gpg_keys.fingerprints["alice"],
        gnupghome=gpg_keys.home,
    )
    sealed = seal(opts, built(tmp_path, bcc=("frank",)))
    check_wire(sealed.data)
    server = smtp_server()
    smtp_send(server.host, server.port, sealed)
    [received] = server.wait_for(1)
    assert received.rcpt_tos == sealed.recipients
    assert received.data == sealed.data  # byte for byte, dot-stuffing undone
    if kind == "sign":
        _, (content, signature) = exact_parts(received.data)
        (tmp_path / "c").write_bytes(content)
        (tmp_path / "c.asc").write_bytes(parse(signature).get_payload(decode=True))
        done = gpg_keys.gpg("--verify", str(tmp_path / "c.asc"), str(tmp_path / "c"))
        assert done.returncode == 0 and b"GOODSIG" in done.stderr
    else:
        _, (_, encrypted) = exact_parts(received.data)
        done = gpg_keys.gpg("--decrypt", input=parse(encrypted).get_payload(decode=True))
        assert done.returncode == 0 and b"quarterly" in done.stdout


def test_the_wire_check_holds_the_outgoing_rules() -> None:
    from mailgui.core.crypto.mime_parts import check_wire as mime_check_wire

    mime_check_wire(b"Subject: x\r\n\r\n" + b"a" * 998 + b"\r\n")
    for bad in (
        b"Subject: x\r\n\r\n" + b"a" * 999 + b"\r\n",
        b"Subject: x\r\n\r\nbare\nLF\r\n",
        b"Subject: x\r\n\r\nno end",
        b"Subject: x\r\nBcc: frank@example.test\r\n\r\nbody\r\n",
    ):
        with pytest.raises(AssertionError):
            mime_check_wire(bad)
