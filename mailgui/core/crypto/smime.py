"""S/MIME (RFC 8551) with ``cryptography`` (>= 50: earlier releases had a PKCS#7
decryption oracle), using the account's certificate and key.

Signatures are *detached* (multipart/signed with application/pkcs7-signature): a reader
without S/MIME still sees the message, the part signed is framed and canonicalised as
for PGP/MIME (one code path, ``mime_parts``), and ``openssl smime -verify`` reads it.
The opaque form (application/pkcs7-mime; smime-type=signed-data) hides the text from
those readers and gains nothing here. The media types are RFC 8551's, never the older
``x-pkcs7-*`` names: the multipart and the parts are written by ``mime_parts``; only
the DER comes from ``cryptography``.

Encryption is application/pkcs7-mime; smime-type=enveloped-data with AES-256-CBC, to
every recipient's certificate and the sender's own. CMS names each recipient
(issuer and serial number) in the clear and has no hidden recipient: a message with
Bcc recipients must be sent as separate copies (``split_bcc``), or it is refused.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from mailgui.core.crypto import mime_parts, problems
from mailgui.core.crypto.mime_parts import Field, field
from mailgui.core.crypto.problems import CryptoToolError, RecipientKeyError, SenderKeyError
from mailgui.core.crypto.sealing import Recipients
from mailgui.core.errors import InputError

if TYPE_CHECKING:
    from cryptography.x509 import Certificate

SIGNATURE_PART = (
    b'Content-Type: application/pkcs7-signature; name="smime.p7s"\r\n'
    b"Content-Transfer-Encoding: base64\r\n"
    b'Content-Disposition: attachment; filename="smime.p7s"\r\n'
    b"Content-Description: S/MIME Cryptographic Signature\r\n\r\n"
)


def _require() -> None:
    try:
        import cryptography

        major = int(cryptography.__version__.split(".")[0])
    except (ImportError, ValueError):
        major = 0
    if major < 50:
        raise CryptoToolError(
            "S/MIME needs the cryptography package, version 50 or later; install it "
            "(pip install 'cryptography>=50') or send without signing or encryption."
        )


def load_certificates(data: bytes) -> list[Certificate]:
    """The certificates in ``data``: PEM (one or more) or DER. ValueError if none."""
    _require()
    from cryptography import x509

    if b"-----BEGIN" in data:
        return x509.load_pem_x509_certificates(data)
    return [x509.load_der_x509_certificate(data)]


def addresses(cert: Certificate) -> list[str]:
    """The mail addresses a certificate is for, in lower case: its subjectAltName
    rfc822Names, else the subject's emailAddress (RFC 8550 3)."""
    from cryptography import x509
    from cryptography.x509.oid import NameOID

    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)
        found = [str(a).lower() for a in san.value.get_values_for_type(x509.RFC822Name)]
    except x509.ExtensionNotFound:
        found = []
    if not found:
        found = [
            str(a.value).lower() for a in cert.subject.get_attributes_for_oid(NameOID.EMAIL_ADDRESS)
        ]
    return found


def problem(cert: Certificate, *, use: str, now: datetime | None = None) -> tuple[str, str] | None:
    """(reason, words) when ``cert`` cannot be used to ``use`` ("sign" or "encrypt")."""
    from cryptography import x509
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import ExtendedKeyUsageOID

    when = now or datetime.now(UTC)
    if when > cert.not_valid_after_utc:
        day = cert.not_valid_after_utc.date().isoformat()
        return problems.EXPIRED, f"expired on {day}"
    if when < cert.not_valid_before_utc:
        day = cert.not_valid_before_utc.date().isoformat()
        return problems.UNUSABLE, f"is not valid before {day}"
    try:
        usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
        allowed = usage.digital_signature if use == "sign" else usage.key_encipherment
        if not allowed:
            return problems.UNUSABLE, f"does not allow its key to {use}"
    except x509.ExtensionNotFound:
        pass
    try:
        purposes = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
        if (
            ExtendedKeyUsageOID.EMAIL_PROTECTION not in purposes
            and ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE not in purposes
        ):
            return problems.UNUSABLE, "is not for e-mail (no emailProtection usage)"
    except x509.ExtensionNotFound:
        pass
    if use == "encrypt" and not isinstance(cert.public_key(), rsa.RSAPublicKey):
        return problems.UNUSABLE, "has a key type mailgui cannot encrypt to (only RSA)"
    return None


