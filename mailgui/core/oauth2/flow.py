"""Signing in: the native app's authorization-code flow (RFC 8252) and the device flow
(RFC 8628). Both end with the refresh token in the keyring and nothing on disk.

The loopback flow listens on 127.0.0.1 and a port the system picks *before* the browser
opens, so the redirect always finds it; it takes the one redirect and closes. A
redirect whose ``state`` is not ours is refused at once: waiting on for the right one
would let a page the user happened to open keep the listener (and a code) in play.
PKCE (S256), the code exchange and the device grant's token requests are authlib's.
"""

from __future__ import annotations

import html
import threading
import time
import urllib.parse
import webbrowser
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

from mailgui.core.errors import AuthError, ConfigError
from mailgui.core.oauth2.client import Tokens, again, login_command, new_session, token_call
from mailgui.core.oauth2.providers import OAuth2Settings, Provider, resolve

__all__ = [
    "DEVICE_GRANT",
    "DeviceCode",
    "SignInCancelled",
    "SignedIn",
    "authorize_device",
    "authorize_in_browser",
    "sign_in",
    "sign_in_device",
]

DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
DEFAULT_TIMEOUT = 300.0  # how long the browser (or the device code) gets

SIGNED_IN_PAGE = "You are signed in to mailgui; you can close this tab."


class SignInCancelled(AuthError):
    """The person cancelled the sign-in (the GUI's Cancel); nothing was stored."""


@dataclass(frozen=True)
class DeviceCode:
    """What to show for the device flow: enter ``user_code`` at ``verification_uri``."""

    user_code: str
    verification_uri: str
    verification_uri_complete: str | None
    expires_in: float
    message: str | None = None  # the provider's own instructions, where it gives them


# --------------------------------------------------------------------------------------------
# The loopback redirect
# --------------------------------------------------------------------------------------------


def _page(title: str, text: str) -> bytes:
    body = (
        "<!doctype html><html><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title></head>"
        f"<body style='font-family:sans-serif;margin:3em'><p>{html.escape(text)}</p>"
        "</body></html>"
    )
    return body.encode("utf-8")


@dataclass
class _Redirect:
    """What the listener's one request brought: an outcome, or an error to raise."""

    answer: Callable[[dict[str, str]], Tokens]
    tokens: Tokens | None = None
    error: BaseException | None = None
    done: bool = False


