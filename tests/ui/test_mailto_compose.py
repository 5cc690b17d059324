"""``mailgui mailto:...``: a prefilled compose window, in the running app if there is one."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from PySide6.QtCore import QEvent, QObject
from PySide6.QtWidgets import QApplication, QWidget

from mailgui.core.accounts import Account, AccountStore
from mailgui.ui.compose import ComposeWindow
from mailgui.ui.context import AppContext
from mailgui.ui.instance_server import InstanceServer
from mailgui.ui.main_window import MainWindow
from mailgui.ui.single_instance import server_name

LINK = (
    "mailto:alice@example.org,bob@example.org?cc=carol@example.org&bcc=dave@example.org"
    "&subject=Gr%C3%BC%C3%9Fe&body=Line%201%0D%0ALine%202&attach=/etc/passwd"
)


def add_account(ctx: AppContext) -> None:
    AccountStore(ctx.profile.accounts_file).save(
        Account("work", "me@example.org", host="127.0.0.1", port=2525, security="none")
    )


def test_mailto_opens_a_prefilled_compose_window(qtbot, ctx) -> None:
    add_account(ctx)
    w = MainWindow(ctx, watch_network=False)
    qtbot.addWidget(w)
    try:
        editor = w.compose_mailto(LINK)
        assert editor is not None
        qtbot.addWidget(editor)
        assert editor.to_edit.text() == "alice@example.org, bob@example.org"
        assert editor.cc_edit.text() == "carol@example.org"
        assert editor.bcc_edit.text() == "dave@example.org"
        assert editor.subject_edit.text() == "Grüße"
        assert editor.body_edit.toPlainText() == "Line 1\nLine 2"
        assert not editor._attachments, "attach= is never honoured"
        editor._done = True  # close without asking (as tests/ui/test_compose.py does)
        editor.close()
    finally:
        assert w.shutdown()


class FocusAtFirstPaint(QObject):
    """What had the focus when the window handled its first paint."""

    def __init__(self) -> None:
        super().__init__()
        self.focus: QWidget | str | None = "not painted"

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:
        kinds = (QEvent.Type.UpdateRequest, QEvent.Type.Paint)
        if event.type() in kinds and self.focus == "not painted":
            self.focus = QApplication.focusWidget() or obj.focusWidget()  # type: ignore[attr-defined]
        return False


def test_a_link_opens_with_the_cursor_in_the_body_at_the_first_paint(qtbot, ctx) -> None:
    """Issue 19: a link with an address and a subject is ready for the text at once;
    the very first paint already has the cursor in the body (no focus move after it)."""
    add_account(ctx)
    w = MainWindow(ctx, watch_network=False)
    qtbot.addWidget(w)
    seen = FocusAtFirstPaint()
    original_show = ComposeWindow.show

    def show(editor: ComposeWindow) -> None:
        editor.installEventFilter(seen)
        original_show(editor)

    try:
        ComposeWindow.show = show  # type: ignore[method-assign]
        editor = w.compose_mailto("mailto:bob@example.org?subject=x&body=y")
    finally:
        ComposeWindow.show = original_show  # type: ignore[method-assign]
    try:
        assert editor is not None
        editor._done = True  # closes without the save prompt, whatever is asserted below
        qtbot.addWidget(editor)
        qtbot.waitUntil(lambda: seen.focus != "not painted", timeout=5000)
        assert seen.focus is editor.body_edit
        assert editor.focusWidget() is editor.body_edit
        editor.close()
    finally:
        assert w.shutdown()


@pytest.mark.parametrize(
    ("link", "focused"),
    [
        ("mailto:?subject=Hello", "to_edit"),  # no recipient yet
        ("mailto:bob@example.org", "subject_edit"),  # the subject is still to write
        ("mailto:bob@example.org?subject=Hi&body=Text", "body_edit"),
    ],
)
def test_the_focus_goes_to_the_first_thing_still_to_write(qtbot, ctx, link, focused) -> None:
    add_account(ctx)
    w = MainWindow(ctx, watch_network=False)
    qtbot.addWidget(w)
    try:
        editor = w.compose_mailto(link)
        assert editor is not None
        editor._done = True  # closes without the save prompt, whatever is asserted below
        qtbot.addWidget(editor)
        assert editor.focusWidget() is getattr(editor, focused)
        editor.close()
    finally:
        assert w.shutdown()


def test_malicious_link_opens_nothing(qtbot, ctx) -> None:
    add_account(ctx)
    w = MainWindow(ctx, watch_network=False)
    qtbot.addWidget(w)
    try:
        assert w.compose_mailto("mailto:a@example.org?subject=x%0D%0ABcc:eve@evil.example") is None
        assert "line break" in w.statusBar().currentMessage()
    finally:
        assert w.shutdown()


def test_second_start_hands_the_link_to_the_running_app(qtbot, ctx, profile) -> None:
    """The real ``mailgui mailto:...`` process finds the running app and exits 0."""
    instance = InstanceServer(server_name(ctx.profile))
    assert instance.listening
    got: list[dict] = []
    instance.received.connect(got.append)
    env = dict(profile.env, QT_QPA_PLATFORM="offscreen")
    proc = subprocess.Popen(
        [sys.executable, "-m", "mailgui", LINK],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        qtbot.waitUntil(lambda: proc.poll() is not None, timeout=20_000)
    finally:
        if proc.poll() is None:
            proc.kill()
        _, err = proc.communicate()
        instance.close()
    assert proc.returncode == 0, err
    assert got == [{"mailto": LINK}]
    assert b"attach" in err  # the ignored field is mentioned


def test_bad_link_exits_65_before_any_window(profile) -> None:
    env = {k: v for k, v in profile.env.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    env.pop("QT_QPA_PLATFORM", None)
    code = (
        "import sys; from mailgui.cli import main; rc = main(sys.argv[1:]); "
        "assert 'PySide6' not in sys.modules; sys.exit(rc)"
    )
    r = subprocess.run(
        [sys.executable, "-c", code, "mailto:a@example.org?subject=x%0ABcc:e@evil.example"],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert r.returncode == 65, r.stderr
    assert r.stderr.count("\n") == 1 and "line break" in r.stderr
    assert os.environ.get("MAILGUI_HOME") is not None


_COLD = """
import json, os, sys
from PySide6.QtCore import QTimer
from mailgui.cli import main
from mailgui.ui import main_window
from mailgui.ui.compose import window as compose_window

