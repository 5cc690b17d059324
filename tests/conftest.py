"""Shared fixtures: TLS certificates, SMTP test servers, an isolated mailgui environment.

The servers themselves live in ``tests/smtpd.py``; see its docstring for what each records.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, overload

import pytest
import trustme
from dns_server import DnsServer

# tests/smtp_servers.py (pytest puts tests/ on sys.path)
from smtp_servers import (
    CertName,
    FakeServer,
    FakeServerFactory,
    Faults,
    RecordingServer,
    Security,
    SmtpServerFactory,
    reserve_closed_port,
    server_ssl_context,
    stop_all,
)

# --------------------------------------------------------------------------------------------
# Certificates (session-scoped: key generation is the slow part)
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def ca() -> trustme.CA:
    """The CA that mailgui accounts trust in tests (through ``--ca-file``)."""
    return trustme.CA()


@pytest.fixture(scope="session")
def ca_file(ca: trustme.CA, tmp_path_factory: pytest.TempPathFactory) -> str:
    """Path of ``ca``'s certificate as PEM: what an account gets as ``--ca-file``."""
    path = tmp_path_factory.mktemp("ca") / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return str(path)


@pytest.fixture(scope="session")
def server_certs(ca: trustme.CA) -> dict[CertName, trustme.LeafCert]:
    """Server certificates by name.

    ``good``: by ``ca`` for localhost and 127.0.0.1; ``other-ca``: same names, by a CA nobody
    trusts; ``wrong-host``: by ``ca`` but only for mail.other.example (fails hostname checks).
    """
    untrusted = trustme.CA()
    return {
        "good": ca.issue_cert("localhost", "127.0.0.1"),
        "other-ca": untrusted.issue_cert("localhost", "127.0.0.1"),
        "wrong-host": ca.issue_cert("mail.other.example"),
    }


# --------------------------------------------------------------------------------------------
# SMTP servers (factories; everything started is stopped at teardown)
# --------------------------------------------------------------------------------------------


@pytest.fixture
def smtp_server(
    server_certs: dict[CertName, trustme.LeafCert], ca_file: str
) -> Iterator[SmtpServerFactory]:
    """Start a :class:`smtpd.RecordingServer` (aiosmtpd) on 127.0.0.1.

    ``smtp_server(security="none"|"starttls"|"tls", users=None, cert="good", faults=None)``
    """
    started: list[RecordingServer] = []

    def start(
        security: Security = "none",
        users: Mapping[str, str] | None = None,
        cert: CertName = "good",
        faults: Faults | None = None,
    ) -> RecordingServer:
        context = server_ssl_context(server_certs[cert]) if security != "none" else None
        server = RecordingServer(
            security, users=users, ssl_context=context, ca_file=ca_file, faults=faults
        )
        started.append(server)
        return server.start()

    yield start
    for server in started:
        server.stop()


@pytest.fixture
def fake_server() -> Iterator[FakeServerFactory]:
    """Start a scripted :class:`smtpd.FakeServer`; keywords as FakeServer's."""
    started: list[FakeServer] = []

    def start(**kwargs: Any) -> FakeServer:
        server = FakeServer(**kwargs)
        started.append(server)
        return server.start()

    yield start
    stop_all(started)


@pytest.fixture
def closed_port() -> Iterator[int]:
    """A 127.0.0.1 port where connecting is refused (kept reserved for the whole test)."""
    sock = reserve_closed_port()
    try:
        yield sock.getsockname()[1]
    finally:
        sock.close()


