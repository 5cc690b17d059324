"""IMAP for the copy in the Sent folder (DESIGN.md "A copy in the Sent folder").

Qt-free, stdlib imaplib underneath. The public face:

- ``ImapSettings``: server, security, CA file, timeout, folder (``auto`` or a name).
- ``file_copy(settings, login, data, message_id, date) -> Filed``: file once.
- ``list_folders(session)`` for the folder picker, ``ImapSession(...).open()`` for Test.
- Errors: mailgui's tree (TransientError, AuthError, SecurityError...), plus
  ``FolderMissingError``, ``MailboxFullError``, ``MessageTooBigError``.
"""

from __future__ import annotations

from mailgui.core.imap.errors import (
    CopyNotStoredError,
    CopyRefusedError,
    FolderMissingError,
    MailboxFullError,
    MessageTooBigError,
)
from mailgui.core.imap.folders import (
    KNOWN_SENT_NAMES,
    Folder,
    find_sent,
    list_folders,
    resolve_folder,
)
from mailgui.core.imap.sent_copy import Filed, append_limit, file_copy, file_into
from mailgui.core.imap.session import ImapInfo, ImapSession
from mailgui.core.imap.settings import AUTO, ImapSettings

__all__ = [
    "AUTO",
    "KNOWN_SENT_NAMES",
    "CopyNotStoredError",
    "CopyRefusedError",
    "Filed",
    "Folder",
    "FolderMissingError",
    "ImapInfo",
    "ImapSession",
    "ImapSettings",
    "MailboxFullError",
    "MessageTooBigError",
    "append_limit",
    "file_copy",
    "file_into",
    "find_sent",
    "list_folders",
    "resolve_folder",
]
