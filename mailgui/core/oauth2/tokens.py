"""OAuth2 access tokens as ``Credentials``: from the keyring's refresh token, or from a
command the person configured.

The refresh token lives only in the keyring (service ``mailgui``, user = account name,
the slot an account's password would use: an OAuth2 account has none). Access tokens
live only in this object's memory, are refreshed shortly before they expire and once
when a server refuses one; a rotated refresh token replaces the stored one at once,
since the old one may already be dead.
"""

from __future__ import annotations

import os
import shlex
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from mailgui.core.credentials import Login
from mailgui.core.errors import AuthError, ConfigError
from mailgui.core.oauth2.client import Tokens, new_session, sign_in_needed, token_call
from mailgui.core.oauth2.providers import OAuth2Settings, Provider, resolve

if TYPE_CHECKING:
    from mailgui.core.accounts import Account

__all__ = [
    "OAuth2Credentials",
    "TokenCommand",
    "is_signed_in",
    "run_token_command",
    "sasl_user",
    "sign_out",
]

MECHANISM = "oauth2"


def sasl_user(account: Account) -> str:
    """The user name of ``AUTH XOAUTH2``/``OAUTHBEARER``: ``--username``, else the address."""
    return account.username or account.email


def is_signed_in(account_name: str) -> bool:
    """Whether a grant is stored for the account (``account show``'s ``signed_in``)."""
    from mailgui.core import passwords

    try:
        return passwords.load(account_name) is not None
    except ConfigError:  # no usable keyring: nothing can be stored there either
        return False


def sign_out(account_name: str) -> None:
    """Forget the account's grant (the provider may keep it until it expires)."""
    from mailgui.core import passwords

    passwords.forget(account_name)


@dataclass
class _Held:
    settings: OAuth2Settings
    tokens: Tokens
    obtained_at: float
    forced: bool = False  # came from a refresh forced by a refusal


class OAuth2Credentials:
    """``Credentials`` for accounts that sign in with OAuth2.

    ``settings_for(account)`` says how an account signs in (None: it does not use
    OAuth2, and ``login`` returns None). ``clock`` is wall time (``expires_in`` counts
    from the answer); ``margin`` is how long before expiry a token is renewed. Safe to
    share between threads: one refresh per account at a time."""

    def __init__(
        self,
        settings_for: Callable[[Account], OAuth2Settings | None],
        *,
        clock: Callable[[], float] = time.time,
        margin: float = 60.0,
    ) -> None:
        self.settings_for = settings_for
        self.clock = clock
        self.margin = margin
        self._held: dict[str, _Held] = {}
        self._providers: dict[OAuth2Settings, Provider] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    def __repr__(self) -> str:
        return f"OAuth2Credentials(accounts={sorted(self._held)!r})"

    # -- Credentials ---------------------------------------------------------------------

    def login(self, account: Account) -> Login | None:
        settings = self.settings_for(account)
        if settings is None:
            return None
        with self._lock(account.name):
            held = self._held.get(account.name)
            if held is not None and held.settings == settings and self._fresh(held):
                return self._login(account, held.tokens)
            return self._login(account, self._refresh(account.name, settings).tokens)

    def refused(self, account: Account, login: Login) -> Login | None:
        """One forced refresh per refused token; None when the token refused was itself
        just renewed (the server then refuses for another reason than its age)."""
        settings = self.settings_for(account)
        if settings is None:
            return None
        with self._lock(account.name):
            held = self._held.get(account.name)
            if held is not None and held.settings == settings:
                if held.tokens.access_token != login.secret and self._fresh(held):
                    return self._login(account, held.tokens)  # another thread renewed it
                if held.forced and held.tokens.access_token == login.secret:
                    return None
            held = self._refresh(account.name, settings, forced=True)
            return self._login(account, held.tokens)

    # -- for the sign-in and the GUI ------------------------------------------------------

    def remember(self, account_name: str, settings: OAuth2Settings, tokens: Tokens) -> None:
        """Keep the access token a sign-in just got, so the first send needs no refresh."""
        with self._lock(account_name):
            self._held[account_name] = _Held(settings, tokens, self.clock())

    def forget(self, account_name: str) -> None:
        """Drop the account's access token (after signing out or changing its settings)."""
        with self._lock(account_name):
            self._held.pop(account_name, None)

    # -- inside ----------------------------------------------------------------------------

    def _lock(self, account_name: str) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(account_name, threading.Lock())

    def _fresh(self, held: _Held) -> bool:
        expires_at = held.tokens.expires_at
        if expires_at is None:
            return True  # no lifetime given: used until a server refuses it
        # A margin of at most half the lifetime, so short-lived tokens get used at all.
        margin = min(self.margin, max(expires_at - held.obtained_at, 0.0) / 2)
        return self.clock() < expires_at - margin

    @staticmethod
    def _login(account: Account, tokens: Tokens) -> Login:
        return Login(sasl_user(account), tokens.access_token, MECHANISM)

    def _provider(self, settings: OAuth2Settings) -> Provider:
        provider = self._providers.get(settings)
        if provider is None:
            provider = self._providers[settings] = resolve(settings)
        return provider

    def _refresh(self, name: str, settings: OAuth2Settings, forced: bool = False) -> _Held:
        from mailgui.core import passwords
        from mailgui.core.log import get_logger

        refresh_token = passwords.load(name)
        if refresh_token is None:
            raise sign_in_needed(name, f"Account {name} is not signed in")
        provider = self._provider(settings)
        session = new_session(settings, provider)
        started = self.clock()
        answer = token_call(
            lambda: session.refresh_token(provider.token_endpoint, refresh_token=refresh_token),
            provider,
            name,
            refreshing=True,
        )
        tokens = Tokens.from_response(answer, started)
        log = get_logger("mailgui.oauth2")
        if tokens.refresh_token is not None and tokens.refresh_token != refresh_token:
            passwords.store(name, tokens.refresh_token)
            log.info("Account %s: the OAuth2 server renewed the grant; stored the new one.", name)
        held = _Held(settings, tokens, started, forced)
        self._held[name] = held
        why = "refused by the server" if forced else "expiring"
        log.info("Account %s: renewed the OAuth2 access token (the old one was %s).", name, why)
        return held


