"""The rich text switch and the formats it offers: bold, lists, quote, link, size."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt, Slot
from PySide6.QtGui import (
    QAction,
    QFont,
    QKeySequence,
    QTextBlockFormat,
    QTextCharFormat,
    QTextFormat,
    QTextList,
    QTextListFormat,
)
from PySide6.QtWidgets import QCheckBox, QComboBox, QInputDialog, QToolBar, QWidget

from mailgui.ui.icons import action_icon
from mailgui.ui.rich_text import BodyEdit, is_quote

__all__ = ["FONT_SIZES", "FormatBar"]

FONT_SIZES = (8, 9, 10, 11, 12, 14, 16, 18, 20, 24, 28, 36)


class FormatBar(QToolBar):
    """Formats ``body``'s text and follows its cursor (the buttons show the format there).

    ``rich_action`` switches rich text: the window connects it (switching is more than
    formats: pictures, the remembered choice); ``image_action`` likewise inserts pictures.
    """

    def __init__(self, body: BodyEdit, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.body = body
        self.setObjectName("format_bar")
        self.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonIconOnly)
        self.setContentsMargins(0, 0, 0, 0)

        self.rich_action = QAction(self.tr("Rich text"), self)
        self.rich_action.setCheckable(True)
        self.rich_action.setToolTip(
            self.tr("Rich text is sent as HTML with a plain-text copy; plain text as text only.")
        )
        self.rich_action.setShortcut(QKeySequence("Ctrl+Shift+T"))
        # A check box says "switch" better than a flat toolbar button.
        self.rich_check = QCheckBox(self.tr("Rich text"), self)
        self.rich_check.setToolTip(self.rich_action.toolTip() + " (Ctrl+Shift+T)")
        self.rich_check.setFocusPolicy(Qt.FocusPolicy.ClickFocus)
        self.rich_check.toggled.connect(self.rich_action.setChecked)
        self.rich_action.toggled.connect(self.rich_check.setChecked)
        self.addWidget(self.rich_check)
        self.addSeparator()
        self.bold_action = self._action(
            self.tr("Bold"), self.tr("Bold (Ctrl+B)"), "Ctrl+B", self._toggle_bold,
            "format-text-bold",
        )  # fmt: skip
        self.italic_action = self._action(
            self.tr("Italic"), self.tr("Italic (Ctrl+I)"), "Ctrl+I", self._toggle_italic,
            "format-text-italic",
        )  # fmt: skip
        self.underline_action = self._action(
            self.tr("Underline"), self.tr("Underline (Ctrl+U)"), "Ctrl+U",
            self._toggle_underline, "format-text-underline",
        )  # fmt: skip
        for act in (self.bold_action, self.italic_action, self.underline_action):
            act.setCheckable(True)
        self.addSeparator()
        self.bullets_action = self._action(
            self.tr("Bulleted list"), self.tr("Bulleted list"), None,
            lambda: self._toggle_list(False), "format-list-unordered",
        )  # fmt: skip
        self.numbers_action = self._action(
            self.tr("Numbered list"), self.tr("Numbered list"), None,
            lambda: self._toggle_list(True), "format-list-ordered",
        )  # fmt: skip
        self.quote_action = self._action(
            self.tr("Quote"), self.tr("Quote the paragraph"), None, self._toggle_quote,
            "format-text-blockquote",
        )  # fmt: skip
        self.link_action = self._action(
            self.tr("Link…"), self.tr("Link the selection (Ctrl+K)"), "Ctrl+K",
            self._insert_link, "insert-link",
        )  # fmt: skip
        self.image_action = self._action(
            self.tr("Image…"),
            self.tr("Insert a picture into the text (or paste or drop one)"),
            None,
            None,
            "insert-image",
        )
        for act in (self.bullets_action, self.numbers_action, self.quote_action):
            act.setCheckable(True)
        self.addSeparator()
        self.size_combo = QComboBox(self)
        self.size_combo.setToolTip(self.tr("Font size"))
        self.size_combo.setFocusPolicy(Qt.FocusPolicy.ClickFocus)
        for size in FONT_SIZES:
            self.size_combo.addItem(self.tr("{0} pt").format(size), size)
        self.size_combo.activated.connect(self._set_font_size)
        self._size_action = self.addWidget(self.size_combo)
        self._format_actions = [
            self.bold_action,
            self.italic_action,
            self.underline_action,
            self.bullets_action,
            self.numbers_action,
            self.quote_action,
            self.link_action,
            self.image_action,
        ]
        body.currentCharFormatChanged.connect(lambda _f: self.sync())
        body.cursorPositionChanged.connect(self.sync)

    def _action(
        self,
        text: str,
        tip: str,
        shortcut: str | None,
        slot: Callable[[], object] | None,
        icon: str,
    ) -> QAction:
        act = QAction(action_icon(icon), text, self)
        act.setToolTip(tip)
        if shortcut:
            act.setShortcut(QKeySequence(shortcut))
            act.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            self.body.addAction(act)  # Ctrl+B in the body, not in the address fields
        if slot is not None:
            act.triggered.connect(slot)
        self.addAction(act)
        return act

    def show_formats(self, rich: bool) -> None:
        """Offer the formats in rich text only (plain text has none)."""
        for act in self._format_actions:
            act.setEnabled(rich)
            act.setVisible(rich)
        self._size_action.setVisible(rich)
        for act in self.actions():
            if act.isSeparator():
                act.setVisible(rich)
        self.sync()

    def _merge(self, fmt: QTextCharFormat) -> None:
        self.body.mergeCurrentCharFormat(fmt)
        self.body.setFocus()

    @Slot()
    def _toggle_bold(self) -> None:
        fmt = QTextCharFormat()
        fmt.setFontWeight(
            QFont.Weight.Bold if self.bold_action.isChecked() else QFont.Weight.Normal
        )
        self._merge(fmt)

    @Slot()
    def _toggle_italic(self) -> None:
        fmt = QTextCharFormat()
        fmt.setFontItalic(self.italic_action.isChecked())
        self._merge(fmt)

    @Slot()
    def _toggle_underline(self) -> None:
        fmt = QTextCharFormat()
        fmt.setFontUnderline(self.underline_action.isChecked())
        self._merge(fmt)

    def _toggle_list(self, numbered: bool) -> None:
        cursor = self.body.textCursor()
        style = QTextListFormat.Style.ListDecimal if numbered else QTextListFormat.Style.ListDisc
        current: QTextList | None = cursor.currentList()
        if current is not None and current.format().style() == style:
            block = cursor.block()
            current.remove(block)
            block_format = block.blockFormat()
            block_format.setIndent(0)
            cursor.setBlockFormat(block_format)
        elif current is not None:
            list_format = current.format()
            list_format.setStyle(style)
            current.setFormat(list_format)
        else:
            cursor.createList(style)
        self.body.setFocus()
        self.sync()

    @Slot()
    def _toggle_quote(self) -> None:
        cursor = self.body.textCursor()
        quoted = is_quote(cursor.block())
        fmt = QTextBlockFormat()
        fmt.setProperty(QTextFormat.Property.BlockQuoteLevel, 0 if quoted else 1)
        fmt.setLeftMargin(0 if quoted else 24)
        cursor.mergeBlockFormat(fmt)
        self.body.setFocus()
        self.sync()

    @Slot()
    def _insert_link(self) -> None:
        url, ok = QInputDialog.getText(
            self.window(), self.tr("Link"), self.tr("Address (https://… or mailto:…):")
        )
        url = url.strip()
        if not ok or not url:
            return
        self.insert_link(url)

    def insert_link(self, url: str) -> None:
        """Link the selection to ``url`` (or insert ``url`` as a link)."""
        cursor = self.body.textCursor()
        fmt = QTextCharFormat()
        fmt.setAnchor(True)
        fmt.setAnchorHref(url)
        fmt.setFontUnderline(True)
        fmt.setForeground(self.window().palette().link())
        if cursor.hasSelection():
            cursor.mergeCharFormat(fmt)
        else:
            cursor.insertText(url, fmt)
            cursor.setCharFormat(QTextCharFormat())
            self.body.setCurrentCharFormat(QTextCharFormat())
        self.body.setFocus()

    @Slot(int)
    def _set_font_size(self, index: int) -> None:
        fmt = QTextCharFormat()
        fmt.setFontPointSize(float(self.size_combo.itemData(index)))
        self._merge(fmt)

    @Slot()
    def sync(self) -> None:
        """Show the format at the cursor."""
        body = self.body
        fmt = body.currentCharFormat()
        self.bold_action.setChecked(fmt.fontWeight() >= QFont.Weight.DemiBold)
        self.italic_action.setChecked(fmt.fontItalic())
        self.underline_action.setChecked(fmt.fontUnderline() and not fmt.isAnchor())
        current = body.textCursor().currentList()
        style = current.format().style() if current is not None else None
        self.bullets_action.setChecked(style == QTextListFormat.Style.ListDisc)
        self.numbers_action.setChecked(style == QTextListFormat.Style.ListDecimal)
        self.quote_action.setChecked(is_quote(body.textCursor().block()))
        size = fmt.fontPointSize() or body.document().defaultFont().pointSizeF()
        index = self.size_combo.findData(round(size))
        self.size_combo.setCurrentIndex(index)
