"""English singular and plural for Qt's numerus strings, without a translation file.

A string written ``self.tr("%n message(s) sent.", "", n)`` is a numerus form: a
translation file gives each language its forms. With none loaded, Qt shows the source
("1 message(s) sent."). :class:`EnglishPlurals` is the English "translation" of every
such string, worked out from the source text itself: ``(s)`` becomes "" or "s", and a
verb right after it agrees ("(s) are" → "is" / "s are"). Translators for other
languages, installed later, are asked first, so they still win.
"""

from __future__ import annotations

import re

from PySide6.QtCore import QCoreApplication, QTranslator

__all__ = ["EnglishPlurals", "english", "install"]

_VERBS = {"are": "is", "were": "was", "have": "has"}
_WITH_VERB = re.compile(r"\(s\)( (?:are|were|have)\b)?")


def english(source: str, n: int) -> str:
    """The English form of ``source`` for ``n`` ("%n" stays: Qt fills it in)."""

    def form(match: re.Match[str]) -> str:
        verb = (match.group(1) or "").strip()
        if n == 1:
            return f" {_VERBS[verb]}" if verb else ""
        return f"s {verb}" if verb else "s"

    return _WITH_VERB.sub(form, source)


class EnglishPlurals(QTranslator):
    """Answers only numerus strings with "(s)"; every other one falls through to Qt."""

    def translate(
        self, context: str, source: str, disambiguation: str | None = None, n: int = -1
    ) -> str | None:
        if n < 0 or "(s)" not in source:
            return None  # a null string: "not mine" (an empty one would blank the text)
        return english(source, n)

    def isEmpty(self) -> bool:
        return False


_installed: list[EnglishPlurals] = []


def install() -> None:
    """Once per application, before any window is built."""
    app = QCoreApplication.instance()
    if app is None or _installed:
        return
    translator = EnglishPlurals(app)
    app.installTranslator(translator)
    _installed.append(translator)
