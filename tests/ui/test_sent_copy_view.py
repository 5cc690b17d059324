"""The Sent tab says where each copy in the Sent folder stands ("In Sent", "Copy
pending: … — retrying at 14:05"), the details pane too, and "Retry copy" is offered for
a copy not filed (tests/core/test_sent_copies.py tests the queue itself)."""

from __future__ import annotations

from typing import Any

from mailgui.core.outbox import MessageRow
from mailgui.ui.main_window import render_details
from mailgui.ui.outbox_model import COL_ERROR, OutboxModel


def _row(copy: str | None, error: str | None = None, next_at: float | None = None) -> MessageRow:
    return MessageRow(
        id=1, account="work", state="sent", subject="Hi", sender="me@example.org",
        envelope_from="me@example.org", to=["bob@example.org"], cc=[], bcc=[], pending=[],
        message_id="<1@x>", size=100, smtputf8=False, created_at=0.0, queued_at=0.0,
        send_at=None, next_attempt_at=None, sent_at=1.0, attempts=1, last_error=None,
        recipient_errors={}, claimed_by=None, claimed_at=None, updated_at=1.0,
        sent_copy=copy, sent_copy_error=error, sent_copy_next_at=next_at,
    )  # fmt: skip


def _error_cell(model: OutboxModel) -> str:
    return str(model.index(0, COL_ERROR).data())


def test_the_sent_tab_says_where_the_copy_is(qapp: Any) -> None:
    model = OutboxModel()
    model.upsert([_row("filed")])
    assert _error_cell(model) == "In Sent"
    model.upsert([_row("pending", "The IMAP server refused the login.", 1.0e9)])
    text = _error_cell(model)
    assert text.startswith("Copy pending: The IMAP server refused the login — retrying at ")
    model.upsert([_row("failed", "The folder 'Versandt' does not exist.")])
    assert _error_cell(model) == "Copy not filed: The folder 'Versandt' does not exist"
    model.upsert([_row(None)])
    assert _error_cell(model) == ""
    html = render_details({"row": _row("pending", "The IMAP server refused the login.", 1.0e9)})
    assert "<b>Sent folder:</b> Copy pending" in html


def test_retry_copy_is_offered_only_for_a_copy_not_filed(qtbot: Any, ctx: Any) -> None:
    from mailgui.ui.main_window import MainWindow

    w = MainWindow(ctx, watch_network=False)
    qtbot.addWidget(w)
    try:
        retried: list[list[int]] = []
        w.outbox.retry = lambda ids: retried.append(list(ids))  # type: ignore[method-assign]
        w._selected = lambda: [_row("filed")]  # type: ignore[method-assign]
        w.retry_copy()
        assert retried == []
        w._selected = lambda: [_row("failed", "gone")]  # type: ignore[method-assign]
        w.retry_copy()
        assert retried == [[1]]
    finally:
        assert w.shutdown()
