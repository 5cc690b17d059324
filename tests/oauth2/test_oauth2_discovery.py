"""Where an account signs in: presets, client ids, and issuer metadata discovered from
the real test server (RFC 8414, then OpenID), with https demanded off loopback."""

from __future__ import annotations

import pytest
from oauth2_mock import MockOAuth2Server

from mailgui.core.errors import ConfigError, SecurityError, TransientError
from mailgui.core.oauth2 import (
    DEFAULT_CLIENT_IDS,
    PRESETS,
    OAuth2Settings,
    client_id_for,
    discover,
    resolve,
)
from mailgui.core.oauth2.providers import _check_url, _well_known_urls


def test_rfc8414_metadata_is_read(oauth2_server_factory) -> None:
    server = oauth2_server_factory(rfc8414=True)
    provider = discover(OAuth2Settings(issuer=server.issuer, client_id="c"))
    assert provider.issuer == server.issuer
    assert provider.authorization_endpoint == f"{server.issuer}/authorize"
    assert provider.token_endpoint == f"{server.issuer}/token"
    assert provider.device_authorization_endpoint is None
    assert not provider.supports_device


def test_openid_configuration_is_the_fallback(oauth2_server: MockOAuth2Server) -> None:
    provider = discover(OAuth2Settings(issuer=oauth2_server.issuer + "/", client_id="c"))
    assert provider.token_endpoint == f"{oauth2_server.issuer}/token"


def test_a_device_endpoint_in_the_metadata_is_kept(oauth2_server_factory) -> None:
    server = oauth2_server_factory(device=True)
    provider = resolve(OAuth2Settings(issuer=server.issuer, client_id="c", scopes=("a", "b")))
    assert provider.device_authorization_endpoint == f"{server.issuer}/device_authorization"
    assert provider.scopes == ("a", "b")
    assert provider.redirect_host == "127.0.0.1"


def test_rfc8414_puts_the_suffix_before_the_issuers_path() -> None:
    assert _well_known_urls("https://id.example.test/tenant/v2") == [
        "https://id.example.test/.well-known/oauth-authorization-server/tenant/v2",
        "https://id.example.test/tenant/v2/.well-known/openid-configuration",
    ]


def test_a_plain_http_issuer_off_loopback_is_refused_before_any_request() -> None:
    with pytest.raises(ConfigError, match="not https"):
        discover(OAuth2Settings(issuer="http://id.example.test", client_id="c"))


def test_metadata_endpoints_must_be_https_off_loopback() -> None:
    with pytest.raises(ConfigError, match="not https"):
        _check_url("http://id.example.test/token", "https://id.example.test", "token endpoint")
    assert _check_url("http://localhost:9/token", "x", "token endpoint")
    assert _check_url("http://[::1]:9/token", "x", "token endpoint")
    assert _check_url("https://id.example.test/token", "x", "token endpoint")


def test_metadata_of_another_issuer_is_not_trusted(oauth2_server: MockOAuth2Server) -> None:
    other_name = oauth2_server.issuer.replace("127.0.0.1", "localhost")
    with pytest.raises(ConfigError, match="another issuer"):
        discover(OAuth2Settings(issuer=other_name, client_id="c"))


def test_an_issuer_without_metadata_says_so(oauth2_server: MockOAuth2Server) -> None:
    with pytest.raises(ConfigError, match="publishes no metadata"):
        discover(OAuth2Settings(issuer=f"{oauth2_server.issuer}/nothing", client_id="c"))


def test_an_unreachable_issuer_is_transient(closed_port: int) -> None:
    with pytest.raises(TransientError, match="could not reach"):
        discover(OAuth2Settings(issuer=f"http://127.0.0.1:{closed_port}", client_id="c"))


def test_https_issuer_is_verified_against_the_ca_file(oauth2_server_factory, ca_file: str) -> None:
    server = oauth2_server_factory(https=True)
    assert server.issuer.startswith("https://")
    trusted = OAuth2Settings(issuer=server.issuer, client_id="c", ca_file=ca_file)
    assert discover(trusted).token_endpoint == f"{server.issuer}/token"
    with pytest.raises(SecurityError, match="could not be verified"):
        discover(OAuth2Settings(issuer=server.issuer, client_id="c"))


def test_presets() -> None:
    microsoft = resolve(OAuth2Settings(issuer="microsoft", client_id="c"))
    assert microsoft.authorization_endpoint == (
        "https://login.microsoftonline.com/common/oauth2/v2.0/authorize"
    )
    assert microsoft.token_endpoint == "https://login.microsoftonline.com/common/oauth2/v2.0/token"
    assert microsoft.scopes == ("https://outlook.office.com/SMTP.Send", "offline_access")
    assert microsoft.redirect_host == "localhost"
    assert microsoft.supports_device
    google = resolve(OAuth2Settings(issuer="Google", client_id="c"))
    assert google.scopes == ("https://mail.google.com/",)
    assert ("access_type", "offline") in google.authorize_params
    assert google.redirect_host == "127.0.0.1"
    assert set(PRESETS) == {"microsoft", "google"}


def test_no_client_id_says_to_pass_one(monkeypatch: pytest.MonkeyPatch) -> None:
    assert DEFAULT_CLIENT_IDS == {}  # never another product's id
    with pytest.raises(ConfigError, match=r"pass --client-id ID .*README") as raised:
        client_id_for(OAuth2Settings(issuer="microsoft"))
    assert "microsoft has no built-in one" in str(raised.value)
    monkeypatch.setitem(DEFAULT_CLIENT_IDS, "google", "packaged-id")
    assert client_id_for(OAuth2Settings(issuer="google")) == "packaged-id"
    assert client_id_for(OAuth2Settings(issuer="google", client_id="mine")) == "mine"


def test_the_client_secret_is_not_in_the_repr() -> None:
    settings = OAuth2Settings(issuer="google", client_id="c", client_secret="shh-secret")
    assert "shh-secret" not in repr(settings)
