"""Fixtures of the OAuth2 tests: the authorization server (``oauth2_mock``), a scripted
browser, and accounts in an isolated profile with a plaintext test keyring."""

from __future__ import annotations

import os
import shutil
import threading
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import trustme
from oauth2_mock import INSTALL, MockOAuth2Server, installed
from processes import Profile

from mailgui.core.oauth2 import OAuth2Settings, SignedIn, sign_in

ServerFactory = Callable[..., MockOAuth2Server]


@pytest.fixture
def oauth2_server_factory(
    server_certs: dict[str, trustme.LeafCert], ca_file: str, tmp_path: Path
) -> Iterator[ServerFactory]:
    """``start(rfc8414=False, device=False, https=False)``: a server stopped at teardown."""
    if shutil.which("node") is None or not installed():
        message = f"the OAuth2 test server is not installed; run `{INSTALL}`"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    started: list[MockOAuth2Server] = []

    def start(
        *, rfc8414: bool = False, device: bool = False, https: bool = False
    ) -> MockOAuth2Server:
        tls: dict[str, str] = {}
        if https:
            cert = server_certs["good"]
            key_file, cert_file = tmp_path / "oauth2-key.pem", tmp_path / "oauth2-cert.pem"
            cert.private_key_pem.write_to_path(str(key_file))
            cert.cert_chain_pems[0].write_to_path(str(cert_file))
            tls = {"key_file": str(key_file), "cert_file": str(cert_file), "ca_file": ca_file}
        server = MockOAuth2Server(rfc8414=rfc8414, device=device, **tls)
        started.append(server)
        return server.start()

    yield start
    for server in started:
        server.stop()


@pytest.fixture
def oauth2_server(oauth2_server_factory: ServerFactory) -> MockOAuth2Server:
    """The server with OpenID metadata only, over plain http on 127.0.0.1."""
    return oauth2_server_factory()


@pytest.fixture
def settings(oauth2_server: MockOAuth2Server) -> OAuth2Settings:
    return OAuth2Settings(issuer=oauth2_server.issuer, client_id="mailgui-tests", timeout=10)


@pytest.fixture
def keyring_profile(profile: Profile) -> Profile:
    """The isolated profile: its keyring is keyrings.alt's PlaintextKeyring in tmp_path."""
    return profile


@dataclass
class Browser:
    """A scripted browser: follows the authorization URL with urllib (the server
    redirects straight back to mailgui's listener with a code) and keeps the page it
    lands on. ``rewrite`` may change the URL first (a tampered ``state``)."""

    rewrite: Callable[[str], str] = lambda url: url
    opened: list[str] = field(default_factory=list)
    pages: list[tuple[int, str]] = field(default_factory=list)
    done: threading.Event = field(default_factory=threading.Event)

    def open(self, url: str) -> bool:
        self.opened.append(url)
        threading.Thread(target=self._follow, args=(self.rewrite(url),), daemon=True).start()
        return True

    def _follow(self, url: str) -> None:
        try:
            with urllib.request.urlopen(url, timeout=15) as response:
                self.pages.append((response.status, response.read().decode()))
        except urllib.error.HTTPError as exc:
            self.pages.append((exc.code, exc.read().decode()))
        except OSError as exc:
            self.pages.append((0, repr(exc)))
        finally:
            self.done.set()


@pytest.fixture
def browser() -> Browser:
    return Browser()


@pytest.fixture
def signed_in(settings: OAuth2Settings, keyring_profile: Profile) -> Callable[[str], SignedIn]:
    """``signed_in(name)``: run the browser flow for account ``name`` (grant stored)."""

    def run(name: str) -> SignedIn:
        return sign_in(settings, name, open_browser=Browser().open, timeout=30)

    return run
