"""The GUI's sender and ``mailgui agent`` agree on who sends: the profile's sender lock.

While another process holds the lock, the window sends nothing by itself but keeps showing
the outbox; "Send now" still sends (the outbox's claims keep two senders apart).
"""

from __future__ import annotations

import pytest

from mailgui.core.accounts import Account, AccountStore
from mailgui.core.addresses import Mailbox
from mailgui.core.message import Draft, build
from mailgui.core.outbox import Outbox
from mailgui.core.sender_lock import SenderLock
from mailgui.ui.context import AppContext
from mailgui.ui.main_window import MainWindow


def queue(ctx: AppContext) -> int:
    with Outbox(ctx.profile.outbox_file) as box:
        draft = Draft(
            sender=Mailbox("", "me@example.org"), to=[Mailbox("", "bob@example.org")],
            subject="Hello", text="body\n",
        )  # fmt: skip
        return box.add("work", build(draft))


def test_window_leaves_sending_to_the_lock_holder(qtbot, ctx, smtp_server) -> None:
    server = smtp_server("none")
    AccountStore(ctx.profile.accounts_file).save(
        Account(
            "work",
            "me@example.org",
            host="127.0.0.1",
            port=server.port,
            security="none",
            timeout=3.0,
        )
    )
    agent_lock = SenderLock.for_profile(ctx.profile)  # as `mailgui agent` would hold it
    assert agent_lock.acquire()
    w = MainWindow(ctx, watch_network=False)
    qtbot.addWidget(w)
    try:
        # The first automatic flush (at start) defers to the lock holder...
        qtbot.waitUntil(lambda: "Another mailgui" in w.lbl_activity.text(), timeout=10_000)
        # ...and so does the one that notices the message queued by "another process"
        # (the poll, every POLL_MS): waiting for that report, not for a fixed time, is what
        # makes "nothing was sent" mean something, however slow the machine.
        with qtbot.waitSignal(
            w.mail_sender.activity,
            check_params_cb=lambda text: "Another mailgui" in text,
            timeout=15_000,
        ):
            msg_id = queue(ctx)
        qtbot.waitUntil(lambda: w.model.row_for(msg_id) is not None, timeout=10_000)
        assert server.messages == []
        assert w.model.row_for(msg_id).state == "queued"  # shown live all the same
        w.send_now()  # explicit: sends even without the lock
        qtbot.waitUntil(lambda: w.model.row_for(msg_id).state == "sent", timeout=10_000)
        assert len(server.wait_for(1)) == 1
    finally:
        assert w.shutdown()
        agent_lock.release()


def lock_is_free(ctx: AppContext) -> bool:
    """Probe by taking the lock for a moment. Only once the window holds it (or has
    stopped): a probe that happens to hold it while the window tries makes the window
    defer, as to an agent, until its next poll (POLL_MS) takes the lock."""
    probe = SenderLock.for_profile(ctx.profile)
    free = probe.acquire()
    probe.release()
    return free


def test_window_holds_the_lock_while_it_runs(qtbot, ctx) -> None:
    w = MainWindow(ctx, watch_network=False)
    qtbot.addWidget(w)
    try:
        # The first automatic flush ran, so the sender took the lock (no probing before
        # this: see lock_is_free). A held flock cannot be taken by the probe.
        qtbot.waitUntil(lambda: w.lbl_activity.text().startswith("Idle"), timeout=10_000)
        assert not lock_is_free(ctx), "held while the window runs"
    finally:
        assert w.shutdown()
    assert lock_is_free(ctx), "released on shutdown"


def test_window_takes_over_sending_when_the_agent_stops(qtbot, ctx, smtp_server) -> None:
    """The agent quits while the window is open and nothing waits: within a poll the
    window holds the lock and stops saying that another mailgui is sending (without the
    poll's retry that took up to a minute, MAX_SLEEP_S); what is queued next goes out."""
    server = smtp_server("none")
    AccountStore(ctx.profile.accounts_file).save(
        Account("work", "me@example.org", host="127.0.0.1", port=server.port, security="none")
    )
    agent_lock = SenderLock.for_profile(ctx.profile)
    assert agent_lock.acquire()
    w = MainWindow(ctx, watch_network=False)
    qtbot.addWidget(w)
    try:
        qtbot.waitUntil(lambda: "Another mailgui" in w.lbl_activity.text(), timeout=10_000)
        agent_lock.release()  # `mailgui agent` stopped
        qtbot.waitUntil(lambda: w.lbl_activity.text().startswith("Idle"), timeout=10_000)
        assert not lock_is_free(ctx), "the window holds it now"
        msg_id = queue(ctx)
        qtbot.waitUntil(lambda: w.model.row_for(msg_id) is not None, timeout=10_000)
        qtbot.waitUntil(lambda: w.model.row_for(msg_id).state == "sent", timeout=15_000)
        assert len(server.wait_for(1)) == 1
    finally:
        assert w.shutdown()
        agent_lock.release()


@pytest.mark.expect_error_log("was deleted while mailgui had it open")  # and it stops
def test_window_stops_sending_when_its_outbox_files_are_replaced(qtbot, ctx, monkeypatch) -> None:
    """The outbox guard (core/outbox_files.py) trips in this process: the window says
    so once, in the guard's words (a dialog), its sender stops polling and lets go of
    the sender lock (the agent or a restarted window sends instead)."""
    import os

    from PySide6.QtWidgets import QMessageBox

    from mailgui.core import outbox_files

    shown: list[str] = []
    monkeypatch.setattr(QMessageBox, "warning", lambda _parent, _title, text: shown.append(text))

    w = MainWindow(ctx, watch_network=False)
    qtbot.addWidget(w)
    real = os.path.realpath(ctx.profile.outbox_file)
    try:
        qtbot.waitUntil(lambda: w.lbl_activity.text().startswith("Idle"), timeout=10_000)
        assert not lock_is_free(ctx)
        with qtbot.waitSignal(
            w.mail_sender.activity, check_params_cb=lambda t: "start it again" in t, timeout=15_000
        ):
            outbox_files._poisoned[real] = f"{real}-wal was deleted while mailgui had it open"
        qtbot.waitUntil(lambda: lock_is_free(ctx), timeout=5_000)
        assert "start it again" in w.lbl_activity.text()
        qtbot.waitUntil(lambda: bool(shown), timeout=5_000)  # the outbox view's poll
        qtbot.wait(1200)  # two more of its polls (500 ms): still one dialog
        assert len(shown) == 1 and "quit every mailgui" in shown[0]
    finally:
        outbox_files._poisoned.pop(real, None)
        assert w.shutdown()
