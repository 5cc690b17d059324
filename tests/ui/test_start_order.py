"""At the app's start the sender thread waits for the window's first paint."""

from __future__ import annotations

import json
import subprocess
import sys

from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from mailgui.core.errors import ConfigError
from mailgui.ui.context import AppContext
from mailgui.ui.main_window import FirstPaint, MainWindow


def test_the_sender_starts_after_the_first_paint(qtbot, ctx: AppContext) -> None:
    w = MainWindow(ctx, watch_network=False, sender_after_first_paint=True)
    qtbot.addWidget(w)
    try:
        assert not w.mail_sender.is_running()  # the window has not painted yet
        w.show()
        qtbot.waitUntil(w.mail_sender.is_running, timeout=FirstPaint.FALLBACK_MS // 2)
    finally:
        assert w.shutdown()


def test_quitting_before_the_first_paint_never_starts_the_sender(qtbot, ctx: AppContext) -> None:
    w = MainWindow(ctx, watch_network=False, sender_after_first_paint=True)
    qtbot.addWidget(w)
    ran: list[bool] = []
    w.after_first_paint(lambda: ran.append(True))
    assert w.shutdown()
    qtbot.wait(2 * FirstPaint.FALLBACK_MS + 200)  # past both fallbacks (no answer, no paint)
    assert not w.mail_sender.is_running()
    assert not ran and w.tray is None and w.drafts_menu is None
    w.after_first_paint(lambda: ran.append(True))  # asked after the shutdown: never
    assert not ran


def test_what_the_first_paint_does_not_show_comes_after_it(qtbot, ctx: AppContext) -> None:
    """The app's start: the window is built whole (menus, every action with its
    shortcut, the toolbar, tabs, table, status bar) and painted with the outbox loaded;
    the Drafts submenu, the recovered-drafts notice, the tray, the network watch and the
    sender come after that paint, in that order, then what the app asked for (the
    single-instance listener)."""
    w = MainWindow(ctx, watch_network=False, sender_after_first_paint=True)
    qtbot.addWidget(w)
    order: list[str] = []
    w.outbox.countsChanged.connect(lambda _counts: order.append("counts"))
    w.after_first_paint(lambda: order.append("asked"))
    try:
        assert w.built and w.drafts_menu is None and w.recovered_drafts is None
        assert w.tray is None and w.lbl_online.text() == ""  # no guess before the watch
        shortcuts = {a.shortcut().toString() for a in w.findChildren(QAction)}
        assert {"Ctrl+N", "Ctrl+Shift+S", "Ctrl+E", "Ctrl+R", "Ctrl+Shift+R"} <= shortcuts
        w.show()
        qtbot.waitUntil(lambda: order[-1:] == ["asked"], timeout=5000)
        assert order[0] == "counts"  # after the paint that shows the outbox
        assert w.mail_sender.is_running()
        file_menu = w.menuBar().actions()[0].menu()
        assert file_menu.actions()[1].menu() is w.drafts_menu  # under "New message"
        assert w.recovered_drafts is not None and not w.recovered_drafts.isVisible()
        assert w.lbl_online.text() != ""
    finally:
        assert w.shutdown()


def test_the_file_menu_opened_early_has_its_drafts(qtbot, ctx: AppContext) -> None:
    w = MainWindow(ctx, watch_network=False, sender_after_first_paint=True, start_threads=False)
    qtbot.addWidget(w)
    try:
        file_menu = w.menuBar().actions()[0].menu()
        file_menu.aboutToShow.emit()  # as when opened before the steps ran
        assert file_menu.actions()[1].menu() is w.drafts_menu is not None
        assert [a.text() for a in w.drafts_menu.actions()] == ["No drafts"]
    finally:
        assert w.shutdown()


def test_a_window_built_later_paints_its_frame_first(qtbot, ctx: AppContext) -> None:
    """The app's start: the frame is shown and painted, the rest is built after."""
    w = MainWindow(ctx, watch_network=False, build_later=True)
    qtbot.addWidget(w)
    try:
        assert not w.built
        assert w.windowTitle() == "Opening the outbox…"  # Qt adds " — mailgui"
        assert w.centralWidget() is None  # no text: no font database before the paint
        assert not hasattr(w, "outbox") and not hasattr(w, "table")  # nothing more yet
        w.show()
        qtbot.waitExposed(w)
        w.build()
        assert w.built
        assert w.centralWidget() is w.splitter
        assert w.windowTitle() == "Outbox"
        qtbot.waitUntil(lambda: w.lbl_count.text() != "", timeout=5000)  # the outbox loaded
    finally:
        assert w.shutdown()


def test_a_request_before_the_build_waits_for_it(qtbot, ctx: AppContext) -> None:
    from tests.ui.test_mailto_compose import LINK, add_account

    add_account(ctx)
    w = MainWindow(ctx, watch_network=False, build_later=True)
    qtbot.addWidget(w)
    opened: list[object] = []
    before = set(QApplication.topLevelWidgets())
    try:
        w.handle_request({"mailto": LINK})  # a second start, before the build
        w.when_built(lambda: opened.append(w.editors))
        assert not opened
        w.build()
        assert opened
        editors = [
            x
            for x in QApplication.topLevelWidgets()
            if x not in before and type(x).__name__ == "ComposeWindow"
        ]
        assert [e.subject_edit.text() for e in editors] == ["Grüße"]
        for editor in editors:
            editor._done = True  # close without asking (as tests/ui/test_compose.py does)
            editor.close()
    finally:
        assert w.shutdown()


def test_a_window_closed_before_its_build_stops_cleanly(qtbot, ctx: AppContext) -> None:
    w = MainWindow(ctx, watch_network=False, build_later=True)
    qtbot.addWidget(w)
    ran: list[bool] = []
    w.when_built(lambda: ran.append(True))
    assert w.shutdown()  # nothing was started, nothing to save
    assert not ran
    assert not (ctx.profile.config_dir / "window.ini").exists()


_PROBE = """
import json, sys
from mailgui.cli import main
from mailgui.ui import main_window

HEAVY = ("PySide6.QtNetwork", "socket", "mailgui.core.outbox", "mailgui.ui.outbox_model",
         "mailgui.ui.sender", "mailgui.ui.drafts_view", "mailgui.core.accounts")
LATER = ("PySide6.QtNetwork", "mailgui.ui.drafts_view", "mailgui.ui.quit_guard",
         "mailgui.ui.instance_server", "mailgui.core.delivery", "mailgui.core.addresses",
         "importlib.resources")
seen = {}
show, build = main_window.MainWindow.show, main_window.MainWindow.build

def watched_show(self):
    seen["loaded before the first paint"] = [m for m in HEAVY if m in sys.modules]
    show(self)

def watched_build(self):
    if "{fail}":
        from mailgui.core.errors import ConfigError
        raise ConfigError("The window could not be built (test).")
    build(self)
    seen["built"] = self.built
    seen["loaded by the build"] = [m for m in LATER if m in sys.modules]

main_window.MainWindow.show = watched_show
main_window.MainWindow.build = watched_build
code = main([])
seen["loaded later"] = [m for m in LATER[:4] if m in sys.modules]
print(json.dumps(seen))
sys.exit(code)
"""


def _start(profile, fail: bool = False) -> subprocess.CompletedProcess[str]:
    env = dict(profile.env, QT_QPA_PLATFORM="offscreen", MAILGUI_SMOKE_QUIT_MS="1500")
    return subprocess.run(
        [sys.executable, "-c", _PROBE.replace("{fail}", "yes" if fail else "")],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_the_app_paints_before_it_loads_the_outbox_view(profile) -> None:
    """``mailgui``: the first paint needs only Qt and the frame; the outbox view, its
    database and the single-instance listener come after it, and do come. The whole
    window is built without QtNetwork, the drafts, the delivery engine or the account
    check (those come after the paint that shows the outbox)."""
    r = _start(profile)
    assert r.returncode == 0, r.stderr
    seen = json.loads(r.stdout.strip().splitlines()[-1])
    assert seen == {
        "loaded before the first paint": [],
        "built": True,
        "loaded by the build": [],
        "loaded later": list(LATER[:4]),
    }


LATER = ("PySide6.QtNetwork", "mailgui.ui.drafts_view", "mailgui.ui.quit_guard",
         "mailgui.ui.instance_server")  # fmt: skip


def test_a_build_that_fails_ends_the_start_with_its_one_sentence(profile) -> None:
    r = _start(profile, fail=True)
    assert r.returncode == ConfigError.exit_code, r.stderr
    assert "The window could not be built (test)." in r.stderr
    assert "Traceback" not in r.stderr


def test_shortcuts_work_before_the_steps_after_the_paint(qtbot, ctx: AppContext) -> None:
    """A shortcut works as soon as the whole window is there, before what comes after
    its first paint (not yet here: without the outbox thread they wait for a fallback)."""
    w = MainWindow(ctx, watch_network=False, sender_after_first_paint=True, start_threads=False)
    qtbot.addWidget(w)
    pressed: list[bool] = []
    w.act_new.triggered.connect(lambda: pressed.append(True))
    w.show_accounts = lambda *a, **k: None  # type: ignore[method-assign]  # no dialog
    try:
        w.show()
        w.activateWindow()
        qtbot.waitActive(w)
        assert w.drafts_menu is None  # the steps wait for the outbox (not started here)
        # To the window, as the platform delivers keys (so the shortcut map sees them)
        QTest.keySequence(w.windowHandle(), QKeySequence("Ctrl+N"))
        assert pressed == [True]
    finally:
        assert w.shutdown()


def test_the_steps_follow_the_paint_of_counts_that_come_late(qtbot, ctx: AppContext) -> None:
    """Counts that come after the whole window's first paint change only the status
    bar's text: the steps follow that paint, not the one-second fallback."""
    w = MainWindow(ctx, watch_network=False, sender_after_first_paint=True, start_threads=False)
    qtbot.addWidget(w)
    ran: list[bool] = []
    w.after_first_paint(lambda: ran.append(True))
    try:
        w.show()
        qtbot.waitExposed(w)
        qtbot.wait(50)  # painted whole, nothing pending
        w.outbox.countsChanged.emit({"sent": 1})  # as the outbox thread's answer arrives
        qtbot.waitUntil(lambda: bool(ran), timeout=FirstPaint.FALLBACK_MS // 2)
        assert w.lbl_count.text() == "All sent"
    finally:
        assert w.shutdown()
