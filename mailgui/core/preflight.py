"""Checks before a message is queued: plain functions the compose window shows inline.

Nothing here blocks sending by itself; the window decides which findings can be
dismissed ("Send anyway") and which must be fixed (no recipients).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable

__all__ = ["ATTACHMENT_WORDS", "encoded_size", "mentioned_attachment"]

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
