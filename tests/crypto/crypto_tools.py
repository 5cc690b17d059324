"""Helpers of the crypto tests: making throw-away keys and certificates, taking sealed
messages apart byte for byte, and checking them with the real ``gpg`` and ``openssl``."""

from __future__ import annotations

import datetime as dt
import os
import re
import subprocess
from dataclasses import dataclass, field
from email import policy as email_policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path

from mailgui.core.addresses import Mailbox
from mailgui.core.message import Draft, build
from mailgui.core.outgoing import Outgoing

NAMES = {
    "alice": "Alice Sender",
    "bob": "Bob Example",
    "frank": "Frank Hidden",
    "carol": "Carol Expired",
    "dave": "Dave Revoked",
    "erin": "Erin Untrusted",
}
DOMAIN = "example.test"


def addr(name: str) -> str:
    return f"{name}@{DOMAIN}"


def box(name: str) -> Mailbox:
    return Mailbox(NAMES[name], addr(name))


# --- GnuPG -----------------------------------------------------------------------------


@dataclass
class GpgKeys:
    home: str
    fingerprints: dict[str, str] = field(default_factory=dict)
    subkeys: dict[str, str] = field(default_factory=dict)  # encryption subkey ids

    def gpg(
        self, *args: str, input: bytes | None = None, check: bool = False
    ) -> subprocess.CompletedProcess[bytes]:
        return gpg(self.home, *args, input=input, check=check)


def gpg(
    home: str, *args: str, input: bytes | None = None, check: bool = False
) -> subprocess.CompletedProcess[bytes]:
    cmd = ["gpg", "--homedir", home, "--batch", "--no-tty", "--status-fd", "2", *args]
    done = subprocess.run(cmd, input=input, capture_output=True, timeout=60)
    if check and done.returncode != 0:
        raise AssertionError(f"{cmd} failed: {done.stderr.decode(errors='replace')}")
    return done


def _generate(home: str, name: str, expire: str = "never", faked: str | None = None) -> None:
    extra = ["--faked-system-time", faked] if faked else []
    uid = f"{NAMES[name]} <{addr(name)}>"
    gpg(home, *extra, "--passphrase", "", "--quick-gen-key", uid, "future-default", "default",
        expire, check=True)  # fmt: skip


def _colons(home: str, query: str) -> list[list[str]]:
    out = gpg(home, "--with-colons", "--list-keys", query, check=True).stdout.decode()
    return [line.split(":") for line in out.splitlines()]


def make_gpg_keys(home: str, other: str) -> GpgKeys:
    keys = GpgKeys(home)
    for name in ("alice", "bob", "frank", "dave"):
        _generate(home, name)
    _generate(home, "carol", "1d", faked="20200101T000000")  # expired on 2020-01-02
    _generate(other, "erin")
    exported = gpg(other, "--export", addr("erin"), check=True).stdout
    gpg(home, "--import", input=exported, check=True)
    for name in NAMES:
        rows = _colons(home, f"<{addr(name)}>")
        keys.fingerprints[name] = next(r[9] for r in rows if r[0] == "fpr")
        keys.subkeys[name] = next(r[4] for r in rows if r[0] == "sub")
    revocation = Path(home, "openpgp-revocs.d", keys.fingerprints["dave"] + ".rev").read_bytes()
    gpg(home, "--import", input=revocation.replace(b":-----BEGIN", b"-----BEGIN"), check=True)
    return keys


# --- S/MIME ----------------------------------------------------------------------------


@dataclass
class Pki:
    folder: Path
    ca: Path  # the CA certificate (PEM)

    def cert(self, name: str) -> Path:
        return self.folder / f"{name}.pem"

    def key(self, name: str) -> Path:
        return self.folder / f"{name}.key"


def make_pki(folder: Path) -> Pki:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = dt.datetime.now(dt.UTC)
    ca_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "mailgui test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), False)
        .sign(ca_key, hashes.SHA256())
    )
    (folder / "ca.pem").write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    for name in ("alice", "bob", "frank", "carol"):
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        start, end = now - dt.timedelta(days=1), now + dt.timedelta(days=30)
        if name == "carol":
            start, end = now - dt.timedelta(days=60), now - dt.timedelta(days=30)
        subject = x509.Name(
            [
                x509.NameAttribute(NameOID.COMMON_NAME, NAMES[name]),
                x509.NameAttribute(NameOID.EMAIL_ADDRESS, addr(name)),
            ]
        )
        cert = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(ca_name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(start)
            .not_valid_after(end)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(True, False, True, False, False, False, False, False, False),
                critical=True,
            )
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), False)
            .add_extension(x509.SubjectAlternativeName([x509.RFC822Name(addr(name))]), False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
            )
            .sign(ca_key, hashes.SHA256())
        )
        (folder / f"{name}.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        (folder / f"{name}.key").write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
    return Pki(folder, folder / "ca.pem")


def openssl(*args: str, input: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(["openssl", *args], input=input, capture_output=True, timeout=60)


# --- messages --------------------------------------------------------------------------

SUBJECT = "Grüße: the quarterly numbers ✓"
TEXT = "Hello Bob,\n\nhere are the numbers — with ümlauts.\nFrom now on, weekly.  \n"
HTML = "<p>Hello <b>Bob</b>,</p><p>here are the numbers — with ümlauts.</p>"


def draft(folder: Path, *, to: tuple[str, ...] = ("bob",), bcc: tuple[str, ...] = ()) -> Draft:
    attachment = folder / "numbers.bin"
    if not attachment.exists():
        attachment.write_bytes(os.urandom(5000) + b"\r\n \n\x00From x")
    return Draft(
        sender=box("alice"),
        to=[box(n) for n in to],
        bcc=[box(n) for n in bcc],
        subject=SUBJECT,
        text=TEXT,
        html=HTML,
        attachments=[attachment],
    )


def built(folder: Path, **kwargs: tuple[str, ...]) -> Outgoing:
    return build(draft(folder, **kwargs))


def parse(data: bytes) -> EmailMessage:
    msg = BytesParser(policy=email_policy.default).parsebytes(data)
    assert isinstance(msg, EmailMessage)
    return msg


def exact_parts(entity: bytes) -> tuple[EmailMessage, list[bytes]]:
    """The header of a multipart entity and its parts, byte for byte (RFC 2046 5.1.1:
    the CRLF before a delimiter belongs to the delimiter)."""
    head, body = entity.split(b"\r\n\r\n", 1)
    msg = parse(head + b"\r\n\r\n")
    mark = msg.get_param("boundary")
    assert isinstance(mark, str)
    chunks = (b"\r\n" + body).split(b"\r\n--" + mark.encode("ascii"))
    assert chunks[-1].startswith(b"--"), "no close delimiter"
    parts = []
    for chunk in chunks[1:-1]:
        assert chunk.startswith(b"\r\n"), "transport padding or junk after a delimiter"
        parts.append(chunk[2:])
    return msg, parts


def header_block(data: bytes) -> bytes:
    return data.split(b"\r\n\r\n", 1)[0]


def check_wire(data: bytes) -> None:
    from mailgui.core.outgoing import wire_problem

    assert wire_problem(data) is None, wire_problem(data)
    assert not re.search(rb"(?i)(^|\r\n)bcc:", header_block(data))


def smtp_send(host: str, port: int, out: Outgoing) -> None:
    """Hand ``out`` to an SMTP server as it is (smtplib does the dot-stuffing)."""
    import smtplib

    with smtplib.SMTP(host, port, timeout=10) as client:
        client.sendmail(out.envelope_from, out.recipients, out.data)