class SmimeIdentity(NamedTuple):
    cert: Certificate
    chain: list[Certificate]  # the intermediates that followed it in its file
    key: Any  # an RSA or EC private key


def load_identity(
    cert_path: str, key_path: str, password: bytes | None, addr: str, *, sign: bool = True
) -> SmimeIdentity:
    """The sender's certificate and key, checked against ``addr``; SenderKeyError."""
    _require()
    from cryptography.hazmat.primitives import serialization

    try:
        certs = load_certificates(Path(cert_path).read_bytes())
        key_data = Path(key_path).read_bytes()
    except OSError as exc:
        raise SenderKeyError(
            f"Cannot read the S/MIME certificate or key of {addr} ({exc.strerror or exc}); "
            "check the paths of the account."
        ) from None
    except ValueError:
        raise SenderKeyError(
            f"The S/MIME certificate file {cert_path!r} holds no certificate; give a PEM or "
            "DER certificate."
        ) from None
    try:
        if b"-----BEGIN" in key_data:
            key = serialization.load_pem_private_key(key_data, password)
        else:
            key = serialization.load_der_private_key(key_data, password)
    except TypeError:
        raise SenderKeyError(
            f"The S/MIME key {key_path!r} is protected by a passphrase that mailgui does not "
            "have; store it in the keyring with the account."
        ) from None
    except ValueError:
        raise SenderKeyError(
            f"The S/MIME key {key_path!r} could not be read (wrong passphrase, or not a "
            "private key); check the file and its passphrase."
        ) from None
    cert, chain = certs[0], certs[1:]
    if addr.lower() not in addresses(cert):
        raise SenderKeyError(
            f"The S/MIME certificate {cert_path!r} is not for {addr} (it is for "
            f"{', '.join(addresses(cert)) or 'no address'}); choose the sender's certificate."
        )
    found = problem(cert, use="sign" if sign else "encrypt")
    if found is not None:
        raise SenderKeyError(
            f"Your S/MIME certificate {found[1]}, so nothing was queued; renew it or choose "
            "another one for the account."
        )
    spki = serialization.PublicFormat.SubjectPublicKeyInfo
    if key.public_key().public_bytes(
        serialization.Encoding.DER, spki
    ) != cert.public_key().public_bytes(serialization.Encoding.DER, spki):
        raise SenderKeyError(
            f"The S/MIME key {key_path!r} does not belong to the certificate {cert_path!r}; "
            "choose the matching pair."
        )
    return SmimeIdentity(cert, chain, key)


class CertificateBook:
    """Recipients' certificates by address (from ``mailgui cert import`` and
    ``--smime-recipient-cert``)."""

    def __init__(self, certificates: Iterable[Certificate] = ()) -> None:
        self._by_addr: dict[str, list[Certificate]] = {}
        for cert in certificates:
            self.add(cert)

    @classmethod
    def from_data(cls, items: Iterable[bytes]) -> CertificateBook:
        book = cls()
        for data in items:
            try:
                certs = load_certificates(data)
            except ValueError:
                raise InputError(
                    "A recipient certificate could not be read (neither PEM nor DER); check "
                    "the file."
                ) from None
            for cert in certs:
                book.add(cert)
        return book

    def add(self, cert: Certificate) -> None:
        for addr in addresses(cert):
            self._by_addr.setdefault(addr, []).append(cert)

    def certificate(self, addr: str, now: datetime | None = None) -> Certificate:
        """The certificate to encrypt to for ``addr``: the usable one that lasts longest;
        RecipientKeyError with the reason when there is none."""
        certs = sorted(self._by_addr.get(addr.lower(), []), key=lambda c: c.not_valid_after_utc)
        certs.reverse()
        for cert in certs:
            if problem(cert, use="encrypt", now=now) is None:
                return cert
        if not certs:
            raise RecipientKeyError(
                f"There is no S/MIME certificate for {addr}, so the message cannot be "
                "encrypted to them and nothing was queued; import theirs (mailgui cert "
                "import FILE) or send without encryption.",
                recipient=addr,
                reason=problems.MISSING,
                technology="smime",
            )
        reason, why = problem(certs[0], use="encrypt", now=now) or ("", "")
        raise RecipientKeyError(
            f"The S/MIME certificate of {addr} {why}, so the message cannot be encrypted to "
            "them and nothing was queued; get a current certificate from them, or send "
            "without encryption.",
            recipient=addr,
            reason=reason,
            technology="smime",
        )


