"""At the app's start the sender thread waits for the window's first paint."""

from __future__ import annotations

import json
import subprocess
import sys

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
    assert w.shutdown()
    qtbot.wait(FirstPaint.FALLBACK_MS + 200)  # past the fallback for a window never painted
    assert not w.mail_sender.is_running()


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

main_window.MainWindow.show = watched_show
main_window.MainWindow.build = watched_build
code = main([])
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
    database and the single-instance listener come after it, and do come."""
    r = _start(profile)
    assert r.returncode == 0, r.stderr
    seen = json.loads(r.stdout.strip().splitlines()[-1])
    assert seen == {"loaded before the first paint": [], "built": True}


def test_a_build_that_fails_ends_the_start_with_its_one_sentence(profile) -> None:
    r = _start(profile, fail=True)
    assert r.returncode == ConfigError.exit_code, r.stderr
    assert "The window could not be built (test)." in r.stderr
    assert "Traceback" not in r.stderr
