"""Where an account signs in: its settings, the built-in providers, issuer discovery.

An account names its authorization server as a preset (``microsoft``, ``google``) or
as an issuer URL whose metadata is discovered: RFC 8414 first, then OpenID Connect
Discovery, since many servers publish only one of the two. Every endpoint must be
https, except on 127.0.0.1/localhost, where a local server (or a test's) runs: a token
sent in the clear to a remote host is a token given away.
"""

from __future__ import annotations

import urllib.parse
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from mailgui.core.errors import ConfigError, SecurityError, TransientError
from mailgui.core.hints import Hint, Said

if TYPE_CHECKING:
    import requests

__all__ = [
    "DEFAULT_CLIENT_IDS",
    "PRESETS",
    "OAuth2Settings",
    "Provider",
    "client_id_for",
    "discover",
    "is_loopback",
    "resolve",
]

# A packager who registered an application of their own fills these (preset → client id).
# Never put another product's client id here: its owner can revoke it, and it would
# sign people in under that product's name.
DEFAULT_CLIENT_IDS: dict[str, str] = {}


@dataclass(frozen=True)
class OAuth2Settings:
    """How one account signs in. ``issuer`` is a preset name or an issuer URL;
    empty ``scopes`` and ``client_id`` mean the preset's. ``ca_file`` adds trusted
    certificates for a private issuer (as an account's ``--ca-file`` does for SMTP)."""

    issuer: str
    client_id: str = ""
    client_secret: str | None = field(default=None, repr=False)
    scopes: tuple[str, ...] = ()
    redirect_host: str = "127.0.0.1"
    ca_file: str | None = None
    timeout: float = 30.0  # each request to the provider


@dataclass(frozen=True)
class Provider:
    """An authorization server's endpoints, and what signing in there asks for."""

    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    device_authorization_endpoint: str | None = None
    scopes: tuple[str, ...] = ()
    redirect_host: str = "127.0.0.1"  # the name the loopback redirect uses
    # Extra parameters of the authorization request (Google returns a refresh token
    # only with access_type=offline, and again only with prompt=consent).
    authorize_params: tuple[tuple[str, str], ...] = ()

    @property
    def supports_device(self) -> bool:
        return self.device_authorization_endpoint is not None


_MICROSOFT = "https://login.microsoftonline.com/common"

PRESETS: dict[str, Provider] = {
    "microsoft": Provider(
        issuer=f"{_MICROSOFT}/v2.0",
        authorization_endpoint=f"{_MICROSOFT}/oauth2/v2.0/authorize",
        token_endpoint=f"{_MICROSOFT}/oauth2/v2.0/token",
        device_authorization_endpoint=f"{_MICROSOFT}/oauth2/v2.0/devicecode",
        scopes=("https://outlook.office.com/SMTP.Send", "offline_access"),
        # Microsoft Entra registers loopback redirects as http://localhost (any port).
        redirect_host="localhost",
    ),
    "google": Provider(
        issuer="https://accounts.google.com",
        authorization_endpoint="https://accounts.google.com/o/oauth2/v2/auth",
        token_endpoint="https://oauth2.googleapis.com/token",
        # Google's device flow does not allow the mail scope, so none is offered.
        scopes=("https://mail.google.com/",),
        authorize_params=(("access_type", "offline"), ("prompt", "consent")),
    ),
}


def is_loopback(host: str | None) -> bool:
    if not host:
        return False
    if host.lower() == "localhost":
        return True
    import ipaddress

    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def client_id_for(settings: OAuth2Settings) -> str:
    """The account's client id, else the packager's default for its preset."""
    if settings.client_id:
        return settings.client_id
    preset = settings.issuer.lower()
    default = DEFAULT_CLIENT_IDS.get(preset)
    if default:
        return default
    where = f"{preset} has no built-in one" if preset in PRESETS else "it has none"
    raise ConfigError(
        Said(
            "Signing in needs the client id of an application registered with the provider, "
            f"and {where}",
            Hint("client-id"),
        )
    )


def resolve(settings: OAuth2Settings, session: requests.Session | None = None) -> Provider:
    """The provider of ``settings``: a preset, or the issuer's discovered metadata, with
    the account's own scopes and redirect name where it has them."""
    preset = PRESETS.get(settings.issuer.lower())
    provider = preset if preset is not None else discover(settings, session)
    from dataclasses import replace

    if settings.scopes:
        provider = replace(provider, scopes=settings.scopes)
    if preset is None or settings.redirect_host != "127.0.0.1":
        provider = replace(provider, redirect_host=settings.redirect_host)
    return provider


