"""A big outbox (issue 19): rows reach the model in batches that grow to ``BATCH``,
and what the status line asks of the model (``next_times``) is kept as rows come and
go instead of being computed over every row. Timing is left to
``benchmarks/big_outbox.py``; these check the behaviour the speed rests on."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from backlog import outgoing
from pytestqt.qtbot import QtBot

from mailgui.core.outbox import MessageRow, Outbox
from mailgui.ui.context import AppContext
from mailgui.ui.outbox_model import OutboxFilter, OutboxModel
from mailgui.ui.outbox_service import BATCH, FIRST_BATCH, OutboxHandle


def fill(path: Path, n: int) -> None:
    with Outbox(path) as box, box.transaction():
        for i in range(n):
            box.add("work", outgoing(i))


@pytest.fixture
def handle(ctx: AppContext) -> Iterator[OutboxHandle]:
    h = OutboxHandle(ctx, poll_ms=50)
    yield h
    assert h.shutdown(), "the outbox thread did not stop"


def test_a_backlog_arrives_in_batches_that_grow(
    qtbot: QtBot, ctx: AppContext, handle: OutboxHandle
) -> None:
    n = 2 * BATCH + 3 * FIRST_BATCH + 17
    fill(ctx.profile.outbox_file, n)
    model = OutboxModel()
    proxy = OutboxFilter(view="outbox")
    proxy.setSourceModel(model)
    sizes: list[int] = []
    handle.rowsChanged.connect(lambda rows: sizes.append(len(rows)))
    handle.rowsChanged.connect(model.upsert)
    handle.rowsRemoved.connect(model.remove)
    with qtbot.waitSignal(handle.loaded, timeout=20_000):
        handle.start()
    want, left, size = [], n, FIRST_BATCH
    while left:
        want.append(min(size, left))
        left -= want[-1]
        size = min(2 * size, BATCH)
    assert sizes == want
    assert model.rowCount() == proxy.rowCount() == n
    ids = [int(proxy.id_at(r) or 0) for r in range(n)]
    assert ids == sorted(ids, reverse=True) and len(set(ids)) == n  # newest first, once

    # After the load, a change starts small again: one batch of FIRST_BATCH at most.
    sizes.clear()
    with Outbox(ctx.profile.outbox_file) as other:
        for msg_id in range(1, FIRST_BATCH + 6):
            other.delete(msg_id)
        other.add("work", outgoing(n))
    qtbot.waitUntil(lambda: model.rowCount() == n - FIRST_BATCH - 5 + 1, timeout=10_000)
    assert sizes == [1]


def brute_next_times(model: OutboxModel) -> tuple[float | None, float | None]:
    """What next_times() computed before issue 19: one pass over every row."""
    retry: list[float] = []
    scheduled: list[float] = []
    for r in range(model.rowCount()):
        row = model.index(r, 0).data(OutboxModel.ROW_ROLE)
        if row.state == "deferred" and row.next_attempt_at is not None:
            retry.append(row.next_attempt_at)
        elif row.state == "scheduled" and not model.is_held(row.id) and row.send_at is not None:
            scheduled.append(row.send_at)
    return min(retry, default=None), min(scheduled, default=None)


def test_next_times_follow_rows_as_they_change(qtbot: QtBot, tmp_path: Path) -> None:
    path = tmp_path / "outbox.sqlite3"
    fill(path, 30)
    with Outbox(path) as box:
        base = box.list_messages()

    def as_(row: MessageRow, state: str, **more: Any) -> MessageRow:
        return row._replace(state=state, **more)

    rows = []
    for i, row in enumerate(base):
        if i % 3 == 0:
            rows.append(as_(row, "deferred", next_attempt_at=2_000_000_000.0 - i))
        elif i % 3 == 1:
            rows.append(as_(row, "scheduled", send_at=2_100_000_000.0 - i))
        else:
            rows.append(row)
    model = OutboxModel()
    model.upsert(rows[:10])
    assert model.next_times() == brute_next_times(model)
    model.upsert(rows[10:])
    assert model.next_times() == brute_next_times(model) != (None, None)

    soonest_scheduled = min(
        (r for r in rows if r.state == "scheduled"), key=lambda r: r.send_at or 0.0
    )
    model.hold(soonest_scheduled.id)  # in its undo delay: not scheduled by the person
    assert model.next_times() == brute_next_times(model)
    assert model.next_times()[1] != soonest_scheduled.send_at
    model.release(soonest_scheduled.id)
    assert model.next_times()[1] == soonest_scheduled.send_at

    soonest_retry = min(
        (r for r in rows if r.state == "deferred"), key=lambda r: r.next_attempt_at or 0.0
    )
    model.upsert([as_(soonest_retry, "sent", next_attempt_at=None, sent_at=1.0)])
    assert model.next_times() == brute_next_times(model)
    assert model.next_times()[0] != soonest_retry.next_attempt_at
    model.upsert([soonest_retry])  # deferred again
    assert model.next_times() == brute_next_times(model)

    model.remove([r.id for r in rows if r.state == "deferred"])
    assert model.next_times() == brute_next_times(model)
    assert model.next_times()[0] is None
    model.upsert([as_(rows[1], "queued", send_at=None)])
    assert model.next_times() == brute_next_times(model)
    model.clear()
    assert model.next_times() == (None, None)
