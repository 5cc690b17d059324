"""One-line messages inside the compose window (never a pop-up), and its colours."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSizePolicy,
    QToolButton,
    QWidget,
)

__all__ = ["ERROR_COLOR", "WARNING_COLOR", "Bar", "wrapping_policy"]

ERROR_COLOR = "#c62828"
WARNING_COLOR = "#9a5b00"  # dark amber: readable on light backgrounds, not an error
# Light tints that read on light and dark palettes alike.
_BAR_STYLES = {
    "info": "background: rgba(25, 118, 210, 0.12); border: 1px solid rgba(25, 118, 210, 0.45);",
    "warning": "background: rgba(245, 166, 35, 0.18); border: 1px solid rgba(245, 166, 35, 0.7);",
    "error": f"background: rgba(198, 40, 40, 0.10); border: 1px solid {ERROR_COLOR};",
}


def wrapping_policy() -> QSizePolicy:
    """Wide, and as tall as the wrapped text needs: the height-for-width flag that
    ``QLabel.setWordWrap`` set is lost with a new policy, and without it a layout gives
    a long text one line's height and cuts the rest off."""
    policy = QSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
    policy.setHeightForWidth(True)
    return policy


class Bar(QFrame):
    """A one-line inline message with optional buttons; ``kind`` is "info", "warning"
    or "error". Subclasses add their own widgets to ``_layout``."""

    def __init__(self, kind: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("bar")
        self.setStyleSheet(f"QFrame#bar {{ {_BAR_STYLES[kind]} border-radius: 4px; }}")
        self.label = QLabel(self)
        self.label.setWordWrap(True)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.label.setSizePolicy(wrapping_policy())
        self._layout = QHBoxLayout(self)
        self._layout.setContentsMargins(8, 4, 4, 4)
        self._layout.addWidget(self.label, 1)
        self.hide()

    def add_button(self, text: str) -> QPushButton:
        button = QPushButton(text, self)
        button.setAutoDefault(True)  # Return on the focused button presses it
        self._layout.addWidget(button)
        return button

    def add_close_button(self, tooltip: str) -> QToolButton:
        button = QToolButton(self)
        button.setText("✕")
        button.setAutoRaise(True)
        button.setToolTip(tooltip)
        button.clicked.connect(self.hide)
        self._layout.addWidget(button)
        return button

    def show_text(self, text: str) -> None:
        self.label.setText(text)
        self.show()
