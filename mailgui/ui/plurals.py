"""English singular and plural for Qt's numerus strings, without a translation file.

A string written ``self.tr("%n message(s) sent.", "", n)`` is a numerus form: a
translation file gives each language its forms. With none loaded, Qt shows the source
("1 message(s) sent."). ``english(self.tr(...), n)`` turns what Qt gave into English,
worked out from the text itself: ``(s)`` becomes "" or "s", and a verb right after it
agrees ("(s) are" → "is" / "s are"). A translation's words have no "(s)" and pass
unchanged, so a translation file still wins.

Not a ``QTranslator`` written in Python: Qt asks every installed translator from any
thread, its own too, while it holds its locks (``QImage.fromData`` in the image pool
asks for "Image type not supported" while probing its plugins), and a Python translator
then needs the GIL there. The GUI thread, holding the GIL in a Qt call that needs the
same lock, deadlocked the test run that way.
"""

from __future__ import annotations

import re

__all__ = ["english"]

_VERBS = {"are": "is", "were": "was", "have": "has"}
_WITH_VERB = re.compile(r"\(s\)( (?:are|were|have)\b)?")


def english(source: str, n: int) -> str:
    """The English form of ``source`` for ``n`` (what ``tr()`` gave, or its source: a
    "%n" in it stays as it is)."""

    def form(match: re.Match[str]) -> str:
        verb = (match.group(1) or "").strip()
        if n == 1:
            return f" {_VERBS[verb]}" if verb else ""
        return f"s {verb}" if verb else "s"

    return _WITH_VERB.sub(form, source)