class _Handler(BaseHTTPRequestHandler):
    server: _Listener
    timeout = 10  # a client that connects and says nothing does not hold the listener

    def do_GET(self) -> None:
        parts = urllib.parse.urlsplit(self.path)
        if parts.path != "/":  # a browser's /favicon.ico and the like: not the redirect
            self._send(404, _page("mailgui", "Not found."))
            return
        query = {k: v[0] for k, v in urllib.parse.parse_qs(parts.query).items()}
        redirect = self.server.redirect
        redirect.done = True
        try:
            redirect.tokens = redirect.answer(query)
        except Exception as exc:  # raised again by the waiting flow, not lost here
            redirect.error = exc
            self._send(400, _page("mailgui", f"{exc} You can close this tab."))
            return
        self._send(200, _page("Signed in to mailgui", SIGNED_IN_PAGE))

    def _send(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # the request line holds the authorization code: it goes nowhere


class _Listener(HTTPServer):
    def __init__(self, redirect: _Redirect) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.redirect = redirect
        self.timeout = 0.2  # how often the wait looks at the clock and at "cancel"

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that went away: keep waiting, print no traceback

    @property
    def port(self) -> int:
        return int(self.server_address[1])


def _open_in_browser(url: str) -> None:
    """Python's ``webbrowser`` (``$BROWSER`` first); off the waiting thread, because some
    browsers (``$BROWSER`` commands among them) return only when they end."""
    threading.Thread(target=webbrowser.open, args=(url,), daemon=True).start()


def authorize_in_browser(
    settings: OAuth2Settings,
    account_name: str,
    *,
    show_url: Callable[[str], None] = lambda url: None,
    no_browser: bool = False,
    open_browser: Callable[[str], object] = _open_in_browser,
    timeout: float = DEFAULT_TIMEOUT,
    cancel: threading.Event | None = None,
    provider: Provider | None = None,
) -> Tokens:
    """Run the loopback flow and return the tokens (nothing stored yet).

    ``show_url`` gets the authorization URL in every case (to print for a browser that
    did not open); ``open_browser`` is not called with ``no_browser``. Raises AuthError
    when the provider refuses, the ``state`` does not match, or ``timeout`` seconds
    pass; ``SignInCancelled`` once ``cancel`` is set."""
    from authlib.common.security import generate_token  # type: ignore[import-untyped]

    provider = provider or resolve(settings)
    verifier = generate_token(64)  # RFC 7636: 43 to 128 unreserved characters
    state = generate_token(32)
    redirect = _Redirect(answer=lambda query: Tokens("unused"))
    with _Listener(redirect) as listener:
        redirect_uri = f"http://{provider.redirect_host}:{listener.port}/"
        session = new_session(settings, provider, redirect_uri)
        url, _ = session.create_authorization_url(
            provider.authorization_endpoint,
            state=state,
            code_verifier=verifier,
            **dict(provider.authorize_params),
        )

        def answer(query: dict[str, str]) -> Tokens:
            import secrets

            if not secrets.compare_digest(query.get("state", ""), state):
                raise AuthError(
                    again(
                        "The sign-in answer that reached mailgui was not for the sign-in it "
                        "started (its state did not match), so it was refused",
                        account_name,
                    )
                )
            if "error" in query:
                raise _refused(query, provider, account_name)
            code = query.get("code")
            if not code:
                raise AuthError(
                    again(
                        f"The OAuth2 server {provider.issuer} sent no authorization code",
                        account_name,
                    )
                )
            started = time.time()
            token = token_call(
                lambda: session.fetch_token(
                    provider.token_endpoint,
                    grant_type="authorization_code",
                    code=code,
                    code_verifier=verifier,
                ),
                provider,
                account_name,
            )
            return Tokens.from_response(token, started)

        redirect.answer = answer
        show_url(url)
        if not no_browser:
            open_browser(url)
        deadline = time.monotonic() + timeout
        while not redirect.done:
            if cancel is not None and cancel.is_set():
                raise SignInCancelled("The sign-in was cancelled; nothing was stored.")
            if time.monotonic() >= deadline:
                raise AuthError(
                    again(
                        f"No sign-in came back from the browser within {_duration(timeout)}, "
                        "so nothing was stored",
                        account_name,
                    )
                )
            listener.handle_request()
    if redirect.error is not None:
        raise redirect.error
    assert redirect.tokens is not None
    return redirect.tokens


def _refused(query: dict[str, str], provider: Provider, account_name: str) -> AuthError:
    error = query.get("error", "")
    if error == "access_denied":
        what = "The sign-in was declined"
    else:
        what = f"The OAuth2 server {provider.issuer} refused the sign-in ({error[:60]})"
    return AuthError(again(f"{what}, so nothing was stored", account_name))


def _duration(seconds: float) -> str:
    if seconds >= 120:
        return f"{round(seconds / 60)} minutes"
    return "1 second" if seconds == 1 else f"{seconds:g} seconds"


# --------------------------------------------------------------------------------------------
# The device flow (RFC 8628)
# --------------------------------------------------------------------------------------------


def authorize_device(
    settings: OAuth2Settings,
    account_name: str,
    *,
    show_code: Callable[[DeviceCode], None],
    cancel: threading.Event | None = None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    provider: Provider | None = None,
) -> Tokens:
    """Ask for a device code, hand it to ``show_code``, and poll until the person has
    signed in elsewhere (honouring ``interval`` and ``slow_down``)."""
    provider = provider or resolve(settings)
    endpoint = provider.device_authorization_endpoint
    if endpoint is None:
        raise ConfigError(
            f"The OAuth2 server {provider.issuer} offers no sign-in by code (device flow); "
            f"run '{login_command(account_name)}' without --device on a machine with a browser."
        )
    session = new_session(settings, provider)
    auth = session.client_auth(session.token_endpoint_auth_method)

    def request_code() -> dict[str, Any]:
        response = session.post(
            endpoint,
            data={"scope": " ".join(provider.scopes)},
            auth=auth,
            withhold_token=True,
            headers={"Accept": "application/json"},
        )
        answer = response.json()
        if not isinstance(answer, dict):
            raise ValueError("not a JSON object")
        if "error" in answer or response.status_code != 200:
            from authlib.integrations.base_client import (  # type: ignore[import-untyped]
                OAuthError,
            )

            raise OAuthError(error=answer.get("error") or f"HTTP {response.status_code}")
        return answer

    answer = token_call(request_code, provider, account_name)
    device_code = answer.get("device_code")
    user_code = answer.get("user_code")
    uri = answer.get("verification_uri") or answer.get("verification_url")  # Google's name
    if not all(isinstance(v, str) and v for v in (device_code, user_code, uri)):
        raise AuthError(
            f"The OAuth2 server {provider.issuer} gave no usable sign-in code; try again later."
        )
    expires_in = _number(answer.get("expires_in"), 600.0)
    interval = max(_number(answer.get("interval"), 5.0), 1.0)
    complete = answer.get("verification_uri_complete")
    message = answer.get("message")
    show_code(
        DeviceCode(
            str(user_code),
            str(uri),
            complete if isinstance(complete, str) else None,
            expires_in,
            message if isinstance(message, str) else None,
        )
    )
    from authlib.integrations.base_client import OAuthError

    deadline = clock() + expires_in
    while True:
        _wait(interval, cancel, sleep)
        if clock() >= deadline:
            raise _expired(account_name)
        started = time.time()
        try:
            token = session.fetch_token(
                provider.token_endpoint, grant_type=DEVICE_GRANT, device_code=device_code
            )
        except OAuthError as exc:
            if exc.error == "authorization_pending":
                continue
            if exc.error == "slow_down":
                interval += 5  # RFC 8628 §3.5
                continue
            if exc.error == "expired_token":
                raise _expired(account_name) from None
            if exc.error == "access_denied":
                raise AuthError(
                    again("The sign-in was declined, so nothing was stored", account_name, True)
                ) from None
            token_call(_raise(exc), provider, account_name)
            raise  # not reached: token_call raised mailgui's error
        except Exception as exc:
            token_call(_raise(exc), provider, account_name)
            raise
        return Tokens.from_response(token, started)


def _raise(exc: BaseException) -> Callable[[], None]:
    def again() -> None:
        raise exc

    return again


def _expired(account_name: str) -> AuthError:
    return AuthError(
        again(
            "The sign-in code expired before the sign-in was finished, so nothing was stored",
            account_name,
            True,
        )
    )


def _wait(seconds: float, cancel: threading.Event | None, sleep: Callable[[float], None]) -> None:
    if cancel is None:
        sleep(seconds)
    elif cancel.wait(seconds):
        raise SignInCancelled("The sign-in was cancelled; nothing was stored.")


def _number(value: object, default: float) -> float:
    try:
        return float(value) if value is not None else default  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return default


# --------------------------------------------------------------------------------------------
# Signing in = a flow + the refresh token in the keyring
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SignedIn:
    """The result of signing in: which account, and the tokens (kept out of ``repr``)."""

    account: str
    tokens: Tokens = field(repr=False)


def _keep(account_name: str, tokens: Tokens, issuer: str) -> SignedIn:
    if tokens.refresh_token is None:
        raise AuthError(
            again(
                f"The OAuth2 server {issuer} gave no refresh token, so mailgui could not stay "
                "signed in; check that the scopes include offline access (offline_access)",
                account_name,
            )
        )
    from mailgui.core import passwords

    passwords.store(account_name, tokens.refresh_token)
    return SignedIn(account_name, tokens)


def sign_in(
    settings: OAuth2Settings,
    account_name: str,
    *,
    show_url: Callable[[str], None] = lambda url: None,
    no_browser: bool = False,
    open_browser: Callable[[str], object] = _open_in_browser,
    timeout: float = DEFAULT_TIMEOUT,
    cancel: threading.Event | None = None,
) -> SignedIn:
    """``mailgui account login NAME``: the browser flow, then the grant in the keyring."""
    provider = resolve(settings)
    tokens = authorize_in_browser(
        settings,
        account_name,
        show_url=show_url,
        no_browser=no_browser,
        open_browser=open_browser,
        timeout=timeout,
        cancel=cancel,
        provider=provider,
    )
    return _keep(account_name, tokens, provider.issuer)


def sign_in_device(
    settings: OAuth2Settings,
    account_name: str,
    *,
    show_code: Callable[[DeviceCode], None],
    cancel: threading.Event | None = None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> SignedIn:
    """``mailgui account login NAME --device``: the device flow, then the grant stored."""
    provider = resolve(settings)
    tokens = authorize_device(
        settings,
        account_name,
        show_code=show_code,
        cancel=cancel,
        sleep=sleep,
        clock=clock,
        provider=provider,
    )
    return _keep(account_name, tokens, provider.issuer)
