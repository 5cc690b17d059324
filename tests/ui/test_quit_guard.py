"""Quitting while mail waits: the question, the last sends, and the background sender
(issue 17). The real dialog is driven: it opens window-modal and a test clicks it."""
# pytest-qt's QtBot methods are not annotated:
# mypy: disable-error-code="no-untyped-call"

from __future__ import annotations

import os
import signal
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from pytestqt.qtbot import QtBot
from test_undo_send import open_compose, setup_profile, write

from mailgui.core.addresses import Mailbox
from mailgui.core.message import Draft, build
from mailgui.core.outbox import Outbox
from mailgui.core.paths import Profile
from mailgui.core.sender_lock import SenderLock
from mailgui.ui import quit_guard
from mailgui.ui.context import AppContext
from mailgui.ui.main_window import MainWindow
from mailgui.ui.quit_guard import QuitQuestion, agent_env, start_agent


class Quits:
    """Stands in for QApplication.quit: counts the calls."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self) -> None:
        self.count += 1


@pytest.fixture
def quitting(
    qtbot: QtBot, window: Callable[[], MainWindow]
) -> Callable[[], tuple[MainWindow, Quits]]:
    def make() -> tuple[MainWindow, Quits]:
        w = window()
        quits = Quits()
        w.app_quit = quits
        w.show()
        return w, quits

    return make


@pytest.fixture
def agents() -> Iterator[list[int]]:
    """Pids of agents a test started; stopped (SIGTERM, then waited for) after it."""
    pids: list[int] = []
    yield pids
    for pid in pids:
        try:
            os.kill(pid, signal.SIGTERM)
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                done, _status = os.waitpid(pid, os.WNOHANG)
                if done:
                    break
                time.sleep(0.05)
        except (ProcessLookupError, ChildProcessError):
            pass


def add(ctx: AppContext, subject: str, *, send_at: float | None = None) -> int:
    me = Mailbox("Mia", "me@example.org")
    draft = Draft(sender=me, to=[Mailbox("", "bob@example.org")], subject=subject, text="Hi\n")
    with Outbox(ctx.profile.outbox_file) as box:
        return box.add("work", build(draft), send_at=send_at)


def answer(qtbot: QtBot, w: MainWindow, which: str) -> QuitQuestion:
    """Wait for the question and click ``which``: background, quit or cancel."""
    qtbot.waitUntil(lambda: w.quit_box is not None and w.quit_box.isVisible(), timeout=5000)
    box = w.quit_box
    assert box is not None
    button = {
        "background": box.background_button,
        "quit": box.quit_button,
        "cancel": box.cancel_button,
    }[which]
    assert button is not None
    button.click()
    return box


def states(ctx: AppContext) -> dict[int, str]:
    with Outbox(ctx.profile.outbox_file) as box:
        return {r.id: r.state for r in box.list_messages()}


def test_nothing_waiting_quits_at_once(qtbot: QtBot, quitting: Any) -> None:
    w, quits = quitting()
    qtbot.waitUntil(lambda: w.lbl_count.text() != "", timeout=5000)
    w.act_quit.trigger()
    assert quits.count == 1
    assert w.quit_box is None


def test_waiting_mail_asks_and_cancel_keeps_the_window(
    qtbot: QtBot, ctx: AppContext, smtp_server: Any, quitting: Any
) -> None:
    server = smtp_server("none")
    setup_profile(ctx, server.port, undo=10)
    add(ctx, "Tomorrow", send_at=time.time() + 86400)
    add(ctx, "Next week", send_at=time.time() + 7 * 86400)
    w, quits = quitting()
    qtbot.waitUntil(lambda: w.waiting_count() == 2, timeout=5000)
    w.act_quit.trigger()
    qtbot.waitUntil(lambda: w.quit_box is not None and w.quit_box.isVisible(), timeout=5000)
    box = w.quit_box
    assert box is not None
    assert box.text() == "2 messages are still waiting. Keep sending them in the background?"
    assert [b.text() for b in box.buttons()] == sorted(
        ["Send in background", "Quit anyway", "Cancel"],
        key=[b.text() for b in box.buttons()].index,
    )
    assert box.defaultButton() is box.background_button
    assert box.grab().save("/tmp/quit_question.png")
    w.act_quit.trigger()  # a second Ctrl+Q does not stack a second question
    assert w.quit_box is box
    answer(qtbot, w, "cancel")
    qtbot.waitUntil(lambda: w.quit_box is None, timeout=3000)
    assert quits.count == 0
    assert w.isVisible()


def test_quit_anyway_leaves_the_mail_for_the_next_start(
    qtbot: QtBot, ctx: AppContext, smtp_server: Any, quitting: Any
) -> None:
    server = smtp_server("none")
    setup_profile(ctx, server.port, undo=10)
    msg_id = add(ctx, "Tomorrow", send_at=time.time() + 86400)
    w, quits = quitting()
    qtbot.waitUntil(lambda: w.waiting_count() == 1, timeout=5000)
    w.request_quit()
    answer(qtbot, w, "quit")
    qtbot.waitUntil(lambda: quits.count == 1, timeout=5000)
    assert states(ctx) == {msg_id: "scheduled"}
    assert server.messages == []


def test_a_message_in_its_undo_delay_is_sent_before_quitting(
    qtbot: QtBot, ctx: AppContext, smtp_server: Any, quitting: Any
) -> None:
    server = smtp_server("none")
    setup_profile(ctx, server.port, undo=60)
    w, quits = quitting()
    compose = open_compose(qtbot, w)
    write(compose)
    with qtbot.waitSignal(compose.sent, timeout=5000):
        assert compose.send()
    qtbot.waitUntil(lambda: w.waiting_count() == 1, timeout=5000)
    w.request_quit()  # only that one waits: nothing to ask, Send was pressed
    assert w.quit_box is None
    qtbot.waitUntil(lambda: quits.count == 1, timeout=15_000)
    assert len(server.messages) == 1
    assert set(states(ctx).values()) == {"sent"}


def test_send_in_background_starts_the_agent_which_sends(
    qtbot: QtBot,
    ctx: AppContext,
    smtp_server: Any,
    quitting: Any,
    agents: list[int],
) -> None:
    server = smtp_server("none")
    setup_profile(ctx, server.port, undo=60)
    add(ctx, "In a moment", send_at=time.time() + 2)
    w, quits = quitting()
    compose = open_compose(qtbot, w)
    write(compose)
    with qtbot.waitSignal(compose.sent, timeout=5000):
        assert compose.send()
    qtbot.waitUntil(lambda: w.waiting_count() == 2, timeout=5000)
    w.request_quit()
    box = answer(qtbot, w, "background")
    assert "Either way, what you just sent (1 message) goes out now" in box.informativeText()
    qtbot.waitUntil(lambda: quits.count == 1, timeout=15_000)
    started = w.agent_start
    if started is not None and started.pid:
        agents.append(started.pid)  # stopped after the test, whatever it asserts
    assert started is not None and started.started, started
    # The window is gone; the agent (another process) sends both.
    deadline = time.monotonic() + 30
    while len(server.messages) < 2 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert len(server.messages) == 2
    assert set(states(ctx).values()) == {"sent"}


def test_an_agent_already_sending_is_not_started_again(
    qtbot: QtBot, ctx: AppContext, smtp_server: Any, quitting: Any, monkeypatch: Any
) -> None:
    server = smtp_server("none")
    setup_profile(ctx, server.port, undo=10)
    add(ctx, "Tomorrow", send_at=time.time() + 86400)
    lock = SenderLock.for_profile(ctx.profile)  # as a running `mailgui agent` holds it
    assert lock.acquire()
    try:
        started: list[object] = []
        monkeypatch.setattr(quit_guard.subprocess, "Popen", lambda *a, **k: started.append(a))
        # Directly: the probe sees the lock held by another and starts nothing.
        assert start_agent(ctx.profile).reason == "running"
        # The window: its sender sees the agent; quitting needs no question.
        w, quits = quitting()
        qtbot.waitUntil(lambda: "Another mailgui" in w.lbl_activity.text(), timeout=10_000)
        w.request_quit()
        assert w.quit_box is None
        qtbot.waitUntil(lambda: quits.count == 1, timeout=5000)
        assert started == []
    finally:
        lock.release()


def test_preferences_can_skip_the_question(
    qtbot: QtBot, ctx: AppContext, smtp_server: Any, quitting: Any
) -> None:
    from mailgui.ui import preferences

    server = smtp_server("none")
    setup_profile(ctx, server.port, undo=10)
    preferences.save(ctx, preferences.Preferences(on_quit="quit"))
    add(ctx, "Tomorrow", send_at=time.time() + 86400)
    w, quits = quitting()
    qtbot.waitUntil(lambda: w.waiting_count() == 1, timeout=5000)
    w.request_quit()
    assert w.quit_box is None
    assert quits.count == 1


def test_the_systemd_hint_names_the_unit_only_where_it_applies(
    qtbot: QtBot, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(quit_guard, "has_systemd_user", lambda: False)
    assert quit_guard.unit_hint() is None
    monkeypatch.setattr(quit_guard, "has_systemd_user", lambda: True)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setattr(quit_guard, "_user_unit_dirs", lambda: [tmp_path / "config"])
    hint = quit_guard.unit_hint()  # the checkout's packaging/mailgui-agent.service
    assert hint is not None
    assert "packaging/mailgui-agent.service" in hint
    assert hint.endswith("systemctl --user enable --now mailgui-agent.service")
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "mailgui-agent.service").write_text("[Unit]\n")
    assert quit_guard.unit_hint() == "systemctl --user enable --now mailgui-agent.service"
    monkeypatch.setattr(quit_guard, "_SOURCE_UNIT", tmp_path / "none.service")
    monkeypatch.setattr(quit_guard, "_user_unit_dirs", lambda: [])
    assert quit_guard.unit_hint() is None  # no unit file anywhere: not mentioned

    from PySide6.QtWidgets import QWidget

    parent = QWidget()
    qtbot.addWidget(parent)
    box = QuitQuestion(parent, 1, hint="systemctl --user enable --now mailgui-agent.service")
    assert box.text() == "1 message is still waiting. Keep sending them in the background?"
    assert "systemctl --user enable --now" in box.detailedText()
    plain = QuitQuestion(parent, 3, background=False, demo=True)
    assert plain.background_button is None and plain.detailedText() == ""
    assert "demo server stops" in plain.informativeText()


def test_the_agent_opens_the_same_profile(tmp_path: Path) -> None:
    rooted = Profile(tmp_path / "config", tmp_path / "data", tmp_path / "state")
    env = agent_env(rooted, {"PATH": "/bin"})
    assert env is not None and env["MAILGUI_HOME"] == str(tmp_path)
    assert Profile.from_env(env) == rooted
    odd = Profile(tmp_path / "a", tmp_path / "b", tmp_path / "c")
    assert agent_env(odd, {"MAILGUI_HOME": str(tmp_path)}) is None
    assert quit_guard.agent_command()[:3] == [sys.executable, "-m", "mailgui"]