def _options(*names: str) -> list[Any]:
    from cryptography.hazmat.primitives.serialization import pkcs7

    return [getattr(pkcs7.PKCS7Options, n) for n in names]


class SmimeSigner:
    def __init__(self, identity: SmimeIdentity) -> None:
        self.identity = identity

    def sign(self, content: bytes) -> tuple[list[tuple[str, str]], bytes]:
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.serialization import pkcs7

        builder = pkcs7.PKCS7SignatureBuilder().set_data(content)
        builder = builder.add_signer(self.identity.cert, self.identity.key, hashes.SHA256())
        for extra in self.identity.chain:
            builder = builder.add_certificate(extra)
        # Binary: the content is already canonical (CRLF); nothing may be translated.
        der = builder.sign(serialization.Encoding.DER, _options("DetachedSignature", "Binary"))
        params = [("protocol", "application/pkcs7-signature"), ("micalg", "sha-256")]
        return params, SIGNATURE_PART + mime_parts.base64_lines(der)


class SmimeEncrypter:
    def __init__(self, own: Certificate, book: CertificateBook) -> None:
        self.own = own
        self.book = book

    def certificates(self, to: Recipients) -> list[Certificate]:
        if to.hidden and len(to.visible) + len(to.hidden) > 2:
            # More than the sender and one hidden recipient: someone would see the Bcc.
            raise InputError(
                "S/MIME encryption would show the Bcc recipients to everyone else, so "
                "nothing was queued; send them separate copies, or use OpenPGP."
            )
        certs = [self.own]
        for addr in [*to.visible[1:], *to.hidden]:
            certs.append(self.book.certificate(addr))
        return certs

    def encrypt(self, content: bytes, to: Recipients) -> tuple[list[Field], list[bytes]]:
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.ciphers import algorithms
        from cryptography.hazmat.primitives.serialization import pkcs7

        builder = pkcs7.PKCS7EnvelopeBuilder().set_data(content)
        builder = builder.set_content_encryption_algorithm(algorithms.AES256)
        seen: set[bytes] = set()
        for cert in self.certificates(to):
            fingerprint = cert.fingerprint(_sha256())
            if fingerprint not in seen:
                seen.add(fingerprint)
                builder = builder.add_recipient(cert)
        der = builder.encrypt(serialization.Encoding.DER, _options("Binary"))
        fields = [
            field(
                "Content-Type",
                'application/pkcs7-mime; smime-type=enveloped-data;\r\n name="smime.p7m"',
            ),
            field("Content-Transfer-Encoding", "base64"),
            field("Content-Disposition", 'attachment; filename="smime.p7m"'),
            field("Content-Description", "S/MIME Encrypted Message"),
        ]
        return fields, [mime_parts.base64_lines(der)]


def _sha256() -> Any:
    from cryptography.hazmat.primitives import hashes

    return hashes.SHA256()


__all__ = [
    "CertificateBook",
    "SmimeEncrypter",
    "SmimeIdentity",
    "SmimeSigner",
    "addresses",
    "load_certificates",
    "load_identity",
    "problem",
]
