"""``mailgui mailto:...``: a prefilled compose window, in the running app if there is one."""

from __future__ import annotations

import os
import subprocess
import sys

from mailgui.core.accounts import Account, AccountStore
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
