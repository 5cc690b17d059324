"""Small pieces the accounts dialog is made of: its colours, labels that never read
server text as HTML, and line edits checked as they are typed."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QFontMetrics
from PySide6.QtWidgets import QFormLayout, QLabel, QLineEdit, QPlainTextEdit, QSizePolicy

__all__ = [
    "AMBER",
    "GREEN",
    "GREY",
    "RED",
    "CheckedLine",
    "plain_label",
    "signature_edit",
    "styled",
    "tidy_signature",
]

# Colours that read on light and dark backgrounds alike.
GREEN = "#2e7d32"
RED = "#c62828"
AMBER = "#a15c00"
GREY = "#757575"


def styled(label: QLabel, colour: str, *, bold: bool = False) -> QLabel:
    weight = "font-weight: 600;" if bold else ""
    label.setStyleSheet(f"color: {colour}; {weight}")
    return label


def heading(text: str) -> QLabel:
    """A section's title in a form or on a tab."""
    label = QLabel(text)
    label.setStyleSheet("font-weight: 600; margin-top: 6px;")
    return label


def form_layout(
    vertical: Qt.AlignmentFlag = Qt.AlignmentFlag.AlignVCenter,
) -> QFormLayout:
    """A form whose fields take the width, its labels right-aligned (``vertical``: to
    the field's middle, or AlignTop beside tall fields)."""
    form = QFormLayout()
    form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.ExpandingFieldsGrow)
    form.setLabelAlignment(Qt.AlignmentFlag.AlignRight | vertical)
    return form


def plain_label(text: str = "") -> QLabel:
    """A word-wrapped label that never interprets its text as HTML (server text!)."""
    label = QLabel(text)
    label.setTextFormat(Qt.TextFormat.PlainText)
    label.setWordWrap(True)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    return label


class CheckedLine:
    """A line edit checked as it is typed: a short pause in typing (or leaving the field)
    checks it, the reason shows under it in red, and fixing it clears that at once."""

    PAUSE_MS = 700

    def __init__(self, edit: QLineEdit, check: Callable[[str], str]) -> None:
        self.edit = edit
        self.check = check
        self.error = styled(plain_label(), RED)
        self.error.hide()
        # A floor for the width: QFormLayout would otherwise wrap it very narrowly.
        self.error.setMinimumWidth(300)
        self.error.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        self.error_text = ""
        self._timer = QTimer(edit)
        self._timer.setSingleShot(True)
        self._timer.setInterval(self.PAUSE_MS)
        self._timer.timeout.connect(self.validate)
        edit.textEdited.connect(self._edited)
        edit.editingFinished.connect(self.validate)

    def _edited(self, _text: str) -> None:
        if self.error_text:
            self.validate()  # fixing it clears the error at once
        else:
            self._timer.start()

    def validate(self) -> bool:
        self._timer.stop()
        self.show_error(self.check(self.edit.text()))
        return not self.error_text

    def show_error(self, text: str) -> None:
        self.error_text = text
        self.error.setText(text)
        self.error.setVisible(bool(text))
        self.edit.setStyleSheet(
            f"QLineEdit {{ border: 1px solid {RED}; border-radius: 3px; padding: 2px; }}"
            if text
            else ""
        )
        self.edit.setToolTip(text)


def signature_edit(placeholder: str) -> QPlainTextEdit:
    edit = QPlainTextEdit()
    edit.setTabChangesFocus(True)  # Tab walks the form; Enter makes a new line
    edit.setPlaceholderText(placeholder)
    lines = QFontMetrics(edit.font()).lineSpacing()
    edit.setFixedHeight(lines * 4 + 14)
    return edit


def tidy_signature(text: str) -> str:
    """Trailing spaces and blank lines go; compose adds the "-- " line itself."""
    lines = [line.rstrip() for line in text.replace("\r\n", "\n").split("\n")]
    return "\n".join(lines).strip("\n")
