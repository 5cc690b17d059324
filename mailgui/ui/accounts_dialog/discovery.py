"""Find settings: the server for the typed address, discovered in the background
(``SettingsFinder``: DNS, autoconfig, known providers), fills the form."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Slot
from PySide6.QtWidgets import QPushButton

from mailgui.ui.accounts_dialog.base import DialogBase

__all__ = ["DiscoveryMixin"]


class DiscoveryMixin(DialogBase):
    """The dialog's Find settings button, also pressed for a new account's address."""

    def _build_find_button(self) -> QPushButton:
        self.find_button = QPushButton(self.tr("&Find settings"))
        self.find_button.setAutoDefault(False)
        self.find_button.setToolTip(
            self.tr("Look up the server for the email address (DNS, autoconfig, known providers).")
        )
        self.find_button.clicked.connect(self.find_settings)
        self.email_edit.editingFinished.connect(self._email_entered)
        return self.find_button

    @Slot()
    def _email_entered(self) -> None:
        """A new account's address, with no server yet: look its settings up."""
        typed = self.email_edit.text()
        if (
            self._current is None
            and not self.is_direct()
            and not self.host_edit.text().strip()
            and "@" in typed
        ):
            self.find_settings()

    @Slot()
    def find_settings(self) -> None:
        """Discover the server for the typed address in the background."""
        address = self.email_edit.text().strip()
        if "@" not in address:
            self._show_message(self.tr("Type the email address first."), error=True)
            return
        if self._finder.is_running():
            return
        self.find_button.setEnabled(False)
        self._show_message(self.tr("Looking for the settings of {0}…").format(address))
        self._finder.start(address)

    @Slot(dict)
    def _settings_found(self, result: dict[str, Any]) -> None:
        self.find_button.setEnabled(True)
        self.last_discovery = result
        if result.get("error"):
            self._show_message(str(result["error"]), error=True)
            return
        best = result.get("suggested")
        steps = [str(step["text"]) for step in result.get("steps", [])]
        if not best:
            error = self.tr("No server was found; ask your provider for the SMTP settings.")
            self.result_panel.show_result(
                {"ok": False, "lines": steps, "error": error, "cancelled": False}
            )
            self._clear_message()
            return
        self.delivery_combo.setCurrentIndex(self.delivery_combo.findData("relay"))
        index = self.security_combo.findData(best["security"])
        if index >= 0:
            self.security_combo.setCurrentIndex(index)
        self.host_edit.setText(best["host"])
        self.port_spin.setValue(int(best["port"]))
        why_sign_in = self._propose_sign_in(str(best["host"]))  # Outlook.com, Gmail: OAuth2
        password = self.sign_in_choice() == "password"
        if password and not self.username_edit.text() and best["security"] != "none":
            self.username_edit.setText(self.email_edit.text().strip())
        note = self.tr("Filled in {0}:{1} (found by {2}).").format(
            best["host"], best["port"], best["source"]
        )
        if best.get("probed") and not best.get("probe_ok"):
            note += " " + self.tr("It could not be reached from here just now.")
        if why_sign_in:
            note += " " + why_sign_in
        incoming = self._fill_incoming(result, str(best["host"]))
        if incoming:
            note += " " + incoming
        self._show_message(note)
