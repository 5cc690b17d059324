"""IMAP refusals in mailgui's error tree, and which ones a later try can cure.

Each error is one sentence for people and carries the server's response code
(``imap_code``, e.g. ``OVERQUOTA``) and words (``reply``). ``permanent`` tells the
retry policy whether trying again can help: a full mailbox can be emptied (the copy is
tried again with back-off); a message over the server's size limit stays too big.
"""

from __future__ import annotations

from mailgui.core.errors import DeliveryError, PermanentError, TransientError

__all__ = [
    "CopyNotStoredError",
    "CopyRefusedError",
    "FolderMissingError",
    "MailboxFullError",
    "MessageTooBigError",
    "refusal",
]

# RFC 5530 codes after which the same command will fail again: the copy is given up.
_FOR_GOOD = {"NOPERM", "CANNOT", "CLIENTBUG", "PRIVACYREQUIRED", "CONTACTADMIN", "LIMIT"}
_MISSING = {"TRYCREATE", "NONEXISTENT"}


class CopyRefusedError(PermanentError):
    """The server will not store this copy, and asking again will not change that."""

    def __init__(self, message: str, *, imap_code: str | None, reply: str | None) -> None:
        super().__init__(message, reply=reply)
        self.imap_code = imap_code


class CopyNotStoredError(TransientError):
    """The server did not store the copy this time (busy, in use, a NO without a code)."""

    def __init__(self, message: str, *, imap_code: str | None, reply: str | None) -> None:
        super().__init__(message, reply=reply)
        self.imap_code = imap_code


class FolderMissingError(PermanentError):
    """The Sent folder does not exist (named, or none found for ``auto``)."""

    def __init__(self, message: str, *, folder: str | None, reply: str | None = None) -> None:
        super().__init__(message, reply=reply)
        self.folder = folder
        self.imap_code: str | None = "NONEXISTENT"


class MailboxFullError(TransientError):
    """Over quota (``[OVERQUOTA]``, RFC 5530): filed once there is room again."""

    def __init__(self, message: str, *, reply: str | None = None) -> None:
        super().__init__(message, reply=reply)
        self.imap_code: str | None = "OVERQUOTA"


class MessageTooBigError(PermanentError):
    """Over the server's APPENDLIMIT (RFC 7889) or refused as ``[TOOBIG]``."""

    def __init__(
        self, message: str, *, size: int, limit: int | None, reply: str | None = None
    ) -> None:
        super().__init__(message, reply=reply)
        self.size = size
        self.limit = limit
        self.imap_code: str | None = "TOOBIG"


def _said(code: str | None, words: str) -> str:
    return " ".join(p for p in (f"[{code}]" if code else "", words) if p) or "no reason given"


def refusal(
    where: str, folder: str, kind: str, code: str | None, words: str, *, size: int = 0
) -> DeliveryError:
    """The error for a NO or BAD (``kind``) to a command on ``folder`` (SELECT, SEARCH,
    STATUS or APPEND) of the server ``where``. Pure: the classification, in one place."""
    said = _said(code, words)
    reply = said if code or words else None
    if code in _MISSING:
        return FolderMissingError(
            f"The folder {folder!r} does not exist on the IMAP server at {where} ({said}); "
            "choose another Sent folder for the account (or auto), or create it.",
            folder=folder,
            reply=reply,
        )
    if code == "OVERQUOTA":
        return MailboxFullError(
            f"The mailbox on {where} is full ({said}), so the copy was not filed in "
            f"{folder!r}; delete or archive some mail: the copy is tried again later.",
            reply=reply,
        )
    if code == "TOOBIG":
        return MessageTooBigError(
            f"The IMAP server at {where} refused to store the copy in {folder!r} as too "
            f"big ({said}); the message was sent, but its copy will not be filed.",
            size=size,
            limit=None,
            reply=reply,
        )
    if kind == "BAD" or code in _FOR_GOOD:
        return CopyRefusedError(
            f"The IMAP server at {where} refused to store the copy in {folder!r} ({said}); "
            "the message was sent, but trying again will not help, so its copy will not "
            "be filed.",
            imap_code=code,
            reply=reply,
        )
    return CopyNotStoredError(
        f"The IMAP server at {where} did not store the copy in {folder!r} ({said}); "
        "it is tried again later.",
        imap_code=code,
        reply=reply,
    )
