"""The message body editor: rich text (a small, safe set of formats) or plain text.

What leaves the editor is never Qt's own HTML (a full document with Qt-only CSS);
``document_html`` walks the document and writes only what the toolbar can make:
bold, italic, underline, links, bullet and numbered lists, quotes, font sizes, and
the inline images the window put in (``cid:`` names it registered with the editor).
Pasted HTML goes through the same walk (``clean_html``), so scripts, styles, images,
colours and fonts from a web page never reach the message.
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from PySide6.QtCore import QMimeData, QUrl, Signal
from PySide6.QtGui import (
    QAction,
    QContextMenuEvent,
    QImage,
    QTextBlock,
    QTextCharFormat,
    QTextCursor,
    QTextDocument,
    QTextFormat,
    QTextList,
    QTextListFormat,
)
from PySide6.QtWidgets import QTextEdit, QWidget

from mailgui.ui.spelling import SpellHighlighter

__all__ = ["BodyEdit", "clean_html", "document_html"]

_SAFE_SCHEMES = {"http", "https", "mailto", "ftp"}
_LIST_TAGS = {
    QTextListFormat.Style.ListDisc: "ul",
    QTextListFormat.Style.ListCircle: "ul",
    QTextListFormat.Style.ListSquare: "ul",
}


def is_quote(block: QTextBlock) -> bool:
    fmt = block.blockFormat()
    level = fmt.property(QTextFormat.Property.BlockQuoteLevel)
    if isinstance(level, int) and level > 0:
        return True
    # Qt's HTML importer turns <blockquote> into 40px margins on both sides.
    return fmt.leftMargin() >= 30 and fmt.rightMargin() >= 30


def _safe_href(href: str) -> str | None:
    scheme = urlsplit(href.strip()).scheme.lower()
    return href.strip() if scheme in _SAFE_SCHEMES else None


def _fragment_html(text: str, fmt: QTextCharFormat, base_size: float) -> str:
    out = html.escape(text.replace("\u2028", "\n"), quote=False).replace("\n", "<br>")
    size = fmt.fontPointSize()
    if size and abs(size - base_size) > 0.1:
        out = f'<span style="font-size:{size:g}pt">{out}</span>'
    if fmt.fontUnderline() and not fmt.isAnchor():
        out = f"<u>{out}</u>"
    if fmt.fontItalic():
        out = f"<i>{out}</i>"
    if fmt.fontWeight() >= 600:
        out = f"<b>{out}</b>"
    if fmt.isAnchor():
        href = _safe_href(fmt.anchorHref())
        if href:
            out = f'<a href="{html.escape(href)}">{out}</a>'
    return out


def _image_html(fmt: QTextCharFormat, images: Mapping[str, str], count: int) -> str:
    """``<img>`` for an inline image of ours (one per character of the fragment)."""
    image = fmt.toImageFormat()
    name = image.name()
    if not name.startswith("cid:") or name[4:] not in images:
        return ""  # pasted or foreign images are dropped, never fetched
    alt = images[name[4:]] or image.property(IMAGE_ALT) or ""
    attrs = f'src="{html.escape(name)}" alt="{html.escape(str(alt))}"'
    if image.width() > 0:
        attrs += f' width="{round(image.width())}"'
    return f"<img {attrs}>" * count


def _block_html(block: QTextBlock, base_size: float, images: Mapping[str, str]) -> str:
    parts = []
    it = block.begin()
    while not it.atEnd():
        fragment = it.fragment()
        if fragment.isValid():
            fmt = fragment.charFormat()
            if fmt.isImageFormat():
                parts.append(_image_html(fmt, images, len(fragment.text())))
            else:
                parts.append(_fragment_html(fragment.text(), fmt, base_size))
        it += 1
    return "".join(parts)


IMAGE_ALT = 0x100100  # QTextFormat user property: the alt text of an inline image


def document_html(doc: QTextDocument, images: Mapping[str, str] | None = None) -> str:
    """Clean HTML for ``doc``: only the formats the toolbar offers, and the inline
    images whose content ids are in ``images`` (content id → alt text), written as
    ``<img src="cid:…">``."""
    images = images or {}
    base_size = doc.defaultFont().pointSizeF()
    out: list[str] = []
    open_list: tuple[int, str] | None = None  # (id of the QTextList, tag)
    in_quote = False
    block = doc.begin()
    while block.isValid():
        text_list: QTextList | None = block.textList()
        quote = is_quote(block)
        if open_list is not None and (text_list is None or id_of(text_list) != open_list[0]):
            out.append(f"</{open_list[1]}>")
            open_list = None
        if quote != in_quote:
            out.append("<blockquote>" if quote else "</blockquote>")
            in_quote = quote
        inner = _block_html(block, base_size, images)
        if text_list is not None:
            if open_list is None:
                tag = _LIST_TAGS.get(text_list.format().style(), "ol")
                out.append(f"<{tag}>")
                open_list = (id_of(text_list), tag)
            out.append(f"<li>{inner}</li>")
        else:
            out.append(f"<p>{inner or '<br>'}</p>")
        block = block.next()
    if open_list is not None:
        out.append(f"</{open_list[1]}>")
    if in_quote:
        out.append("</blockquote>")
    # Trailing empty paragraphs say nothing.
    while out and out[-1] == "<p><br></p>":
        out.pop()
    body = "\n".join(out)
    return f'<html><head><meta charset="utf-8"></head><body>\n{body}\n</body></html>\n'


def id_of(text_list: QTextList) -> int:
    return int(text_list.objectIndex())


def clean_html(source: str) -> str:
    """``source`` (a web page's clipboard HTML) reduced to the formats we send."""
    doc = QTextDocument()
    doc.setHtml(source)
    return document_html(doc)


class BodyEdit(QTextEdit):
    """The body. Plain mode takes only text; rich mode takes cleaned HTML on paste.

    Inline images are shown from ``images`` (content id → picture for the screen),
    which the window fills; the HTML names them ``cid:<content id>``.

    Signals:
        filesPasted(list[str]): local files were pasted; the window attaches them.
        imagePasted(QImage): image data was pasted into rich text; the window adds it.
    """

    filesPasted = Signal(list)
    imagePasted = Signal(QImage)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.images: dict[str, QImage] = {}  # content id → the picture shown
        self.image_names: dict[str, str] = {}  # content id → its name (the alt text)
        self._rich = False
        self.speller: SpellHighlighter | None = None
        self.setAcceptRichText(False)
        self.setTabChangesFocus(True)  # Tab leaves the body, as in every mail client

    @property
    def rich(self) -> bool:
        return self._rich

    def set_rich(self, rich: bool) -> None:
        """Switch modes; going to plain text keeps the words and drops the formats."""
        if rich == self._rich:
            return
        self._rich = rich
        self.setAcceptRichText(rich)
        if not rich:  # pictures (U+FFFC in the text) cannot stay; the window attaches them
            self.setPlainText(self.toPlainText().replace("\ufffc", ""))

    def html(self) -> str:
        return document_html(
            self.document(), {cid: self.image_names.get(cid, "") for cid in self.images}
        )

    def used_images(self) -> list[str]:
        """Content ids of the inline images in the text, in order, each once."""
        used: dict[str, None] = {}
        block = self.document().begin()
        while block.isValid():
            it = block.begin()
            while not it.atEnd():
                fmt = it.fragment().charFormat()
                if fmt.isImageFormat():
                    name = fmt.toImageFormat().name()
                    if name.startswith("cid:") and name[4:] in self.images:
                        used.setdefault(name[4:], None)
                it += 1
            block = block.next()
        return list(used)

    def loadResource(self, kind: int, name: QUrl | str) -> Any:
        """Inline images come from ``images``; nothing is ever fetched from elsewhere."""
        url = QUrl(name)
        if url.scheme() == "cid":
            image = self.images.get(url.toString()[4:])
            if image is not None:
                return image
        return None

    def contextMenuEvent(self, event: QContextMenuEvent) -> None:
        """The usual menu, with corrections first when a misspelled word is clicked."""
        menu = self.createStandardContextMenu(event.pos())
        self.add_spelling_actions(menu, self.cursorForPosition(event.pos()))
        menu.exec(event.globalPos())
        menu.deleteLater()

    def add_spelling_actions(self, menu: Any, at: QTextCursor) -> list[QAction]:
        speller = self.speller
        cursor = QTextCursor(at)
        cursor.select(QTextCursor.SelectionType.WordUnderCursor)
        word = cursor.selectedText()
        if speller is None or not word or not speller.is_misspelled(word):
            return []
        first = menu.actions()[0] if menu.actions() else None
        added: list[QAction] = []
        for suggestion in speller.suggestions(word):
            act = QAction(suggestion, menu)
            act.triggered.connect(lambda _c=False, s=suggestion: cursor.insertText(s))
            added.append(act)
        if not added:
            none = QAction(self.tr("(no suggestions)"), menu)
            none.setEnabled(False)
            added.append(none)
        learn = QAction(self.tr("Add “{0}” to the dictionary").format(word), menu)
        learn.triggered.connect(lambda: speller.learn(word))
        added.append(learn)
        for act in added:
            menu.insertAction(first, act)
        if first is not None:
            menu.insertSeparator(first)
        return added

    def canInsertFromMimeData(self, source: QMimeData) -> bool:
        return (
            source.hasText()
            or source.hasHtml()
            or source.hasUrls()
            or (self._rich and source.hasImage())
        )

    def insertFromMimeData(self, source: QMimeData) -> None:
        files = [u.toLocalFile() for u in source.urls() if u.isLocalFile()]
        if files:
            self.filesPasted.emit(files)
            return
        if self._rich and source.hasImage():
            image = source.imageData()
            if isinstance(image, QImage) and not image.isNull():
                self.imagePasted.emit(image)
                return
        cursor = self.textCursor()
        if self._rich and source.hasHtml():
            cursor.insertHtml(clean_html(source.html()))
        elif source.hasText():
            cursor.insertText(source.text())
        self.ensureCursorVisible()
