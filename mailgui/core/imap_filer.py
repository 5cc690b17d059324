"""An account's IMAP server as a ``sent_copies.Filer``: one session for the copies of
one flush, opened on the first copy, with the account's TLS rules and login."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from mailgui.core.accounts import IMAP_PORTS
from mailgui.core.sent_copies import Filed

if TYPE_CHECKING:
    from datetime import datetime

    from mailgui.core.accounts import Account
    from mailgui.core.credentials import Login
    from mailgui.core.imap.session import ImapSession
    from mailgui.core.imap.settings import ImapSettings

__all__ = ["ImapFiler", "imap_settings"]


def imap_settings(account: Account, folder: str = "auto") -> ImapSettings:
    """The account's IMAP server (its CA file and timeout too) for ``folder``."""
    from mailgui.core.imap.settings import ImapSettings

    security: Literal["starttls", "tls"] = (
        "starttls" if account.imap_security == "starttls" else "tls"
    )
    return ImapSettings(
        host=account.imap_host,
        port=account.imap_port or IMAP_PORTS[security],
        security=security,
        ca_file=account.ca_file or None,
        timeout=account.timeout,
        folder=folder,
    )


class ImapFiler:
    def __init__(self, account: Account, login: Login | None) -> None:
        self.account = account
        self.login = login
        self._session: ImapSession | None = None

    def file(self, data: bytes, message_id: str, date: datetime, folder: str) -> Filed:
        from mailgui.core.imap.sent_copy import file_into
        from mailgui.core.imap.session import ImapSession

        if self._session is None or not self._session.is_open:
            self._session = ImapSession(
                imap_settings(self.account, folder), self.login, fix=self.account.login_fix
            )
            self._session.open()
        done = file_into(self._session, folder, data, message_id, date)
        return Filed(done.folder, done.already_there)

    def close(self) -> None:
        if self._session is not None:
            self._session.close()
            self._session = None