def _well_known_urls(issuer: str) -> list[str]:
    """RFC 8414 puts the suffix between host and path; OpenID appends it."""
    parts = urllib.parse.urlsplit(issuer)
    path = parts.path.rstrip("/")
    rfc8414 = parts._replace(path=f"/.well-known/oauth-authorization-server{path}")
    openid = parts._replace(path=f"{path}/.well-known/openid-configuration")
    return [urllib.parse.urlunsplit(rfc8414), urllib.parse.urlunsplit(openid)]


def _check_url(url: object, issuer: str, what: str) -> str:
    if not isinstance(url, str) or not url:
        raise ConfigError(
            f"The OAuth2 server {issuer} does not name its {what}, so mailgui cannot sign "
            "in there; check the issuer URL."
        )
    parts = urllib.parse.urlsplit(url)
    if parts.scheme == "https" or (parts.scheme == "http" and is_loopback(parts.hostname)):
        return url
    raise ConfigError(
        f"The OAuth2 server {issuer} gives {url} as its {what}, which is not https, so "
        "mailgui will not send a sign-in there; use an issuer whose endpoints use https."
    )


def discover(settings: OAuth2Settings, session: requests.Session | None = None) -> Provider:
    """Read the issuer's metadata (RFC 8414, then OpenID Connect Discovery)."""
    issuer = settings.issuer.rstrip("/")
    _check_url(issuer, issuer, "issuer URL")
    import requests

    http = session if session is not None else requests.Session()
    document: dict[str, Any] | None = None
    for url in _well_known_urls(issuer):
        document = _fetch_metadata(http, url, settings)
        if document is not None:
            break
    if document is None:
        raise ConfigError(
            f"The OAuth2 server {issuer} publishes no metadata (neither "
            "/.well-known/oauth-authorization-server nor /.well-known/openid-configuration); "
            "check the issuer URL."
        )
    named = document.get("issuer")
    if isinstance(named, str) and named.rstrip("/") != issuer:
        raise ConfigError(
            f"The metadata at {issuer} is for another issuer ({named}), so mailgui does not "
            "trust it; use the issuer URL that the server names itself."
        )
    device = document.get("device_authorization_endpoint")
    return Provider(
        issuer=issuer,
        authorization_endpoint=_check_url(
            document.get("authorization_endpoint"), issuer, "authorization endpoint"
        ),
        token_endpoint=_check_url(document.get("token_endpoint"), issuer, "token endpoint"),
        device_authorization_endpoint=(
            None if device is None else _check_url(device, issuer, "device endpoint")
        ),
    )


def _fetch_metadata(
    http: requests.Session, url: str, settings: OAuth2Settings
) -> dict[str, Any] | None:
    """The JSON object at ``url``; None when the server has nothing there."""
    import requests

    try:
        response = http.get(
            url,
            timeout=settings.timeout,
            verify=settings.ca_file or True,
            allow_redirects=False,
            headers={"Accept": "application/json"},
        )
    except requests.RequestException as exc:
        raise request_error(exc, url) from None
    if response.status_code in (404, 405, 410) or 300 <= response.status_code < 400:
        return None
    if response.status_code >= 500:
        raise TransientError(
            f"The OAuth2 server at {_host(url)} answered {response.status_code} while mailgui "
            "read its settings; try again later."
        )
    try:
        document = response.json()
    except ValueError:
        document = None
    if response.status_code != 200 or not isinstance(document, dict):
        return None
    return document


def _host(url: str) -> str:
    return urllib.parse.urlsplit(url).netloc or url


def request_error(exc: Exception, url: str) -> Exception:
    """A ``requests`` failure as one of mailgui's errors (never with a token: the URLs
    mailgui sends tokens to carry them in the body, not the address)."""
    import requests

    host = _host(url)
    if isinstance(exc, requests.exceptions.SSLError):
        return SecurityError(
            Said(
                f"The certificate of the OAuth2 server {host} could not be verified, so "
                "nothing was sent there; check the issuer URL",
                Hint("ca-file"),
            )
        )
    if isinstance(exc, requests.exceptions.Timeout):
        return TransientError(
            f"The OAuth2 server {host} did not answer in time; try again later.",
        )
    if isinstance(exc, requests.exceptions.ConnectionError):
        return TransientError(
            f"mailgui could not reach the OAuth2 server {host}; check the network and try again."
        )
    return TransientError(
        f"Talking to the OAuth2 server {host} failed ({type(exc).__name__}); try again later."
    )
