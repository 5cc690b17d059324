"""Test connection: the form's current (unsaved) values tried against the server in
the background (``ConnectionTester``); the result shows in the result panel."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QTimer, Slot
from PySide6.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QPushButton

from mailgui.core.credentials import Login
from mailgui.core.errors import MailguiError
from mailgui.ui.accounts_dialog.base import DialogBase
from mailgui.ui.error_words import error_text

__all__ = ["ConnectionTestMixin"]


class ConnectionTestMixin(DialogBase):
    """The dialog's Test connection button and its busy state."""

    def _build_test_actions(self, actions: QHBoxLayout) -> None:
        self.test_button = QPushButton(self.tr("&Test connection"))
        self.test_button.setAutoDefault(False)
        self.test_button.clicked.connect(self.test_connection)
        self.busy = QProgressBar()
        self.busy.setRange(0, 0)
        self.busy.setTextVisible(False)
        self.busy.setMaximumWidth(80)
        self.busy.setMaximumHeight(12)
        self.busy_label = QLabel(self.tr("Testing…"))
        self.cancel_test_button = QPushButton(self.tr("Cancel tes&t"))
        self.cancel_test_button.setAutoDefault(False)
        self.cancel_test_button.clicked.connect(self._tester.cancel)
        for widget in (self.busy, self.busy_label, self.cancel_test_button):
            widget.hide()
        actions.addWidget(self.test_button)
        actions.addWidget(self.busy_label)
        actions.addWidget(self.busy)
        actions.addWidget(self.cancel_test_button)

    @Slot()
    def test_connection(self) -> None:
        """Test the form's current (unsaved) values in the background."""
        self._clear_message()
        if self.is_direct():
            self._show_message(
                self.tr(
                    "A direct account has no server of its own to test; each message goes to "
                    "its recipients' servers on port 25."
                )
            )
            return
        try:
            account = self._account_from_form(for_test=True)
        except MailguiError as exc:
            self._show_message(error_text(exc), error=True)
            return
        typed = self.password_edit.text() if account.auth == "password" else ""
        lookup: Callable[[], str | Login | None] | None = None
        saved = self._current
        if account.auth == "oauth2":
            # A fresh access token, in the tester thread: a refresh (or the token
            # command) runs there. An unsaved account has no grant: it says so.
            lookup = self._login_lookup(account)
        elif not typed and saved is not None and account.username:
            lookup = self._password_lookup(saved.name)  # keyrings can block: not here
        self._set_testing(True)
        self.result_panel.show_busy(account.server)
        self._tester.start(account, typed or None, lookup)

    def _set_testing(self, running: bool) -> None:
        self.test_button.setEnabled(not running)
        for widget in (self.busy, self.busy_label, self.cancel_test_button):
            widget.setVisible(running)
        if running:
            self.cancel_test_button.setFocus()
        elif self.cancel_test_button.hasFocus() or self.focusWidget() is None:
            self.test_button.setFocus()

    @Slot(dict)
    def _test_finished(self, result: dict[str, Any]) -> None:
        self._set_testing(False)
        self.result_panel.show_result(result)
        # After the layout has made room for it, bring the whole panel into view.
        QTimer.singleShot(0, self, self._reveal_result)
        self.last_test_result = result

    @Slot()
    def _reveal_result(self) -> None:
        self._scroll.ensureWidgetVisible(self.result_panel, 0, 0)

    def is_testing(self) -> bool:
        return self._tester.is_running()
