"""Which source each account signs in with: a password, an OAuth2 grant, or a token
command (``ByAuth``), and how an account's OAuth2 settings read (``oauth2_settings``).

Apart from ``credentials`` (what a login is), since the OAuth2 sources build on it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mailgui.core.credentials import Credentials, Login, Passwords, keyring_lookup

if TYPE_CHECKING:
    from mailgui.core.accounts import Account
    from mailgui.core.oauth2.providers import OAuth2Settings

__all__ = ["ByAuth", "client_secret_slot", "oauth2_settings"]


def client_secret_slot(account_name: str) -> str:
    """The keyring user under which an account's OAuth2 client secret is kept (its own
    name holds the refresh token)."""
    return f"{account_name}#oauth2-client-secret"


def oauth2_settings(account: Account) -> OAuth2Settings | None:
    """How ``account`` signs in with OAuth2, or None when it does not (or only runs a
    token command)."""
    if not account.oauth2:
        return None
    from mailgui.core.oauth2.providers import PRESETS, OAuth2Settings

    preset = account.oauth2.lower() in PRESETS
    return OAuth2Settings(
        issuer=account.oauth2,
        client_id=account.oauth2_client_id,
        client_secret=keyring_lookup(client_secret_slot(account.name)),
        scopes=account.oauth2_scopes,
        # a private issuer may use the account's CA; a provider's uses the system's
        ca_file=None if preset or not account.ca_file else account.ca_file,
        timeout=account.timeout,
        **({} if preset else {"redirect_host": "127.0.0.1"}),
    )


class ByAuth:
    """Each account's login from the source it is set up with: its token command, its
    OAuth2 grant (``core.oauth2``, imported only for such an account) or its password.
    One object for all accounts, so access tokens are kept and renewed in one place."""

    def __init__(self, passwords: Credentials | None = None) -> None:
        self.passwords: Credentials = passwords or Passwords()
        self._oauth2: Credentials | None = None
        self._command: Credentials | None = None

    def _source(self, account: Account) -> Credentials:
        if account.oauth2_token_command:
            if self._command is None:
                from mailgui.core.oauth2.tokens import TokenCommand

                self._command = TokenCommand(lambda a: a.oauth2_token_command or None)
            return self._command
        if account.oauth2:
            if self._oauth2 is None:
                from mailgui.core.oauth2.tokens import OAuth2Credentials

                self._oauth2 = OAuth2Credentials(oauth2_settings)
            return self._oauth2
        return self.passwords

    def login(self, account: Account) -> Login | None:
        return self._source(account).login(account)

    def forget(self, account_name: str) -> None:
        """Drop the access token kept for an account (signed out, or set up anew)."""
        if self._oauth2 is not None:
            from mailgui.core.oauth2.tokens import OAuth2Credentials

            assert isinstance(self._oauth2, OAuth2Credentials)
            self._oauth2.forget(account_name)

    def refused(self, account: Account, login: Login) -> Login | None:
        return self._source(account).refused(account, login)
