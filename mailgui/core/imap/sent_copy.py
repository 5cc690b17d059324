"""Filing the copy of a sent message in the Sent folder, once.

The steps: resolve the folder; refuse a message over the server's APPENDLIMIT (RFC 7889)
before sending it; look for its Message-ID there (a crash between an APPEND and the
outbox noting it, or a reply lost on the way, must not file it twice); APPEND it flagged
``\\Seen`` and dated with the message's Date. Filing never sends the message again: the
errors only say whether trying again later can help (``error.permanent``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from mailgui.core.credentials import Login
from mailgui.core.imap.errors import MessageTooBigError
from mailgui.core.imap.folders import Folder, resolve_folder
from mailgui.core.imap.session import ImapSession
from mailgui.core.imap.settings import ImapSettings
from mailgui.core.log import get_logger
from mailgui.core.sizes import human_size

__all__ = ["Filed", "SessionFactory", "append_limit", "file_copy", "file_into"]

SessionFactory = Callable[[ImapSettings, Login | None], ImapSession]


@dataclass(frozen=True)
class Filed:
    """The outcome: the folder it is in (its name, to remember per account), whether it
    was there already, and its UID when the server said it."""

    folder: str
    state: Literal["filed", "already there"]
    uid: int | None = None

    @property
    def already_there(self) -> bool:
        return self.state == "already there"


def append_limit(capabilities: frozenset[str], status: dict[str, str]) -> int | None:
    """The largest message the server takes (RFC 7889): ``APPENDLIMIT=N`` for every
    folder, or the folder's STATUS APPENDLIMIT when the capability has no number."""
    for cap in capabilities:
        name, _, value = cap.partition("=")
        if name == "APPENDLIMIT" and value.isdigit():
            return int(value)
    value = status.get("APPENDLIMIT", "")
    return int(value) if value.isdigit() else None


def file_into(
    session: ImapSession, folder: str, data: bytes, message_id: str, date: datetime
) -> Filed:
    """File ``data`` through an open session in ``folder`` (``auto`` or a name).
    ``message_id`` with its angle brackets; "" skips the look for an earlier copy.
    ``date``: the message's Date, becoming the copy's internal date (a naive datetime is
    taken as local time)."""
    target: Folder = resolve_folder(session, folder)
    status = (
        session.status(target.wire, "APPENDLIMIT") if "APPENDLIMIT" in session.capabilities else {}
    )
    limit = append_limit(session.capabilities, status)
    if limit is not None and len(data) > limit:
        raise MessageTooBigError(
            f"The message is {human_size(len(data))} but the IMAP server at {session.where} "
            f"stores at most {human_size(limit)} in {target.name!r}, so its copy will not "
            "be filed (the message itself was sent).",
            size=len(data),
            limit=limit,
        )
    if message_id and message_id.isascii():
        found = session.find_header(target.wire, "Message-ID", message_id, shown=target.name)
        if found:
            get_logger("mailgui.imap").info(
                "copy of %s already in %s at %s", message_id, target.name, session.where
            )
            return Filed(target.name, "already there", found[0])
    uid = session.append(target.wire, data, date, "(\\Seen)", shown=target.name)
    get_logger("mailgui.imap").info(
        "filed copy of %s in %s at %s", message_id, target.name, session.where
    )
    return Filed(target.name, "filed", uid)


def file_copy(
    settings: ImapSettings,
    login: Login | None,
    data: bytes,
    message_id: str,
    date: datetime,
    *,
    session_factory: SessionFactory = ImapSession,
) -> Filed:
    """Connect, log in, file the copy in ``settings.folder``, log out."""
    with session_factory(settings, login) as session:
        session.open()
        return file_into(session, settings.folder, data, message_id, date)
