"""Fixtures of the adversarial suite: hostile servers and the certificates they present.

The server itself is ``smtp_servers.HostileServer``; the helpers are in adv_helpers.py.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import ssl
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import trustme
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from smtp_servers import CertName, HostileFactory, HostileServer, server_ssl_context, stop_all


def _self_signed(tmp: Path) -> tuple[str, str]:
    """A self-signed certificate for localhost / 127.0.0.1 (no CA at all): cert, key paths."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp / "self.pem", tmp / "self.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return str(cert_path), str(key_path)


@pytest.fixture(scope="session")
def adv_contexts(
    ca: trustme.CA,
    server_certs: dict[CertName, trustme.LeafCert],
    tmp_path_factory: pytest.TempPathFactory,
) -> dict[str, ssl.SSLContext]:
    """Server TLS contexts by name: good, expired, self-signed, wrong-name (the good and
    wrong-name ones are conftest.py's ``server_certs`` "good" and "wrong-host")."""
    now = dt.datetime.now(dt.UTC)
    contexts = {
        "good": server_ssl_context(server_certs["good"]),
        "expired": server_ssl_context(
            ca.issue_cert(
                "localhost",
                "127.0.0.1",
                not_before=now - dt.timedelta(days=60),
                not_after=now - dt.timedelta(days=1),
            )
        ),
        "wrong-name": server_ssl_context(server_certs["wrong-host"]),
    }
    cert, key = _self_signed(tmp_path_factory.mktemp("selfsigned"))
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cert, key)
    contexts["self-signed"] = ctx
    return contexts


@pytest.fixture
def hostile(adv_contexts: dict[str, ssl.SSLContext]) -> Iterator[HostileFactory]:
    """Start a HostileServer; ``cert="good"|"expired"|"self-signed"|"wrong-name"`` picks the
    certificate for ``tls="starttls"|"implicit"``."""
    started: list[HostileServer] = []

    def start(*, cert: str = "good", **kwargs: Any) -> HostileServer:
        if kwargs.get("tls", "none") != "none":
            kwargs.setdefault("context", adv_contexts[cert])
        server = HostileServer(**kwargs)
        started.append(server)
        return server.start()

    yield start
    stop_all(started)
