"""Fixtures for the IMAP tests: a real Dovecot (tests/imap_server.py).

``dovecot`` is one server per test process (it starts in well under a second, but stopping
takes a few); tests stay independent by making users of their own (``dovecot.add_user``).
A test that stops the server takes ``own_dovecot`` instead. Without Dovecot installed the
tests that need it are skipped, saying so.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import trustme
from imap_helpers import SettingsFor
from imap_server import Dovecot, dovecot_missing

from mailgui.core.imap import ImapSettings

MAX_MAIL_SIZE = 200_000


def _started(ca: trustme.CA) -> Dovecot:
    reason = dovecot_missing()
    if reason:
        pytest.skip(reason)
    server = Dovecot(ca, max_mail_size=MAX_MAIL_SIZE)
    try:
        server.start()
    except BaseException:
        server.close()
        raise
    return server


@pytest.fixture(scope="session")
def dovecot(ca: trustme.CA) -> Iterator[Dovecot]:
    server = _started(ca)
    yield server
    server.close()


@pytest.fixture
def own_dovecot(ca: trustme.CA) -> Iterator[Dovecot]:
    server = _started(ca)
    yield server
    server.close()


@pytest.fixture
def settings_for(dovecot: Dovecot) -> SettingsFor:
    """``settings_for("tls" | "starttls", folder="auto", server=dovecot, **changes)``."""

    def make(
        security: str = "tls", *, server: Dovecot | None = None, **changes: object
    ) -> ImapSettings:
        server = server or dovecot
        port = server.tls_port if security == "tls" else server.starttls_port
        values: dict[str, object] = {
            "host": server.host,
            "port": port,
            "security": security,
            "ca_file": server.ca_file,
            "timeout": 10.0,
            "folder": "auto",
        }
        values.update(changes)
        return ImapSettings(**values)  # type: ignore[arg-type]

    return make
