"""Spell check for the message body: misspelled words get a red wavy underline, and
the context menu offers corrections.

The words come from pyspellchecker (pure Python, maintained, word lists for English,
German, French, Spanish, Portuguese, Italian, Dutch and a few more; no system
library). Its list takes most of a second to load, so it loads in a pool of its own
(``background``: a window closed meanwhile simply gets nothing) and the highlighting
starts when it is there: the window opens and takes keys at once. The load starts a
moment after the window is made (``LOAD_DELAY_MS``: its first paint, with the cursor
in it, comes first; pyspellchecker itself is imported there too, not on the GUI
thread), and the list is parsed in slices (``_read_words``): one
``json.loads`` of the whole list holds the GIL for ~60 ms, a stall of the GUI thread
while the person types. Once loaded, a list serves every later window at once.
Without pyspellchecker installed there is simply no spell check.
"""

from __future__ import annotations

import functools
import re
import threading
import time
from typing import Any

from PySide6.QtCore import QLocale, Signal
from PySide6.QtGui import QColor, QSyntaxHighlighter, QTextCharFormat, QTextDocument

from mailgui.core.log import get_logger
from mailgui.ui import background

__all__ = ["SpellHighlighter", "available", "language_for"]

log = get_logger(__name__)

# Letters with inner apostrophes ("don't"); tokens touching digits, "@", "/" or "." inside
# (addresses, links, file names, versions) are not words to check.
_WORD = re.compile(r"(?<![\w@/.'’-])[^\W\d_]+(?:['’][^\W\d_]+)*(?![\w@/'’-]|\.\w)")
_NOT_WORDS = re.compile(r"\S+://\S*|\S+@\S+|\bwww\.\S+")  # links and addresses
LOAD_DELAY_MS = 200  # after the highlighter is made: the window paints first
_SLICE = 64 * 1024  # characters of the word list per json.loads (~1 ms with the GIL held)
_CUT = re.compile(r'(?<=\d),\s*(?=")')  # between two entries of a word list
_LANGUAGES = ("en", "de", "fr", "es", "pt", "it", "nl", "ru", "ar", "fa", "lv", "eu")


@functools.cache
def available() -> bool:
    """pyspellchecker is installed. Found, not imported: importing it (~10 ms) is left
    to the thread that loads the word list."""
    import importlib.util

    try:
        return importlib.util.find_spec("spellchecker") is not None
    except (ImportError, ValueError):
        return False


def language_for(locale: QLocale | None = None) -> str:
    """The word list for the person's language, English when there is none."""
    code = (locale or QLocale()).name().split("_")[0]
    return code if code in _LANGUAGES else "en"


_cache: dict[str, Any] = {}  # one word list per language, shared by every window
_cache_lock = threading.Lock()


def _load(language: str) -> Any:
    """In the spelling pool: the word list, or None (no library, no list: no spell
    check, never a crash). A list not loaded yet waits ``LOAD_DELAY_MS`` first, so the
    window that asked paints (with the cursor in it) before its parsing competes for
    the GIL."""
    with _cache_lock:
        loaded = language in _cache
    if not loaded:
        time.sleep(LOAD_DELAY_MS / 1000)
    try:
        return _checker(language)
    except Exception as exc:
        log.info("no spell check: %s", exc)
        return None


def _checker(language: str) -> Any:
    with _cache_lock:
        if language not in _cache:
            from spellchecker import SpellChecker

            try:
                checker = SpellChecker(language=None)
                checker.word_frequency.load_json(_read_words(language))
            except Exception:  # its resources laid out otherwise (a new version): its way
                log.debug("word list %s read whole", language, exc_info=True)
                checker = SpellChecker(language=language)
            _cache[language] = checker
        return _cache[language]


def _read_words(language: str) -> dict[str, int]:
    """pyspellchecker's word list for ``language`` (what ``SpellChecker(language=...)``
    loads), parsed a slice at a time with the GIL let go in between. The list is one
    flat JSON object ``{"word": count, ...}``; it is cut after a count (a digit, a
    comma, white space, a quote). A cut inside a key would leave an unterminated string, which
    ``json.loads`` refuses: then the list is parsed whole, as pyspellchecker does."""
    import gzip
    import json
    import pkgutil

    raw = pkgutil.get_data("spellchecker", f"resources/{language}.json.gz")
    if not raw:
        raise ValueError(f"pyspellchecker has no word list for {language!r}")
    text = gzip.decompress(raw).decode("utf-8").strip()
    if not (text.startswith("{") and text.endswith("}")):
        return dict(json.loads(text))
    words: dict[str, int] = {}
    start, end = 1, len(text) - 1
    try:
        while start < end:
            cut = _CUT.search(text, min(start + _SLICE, end))
            stop = end if cut is None else cut.start()
            words.update(json.loads("{" + text[start:stop] + "}"))
            start = stop + 1
            time.sleep(0)  # let the GUI thread have the GIL
    except ValueError:
        return dict(json.loads(text))
    return words


class SpellHighlighter(QSyntaxHighlighter):
    """Underlines unknown words of ``document`` once the word list has loaded.

    Signals:
        ready(): the word list is loaded and the document re-checked.
    """

    ready = Signal()

    def __init__(self, document: QTextDocument, language: str = "en") -> None:
        super().__init__(document)
        self.checker: Any = None
        self.enabled = True
        self._format = QTextCharFormat()
        self._format.setUnderlineStyle(QTextCharFormat.UnderlineStyle.SpellCheckUnderline)
        self._format.setUnderlineColor(QColor("#d32f2f"))
        # One thread: windows opened while a list loads wait in the queue, not in threads.
        pool = background.pool("spelling", 1)
        background.run(functools.partial(_load, language), self._on_loaded, pool)

    def _on_loaded(self, _request: int, checker: Any) -> None:
        """In the GUI thread, and only while this highlighter exists (``background``)."""
        if checker is None:
            return
        self.checker = checker
        self.rehighlight()
        self.ready.emit()

    def set_enabled(self, enabled: bool) -> None:
        self.enabled = enabled
        self.rehighlight()

    def is_misspelled(self, word: str) -> bool:
        if self.checker is None or not self.enabled:
            return False
        if word.isupper() and len(word) > 1:  # acronyms: SMTP, PDF
            return False
        return bool(self.checker.unknown([word]))

    def suggestions(self, word: str, limit: int = 5) -> list[str]:
        """Likely corrections, most frequent first, in the word's own capitalisation."""
        if self.checker is None:
            return []
        found = self.checker.candidates(word.lower()) or set()
        ranked = sorted(found, key=lambda w: (-self.checker.word_usage_frequency(w), w))
        if word[:1].isupper():
            ranked = [w[:1].upper() + w[1:] for w in ranked]
        return [w for w in ranked if w != word][:limit]

    def learn(self, word: str) -> None:
        """Add to dictionary (for this session): the word stops being marked."""
        if self.checker is not None:
            self.checker.word_frequency.add(word.lower())
            self.rehighlight()

    def highlightBlock(self, text: str) -> None:
        if self.checker is None or not self.enabled or text.lstrip().startswith(">"):
            return
        skip = [m.span() for m in _NOT_WORDS.finditer(text)]
        for match in _WORD.finditer(text):
            if any(a <= match.start() < b for a, b in skip):
                continue
            if self.is_misspelled(match.group()):
                self.setFormat(match.start(), match.end() - match.start(), self._format)
