"""What every part of the GUI shares: the profile and where its pieces live.

Nothing here holds a sqlite connection: each thread opens its own Outbox with
``open_outbox()`` (sqlite3 connections must not cross threads). The app makes its
context before the window's first paint, so the core modules behind it (the outbox,
sqlite3, the accounts file's TOML parser, the keyring) are imported on first use.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from mailgui.core.errors import KeyringUnavailableError

if TYPE_CHECKING:
    from mailgui.core.accounts import AccountStore
    from mailgui.core.engine import Engine
    from mailgui.core.outbox import Outbox
    from mailgui.core.paths import Profile
    from mailgui.core.sign_in import ByAuth


class AppContext:
    # A plain class, not a dataclass: the GUI's start has no time for ``dataclasses``.
    def __init__(self, profile: Profile, demo_port: int | None = None) -> None:
        self.profile = profile
        self.demo_port = demo_port  # set in --demo mode: the embedded server's port
        # Passwords the user chose to keep for this session only (no keyring): never on disk.
        self._session_passwords: dict[str, str] = {}
        self._lock = threading.Lock()
        self._credentials: ByAuth | None = None  # one for the app: access tokens kept

    @property
    def accounts(self) -> AccountStore:
        from mailgui.core.accounts import AccountStore

        return AccountStore(self.profile.accounts_file)

    def credentials(self) -> ByAuth:
        """The app's one source of logins (passwords kept for the session first, OAuth2
        access tokens kept and renewed in one place)."""
        from mailgui.core.credentials import Passwords
        from mailgui.core.sign_in import ByAuth

        with self._lock:
            if self._credentials is None:
                self._credentials = ByAuth(Passwords(self.password))
            return self._credentials

    def engine(self) -> Engine:
        """The engine for this profile; passwords kept for the session come first."""
        from mailgui.core.engine import Engine

        return Engine(self.profile, self.accounts, credentials=self.credentials())

    def open_outbox(self) -> Outbox:
        """A new connection for the calling thread."""
        from mailgui.core.outbox import Outbox

        return Outbox(self.profile.outbox_file)

    def keep_password_for_session(self, account: str, password: str) -> None:
        with self._lock:
            self._session_passwords[account] = password

    def forget_session_password(self, account: str) -> None:
        with self._lock:
            self._session_passwords.pop(account, None)

    def password(self, account: str) -> str | None:
        """The session password if the user gave one, else the keyring's.

        Raises KeyringUnavailableError when neither has it and there is no keyring."""
        with self._lock:
            if account in self._session_passwords:
                return self._session_passwords[account]
        from mailgui.core import passwords

        return passwords.load(account)

    def store_password(self, account: str, password: str) -> bool:
        """Keyring first; False when there is no keyring (the caller asks the user)."""
        from mailgui.core import passwords

        try:
            passwords.store(account, password)
        except KeyringUnavailableError:
            return False
        with self._lock:
            self._session_passwords.pop(account, None)
        self.credentials_changed()
        return True

    def credentials_changed(self) -> None:
        """A password or grant was stored: every sender of the profile (this app's,
        the agent) tries the waiting messages again at once."""
        from mailgui.core.flush_schedule import credentials_changed

        credentials_changed(self.profile)