# --------------------------------------------------------------------------------------------
# An isolated environment for driving the real CLI
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Profile:
    """A fresh mailgui home plus the environment to run ``python -m mailgui`` in it."""

    home: Path
    env: dict[str, str]
    command: list[str] = field(default_factory=lambda: [sys.executable, "-m", "mailgui"])
    """What ``run`` executes before its arguments (replaceable with dataclasses.replace)."""

    @overload
    def run(
        self, *args: str | os.PathLike[str], input: bytes, timeout: float = 30
    ) -> subprocess.CompletedProcess[bytes]: ...

    @overload
    def run(
        self, *args: str | os.PathLike[str], input: str | None = None, timeout: float = 30
    ) -> subprocess.CompletedProcess[str]: ...

    def run(
        self,
        *args: str | os.PathLike[str],
        input: str | bytes | None = None,
        timeout: float = 30,
    ) -> subprocess.CompletedProcess[str] | subprocess.CompletedProcess[bytes]:
        """Run the CLI with captured output: text (UTF-8) unless ``input`` is bytes.

        Without ``input`` stdin is /dev/null, and the child gets a new session (no controlling
        terminal), so a password prompt can neither block on nor reach the real terminal.
        """
        argv = [*self.command, *(os.fspath(arg) for arg in args)]
        common: dict[str, Any] = {
            "capture_output": True,
            "env": self.env,
            "timeout": timeout,
            "start_new_session": True,
            "check": False,
        }
        if isinstance(input, bytes):
            return subprocess.run(argv, input=input, **common)
        if input is None:
            common["stdin"] = subprocess.DEVNULL
        return subprocess.run(
            argv, input=input, encoding="utf-8", errors="backslashreplace", **common
        )


@pytest.fixture
def profile(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Profile:
    """An isolated MAILGUI_HOME, per-test plaintext keyring and offscreen Qt.

    The same variables are set in ``os.environ`` (undone after the test) for in-process use;
    other ``MAILGUI_*`` variables from the developer's environment are removed.
    """
    home = tmp_path / "mailgui-home"
    home.mkdir()
    for name in [n for n in os.environ if n.startswith("MAILGUI_")]:
        if name != "MAILGUI_NAMESERVER":  # kept: set by the no_real_dns guard below
            monkeypatch.delenv(name)
    settings = {
        "MAILGUI_HOME": str(home),
        "PYTHON_KEYRING_BACKEND": "keyrings.alt.file.PlaintextKeyring",
        "XDG_DATA_HOME": str(tmp_path / "xdg-data"),
        "XDG_CONFIG_HOME": str(tmp_path / "xdg-config"),
        "XDG_CACHE_HOME": str(tmp_path / "xdg-cache"),
        "XDG_STATE_HOME": str(tmp_path / "xdg-state"),
        "QT_QPA_PLATFORM": "offscreen",
    }
    for name, value in settings.items():
        monkeypatch.setenv(name, value)
    return Profile(home=home, env=dict(os.environ))


# --------------------------------------------------------------------------------------------
# DNS: a real server on 127.0.0.1, and a guard so no test ever asks the system's resolver
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def _refusing_dns() -> Iterator[DnsServer]:
    with DnsServer(refuse_all=True) as server:
        yield server


@pytest.fixture(autouse=True)
def no_real_dns(_refusing_dns: DnsServer, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test (and every CLI it starts through ``profile``) resolves through a local
    server that refuses everything, unless it asks for ``dns_server``: mailgui then treats
    DNS as unavailable instead of reaching the real network."""
    monkeypatch.setenv("MAILGUI_NAMESERVER", _refusing_dns.address)


@pytest.fixture
def dns_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[DnsServer]:
    """A :class:`dns_server.DnsServer` on 127.0.0.1, already in ``MAILGUI_NAMESERVER``.

    A ``profile`` made before this fixture has its own copy of the environment: set
    ``profile.env["MAILGUI_NAMESERVER"] = dns_server.address`` (or request ``dns_server``
    first). It knows the DNS root, as every honest resolver does (a server that calls
    even the root missing is taken for one that says "no such domain" to everything)."""
    with DnsServer() as server:
        server.add(".", "NS", "a.root-servers.net.")
        monkeypatch.setenv("MAILGUI_NAMESERVER", server.address)
        yield server
