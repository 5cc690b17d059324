"""Recipients' S/MIME certificates kept in the profile (``mailgui cert import``).

Each imported certificate is one PEM file under ``<config>/certificates/``, named by
its SHA-256 fingerprint, so importing it twice keeps one copy. The addresses come from
the certificate itself (``cryptography``: subject emailAddress and SAN rfc822Name);
which one to encrypt to is chosen when sealing (``crypto.smime.CertificateBook``).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from mailgui.core.errors import InputError

if TYPE_CHECKING:
    from mailgui.core.paths import Profile

__all__ = ["Imported", "all_data", "import_file"]


class Imported(NamedTuple):
    fingerprint: str
    addresses: list[str]
    not_after: str  # ISO-8601 UTC
    path: Path


def folder(profile: Profile) -> Path:
    return profile.config_dir / "certificates"


def import_file(profile: Profile, source: Path) -> list[Imported]:
    """Keep every certificate in ``source`` (PEM or DER) that names an address."""
    from cryptography.hazmat.primitives import hashes, serialization

    from mailgui.core.crypto import smime

    try:
        data = source.read_bytes()
    except OSError as exc:
        raise InputError(
            f"The certificate file {str(source)!r} cannot be read ({exc.strerror}); check the path."
        ) from None
    try:
        certificates = smime.load_certificates(data)
    except ValueError:
        certificates = []
    if not certificates:
        raise InputError(
            f"{str(source)!r} holds no certificate mailgui can read; give a PEM or DER "
            "certificate file."
        )
    done: list[Imported] = []
    target = folder(profile)
    for cert in certificates:
        addresses = smime.addresses(cert)
        if not addresses:
            continue  # an intermediate or CA certificate: nobody to encrypt to
        target.mkdir(parents=True, exist_ok=True, mode=0o700)
        fingerprint = cert.fingerprint(hashes.SHA256()).hex()
        path = target / f"{fingerprint}.pem"
        path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        done.append(Imported(fingerprint, addresses, cert.not_valid_after_utc.isoformat(), path))
    if not done:
        raise InputError(
            f"No certificate in {str(source)!r} names an email address, so none can be used "
            "to encrypt to anyone."
        )
    return done


def all_data(profile: Profile) -> tuple[bytes, ...]:
    """The PEM data of every imported certificate."""
    target = folder(profile)
    if not target.is_dir():
        return ()
    return tuple(p.read_bytes() for p in sorted(target.glob("*.pem")))
