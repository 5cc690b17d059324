"""The identity's signature at the end of the body, below the "-- " line (RFC 3676 4.3).

Choosing another From swaps it: the previous identity's signature is replaced only
while it is still exactly as inserted. A signature the person edited is theirs and
stays; if they deleted it (no "-- " line is left), the new identity's is added.
The same text works for plain and rich bodies: the block is inserted as plain
paragraphs with no formatting, which the HTML writer escapes like any text.
"""

from __future__ import annotations

from PySide6.QtGui import QTextBlockFormat, QTextCharFormat, QTextCursor, QTextDocument

__all__ = ["SEPARATOR", "block_of", "strip_signature", "swap_signature"]

SEPARATOR = "-- "


def block_of(signature: str) -> str:
    """The text added to the body for ``signature``: "" for none."""
    text = signature.replace("\r\n", "\n").strip("\n")
    return f"{SEPARATOR}\n{text}" if text.strip() else ""


def _find(doc: QTextDocument, block: str) -> int | None:
    """Where ``block`` starts when the body ends with it (trailing blank lines aside)."""
    if not block:
        return None
    text = doc.toPlainText().rstrip("\n")
    if not text.endswith(block):
        return None
    start = len(text) - len(block)
    if start and text[start - 1] != "\n":
        return None  # "x-- " is not a separator line
    return start


def has_separator(doc: QTextDocument) -> bool:
    return any(line == SEPARATOR for line in doc.toPlainText().split("\n"))


def strip_signature(text: str, signature: str) -> str:
    """``text`` without ``signature``'s block at its end (to tell whether anything
    else was written)."""
    block = block_of(signature)
    body = text.rstrip("\n")
    if block and body.endswith(block):
        return body[: len(body) - len(block)]
    return text


def swap_signature(doc: QTextDocument, old: str, new: str) -> bool:
    """Replace ``old``'s signature block with ``new``'s; returns whether the body changed.

    Leaves the body alone when the old block was edited (a "-- " line remains but the
    text differs): that is the person's own text now."""
    old_block, new_block = block_of(old), block_of(new)
    if old_block == new_block:
        return False
    start = _find(doc, old_block)
    if start is None and has_separator(doc):
        return False  # an edited or hand-written signature: keep it
    cursor = QTextCursor(doc)
    cursor.beginEditBlock()
    try:
        if start is not None:
            cursor.setPosition(max(0, start - 1))  # with the line break before it
            cursor.movePosition(QTextCursor.MoveOperation.End, QTextCursor.MoveMode.KeepAnchor)
            cursor.removeSelectedText()
        if new_block:
            _append(doc, cursor, new_block)
    finally:
        cursor.endEditBlock()
    return start is not None or bool(new_block)


def _append(doc: QTextDocument, cursor: QTextCursor, block: str) -> None:
    """Add ``block`` as its own paragraphs after one empty line (after two in an empty
    body, so the first line is free for writing)."""
    text = doc.toPlainText()
    cursor.movePosition(QTextCursor.MoveOperation.End)
    breaks = 1 if text.endswith("\n") else 2
    plain = QTextCharFormat()
    if not text:
        # The first (empty) block keeps the formats of a fresh document.
        cursor.setBlockFormat(QTextBlockFormat())
    for _ in range(breaks):
        cursor.insertBlock(QTextBlockFormat(), plain)
    for number, line in enumerate(block.split("\n")):
        if number:
            cursor.insertBlock(QTextBlockFormat(), plain)
        cursor.insertText(line, plain)
