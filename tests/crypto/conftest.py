"""Throw-away OpenPGP keys (a GnuPG home under /tmp) and an S/MIME CA, once per session.

Keys: the sender alice, bob and frank (valid), carol (expired), dave (revoked), erin
(imported from elsewhere and never signed: untrusted). All secret keys but erin's are in
the one home, so a test can decrypt as any of them. Certificates: a CA made with
``cryptography`` issuing alice's, bob's and frank's (emailAddress and rfc822Name, e-mail
protection) and an expired one for carol.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from crypto_tools import GpgKeys, Pki, make_gpg_keys, make_pki


def _needs(tool: str, package: str) -> None:
    if shutil.which(tool) is None:
        pytest.skip(f"{tool} is not installed (Debian: {package}; scripts/test installs it)")


@pytest.fixture(scope="session")
def gpg_keys() -> Iterator[GpgKeys]:
    _needs("gpg", "gnupg")
    # Short: gpg-agent's socket path must fit in sockaddr_un (about 107 bytes).
    home = tempfile.mkdtemp(prefix="mg-", dir="/tmp")
    other = tempfile.mkdtemp(prefix="mg-", dir="/tmp")
    try:
        yield make_gpg_keys(home, other)
    finally:
        for path in (home, other):
            subprocess.run(["gpgconf", "--homedir", path, "--kill", "all"], check=False)
            shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    _needs("openssl", "openssl")
    return make_pki(Path(tmp_path_factory.mktemp("smime")))
