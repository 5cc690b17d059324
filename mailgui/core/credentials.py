"""What a session signs in with, and where it comes from.

A ``Login`` is a user name and a secret: today a password from the keyring; an OAuth2
access token or the output of a token command fit the same place. ``Credentials``
hands out a login per account and is told when the server refused one, so a source
that can renew its secret (an OAuth2 refresh) gets one more try, and one that cannot
(a password) does not: a wrong password tried again can get the account locked.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, NamedTuple, Protocol

if TYPE_CHECKING:
    from mailgui.core.accounts import Account

__all__ = ["Credentials", "Login", "Passwords", "as_login"]


class Login(NamedTuple):
    """A user name and what proves it. Never logged, never shown (see ``__repr__``)."""

    user: str
    secret: str
    mechanism: str = "password"  # or "oauth2": ``secret`` is an access token

    def __repr__(self) -> str:
        return f"Login(user={self.user!r}, mechanism={self.mechanism!r})"


class Credentials(Protocol):
    def login(self, account: Account) -> Login | None:
        """The login for ``account``; None when nothing is stored for it."""
        ...

    def refused(self, account: Account, login: Login) -> Login | None:
        """The server refused ``login``: a renewed one worth one more try, or None."""
        ...


def keyring_lookup(name: str) -> str | None:
    from mailgui.core import passwords  # keyring is imported on first use

    return passwords.load(name)


class Passwords:
    """Passwords by account name: the keyring's, or another lookup (the app's
    passwords kept for one session). An account without a user name needs none."""

    def __init__(self, lookup: Callable[[str], str | None] = keyring_lookup) -> None:
        self.lookup = lookup

    def login(self, account: Account) -> Login | None:
        if not account.username:
            return None
        password = self.lookup(account.name)
        return None if password is None else Login(account.username, password)

    def refused(self, account: Account, login: Login) -> Login | None:
        return None  # a password does not get better by trying it again


def as_login(account: Account, given: Login | str | None) -> Login | None:
    """A session's credential argument: a ``Login``, a bare password, or None."""
    if given is None or isinstance(given, Login):
        return given
    return Login(account.username, given)
