"""Preferences, the View menu and Drafts in the main window (issue 17: findability)."""
# pytest-qt's QtBot methods are not annotated:
# mypy: disable-error-code="no-untyped-call"

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QSettings
from pytestqt.qtbot import QtBot

from mailgui.core.accounts import Account
from mailgui.ui import preferences
from mailgui.ui.context import AppContext
from mailgui.ui.main_window import MainWindow
from mailgui.ui.preferences import Preferences, PreferencesDialog
from mailgui.ui.undo_send import undo_seconds


def menu_texts(w: MainWindow, title: str) -> list[str]:
    for action in w.menuBar().actions():
        if action.text() == title:
            menu = action.menu()
            assert menu is not None
            return [a.text() for a in menu.actions() if not a.isSeparator()]
    raise AssertionError(f"no menu {title}")


def test_defaults_and_nonsense_read_as_defaults(ctx: AppContext) -> None:
    assert preferences.load(ctx) == Preferences()
    ini = QSettings(str(ctx.profile.config_dir / "mailgui.ini"), QSettings.Format.IniFormat)
    ini.setValue("quit/when_mail_waits", "explode")
    ini.setValue("notifications/enabled", "no")
    ini.sync()
    assert preferences.load(ctx) == Preferences(notifications=False)


def test_the_dialog_saves_where_the_app_reads(qtbot: QtBot, ctx: AppContext) -> None:
    ctx.accounts.save(Account("home", "me@home.example", host="smtp.home.example"))
    ctx.accounts.save(Account("work", "me@work.example", host="smtp.work.example"))
    dialog = PreferencesDialog(ctx, preferences.load(ctx))
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitUntil(lambda: dialog.account_combo.count() == 2, timeout=5000)
    assert dialog.account_combo.currentData() == "home"
    assert dialog.undo_spin.value() == 10
    assert dialog.grab().save("/tmp/preferences.png")

    dialog.undo_spin.setValue(25)
    dialog.notify_check.setChecked(False)
    dialog.quit_combo.setCurrentIndex(dialog.quit_combo.findData("background"))
    dialog.account_combo.setCurrentIndex(dialog.account_combo.findData("work"))
    with qtbot.waitSignal(dialog.saved, timeout=5000) as saved:
        dialog.buttons.button(dialog.buttons.StandardButton.Ok).click()
    assert saved.args[0] == Preferences(25, False, "background", "work")
    assert undo_seconds(ctx) == 25  # what the compose window reads
    assert preferences.load(ctx) == Preferences(25, False, "background")
    assert ctx.accounts.default_name() == "work"

    dialog = PreferencesDialog(ctx, preferences.load(ctx))
    qtbot.addWidget(dialog)
    dialog.undo_spin.setValue(0)
    assert dialog.undo_spin.text() == "Off (send at once)"
    dialog.reject()  # Cancel writes nothing
    assert undo_seconds(ctx) == 25


def test_menus_reach_preferences_drafts_and_the_panels(
    qtbot: QtBot, ctx: AppContext, window: Callable[[], MainWindow]
) -> None:
    w = window()
    w.show()
    assert "&Preferences…" in menu_texts(w, "&File")
    assert "&Drafts" in menu_texts(w, "&File")
    assert menu_texts(w, "&View") == ["&Toolbar", "&Details pane"]

    view = {a.text(): a for a in w.view_menu.actions()}
    view["&Toolbar"].trigger()
    assert not w.toolbar.isVisible()
    view["&Details pane"].trigger()
    assert not w.details.isVisible()
    w._save()
    again = window()
    again.show()
    assert not again.toolbar.isVisible()
    assert not again.details.isVisible()
    assert not again.act_details.isChecked()

    dialog = w.show_preferences()
    assert w.show_preferences() is dialog  # one at a time
    qtbot.waitUntil(lambda: dialog.isVisible(), timeout=3000)
    with qtbot.waitSignal(dialog.saved, timeout=5000):
        dialog.notify_check.setChecked(False)
        dialog.accept()
    assert w.prefs.notifications is False
    assert w.preferences_dialog is None
