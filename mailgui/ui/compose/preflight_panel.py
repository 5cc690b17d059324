"""The inline pre-flight panel: what deserves a second look before sending, in one
place, each finding with its fix; "Send anyway" waives the dismissable ones.

The rules are in ``mailgui.core.preflight``; the panel words their findings."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QFont
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QPushButton,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from mailgui.core import preflight
from mailgui.core.sizes import human_size
from mailgui.ui.compose.bars import Bar, wrapping_policy

__all__ = ["Finding", "PreflightPanel"]


@dataclass
class Finding:
    """One finding as shown: its text, a fix, and whether "Send anyway" may waive it."""

    key: str  # "recipients", "subject", "attachment", "size"
    text: str
    fix_text: str
    fix: Callable[[], object]
    dismissable: bool = True


class PreflightPanel(Bar):
    """Lists findings, each with a fix button and "Ignore".

    Signals:
        sendAnyway(): waive what may be waived and send.
        keepEditing(): close the panel and go back to the message.
        dismissed(str key): "Ignore" on one finding.
    """

    sendAnyway = Signal()
    keepEditing = Signal()
    dismissed = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("warning", parent)
        self.label.setText(self.tr("Before this message goes out:"))
        font = QFont(self.label.font())
        font.setBold(True)
        self.label.setFont(font)
        self._rows = QVBoxLayout()
        self._rows.setSpacing(2)
        self._rows.setContentsMargins(0, 0, 0, 0)
        column = QVBoxLayout()
        column.setSpacing(4)
        column.setContentsMargins(0, 0, 0, 0)
        self._layout.removeWidget(self.label)
        column.addWidget(self.label)
        column.addLayout(self._rows)
        self._layout.addLayout(column, 1)
        buttons = QVBoxLayout()
        buttons.setSpacing(4)
        self.send_anyway_button = QPushButton(self.tr("Send anyway"), self)
        self.send_anyway_button.setAutoDefault(True)
        self.send_anyway_button.clicked.connect(self.sendAnyway)
        self.keep_editing_button = QPushButton(self.tr("Keep editing"), self)
        self.keep_editing_button.setAutoDefault(True)
        self.keep_editing_button.clicked.connect(self.keepEditing)
        # Keep editing first and the one Enter presses: sending past a warning is a choice.
        buttons.addWidget(self.keep_editing_button)
        buttons.addWidget(self.send_anyway_button)
        QWidget.setTabOrder(self.keep_editing_button, self.send_anyway_button)
        buttons.addStretch(1)
        self._layout.addLayout(buttons)
        self._layout.setAlignment(buttons, Qt.AlignmentFlag.AlignTop)

    def finding(self, found: preflight.Finding, fix: Callable[[], object]) -> Finding:
        """``found`` in words, with ``fix`` behind its button."""
        if found.key == "recipients":
            text = self.tr("There is no recipient: add at least one in To, Cc or Bcc.")
            fix_text = self.tr("Add recipients")
        elif found.key == "subject":
            text, fix_text = self.tr("The subject is empty."), self.tr("Add a subject")
        elif found.key == "attachment":
            text = self.tr("The message says “{0}”, but no file is attached.").format(found.word)
            fix_text = self.tr("Attach…")
        elif found.key == "size":
            text = self.tr("It is about {0} once encoded; the server takes at most {1}.").format(
                human_size(found.size), human_size(found.limit)
            )
            fix_text = self.tr("Show attachments")
        else:
            raise ValueError(f"no words for the pre-flight finding {found.key!r}")
        return Finding(found.key, text, fix_text, fix, dismissable=found.dismissable)

    def show_findings(self, findings: list[Finding], *, focus: bool) -> None:
        """List ``findings`` (none: close the panel); ``focus`` moves the keyboard to
        the first fix of a finding that cannot be waived, else to Keep editing."""
        while self._rows.count():
            item = self._rows.takeAt(0)
            widget = item.widget() if item is not None else None
            if widget is not None:
                widget.hide()
                widget.deleteLater()
        if not findings:
            self.hide()
            return
        fixes = [self._add_row(finding) for finding in findings]
        widest = max(b.sizeHint().width() for b in fixes)
        for fix in fixes:  # one column of fix buttons, whatever their words
            fix.setMinimumWidth(widest)
        blocking = any(not f.dismissable for f in findings)
        self.send_anyway_button.setEnabled(not blocking)
        self.send_anyway_button.setToolTip(
            self.tr("Fix what cannot be waived first.") if blocking else ""
        )
        self.show()
        if focus:
            if blocking:
                self.fix_button(findings[0].key).setFocus()
            else:
                self.keep_editing_button.setFocus()  # Enter goes back to the text

    def _add_row(self, finding: Finding) -> QPushButton:
        row = QWidget(self)
        row.setObjectName(f"finding_{finding.key}")
        layout = QHBoxLayout(row)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(6)
        text = QLabel("• " + finding.text, row)
        text.setWordWrap(True)
        if finding.key == "size":
            text.setToolTip(self.tr("Attachments grow by a third when encoded (base64)."))
        text.setSizePolicy(wrapping_policy())
        layout.addWidget(text, 1)
        fix = QPushButton(finding.fix_text, row)
        fix.setObjectName(f"fix_{finding.key}")
        fix.setAutoDefault(True)
        fix.clicked.connect(lambda _c=False, f=finding: self._fix(f))
        layout.addWidget(fix)
        # Says what it closes: this one finding, not the panel.
        dismiss = QToolButton(row)
        dismiss.setObjectName(f"dismiss_{finding.key}")
        dismiss.setText(self.tr("Ignore"))
        dismiss.setToolTip(self.tr("Send without fixing this one"))
        dismiss.clicked.connect(lambda _c=False, k=finding.key: self.dismissed.emit(k))
        layout.addWidget(dismiss)
        if not finding.dismissable:  # kept as room, so the fix buttons line up
            policy = dismiss.sizePolicy()
            policy.setRetainSizeWhenHidden(True)
            dismiss.setSizePolicy(policy)
            dismiss.hide()
        self._rows.addWidget(row)
        return fix

    def _fix(self, finding: Finding) -> None:
        self.hide()
        finding.fix()

    def fix_button(self, key: str) -> QPushButton:
        button = self.findChild(QPushButton, f"fix_{key}")
        assert button is not None
        return button