class TokenCommand:
    """``Credentials`` from ``--oauth2-token-command``: the first line of the command's
    output is the access token. Nothing is stored; a refused token gets one more run
    (the command may renew it), and None when it prints the same one again.

    ``command_for(account)`` is the account's command line (None: it has none). It is
    split like a shell line and run without a shell, with no input, for at most
    ``timeout`` seconds."""

    def __init__(
        self, command_for: Callable[[Account], str | None], *, timeout: float = 30.0
    ) -> None:
        self.command_for = command_for
        self.timeout = timeout

    def login(self, account: Account) -> Login | None:
        command = self.command_for(account)
        if command is None:
            return None
        return Login(sasl_user(account), run_token_command(command, self.timeout), MECHANISM)

    def refused(self, account: Account, login: Login) -> Login | None:
        again = self.login(account)
        if again is None or again.secret == login.secret:
            return None
        return again


def run_token_command(command: str, timeout: float = 30.0) -> str:
    """The access token a command prints. Errors name the program only (its arguments
    may hold secrets) and never carry what it printed on standard output."""
    try:
        args = shlex.split(command)
    except ValueError as exc:
        raise ConfigError(
            f"The OAuth2 token command cannot be read as a command line ({exc}); fix its "
            "quotes ('mailgui account add' again replaces it)."
        ) from None
    if not args:
        raise ConfigError("The OAuth2 token command is empty; set one or remove the option.")
    program = os.path.basename(args[0])
    import subprocess

    try:
        done = subprocess.run(
            args,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise AuthError(
            f"The OAuth2 token command {program} did not finish within {timeout:g} seconds, "
            "so nothing was sent; check that it runs without asking anything."
        ) from None
    except OSError as exc:
        why = "was not found" if isinstance(exc, FileNotFoundError) else "could not be started"
        raise AuthError(
            f"The OAuth2 token command {program} {why}, so nothing was sent; check the "
            "command with 'mailgui account show'."
        ) from None
    output = done.stdout.decode("utf-8", "replace").splitlines()
    token = output[0].strip() if output else ""
    if done.returncode != 0:
        said = _last_line(done.stderr.decode("utf-8", "replace"), token)
        raise AuthError(
            f"The OAuth2 token command {program} failed (exit status {done.returncode}"
            f"{f': {said}' if said else ''}), so nothing was sent; run it yourself to see why."
        )
    if not token:
        raise AuthError(
            f"The OAuth2 token command {program} printed no access token, so nothing was "
            "sent; run it yourself to see why."
        )
    return token


def _last_line(text: str, secret: str) -> str:
    """The last thing a command said on standard error, short, and never a secret."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if not lines:
        return ""
    line = lines[-1][:160]
    return "" if secret and secret in line else line