order = []
build, show = main_window.MainWindow.build, compose_window.ComposeWindow.show

def watched_build(self):
    order.append("main window built" if not self.built else "built again")
    build(self)
    QTimer.singleShot(300, done)  # a second build would come before this

def done():  # quitting would ask what to do with the open draft
    print(json.dumps(order), flush=True)
    os._exit(0)

def watched_show(self):
    order.append("compose shown, focus in " + self.focusWidget().objectName())
    show(self)

main_window.MainWindow.build = watched_build
compose_window.ComposeWindow.show = watched_show
sys.exit(main(sys.argv[1:]))
"""


def test_a_link_with_no_app_running_opens_the_compose_window_first(profile) -> None:
    """``mailgui mailto:`` with no app running: the compose window comes before the
    rest of the main window is built (on the frame), and the build still comes."""
    r = profile.run(
        "account", "add", "work", "--email", "me@example.org", "--host", "127.0.0.1",
        "--port", "2525", "--security", "none",
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    env = dict(profile.env, QT_QPA_PLATFORM="offscreen")
    r = subprocess.run(
        [sys.executable, "-c", _COLD, "mailto:bob@example.org?subject=Hi"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert r.returncode == 0, r.stderr
    order = json.loads(r.stdout.strip().splitlines()[-1])
    assert order[0] == "compose shown, focus in body_edit"
    assert order[1:] == ["main window built"]
