"""The main window with its real threads: outbox service + sender against real servers."""

from __future__ import annotations

import gc
import sys
import time
from pathlib import Path

import pytest
from PySide6.QtCore import QElapsedTimer, QTimer

from mailgui.core.accounts import Account, AccountStore
from mailgui.core.addresses import Mailbox
from mailgui.core.message import Draft, build
from mailgui.core.outbox import Outbox
from mailgui.ui.app import tune_interpreter
from mailgui.ui.context import AppContext
from mailgui.ui.main_window import MainWindow, render_details


def add_account(ctx: AppContext, port: int, **extra: object) -> None:
    AccountStore(ctx.profile.accounts_file).save(
        Account("work", "me@example.org", host="127.0.0.1", port=port, security="none",
                timeout=3.0, **extra)  # type: ignore[arg-type]
    )  # fmt: skip


def queue(ctx: AppContext, n: int = 1, *, subject: str = "Hello") -> list[int]:
    """Queue as another process would: through its own outbox connection."""
    with Outbox(ctx.profile.outbox_file) as box:
        return [
            box.add(
                "work",
                build(Draft(sender=Mailbox("", "me@example.org"),
                            to=[Mailbox("", "bob@example.org")],
                            subject=f"{subject} {i}", text="body\n")),
            )
            for i in range(n)
        ]  # fmt: skip


def states(window: MainWindow) -> dict[int, str]:
    model = window.model
    return {i: model.row_for(i).state for i in model.ids()}  # type: ignore[union-attr]


@pytest.fixture
def window(qtbot, ctx: AppContext):
    windows: list[MainWindow] = []

    def make() -> MainWindow:
        w = MainWindow(ctx, watch_network=False)
        qtbot.addWidget(w)
        windows.append(w)
        return w

    yield make
    for w in windows:
        assert w.shutdown()


def test_cli_queued_message_is_sent_and_the_row_follows(qtbot, ctx, smtp_server, window) -> None:
    server = smtp_server("none")
    add_account(ctx, server.port)
    w = window()
    (msg_id,) = queue(ctx)
    qtbot.waitUntil(lambda: states(w).get(msg_id) == "sent", timeout=10_000)
    assert server.wait_for(1)[0].rcpt_tos == ["bob@example.org"]
    w.tabs.setCurrentIndex(3)  # Sent
    assert w.proxy.rowCount() == 1
    w.tabs.setCurrentIndex(0)  # Outbox
    assert w.proxy.rowCount() == 0


def test_offline_then_back_online(qtbot, ctx, smtp_server, window) -> None:
    server = smtp_server("none")
    add_account(ctx, server.port)
    w = window()
    w.sender.set_online(False)
    assert "Offline" in w.lbl_online.text()
    ids = queue(ctx, 3)
    qtbot.waitUntil(lambda: len(states(w)) == 3, timeout=5000)
    qtbot.wait(2500)  # longer than the sender's poll: offline, it must not send
    assert set(states(w).values()) == {"queued"} and server.messages == []
    with qtbot.waitSignal(w.sender.flushFinished, timeout=10_000):
        w.sender.set_online(True)
    qtbot.waitUntil(lambda: set(states(w).values()) == {"sent"}, timeout=10_000)
    assert len(server.wait_for(3)) == 3 and sorted(states(w)) == sorted(ids)


def test_server_down_then_back(qtbot, ctx, smtp_server, closed_port, window) -> None:
    add_account(ctx, closed_port)
    w = window()
    (msg_id,) = queue(ctx)
    qtbot.waitUntil(lambda: states(w).get(msg_id) == "deferred", timeout=10_000)
    row = w.model.row_for(msg_id)
    assert row is not None and "refused the connection" in (row.last_error or "")
    w.tabs.setCurrentIndex(0)
    assert w.proxy.rowCount() == 1  # deferred messages are in the Outbox view
    server = smtp_server("none")
    add_account(ctx, server.port)  # the server is back (here: at another port)
    w.send_now()
    qtbot.waitUntil(lambda: states(w).get(msg_id) == "sent", timeout=10_000)
    server.wait_for(1)


def test_details_show_history_errors_and_headers(qtbot, ctx, closed_port, window) -> None:
    add_account(ctx, closed_port)
    w = window()
    (msg_id,) = queue(ctx, subject="<b>not bold</b>")
    qtbot.waitUntil(lambda: states(w).get(msg_id) == "deferred", timeout=10_000)
    with qtbot.waitSignal(w.outbox.details, timeout=5000) as blocker:
        w.outbox.load_details(msg_id)
    html = render_details(blocker.args[1])
    assert "refused the connection" in html and "Message-ID" in html
    assert "&lt;b&gt;not bold&lt;/b&gt;" in html  # server and user text is never markup


def test_quit_leaves_nothing_sending(qtbot, ctx, fake_server, window) -> None:
    fake = fake_server(hang_on=".")  # the sender is stuck waiting for the final reply
    add_account(ctx, fake.port, data_timeout=30.0)
    w = window()
    queue(ctx, 2)
    qtbot.waitUntil(lambda: len(fake.messages) >= 1, timeout=10_000)
    started = time.monotonic()
    assert w.shutdown()  # cuts the hanging connection instead of waiting 30 s
    assert time.monotonic() - started < 8
    with Outbox(ctx.profile.outbox_file) as box:
        assert {m.state for m in box.list_messages()} <= {"queued", "deferred"}


def test_event_loop_never_stalls_while_300_messages_go_out(qtbot, ctx, smtp_server, window) -> None:
    server = smtp_server("none")
    add_account(ctx, server.port)
    w = window()
    w.sender.set_online(False)  # hold them until the measurement runs
    w.show()
    qtbot.waitExposed(w)
    queue(ctx, 300)
    qtbot.waitUntil(lambda: len(states(w)) == 300, timeout=20_000)
    interval = sys.getswitchinterval()
    tune_interpreter()  # as app.run() does after start-up
    gaps: list[int] = []
    clock = QElapsedTimer()
    tick = QTimer()
    tick.setInterval(5)
    tick.timeout.connect(lambda: gaps.append(clock.restart()))
    try:
        clock.start()
        tick.start()
        started = time.monotonic()
        w.sender.set_online(True)
        qtbot.waitUntil(lambda: set(states(w).values()) == {"sent"}, timeout=60_000)
        took = time.monotonic() - started
        tick.stop()
    finally:
        gc.unfreeze()
        sys.setswitchinterval(interval)
    assert len(server.wait_for(300, timeout=10)) == 300
    worst = max(gaps)
    print(f"300 messages sent in {took:.2f} s; longest GUI gap {worst} ms over {len(gaps)} ticks")
    assert worst < 50


def test_empty_state_explains_what_to_do(qtbot, ctx, window, tmp_path: Path) -> None:
    w = window()
    assert "No account yet" in w.empty.text()
