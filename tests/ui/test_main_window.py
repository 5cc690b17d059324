"""The main window with its real threads: outbox service + sender against real servers."""

from __future__ import annotations

import contextlib
import gc
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from gui_timing import GapRecorder

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
    """Message id -> state, read cheaply: waitUntil polls this every 10 ms on the GUI
    thread, inside the stall measurement (unpacking 300 full rows took 10-17 ms)."""
    model = window.model
    return {msg_id: model.state_at(row) for row, msg_id in enumerate(model.ids())}


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
    w.mail_sender.set_online(False)
    assert "Offline" in w.lbl_online.text()
    ids = queue(ctx, 3)
    qtbot.waitUntil(lambda: len(states(w)) == 3, timeout=5000)
    qtbot.wait(2500)  # longer than the sender's poll: offline, it must not send
    assert set(states(w).values()) == {"queued"} and server.messages == []
    with qtbot.waitSignal(w.mail_sender.flushFinished, timeout=10_000):
        w.mail_sender.set_online(True)
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


@contextlib.contextmanager
def server_in_own_process() -> Iterator[tuple[int, Callable[[], int]]]:
    """``smtp_servers.serve_in_process``: (its port, a function that asks how many it
    accepted)."""
    script = Path(__file__).parents[1] / "smtp_servers.py"
    with subprocess.Popen(
        [sys.executable, str(script)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    ) as proc:
        assert proc.stdin and proc.stdout
        stdin, stdout = proc.stdin, proc.stdout

        def accepted() -> int:
            stdin.write("count\n")
            stdin.flush()
            return int(stdout.readline())

        try:
            yield int(stdout.readline()), accepted
        finally:
            stdin.close()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()


@pytest.mark.timing
def test_event_loop_never_stalls_while_300_messages_go_out(qtbot, ctx, window) -> None:
    # The server runs in its own process: on a thread of this one, its Python work and
    # garbage-collector passes would hold the interpreter lock the GUI thread waits for.
    with server_in_own_process() as (port, accepted):
        stall = _flush_300_and_measure(qtbot, ctx, window, port)
        assert accepted() == 300
    assert stall < 50


def _flush_300_and_measure(qtbot, ctx, window, port: int) -> float:
    add_account(ctx, port)
    w = window()
    w.mail_sender.set_online(False)  # hold them until the measurement runs
    w.show()
    qtbot.waitExposed(w)
    queue(ctx, 300)
    qtbot.waitUntil(lambda: len(states(w)) == 300, timeout=20_000)
    interval = sys.getswitchinterval()
    tune_interpreter()  # as app.run() does after start-up
    gaps = GapRecorder()
    try:
        gaps.start()
        started = time.monotonic()
        w.mail_sender.set_online(True)
        qtbot.waitUntil(lambda: set(states(w).values()) == {"sent"}, timeout=60_000)
        took = time.monotonic() - started
        gaps.stop()
    finally:
        gc.unfreeze()
        sys.setswitchinterval(interval)
    print(
        f"300 messages sent in {took:.2f} s; longest GUI gap {gaps.gap:.0f} ms, "
        f"{gaps.stall:.0f} ms without time spent waiting for a CPU ({len(gaps.ticks)} ticks)"
    )
    return gaps.stall


def test_empty_state_explains_what_to_do(qtbot, ctx, window, tmp_path: Path) -> None:
    w = window()
    assert "No account yet" in w.empty.text()


def test_edit_a_failed_message_fix_the_address_and_resend(qtbot, ctx, smtp_server, window) -> None:
    from smtp_servers import Faults

    server = smtp_server(
        "none", faults=Faults(rcpt_replies={"bob@example.org": "550 5.1.1 No such user"})
    )
    add_account(ctx, server.port)
    w = window()
    (msg_id,) = queue(ctx, subject="Report")
    qtbot.waitUntil(lambda: states(w).get(msg_id) == "failed", timeout=10_000)
    w.tabs.setCurrentIndex(2)  # Failed
    w.table.selectRow(0)
    qtbot.waitUntil(w.act_edit.isEnabled, timeout=5000)
    w.act_edit.trigger()  # it leaves the outbox as a draft (tests/ui/test_main_window_edit.py)
    qtbot.waitUntil(lambda: len(w.editors) == 1, timeout=5000)
    editor = w.editors[0]
    assert editor.to_edit.text() == "bob@example.org"
    assert editor.subject_edit.text() == "Report 0"
    editor.to_edit.setText("robert@example.org")
    editor.undo_seconds = 0  # at once (Undo send: tests/ui/test_undo_send.py)
    editor.send()
    qtbot.waitUntil(lambda: msg_id not in states(w) and set(states(w).values()) == {"sent"},
                    timeout=10_000)  # fmt: skip
    (got,) = server.wait_for(1)
    assert got.rcpt_tos == ["robert@example.org"]


def test_details_decode_encoded_headers_and_show_the_send_time() -> None:
    import time as time_module

    from mailgui.core.outbox import MessageRow
    from mailgui.ui.main_window import render_details

    when = time_module.time() + 86400
    row = MessageRow(
        id=1, account="work", state="scheduled", subject="Grüße", sender="me@example.org",
        envelope_from="me@example.org", to=["bob@example.org"], cc=[], bcc=[],
        pending=["bob@example.org"], message_id="<1@example.org>", size=10, smtputf8=False,
        created_at=when - 86400, queued_at=when - 86400, send_at=when, next_attempt_at=None,
        sent_at=None, attempts=0, last_error=None, recipient_errors={}, claimed_by=None,
        claimed_at=None, updated_at=when - 86400,
    )  # fmt: skip
    raw = (
        "Subject: =?utf-8?q?Gr=C3=BC=C3=9Fe?=\r\n"
        "To: =?utf-8?b?SsO8cmdlbg==?= <j@example.org>,\r\n bob@example.org\r\n"
    )
    shown = render_details({"row": row, "events": [], "headers": raw})
    assert "Subject: Grüße" in shown
    assert "To: Jürgen &lt;j@example.org&gt;, bob@example.org" in shown
    assert "=?utf-8?" not in shown
    assert (
        "<b>Sends at:</b> " + time_module.strftime("%a %d %b %Y %H:%M", time_module.localtime(when))
        in shown
    )
