"""Helpers for the IMAP tests (a plain module beside them; conftest.py has the fixtures)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, make_msgid

from imap_server import ImapUser, Stored

from mailgui.core.credentials import Login
from mailgui.core.imap import ImapSettings

SettingsFor = Callable[..., ImapSettings]

DATE = datetime(2026, 12, 7, 14, 3, 9, tzinfo=timezone(timedelta(hours=1)))


def login_of(user: ImapUser, password: str | None = None) -> Login:
    return Login(user.name, user.password if password is None else password)


def message(
    *, date: datetime = DATE, body: str = "Hello from mailgui.\n", bcc: str | None = None
) -> tuple[bytes, str]:
    """A sent message as bytes (CRLF) and its Message-ID."""
    msg = EmailMessage(policy=SMTP)
    msg["From"] = "Ann <ann@example.test>"
    msg["To"] = "bob@example.test"
    if bcc:
        msg["Bcc"] = bcc
    msg["Subject"] = "Copy in Sent"
    msg["Date"] = format_datetime(date)
    msg["Message-ID"] = message_id = make_msgid(domain="example.test")
    msg.set_content(body)
    return msg.as_bytes(), message_id


def internal_date(stored: Stored) -> datetime:
    return datetime.strptime(stored.internaldate, "%d-%b-%Y %H:%M:%S %z")
