"""Signing in with OAuth2: presets and discovery, the browser and device flows, and
access tokens as ``Credentials`` (see DESIGN.md, "Signing in with OAuth2").

The protocol work is authlib's (``OAuth2Session`` over requests): PKCE S256, the code
exchange, the refresh and RFC 6749's error answers. authlib is maintained, typed enough
to wrap, and small beside a full OpenID client; what is ours is only what no library
decides for an app: the loopback listener, where tokens are kept, and the words of
each error. Importing this package imports neither authlib nor requests (nor keyring):
``mailgui sendmail`` must not pay for them; they load on the first sign-in or refresh.

Nothing here imports Qt.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mailgui.core.oauth2.client import SignInNeeded, Tokens, login_command
from mailgui.core.oauth2.providers import (
    DEFAULT_CLIENT_IDS,
    PRESETS,
    OAuth2Settings,
    Provider,
    client_id_for,
    discover,
    resolve,
)
from mailgui.core.oauth2.tokens import (
    OAuth2Credentials,
    TokenCommand,
    is_signed_in,
    run_token_command,
    sasl_user,
    sign_out,
)

if TYPE_CHECKING:
    from mailgui.core.oauth2.flow import (
        DeviceCode,
        SignedIn,
        SignInCancelled,
        authorize_device,
        authorize_in_browser,
        sign_in,
        sign_in_device,
    )

_FLOW = {
    "DeviceCode",
    "SignedIn",
    "SignInCancelled",
    "authorize_device",
    "authorize_in_browser",
    "sign_in",
    "sign_in_device",
}


def __getattr__(name: str) -> Any:
    """The flows load on first use: they bring http.server and webbrowser (~25 ms)."""
    if name in _FLOW:
        from mailgui.core.oauth2 import flow

        return getattr(flow, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "DEFAULT_CLIENT_IDS",
    "PRESETS",
    "DeviceCode",
    "OAuth2Credentials",
    "OAuth2Settings",
    "Provider",
    "SignInCancelled",
    "SignInNeeded",
    "SignedIn",
    "TokenCommand",
    "Tokens",
    "authorize_device",
    "authorize_in_browser",
    "client_id_for",
    "discover",
    "is_signed_in",
    "login_command",
    "resolve",
    "run_token_command",
    "sasl_user",
    "sign_in",
    "sign_in_device",
    "sign_out",
]
