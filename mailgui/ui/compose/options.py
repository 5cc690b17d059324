"""Priority, read receipt and spell check: rarely changed, so in a menu, shown when set."""

from __future__ import annotations

from PySide6.QtCore import Signal, Slot
from PySide6.QtGui import QAction, QActionGroup
from PySide6.QtWidgets import QMenu, QToolButton, QWidget

from mailgui.ui.spelling import available

__all__ = ["OptionsButton"]


class OptionsButton(QToolButton):
    """The "Options" menu button; its text says what is set, so nobody sends
    "High priority" unknowingly.

    Signals:
        changed(): the priority or the read receipt changed.
    """

    changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        menu = QMenu(self)
        menu.setToolTipsVisible(True)
        group = QActionGroup(self)
        self.priority_actions: dict[str, QAction] = {}
        for key, text in (
            ("high", self.tr("High priority")),
            ("normal", self.tr("Normal priority")),
            ("low", self.tr("Low priority")),
        ):
            act = menu.addAction(text)
            act.setCheckable(True)
            act.setChecked(key == "normal")
            group.addAction(act)
            act.toggled.connect(self._update_text)
            self.priority_actions[key] = act
        menu.addSeparator()
        self.receipt_action = menu.addAction(self.tr("Request a read receipt"))
        self.receipt_action.setCheckable(True)
        self.receipt_action.setToolTip(
            self.tr("Ask the recipient's mail program to confirm it was read (they may decline).")
        )
        self.receipt_action.toggled.connect(self._update_text)
        menu.addSeparator()
        # The window connects it to its spell checker, when there is one.
        self.spelling_action = menu.addAction(self.tr("Check spelling"))
        self.spelling_action.setCheckable(True)
        self.spelling_action.setChecked(available())
        self.spelling_action.setEnabled(available())
        if not available():
            self.spelling_action.setToolTip(self.tr("Install pyspellchecker for spell check."))
        self.setText(self.tr("Options"))
        self.setMenu(menu)
        self.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.setMinimumHeight(30)

    @property
    def priority(self) -> str:
        return next(k for k, a in self.priority_actions.items() if a.isChecked())

    @property
    def read_receipt(self) -> bool:
        return self.receipt_action.isChecked()

    def set_options(self, priority: str, read_receipt: bool) -> None:
        self.priority_actions.get(priority, self.priority_actions["normal"]).setChecked(True)
        self.receipt_action.setChecked(read_receipt)

    @Slot()
    def _update_text(self) -> None:
        shown = []
        if self.priority != "normal":
            shown.append(self.priority_actions[self.priority].text())
        if self.receipt_action.isChecked():
            shown.append(self.tr("Read receipt"))
        self.setText(
            self.tr("Options: {0}").format(", ".join(shown)) if shown else self.tr("Options")
        )
        self.changed.emit()
