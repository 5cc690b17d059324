"""Checks before a message is queued: plain functions the compose window shows inline.

``check`` takes what the window holds (``Composed``: the fields as typed, before the
addresses are parsed) and returns its ``Finding``s, in the order the window lists them.
A finding is data (a key, a level, the numbers or word it is about); the window words
it and offers its fix. Nothing here blocks sending by itself: a "block" finding must be
fixed (no recipients), a "warn" one may be waived with "Send anyway".
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

__all__ = [
    "ATTACHMENT_WORDS",
    "Composed",
    "Finding",
    "check",
    "encoded_size",
    "mentioned_attachment",
    "size_matters",
]

Level = Literal["block", "warn"]

# Words that announce a file, in a few languages (lower case; matched as whole words
# or, for the few phrases, as written). Quoted lines ("> ...") are not looked at: a
# reply quoting "see the attached file" needs no attachment of its own.
ATTACHMENT_WORDS = (
    # English
    "attached", "attachment", "attachments", "attach", "enclosed",
    # German
    "anhang", "angehängt", "anbei", "beigefügt",
    # French
    "pièce jointe", "pièces jointes", "ci-joint", "ci-jointe", "en pièce jointe",
    # Spanish / Portuguese
    "adjunto", "adjunta", "adjuntos", "anexo", "em anexo", "anexado",
    # Italian
    "allegato", "allegati", "in allegato",
    # Dutch
    "bijlage", "bijgevoegd",
)  # fmt: skip

_WORDS = re.compile(
    r"(?<![\w-])("
    + "|".join(re.escape(w) for w in sorted(ATTACHMENT_WORDS, key=len, reverse=True))
    + r")(?![\w-])",
    re.IGNORECASE,
)


def mentioned_attachment(text: str) -> str | None:
    """The first word in ``text`` (outside quoted lines) that announces an attachment,
    as written, or None."""
    for line in text.splitlines():
        if line.lstrip().startswith(">"):
            continue
        match = _WORDS.search(line)
        if match:
            return match.group(1)
    return None


def encoded_size(text_chars: int, html_chars: int, attachment_sizes: Iterable[int]) -> int:
    """About how many bytes the built message takes on the wire: base64 turns every
    3 bytes into 4 and adds CRLF each 76 characters; text parts are counted as
    quoted-printable at worst-case-ish 1.1x; 2 kB for headers and MIME boundaries."""

    def b64(n: int) -> int:
        chars = 4 * math.ceil(n / 3)
        return chars + 2 * math.ceil(chars / 76)

    body = int(1.1 * (text_chars + html_chars))
    return 2048 + body + sum(b64(n) + 300 for n in attachment_sizes)


@dataclass(frozen=True)
class Composed:
    """What the rules look at: the message as the compose window holds it."""

    recipients: tuple[str, ...] = ()  # the To, Cc and Bcc fields as typed (parsed or not)
    subject: str = ""
    text: str = ""  # the body as plain text
    attachments: int = 0  # files attached
    size_limit: int | None = None  # the server's SIZE (its last EHLO), when known
    # About how many bytes once encoded (``encoded_size``); None when not measured:
    # measuring walks the whole text, so the window does it only when ``size_matters``.
    encoded_size: int | None = None


@dataclass(frozen=True)
class Finding:
    """One thing worth a second look before sending. ``word`` is the word that
    announced an attachment ("attachment"); ``size`` and ``limit`` are the message's
    encoded size and the server's limit, in bytes ("size")."""

    key: str  # "recipients", "subject", "attachment", "size"
    level: Level
    word: str = ""
    size: int = 0
    limit: int = 0

    @property
    def dismissable(self) -> bool:
        """True when "Send anyway" may waive it."""
        return self.level == "warn"


def size_matters(size_limit: int | None, attachments: int, inline_images: int) -> bool:
    """Whether the message's size is worth measuring: the server announced a limit and
    files or pictures travel with the text (a text alone never comes near one)."""
    return bool(size_limit) and bool(attachments or inline_images)


def check(composed: Composed) -> list[Finding]:
    """What deserves a second look, in the order the window lists it."""
    found: list[Finding] = []
    if not any(field.strip() for field in composed.recipients):
        found.append(Finding("recipients", "block"))
    if not composed.subject.strip():
        found.append(Finding("subject", "warn"))
    word = mentioned_attachment(composed.text) or mentioned_attachment(composed.subject)
    if word and not composed.attachments:
        found.append(Finding("attachment", "warn", word=word))
    size, limit = composed.encoded_size, composed.size_limit
    if limit and size is not None and size > limit:
        found.append(Finding("size", "warn", size=size, limit=limit))
    return found
