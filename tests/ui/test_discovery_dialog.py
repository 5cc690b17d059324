"""The accounts dialog's "Find settings": discovery in the background fills the form."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from dns_server import DnsServer
from PySide6.QtWidgets import QMessageBox

from mailgui.ui import settings_finder
from mailgui.ui.accounts_dialog import AccountsDialog
from mailgui.ui.context import AppContext


@pytest.fixture
def dialog(
    qtbot: Any, dns_server: DnsServer, ctx: AppContext, monkeypatch: pytest.MonkeyPatch
) -> Iterator[AccountsDialog]:
    # closing a filled-in form asks whether to discard it: say yes, never block on a modal
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.StandardButton.Discard)
    dlg = AccountsDialog(ctx)
    qtbot.addWidget(dlg)
    dlg.show()
    yield dlg
    dlg._finder.cancel()
    assert settings_finder.wait_all(10_000)


def test_typed_address_fills_the_form(
    qtbot: Any, dialog: AccountsDialog, dns_server: DnsServer
) -> None:
    dns_server.add("corp.test", "MX", "1 aspmx.l.google.com.")
    dialog.add_account()
    dialog.email_edit.setText("ada@corp.test")
    with qtbot.waitSignal(dialog._finder.finished, timeout=15_000):
        dialog.email_edit.editingFinished.emit()  # as when the person leaves the field
        assert not dialog.find_button.isEnabled()  # the GUI did not wait
    assert dialog.host_edit.text() == "smtp.gmail.com"
    assert dialog.port_spin.value() == 465
    assert dialog.security_combo.currentData() == "tls"
    # Google's server: signing in with Google is proposed, and the address is the user
    assert dialog.sign_in_choice() == "google"
    assert dialog.username_edit.text() == ""
    assert "“Sign in with” is set to Google" in dialog.message.text()
    assert dialog.find_button.isEnabled()
    assert "found by mx" in dialog.message.text()
    assert dialog.last_discovery is not None
    assert dialog.last_discovery["suggested"]["source"] == "mx"


def test_nothing_found_is_explained(qtbot: Any, dialog: AccountsDialog) -> None:
    dialog.add_account()
    dialog.email_edit.setText("ada@nothing.test")
    with qtbot.waitSignal(dialog._finder.finished, timeout=15_000):
        dialog.find_button.click()
    assert dialog.host_edit.text() == ""
    assert dialog.result_panel.isVisible()
    assert "No server was found" in dialog.result_panel.error.text()
