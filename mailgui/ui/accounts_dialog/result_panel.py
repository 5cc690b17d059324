"""The panel that shows a connection test (or a failed search for settings): a tick
or a cross, a headline, what was learnt, the error; greyed once the settings change."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from mailgui.ui.accounts_dialog.widgets import AMBER, GREEN, GREY, RED, plain_label, styled

__all__ = ["ResultPanel"]


class ResultPanel(QFrame):
    """Shows a connection test: a tick or a cross, a headline, what was learnt, the error."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("resultPanel")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(10, 8, 10, 8)
        self.icon = QLabel()
        self.icon.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignHCenter)
        font = self.icon.font()
        font.setPointSizeF(font.pointSizeF() * 1.6)
        font.setBold(True)
        self.icon.setFont(font)
        self.icon.setMinimumWidth(24)
        layout.addWidget(self.icon)
        text = QVBoxLayout()
        text.setSpacing(3)
        self.headline = plain_label()
        self.details = plain_label()
        self.error = plain_label()
        for label in (self.headline, self.details, self.error):
            text.addWidget(label)
        layout.addLayout(text, 1)
        self._stale_headline = ""
        self.hide()

    def _tint(self, colour: str) -> None:
        self.setStyleSheet(
            f"#resultPanel {{ border: 1px solid {colour}; border-left: 4px solid {colour};"
            " border-radius: 3px; }"
        )

    def mark_stale(self) -> None:
        """The settings changed after the test: keep the advice, but say it may be old."""
        if self.isHidden() or self.icon.text() == "…":
            return
        self.headline.setText(self._stale_headline)
        grey = GREY
        styled(self.icon, grey)
        styled(self.headline, grey, bold=True)
        self._tint(grey)

    def show_busy(self, where: str) -> None:
        self.icon.setText("…")
        styled(self.icon, AMBER)
        self.headline.setText(self.tr("Testing {0}…").format(where))
        styled(self.headline, AMBER, bold=True)
        self.details.setText(
            self.tr("Connecting, checking the encryption and logging in; nothing is sent.")
        )
        self.error.hide()
        self._tint(AMBER)
        self.show()

    def show_result(self, result: dict[str, Any]) -> None:
        ok = bool(result.get("ok"))
        cancelled = bool(result.get("cancelled"))
        colour = GREEN if ok else GREY if cancelled else RED
        self.icon.setText("✔" if ok else "–" if cancelled else "✘")
        styled(self.icon, colour)
        if ok:
            headline = self.tr("The connection works.")
            self._stale_headline = self.tr("Before your last changes, the connection worked.")
        elif cancelled:
            headline = self.tr("The test was cancelled.")
            self._stale_headline = headline
        else:
            headline = self.tr("The test failed.")
            self._stale_headline = self.tr("Before your last changes, the test failed.")
        self.headline.setText(headline)
        styled(self.headline, colour, bold=True)
        lines = [str(line) for line in result.get("lines", [])]
        self.details.setText("\n".join(f"• {line}" for line in lines))
        self.details.setVisible(bool(lines))
        error = "" if cancelled else str(result.get("error") or "")
        self.error.setText(error)
        styled(self.error, RED)
        self.error.setVisible(bool(error))
        self._tint(colour)
        self.show()
