"""The sender's own keys, as the accounts dialog offers them: the OpenPGP secret keys of
the user's GnuPG, and what an S/MIME certificate and key file say about themselves.

Plain data out (named tuples of text and numbers), no Qt: the dialog runs these in a
worker (gpg and file reads can take their time) and shows the result. Nothing here
changes a keyring or a file. The checks are those that sealing makes (``crypto.openpgp``
``own_key``, ``crypto.smime.load_identity``), said before the first message instead of
when it is queued.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NamedTuple

from mailgui.core.crypto.problems import CryptoToolError

__all__ = [
    "CertificateFacts",
    "SecretKey",
    "group_fingerprint",
    "read_certificate",
    "secret_keys",
]


def group_fingerprint(fingerprint: str) -> str:
    """``7C87…8681`` as gpg shows it: groups of four, a wider gap in the middle."""
    hexed = "".join(fingerprint.split()).upper()
    groups = [hexed[i : i + 4] for i in range(0, len(hexed), 4)]
    if len(groups) == 10:
        return " ".join(groups[:5]) + "  " + " ".join(groups[5:])
    return " ".join(groups)


def _day(stamp: datetime) -> str:
    return stamp.date().isoformat()


class SecretKey(NamedTuple):
    """One secret key of the user's GnuPG."""

    fingerprint: str  # 40 (or 64) hex digits, upper case
    uids: tuple[str, ...]  # "Ada Lovelace <ada@example.org>", as GnuPG has them
    created: int  # seconds since the epoch
    expires: int | None  # None: never
    validity: str  # gpg's field 2: "u" ultimate, "e" expired, "r" revoked...
    capabilities: str  # gpg's field 12: upper case = usable for the key as a whole

    @property
    def grouped(self) -> str:
        return group_fingerprint(self.fingerprint)

    @property
    def expiry(self) -> str:
        """ISO date of expiry, or empty when it never expires."""
        if not self.expires:
            return ""
        return _day(datetime.fromtimestamp(self.expires, UTC))

    def addresses(self) -> list[str]:
        found = []
        for uid in self.uids:
            inner = uid.rpartition("<")[2].rstrip("> ") if "<" in uid else uid.strip()
            found.append(inner.lower())
        return found

    def problem(self, addr: str = "", now: datetime | None = None) -> str:
        """Why this key cannot sign mail from ``addr`` (a sentence ending in no full
        stop), or empty when it can."""
        when = (now or datetime.now(UTC)).timestamp()
        if self.validity == "r":
            return "this key has been revoked"
        if self.validity == "e" or (self.expires and self.expires <= when):
            return f"this key expired on {self.expiry}" if self.expires else "this key expired"
        if "D" in self.capabilities or self.validity == "d":
            return "this key is disabled in your keyring"
        if "S" not in self.capabilities:
            return "this key has no usable signing subkey (expired or revoked)"
        if addr and addr.lower() not in self.addresses():
            return (
                f"this key has no user id for {addr}, so mail from that address cannot be "
                "signed with it"
            )
        return ""


def secret_keys(gnupghome: str | None = None, binary: str = "gpg") -> list[SecretKey]:
    """Every secret key of the user's GnuPG (``gnupghome`` None: ``GNUPGHOME``, else
    ``~/.gnupg``), newest first. Raises CryptoToolError when GnuPG cannot be used."""
    try:
        import gnupg  # type: ignore[import-untyped]
    except ImportError:
        raise CryptoToolError(
            "OpenPGP needs the python-gnupg package, which is not installed; install it "
            "(pip install python-gnupg) to choose a key."
        ) from None
    try:
        gpg: Any = gnupg.GPG(gpgbinary=binary, gnupghome=gnupghome)
    except (OSError, ValueError) as exc:
        raise CryptoToolError(
            f"GnuPG could not be started ({exc}); install gpg, or check the GnuPG home "
            "folder, then try again."
        ) from None
    gpg.encoding = "utf-8"
    listed = gpg.list_keys(secret=True)
    if getattr(listed, "returncode", 0) not in (0, None) and not listed:
        raise CryptoToolError(
            "GnuPG could not list your secret keys ("
            + (str(getattr(listed, "stderr", "")).strip().splitlines() or ["no reason given"])[-1]
            + "); check your GnuPG home folder."
        )
    keys = [
        SecretKey(
            fingerprint=str(entry.get("fingerprint", "")).upper(),
            uids=tuple(str(u) for u in entry.get("uids", [])),
            created=int(entry.get("date") or 0),
            expires=int(entry["expires"]) if entry.get("expires") else None,
            validity=str(entry.get("trust", "")),
            capabilities=str(entry.get("cap", "")),
        )
        for entry in listed
    ]
    keys.sort(key=lambda k: k.created, reverse=True)
    return keys


