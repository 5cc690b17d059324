"""Which folder is the Sent folder: SPECIAL-USE first (RFC 6154), else a known name.

``find_sent`` and ``known_name_rank`` are pure (a list of ``Folder`` in, a choice out);
``list_folders`` and ``resolve_folder`` ask a session. Names are kept two ways: ``name``
as people read it (what ``ImapSettings.folder`` holds and the caller remembers per
account) and ``wire``, modified UTF-7 as the server has it (RFC 3501 5.1.3).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from mailgui.core.imap import utf7
from mailgui.core.imap.errors import FolderMissingError
from mailgui.core.imap.responses import ListEntry
from mailgui.core.imap.settings import AUTO

if TYPE_CHECKING:
    from mailgui.core.imap.session import ImapSession

__all__ = [
    "KNOWN_SENT_NAMES",
    "SPECIAL_USES",
    "Folder",
    "find_sent",
    "list_folders",
    "resolve_folder",
]

SPECIAL_USES = ("\\sent", "\\drafts", "\\trash", "\\junk", "\\archive", "\\all", "\\flagged")

# In order of preference; compared without case. The English names are the common server
# defaults (Dovecot, Exchange, Apple, Gmail); then the usual localized ones.
KNOWN_SENT_NAMES = (
    "Sent",
    "Sent Items",
    "Sent Messages",
    "Sent Mail",
    "Sent-Mail",
    "[Gmail]/Sent Mail",
    "[Google Mail]/Sent Mail",
    "Gesendet",
    "Gesendete Elemente",
    "Gesendete Objekte",
    "Gesendete Nachrichten",
    "Envoyés",
    "Éléments envoyés",
    "Messages envoyés",
    "Enviados",
    "Elementos enviados",
    "Mensajes enviados",
    "Itens Enviados",
    "Mensagens Enviadas",
    "Posta inviata",
    "Inviati",
    "Elementi inviati",
    "Verzonden",
    "Verzonden items",
    "Skickat",
    "Skickade objekt",
    "Sendt",
    "Sendte elementer",
    "Sendte",
    "Lähetetyt",
    "Wysłane",
    "Elementy wysłane",
    "Odeslané",
    "Odeslaná pošta",
    "Elküldött",
    "Trimise",
    "Отправленные",
    "Gönderilenler",
    "Απεσταλμένα",
    "送信済み",
    "已发送",
    "寄件備份",
    "보낸편지함",
)
# Folders that hold a whole account's folders: "INBOX.Sent" (Courier, Cyrus), "[Gmail]/Sent".
_PARENTS = ("inbox", "[gmail]", "[google mail]")


def _key(name: str) -> str:
    return unicodedata.normalize("NFC", name).casefold()


_RANKS = {_key(n): i for i, n in enumerate(KNOWN_SENT_NAMES)}


@dataclass(frozen=True)
class Folder:
    """One folder of the server's LIST: what the folder picker shows and filing uses."""

    name: str  # as people read it: "Envoyés", "INBOX.Sent"
    wire: str  # as the server has it: "Envoy&AOk-s"
    delimiter: str | None
    flags: frozenset[str]  # lower case: "\\sent", "\\noselect", "\\haschildren"

    @property
    def selectable(self) -> bool:
        return not self.flags & {"\\noselect", "\\nonexistent"}

    @property
    def special_use(self) -> str | None:
        """``\\Sent``, ``\\Drafts``... (RFC 6154), or None."""
        for use in SPECIAL_USES:
            if use in self.flags:
                return "\\" + use[1:].capitalize()
        return None

    @classmethod
    def from_entry(cls, entry: ListEntry) -> Folder:
        return cls(utf7.decode(entry.name), entry.name, entry.delimiter, entry.flags)


def known_name_rank(folder: Folder) -> int | None:
    """Where the folder's name is in KNOWN_SENT_NAMES (lower is better), directly or under
    INBOX / [Gmail] (with the server's delimiter); None for other names."""
    key = _key(folder.name)
    if key in _RANKS:
        return _RANKS[key]
    if folder.delimiter:
        parent, sep, leaf = key.partition(_key(folder.delimiter))
        if sep and parent in _PARENTS and leaf in _RANKS:
            return _RANKS[leaf] + len(KNOWN_SENT_NAMES)  # after the top-level names
    return None


def find_sent(folders: Iterable[Folder]) -> Folder | None:
    """The folder flagged ``\\Sent``, else the best known name; only selectable ones."""
    usable = [f for f in folders if f.selectable]
    flagged = [f for f in usable if "\\sent" in f.flags]
    if flagged:
        return min(flagged, key=lambda f: (f.name.count(f.delimiter or "\0"), f.name))
    ranked = [(rank, f.name, f) for f in usable if (rank := known_name_rank(f)) is not None]
    return min(ranked, key=lambda t: (t[0], t[1]))[2] if ranked else None


def list_folders(session: ImapSession) -> list[Folder]:
    """Every folder, sorted as people read them (INBOX first); for the folder picker."""
    folders = [Folder.from_entry(e) for e in session.list_mailboxes(special_use=True)]
    return sorted(folders, key=lambda f: (f.name != "INBOX", _key(f.name)))


def _named(session: ImapSession, name: str) -> Folder | None:
    wire = utf7.encode(name)
    if "*" in wire or "%" in wire:  # LIST wildcards: look at them all
        entries = session.list_mailboxes(special_use=False)
    else:
        entries = session.list_mailboxes(special_use=False, pattern=wire)
    for entry in entries:
        folder = Folder.from_entry(entry)
        if (
            folder.name == name
            or folder.wire == name
            or (name.upper() == "INBOX" and folder.name == "INBOX")
        ):
            return folder
    return None


def resolve_folder(session: ImapSession, wanted: str) -> Folder:
    """The folder to file in: ``auto`` or a name; FolderMissingError when there is none
    (the caller remembers ``Folder.name`` per account and passes it as the name next
    time)."""
    if wanted.strip().lower() == AUTO:
        found = find_sent(_all_folders(session))
        if found is None:
            raise FolderMissingError(
                f"The IMAP server at {session.where} has no Sent folder (none is flagged "
                "\\Sent, and none has a usual name such as Sent or Sent Items); create one, "
                "or choose a folder for the copies with --sent-folder NAME.",
                folder=None,
            )
        return found
    folder = _named(session, wanted)
    if folder is None or not folder.selectable:
        raise FolderMissingError(
            f"The folder {wanted!r} does not exist on the IMAP server at {session.where}; "
            "choose another Sent folder for the account (or auto), or create it.",
            folder=wanted,
        )
    return folder


def _all_folders(session: ImapSession) -> Sequence[Folder]:
    return [Folder.from_entry(e) for e in session.list_mailboxes(special_use=True)]
