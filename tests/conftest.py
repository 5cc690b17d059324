"""Shared fixtures: TLS certificates, SMTP test servers, an isolated mailgui environment,
and the check that fails a test whose code logged an unexpected error.

The helpers behind them are plain modules beside this file (``tests/`` is on ``sys.path``:
pyproject's ``pythonpath``): ``smtp_servers`` (the servers and what each records),
``dns_server``, ``processes`` (``Profile``, ``started``), ``waiting`` (``until``), ``clock``
(``Clock``) and ``error_logs``. Import from those, never from a conftest: another
directory's conftest.py is a module named ``conftest`` too.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
import trustme
from dns_server import DnsServer
from error_logs import ErrorLog, Recorder
from processes import Profile
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
# Unexpected error logs fail the test (error_logs.py)
# --------------------------------------------------------------------------------------------

_ERRORS = Recorder()


def pytest_configure(config: pytest.Config) -> None:
    _ERRORS.install()


@pytest.fixture(autouse=True)
def error_log(request: pytest.FixtureRequest) -> Iterator[ErrorLog]:
    """What the test's code logged at ERROR or above through the ``mailgui`` loggers.

    A record no ``@pytest.mark.expect_error_log(...)`` allows fails the test (see
    ``pytest_runtest_call``); one logged later, by a fixture's teardown, errors it here.
    Defined first, so it is set up before the other fixtures and torn down after them.
    """
    log = ErrorLog(_ERRORS, request.node)
    yield log
    log.check("while the test's fixtures were torn down")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    log = getattr(item, "funcargs", {}).get("error_log")
    try:
        result = yield
    except BaseException:
        if isinstance(log, ErrorLog):
            log.forget()  # a test that failed keeps its own failure
        raise
    if isinstance(log, ErrorLog):
        log.check("during the test")
    return result


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
    """Start a :class:`smtp_servers.RecordingServer` (aiosmtpd) on 127.0.0.1.

    ``smtp_server(security="none"|"starttls"|"tls", users=None, cert="good", faults=None,
    tokens=None, oauth_mechanisms=...)``
    """
    started: list[RecordingServer] = []

    def start(
        security: Security = "none",
        users: Mapping[str, str] | None = None,
        cert: CertName = "good",
        faults: Faults | None = None,
        **oauth: Any,  # tokens=, oauth_mechanisms=: see RecordingServer
    ) -> RecordingServer:
        context = server_ssl_context(server_certs[cert]) if security != "none" else None
        server = RecordingServer(
            security, users=users, ssl_context=context, ca_file=ca_file, faults=faults, **oauth
        )
        started.append(server)
        return server.start()

    yield start
    for server in started:
        server.stop()


@pytest.fixture
def fake_server() -> Iterator[FakeServerFactory]:
    """Start a scripted :class:`smtp_servers.FakeServer`; keywords as FakeServer's."""
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
    import keyring.core

    keyring.core._keyring_backend = None  # chosen again, from these variables, on first use
    return Profile(home=home, env=dict(os.environ))


# --------------------------------------------------------------------------------------------
# DNS: a real server on 127.0.0.1, and a guard so no test ever asks the system's resolver
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def _refusing_dns() -> Iterator[DnsServer]:
    with DnsServer(refuse_all=True) as server:
        yield server


@pytest.fixture(autouse=True)
def keyring_backend_restored() -> Iterator[None]:
    """keyring caches the backend it picks on first use, from the environment of that
    moment: a test that changes the backend, or is the first to ask for one under a
    changed environment, must not leave it to the tests after it (which would then
    depend on the order xdist gives them)."""
    import keyring.core

    before = keyring.core._keyring_backend
    yield
    keyring.core._keyring_backend = before


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