class CertificateFacts(NamedTuple):
    """What an S/MIME certificate (and its key file) say, for the dialog to show.

    ``error`` set: the certificate could not be read (the rest is empty). ``warnings``:
    sentences about a certificate that was read but will not work as it is."""

    subject: str = ""
    issuer: str = ""
    fingerprint: str = ""  # SHA-256, "AB:CD:..."
    not_before: str = ""  # ISO dates
    not_after: str = ""
    addresses: tuple[str, ...] = ()
    expired: bool = False
    key_matches: bool | None = None  # None: no key file, or it could not be checked
    warnings: tuple[str, ...] = ()
    error: str = ""


def _name(name: Any) -> str:
    from cryptography.x509.oid import NameOID

    for oid in (NameOID.COMMON_NAME, NameOID.ORGANIZATION_NAME, NameOID.EMAIL_ADDRESS):
        found = name.get_attributes_for_oid(oid)
        if found:
            return str(found[0].value)
    return str(name.rfc4514_string()) or "(no name)"


def read_certificate(
    cert_path: str,
    key_path: str = "",
    addr: str = "",
    *,
    password: bytes | None = None,
    now: datetime | None = None,
) -> CertificateFacts:
    """The facts of the certificate in ``cert_path`` (PEM or DER; the first one when
    the file holds a chain), checked against ``addr`` and the key in ``key_path``.
    Never raises for a bad file: it says so in ``error`` or ``warnings``."""
    from mailgui.core.crypto import smime

    try:
        data = Path(cert_path).read_bytes()
    except OSError as exc:
        return CertificateFacts(
            error=f"The certificate file cannot be read ({exc.strerror or exc}); check the path."
        )
    try:
        cert = smime.load_certificates(data)[0]
    except CryptoToolError as exc:  # no cryptography >= 50
        return CertificateFacts(error=exc.message)
    except (ValueError, IndexError):
        return CertificateFacts(
            error="This file holds no certificate mailgui can read; choose a PEM or DER "
            "certificate file (not the key)."
        )
    from cryptography.hazmat.primitives import hashes, serialization

    digest = cert.fingerprint(hashes.SHA256()).hex().upper()
    addresses = tuple(smime.addresses(cert))
    warnings: list[str] = []
    when = now or datetime.now(UTC)
    expired = when > cert.not_valid_after_utc
    found = smime.problem(cert, use="sign", now=when)
    if found is not None:
        warnings.append(f"This certificate {found[1]}, so mail cannot be signed with it.")
    if addr and addresses and addr.lower() not in addresses:
        warnings.append(
            f"This certificate is for {', '.join(addresses)}, not for {addr}; choose the "
            "certificate of this account's address."
        )
    elif addr and not addresses:
        warnings.append("This certificate names no email address, so it cannot sign mail.")
    matches: bool | None = None
    if key_path:
        try:
            key_data = Path(key_path).read_bytes()
        except OSError as exc:
            key_data = b""
            warnings.append(f"The key file cannot be read ({exc.strerror or exc}); check the path.")
        if key_data:
            try:
                if b"-----BEGIN" in key_data:
                    key: Any = serialization.load_pem_private_key(key_data, password)
                else:
                    key = serialization.load_der_private_key(key_data, password)
            except TypeError:
                key = None
                warnings.append(
                    "The key is protected by a passphrase, so whether it belongs to this "
                    "certificate is checked only when a message is signed."
                )
            except ValueError:
                key = None
                matches = False
                warnings.append(
                    "The key file holds no private key mailgui can read (or its passphrase "
                    "is wrong); choose the key that belongs to this certificate."
                )
            if key is not None:
                spki = serialization.PublicFormat.SubjectPublicKeyInfo
                der = serialization.Encoding.DER
                matches = key.public_key().public_bytes(
                    der, spki
                ) == cert.public_key().public_bytes(der, spki)
                if not matches:
                    warnings.append(
                        "The key does not belong to this certificate; choose the matching key file."
                    )
    return CertificateFacts(
        subject=_name(cert.subject),
        issuer=_name(cert.issuer),
        fingerprint=":".join(digest[i : i + 2] for i in range(0, len(digest), 2)),
        not_before=_day(cert.not_valid_before_utc),
        not_after=_day(cert.not_valid_after_utc),
        addresses=addresses,
        expired=expired,
        key_matches=matches,
        warnings=tuple(warnings),
    )
