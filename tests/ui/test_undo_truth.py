"""One story during the undo delay: the Outbox tab, the counts, the status line and the
history all say "on its way", not "scheduled" (issue 17)."""
# pytest-qt's QtBot methods are not annotated:
# mypy: disable-error-code="no-untyped-call"

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from pytestqt.qtbot import QtBot
from test_undo_send import open_compose, setup_profile, write

from mailgui.core.addresses import Mailbox
from mailgui.core.message import Draft, build
from mailgui.core.outbox import Event, MessageRow, Outbox
from mailgui.ui.context import AppContext
from mailgui.ui.main_window import MainWindow, render_details
from mailgui.ui.outbox_model import COL_STATE, COL_WHEN, OutboxModel


def tab_texts(w: MainWindow) -> list[str]:
    return [w.tabs.tabText(i) for i in range(w.tabs.count())]


def shown_ids(w: MainWindow, view: str) -> list[int]:
    w.proxy.set_view(view)
    return [w.proxy.id_at(r) for r in range(w.proxy.rowCount())]  # type: ignore[misc]


def send_with_undo(qtbot: QtBot, w: MainWindow) -> int:
    compose = open_compose(qtbot, w)
    write(compose)
    with qtbot.waitSignal(compose.sent, timeout=5000) as sent:
        assert compose.send()
    msg_id = int(sent.args[0])
    qtbot.waitUntil(lambda: w.model.row_for(msg_id) is not None, timeout=5000)
    return msg_id


def test_a_message_in_its_undo_delay_is_on_its_way_everywhere(
    qtbot: QtBot, ctx: AppContext, smtp_server: Any, window: Callable[[], MainWindow]
) -> None:
    server = smtp_server("none")
    setup_profile(ctx, server.port, undo=30)
    w = window()
    w.show()
    msg_id = send_with_undo(qtbot, w)
    qtbot.waitUntil(lambda: tab_texts(w)[0] == "Outbox (1)", timeout=5000)

    assert w.model.row_for(msg_id).state == "scheduled"  # type: ignore[union-attr]  # the core's
    assert tab_texts(w) == ["Outbox (1)", "Scheduled", "Failed", "Sent"]
    assert w.lbl_count.text() == "1 message waiting"
    assert w.waiting_count() == 1
    assert shown_ids(w, "outbox") == [msg_id]
    assert shown_ids(w, "scheduled") == []
    w.proxy.set_view("outbox")
    index = w.model.index_for(msg_id, COL_WHEN)
    assert index.data() in ("sending in 30 s (Undo)", "sending in 29 s (Undo)")
    assert w.model.index_for(msg_id, COL_STATE).data() == "Queued"
    # One message in the status line: the countdown, no "Idle; next try at …" beside it.
    assert w.undo_notice.isVisible()
    assert w.lbl_activity.text() == ""
    assert w.undo_notice.label.text().startswith("Sending in ")
    # the row counts down with the notice
    qtbot.waitUntil(
        lambda: (
            w.model.index_for(msg_id, COL_WHEN).data()
            in ("sending in 28 s (Undo)", "sending in 27 s (Undo)")
        ),
        timeout=5000,
    )
    w.table.selectRow(0)
    qtbot.waitUntil(lambda: "undo delay" in w.details.toPlainText(), timeout=5000)
    text = w.details.toPlainText()
    assert "Queued; sending after the 30 s undo delay." in text
    assert "Scheduled." not in text
    assert "State: sending after the undo delay" in text
    assert w.grab().save("/tmp/undo_truth.png")

    w.undo_notice.undo()
    qtbot.waitUntil(lambda: w.model.row_for(msg_id) is None, timeout=5000)
    qtbot.waitUntil(lambda: tab_texts(w)[0] == "Outbox", timeout=5000)
    assert w.lbl_count.text() == "Nothing to send"
    assert w.model.held_ids() == []
    for editor in list(w.editors):  # the reopened compose window
        editor._done = True
        editor.close()


def test_after_the_delay_it_is_sent_and_its_history_still_says_what_happened(
    qtbot: QtBot, ctx: AppContext, smtp_server: Any, window: Callable[[], MainWindow]
) -> None:
    server = smtp_server("none")
    setup_profile(ctx, server.port, undo=1)
    w = window()
    w.show()
    msg_id = send_with_undo(qtbot, w)
    qtbot.waitUntil(lambda: len(server.messages) == 1, timeout=10_000)
    qtbot.waitUntil(lambda: w.lbl_count.text() == "All sent", timeout=5000)
    assert w.model.held_ids() == []
    assert tab_texts(w) == ["Outbox", "Scheduled", "Failed", "Sent (1)"]
    w.tabs.setCurrentIndex(3)
    w.table.selectRow(0)
    assert w.table.model().index(0, 0).data(OutboxModel.ID_ROLE) == msg_id
    qtbot.waitUntil(lambda: "History" in w.details.toPlainText(), timeout=5000)
    text = w.details.toPlainText()
    assert "Queued; sending after the 1 s undo delay." in text
    assert "Scheduled." not in text
    qtbot.waitUntil(lambda: w.lbl_activity.text() == "Idle", timeout=5000)


def test_next_try_is_said_only_for_retries(
    qtbot: QtBot, ctx: AppContext, window: Callable[[], MainWindow]
) -> None:
    from mailgui.core.accounts import Account

    ctx.accounts.save(Account("work", "me@example.org", host="127.0.0.1", port=1, timeout=2.0))
    me = Mailbox("", "me@example.org")
    later = time.time() + 3 * 3600
    with Outbox(ctx.profile.outbox_file) as box:
        box.add("work", build(Draft(sender=me, to=[me], subject="Later")), send_at=later)
    w = window()
    w.show()
    local = time.localtime(later)
    at = time.strftime("%H:%M" if local[:3] == time.localtime()[:3] else "%a %d %b %H:%M", local)
    expected = "Idle; the next scheduled message leaves at " + at
    qtbot.waitUntil(lambda: w.lbl_activity.text() == expected, timeout=10_000)
    assert "next try" not in w.lbl_activity.text()
    assert w.lbl_count.text() == "1 message scheduled"

    with Outbox(ctx.profile.outbox_file) as box:  # one that fails to connect: a retry
        box.add("work", build(Draft(sender=me, to=[me], subject="Now")))
    qtbot.waitUntil(lambda: "next try at" in w.lbl_activity.text(), timeout=15_000)
    assert w.lbl_count.text() == "1 message waiting"


def scheduled_row(msg_id: int, send_at: float) -> MessageRow:
    now = time.time()
    return MessageRow(
        id=msg_id, account="work", state="scheduled", subject="Lunch", sender="me@example.org",
        envelope_from="me@example.org", to=["bob@example.org"], cc=[], bcc=[],
        pending=["bob@example.org"], message_id="<1@example.org>", size=300, smtputf8=False,
        created_at=now, queued_at=now, send_at=send_at, next_attempt_at=None, sent_at=None,
        attempts=0, last_error=None, recipient_errors={}, claimed_by=None, claimed_at=None,
        updated_at=now,
    )  # fmt: skip


def test_render_details_words_the_undo_delay() -> None:
    row = scheduled_row(7, time.time() + 8)
    events = [Event(time.time(), "scheduled", "Scheduled.")]
    html = render_details({"row": row, "events": events}, undo_delay=10, held=True)
    assert "Queued; sending after the 10 s undo delay." in html
    assert "Scheduled." not in html
    assert "sending after the undo delay" in html
    # A message the person scheduled keeps the core's words.
    plain = render_details({"row": row, "events": events})
    assert "Scheduled." in plain and "undo delay" not in plain
