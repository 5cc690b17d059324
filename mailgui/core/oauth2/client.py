"""The token endpoint, through authlib: one session per exchange, errors in our words.

authlib's ``OAuth2Session`` does PKCE (S256), the code exchange and the refresh; this
module only builds it from an account's settings and turns what goes wrong into
mailgui's errors. Tokens never reach an error, a log or a ``repr``: ``Tokens`` hides
them, and the messages name hosts and OAuth2 error codes only.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from mailgui.core.errors import AuthError, ConfigError
from mailgui.core.hints import Hint, Said
from mailgui.core.oauth2.providers import (
    OAuth2Settings,
    Provider,
    client_id_for,
    request_error,
)

__all__ = [
    "SignInNeeded",
    "Tokens",
    "login_command",
    "new_session",
    "sign_in_needed",
    "token_call",
]

T = TypeVar("T")


def login_command(account_name: str) -> str:
    return f"mailgui account login {shlex.quote(account_name)}"


class SignInNeeded(AuthError):
    """The account has no usable grant (never signed in, revoked, expired): only signing
    in again helps. ``account`` is its name, for a "Sign in again" action."""

    def __init__(self, message: str | Said, account: str) -> None:
        super().__init__(message)
        self.account = account


def again(what: str, account_name: str, device: bool = False) -> Said:
    """``what`` happened; the fix is to sign in (with ``--device`` if that was the way)."""
    return Said(what, Hint("sign-in-device" if device else "sign-in", account_name))


def sign_in_needed(account_name: str, what: str) -> SignInNeeded:
    return SignInNeeded(
        Said(f"{what}, so nothing was sent", Hint("sign-in", account_name)), account_name
    )


@dataclass(frozen=True)
class Tokens:
    """A token response. ``expires_at`` is on the clock that read it (None: unknown)."""

    access_token: str = field(repr=False)
    refresh_token: str | None = field(default=None, repr=False)
    expires_at: float | None = None
    scope: str | None = None

    @classmethod
    def from_response(cls, token: dict[str, Any], now: float) -> Tokens:
        access = token.get("access_token")
        if not isinstance(access, str) or not access:
            raise AuthError(
                "The OAuth2 server answered without an access token; try signing in again."
            )
        refresh = token.get("refresh_token")
        expires_in = token.get("expires_in")
        try:
            expires_at = None if expires_in is None else now + float(expires_in)
        except (TypeError, ValueError):
            expires_at = None
        scope = token.get("scope")
        return cls(
            access,
            refresh if isinstance(refresh, str) and refresh else None,
            expires_at,
            scope if isinstance(scope, str) else None,
        )


def new_session(
    settings: OAuth2Settings, provider: Provider, redirect_uri: str | None = None
) -> Any:
    """An ``authlib`` ``OAuth2Session`` for one exchange (typed Any: authlib has no types)."""
    from authlib.integrations.requests_client import (  # type: ignore[import-untyped]
        OAuth2Session,
    )

    session = OAuth2Session(
        client_id=client_id_for(settings),
        client_secret=settings.client_secret,
        # A native app's client is public (RFC 8252 §8.4): it proves itself with PKCE.
        token_endpoint_auth_method=("client_secret_post" if settings.client_secret else "none"),
        scope=" ".join(provider.scopes) or None,
        redirect_uri=redirect_uri,
        code_challenge_method="S256",
        default_timeout=settings.timeout,
    )
    session.verify = settings.ca_file or True
    session.trust_env = True
    return session


def token_call(
    call: Callable[[], T],
    provider: Provider,
    account_name: str,
    *,
    refreshing: bool = False,
) -> T:
    """Run one request to the token endpoint, translating its failures."""
    import requests
    from authlib.integrations.base_client import OAuthError  # type: ignore[import-untyped]

    try:
        return call()
    except OAuthError as exc:
        raise oauth_error(exc.error, provider, account_name, refreshing=refreshing) from None
    except requests.RequestException as exc:
        raise request_error(exc, provider.token_endpoint) from None
    except ValueError:  # authlib: the answer was not a JSON object
        raise AuthError(
            f"The OAuth2 server {provider.issuer} gave an answer mailgui cannot read; "
            "try again later."
        ) from None


def oauth_error(
    error: object, provider: Provider, account_name: str, *, refreshing: bool
) -> Exception:
    code = str(error) if error else "an unknown error"
    if refreshing and code == "invalid_grant":
        return sign_in_needed(
            account_name,
            f"The sign-in of account {account_name} has expired or was revoked",
        )
    if code in ("invalid_client", "unauthorized_client"):
        return ConfigError(
            Said(
                f"The OAuth2 server {provider.issuer} does not accept the client id of "
                f"account {account_name} ({code})",
                Hint("client-id-refused", account_name),
            )
        )
    if code == "invalid_scope":
        return ConfigError(
            f"The OAuth2 server {provider.issuer} refused the scopes of account "
            f"{account_name} ({code}); check the scopes (--scope) and the application's API "
            "permissions."
        )
    return AuthError(
        again(
            f"The OAuth2 server {provider.issuer} refused the sign-in of account "
            f"{account_name} ({code})",
            account_name,
        )
    )
