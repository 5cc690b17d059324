"""The outbox table against a real outbox file, changed by another connection as the
CLI would, through OutboxHandle's thread; no mocks."""

from __future__ import annotations

import gc
import itertools
import json
import os
import sqlite3
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from gui_timing import cpu_wait_ms
from PySide6.QtCore import (
    QElapsedTimer,
    QItemSelectionModel,
    QModelRoleData,
    QModelRoleDataSpan,
    Qt,
    QTimer,
)
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QTableView
from pytestqt.qtbot import QtBot

import mailgui.ui.outbox_service as outbox_service
from mailgui.core.accounts import Account, AccountStore
from mailgui.core.addresses import Mailbox
from mailgui.core.message import Draft, build
from mailgui.core.outbox import MessageRow, Outbox, new_claimer
from mailgui.core.outgoing import Outgoing
from mailgui.ui.app import tune_interpreter
from mailgui.ui.context import AppContext
from mailgui.ui.outbox_model import (
    COL_SIZE,
    COL_STATE,
    COL_WHEN,
    OutboxFilter,
    OutboxModel,
    apply_default_layout,
    human_size,
)
from mailgui.ui.outbox_service import OutboxHandle

WAIT_MS = 5000


def outgoing(n: int, *, subject: str | None = None, size: int = 0) -> Outgoing:
    data = f"Subject: test {n}\r\n\r\n".encode() + b"x" * size + b"\r\n"
    return Outgoing(
        envelope_from="me@example.org",
        recipients=["bob@example.org", "carol@example.org"],
        data=data,
        message_id=f"<{n}@example.org>",
        date=datetime.now(UTC),
        subject=f"test {n}" if subject is None else subject,
        sender="me@example.org",
        to=["bob@example.org"],
        cc=[],
        bcc=["carol@example.org"],
        smtputf8=False,
    )


@dataclass
class Gui:
    handle: OutboxHandle
    model: OutboxModel
    view: OutboxFilter


@pytest.fixture
def other(ctx: AppContext) -> Iterator[Outbox]:
    """Another connection to the same outbox file: what the CLI or the sender uses."""
    with Outbox(ctx.profile.outbox_file) as box:
        yield box


@pytest.fixture
def gui(qtbot: QtBot, ctx: AppContext) -> Iterator[Callable[..., Gui]]:
    """Start an OutboxHandle feeding a model and a filter; stopped at teardown."""
    handles: list[OutboxHandle] = []

    def start(*, poll_ms: int = 50, view: str = "all", go: bool = True) -> Gui:
        handle = OutboxHandle(ctx, poll_ms=poll_ms)
        model = OutboxModel()
        proxy = OutboxFilter(view=view)
        proxy.setSourceModel(model)
        handle.rowsChanged.connect(model.upsert)
        handle.rowsRemoved.connect(model.remove)
        handles.append(handle)
        if go:
            with qtbot.waitSignal(handle.loaded, timeout=WAIT_MS):
                handle.start()
        return Gui(handle, model, proxy)

    yield start
    for handle in handles:
        assert handle.shutdown(), "the outbox thread did not stop"


@pytest.fixture
def account(ctx: AppContext) -> Account:
    acct = Account(name="work", email="me@example.org", host="localhost", display_name="Me")
    AccountStore(ctx.profile.accounts_file).save(acct)
    return acct


def proxy_ids(proxy: OutboxFilter) -> list[int]:
    return [int(proxy.index(r, 0).data(OutboxModel.ID_ROLE)) for r in range(proxy.rowCount())]


# --- the model against a real outbox ---------------------------------------------------


def test_rows_appear_update_in_place_and_go(
    qtbot: QtBot, gui: Callable[..., Gui], other: Outbox
) -> None:
    ids = [other.add("work", outgoing(n, size=n * 5000)) for n in range(1, 4)]
    g = gui()
    qtbot.waitUntil(lambda: g.model.rowCount() == 3, timeout=WAIT_MS)
    assert sorted(g.model.ids()) == ids
    first = g.model.index_for(ids[0])
    assert first.siblingAtColumn(COL_STATE).data() == "Queued"
    assert g.model.index_for(ids[1], 2).data() == "bob@example.org, carol@example.org"
    assert g.model.index_for(ids[1], COL_SIZE).data() == "10 kB"
    assert g.model.index_for(ids[1], COL_STATE).data(Qt.ItemDataRole.DecorationRole) is not None

    # The sender (another connection) takes the oldest and defers it.
    row_before = g.model.index_for(ids[0]).row()
    changes: list[tuple[int, int]] = []
    structure: list[str] = []
    g.model.dataChanged.connect(lambda a, b, _r: changes.append((a.row(), b.row())))
    g.model.rowsInserted.connect(lambda *_: structure.append("inserted"))
    g.model.rowsRemoved.connect(lambda *_: structure.append("removed"))
    g.model.layoutChanged.connect(lambda *_: structure.append("layout"))
    claimer = new_claimer()
    claimed = other.claim_next(claimer, "work")
    assert claimed is not None and claimed.id == ids[0]
    retry_at = time.time() + 300
    other.finish(
        ids[0],
        claimer,
        "deferred",
        note="4xx",
        error="451 4.3.0 Try later",
        next_attempt_at=retry_at,
    )
    qtbot.waitUntil(lambda: g.model.row_for(ids[0]).state == "deferred", timeout=WAIT_MS)  # type: ignore[union-attr]
    assert g.model.rowCount() == 3
    assert structure == []
    assert changes and all(a == b == row_before for a, b in changes)
    deferred = g.model.index(row_before, 0)
    assert deferred.data() == "Deferred"
    assert deferred.siblingAtColumn(5).data() == "1"
    today = datetime.fromtimestamp(retry_at).date() == date.today()
    shown = time.strftime("%H:%M" if today else "%Y-%m-%d %H:%M", time.localtime(retry_at))
    assert deferred.siblingAtColumn(COL_WHEN).data() == f"next try {shown}"
    assert deferred.siblingAtColumn(7).data() == "451 4.3.0 Try later"
    assert deferred.siblingAtColumn(7).data(Qt.ItemDataRole.ToolTipRole) == "451 4.3.0 Try later"
    assert deferred.data(Qt.ItemDataRole.ForegroundRole) is not None

    with qtbot.waitSignal(g.handle.rowsRemoved, timeout=WAIT_MS) as removed:
        other.delete(ids[1])
    assert removed.args == [[ids[1]]]
    assert g.model.rowCount() == 2
    assert g.model.row_for(ids[1]) is None
    assert g.model.index_for(ids[2]).data(OutboxModel.ROW_ROLE).subject == "test 3"


def test_views_filter_by_state_newest_first(
    qtbot: QtBot, gui: Callable[..., Gui], other: Outbox
) -> None:
    def through(state: str, error: str | None = None) -> int:
        msg_id = other.add(f"acct-{state}", outgoing(0, subject=state))
        claimer = new_claimer()
        assert other.claim_next(claimer, f"acct-{state}") is not None
        if state != "sending":
            other.finish(msg_id, claimer, state, note=state, error=error)
        return msg_id

    queued = other.add("work", outgoing(1))
    scheduled = other.add("work", outgoing(2), send_at=time.time() + 86400 * 40)
    failed = through("failed", "550 5.1.1 No such user")
    sent = through("sent")
    deferred = through("deferred", "421 Busy")
    sending = through("sending")
    g = gui()
    qtbot.waitUntil(lambda: g.model.rowCount() == 6, timeout=WAIT_MS)
    expected = {
        "outbox": [sending, deferred, queued],
        "scheduled": [scheduled],
        "failed": [failed],
        "sent": [sent],
        "all": [sending, deferred, sent, failed, scheduled, queued],
    }
    for name, want in expected.items():
        g.view.set_view(name)
        assert g.view.view() == name
        assert proxy_ids(g.view) == want, name
    with pytest.raises(ValueError):
        g.view.set_view("trash")

    when = g.model.index_for(scheduled, COL_WHEN).data()
    assert when.startswith("at 2") and len(when) == len("at 2026-12-01 09:30")

    # A state change moves a row between views (dynamic filter).
    g.view.set_view("failed")
    with qtbot.waitSignal(g.view.rowsRemoved, timeout=WAIT_MS):
        other.retry(failed)
    assert proxy_ids(g.view) == []
    g.view.set_view("outbox")
    assert proxy_ids(g.view) == [sending, deferred, failed, queued]

    # Sort by a column (through the proxy, as a header click does), then back.
    g.view.set_view("all")
    g.view.sort(COL_STATE, Qt.SortOrder.AscendingOrder)
    states = [g.view.index(r, 0).data(OutboxModel.ROW_ROLE).state for r in range(6)]
    assert states == ["deferred", "sending", "queued", "queued", "scheduled", "sent"]
    g.view.sort(-1)
    assert proxy_ids(g.view)[0] == sending


def test_sorting_moves_rows_and_keeps_selection(qtbot: QtBot) -> None:
    """Pure model: inserts land in sort order; sort-key changes keep the selection."""
    model = OutboxModel()
    proxy = OutboxFilter(view="all")
    proxy.setSourceModel(model)
    table = QTableView()
    table.setModel(proxy)
    qtbot.addWidget(table)

    def make(i: int, state: str = "queued", size: int = 100) -> MessageRow:
        return MessageRow(
            id=i, account="a", state=state, subject=f"s{i}", sender="me@example.org",
            envelope_from="me@example.org", to=["x@example.org"], cc=[], bcc=[], pending=[],
            message_id=f"<{i}@x>", size=size, smtputf8=False, created_at=0.0, queued_at=0.0,
            send_at=None, next_attempt_at=None, sent_at=None, attempts=0, last_error=None,
            recipient_errors={}, claimed_by=None, claimed_at=None, updated_at=float(i),
        )  # fmt: skip

    model.upsert([make(i, size=i * 10) for i in range(10, 0, -1)])
    assert model.ids() == list(range(10, 0, -1))
    model.upsert([make(11, size=1), make(12, size=2)])  # newer: at the top, one block
    assert model.ids()[:3] == [12, 11, 10]
    model.sort(COL_SIZE, Qt.SortOrder.AscendingOrder)
    assert model.ids()[:3] == [11, 12, 1]
    table.selectionModel().select(
        proxy.mapFromSource(model.index_for(5)),
        QItemSelectionModel.SelectionFlag.ClearAndSelect | QItemSelectionModel.SelectionFlag.Rows,
    )
    model.upsert([make(5, size=10_000), make(13, size=55), make(14, size=56)])
    assert model.ids()[-1] == 5
    assert model.ids().index(13) == model.ids().index(14) - 1
    selected = table.selectionModel().selectedRows()
    assert [proxy.id_at(i.row()) for i in selected] == [5]
    model.remove([1, 2, 3, 99])
    assert model.rowCount() == 11 and model.row_for(2) is None
    assert len(set(model.ids())) == 11
    assert all(model.index_for(i).row() == n for n, i in enumerate(model.ids()))
    assert human_size(812) == "812 B" and human_size(3_600_000) == "3.6 MB"


# --- actions through the handle --------------------------------------------------------


def test_multi_data_answers_like_data_and_clears_what_a_cell_does_not_have(qtbot: QtBot) -> None:
    """The delegate asks for all roles of a cell in one multiData call and reuses the
    same role records from cell to cell: a role this cell has no value for must come
    back empty, not with the last cell's icon or colour."""
    model = OutboxModel()
    proxy = OutboxFilter(view="all")
    proxy.setSourceModel(model)
    base = dict(
        account="a", sender="me@example.org", envelope_from="me@example.org",
        to=["x@example.org"], cc=[], bcc=[], pending=[], size=100, smtputf8=False,
        created_at=0.0, queued_at=0.0, send_at=None, sent_at=None, attempts=1,
        recipient_errors={}, claimed_by=None, claimed_at=None,
    )  # fmt: skip
    model.upsert([
        MessageRow(id=1, state="deferred", subject="", message_id="<1@x>",
                   next_attempt_at=4e9, last_error="451 later", updated_at=1.0, **base),
        MessageRow(id=2, state="sent", subject="Hi", message_id="<2@x>",
                   next_attempt_at=None, last_error=None, updated_at=2.0, **base),
    ])  # fmt: skip
    roles = [Qt.ItemDataRole(r) for r in (0, 1, 6, 7, 8, 9, 10)]  # what QStyledItemDelegate asks
    records = {role: QModelRoleData(role) for role in roles}
    for row in range(proxy.rowCount()):
        for column in range(proxy.columnCount()):
            index = proxy.index(row, column)
            for role, record in records.items():
                record.setData("left over from the cell before")
                proxy.multiData(index, QModelRoleDataSpan(record))
                got, want = record.data(), proxy.data(index, role)
                if isinstance(want, QIcon):  # no value equality for icons
                    assert isinstance(got, QIcon), (row, column, role)
                    got, want = got.cacheKey(), want.cacheKey()
                assert got == want, (row, column, role)


def test_retry_delete_and_retry_all(qtbot: QtBot, gui: Callable[..., Gui], other: Outbox) -> None:
    ids = [other.add("work", outgoing(n)) for n in range(4)]
    for msg_id, state in zip(ids[:3], ("failed", "deferred", "sent"), strict=True):
        claimer = new_claimer()
        assert other.claim_next(claimer, "work") is not None
        other.finish(
            msg_id, claimer, state, note=state, error="550 no" if state != "sent" else None
        )
    g = gui()
    qtbot.waitUntil(lambda: g.model.rowCount() == 4, timeout=WAIT_MS)

    def shows(msg_id: int, state: str) -> Callable[[list[MessageRow]], bool]:
        return lambda rows: any(r.id == msg_id and r.state == state for r in rows)

    with (
        qtbot.waitSignal(g.handle.rowsChanged, check_params_cb=shows(ids[0], "queued")),
        qtbot.waitSignal(g.handle.countsChanged, timeout=WAIT_MS) as counts,
    ):
        g.handle.retry([ids[0]])
    assert other.get(ids[0]).state == "queued"
    assert counts.args[0]["queued"] == 2 and counts.args[0]["failed"] == 0

    with qtbot.waitSignal(g.handle.failed, timeout=WAIT_MS) as refused:
        g.handle.retry([ids[2]])
    assert refused.args == ["", f"Message {ids[2]} was already sent; there is nothing to retry."]

    with qtbot.waitSignal(g.handle.rowsChanged, check_params_cb=shows(ids[1], "queued")):
        g.handle.retry_all()
    assert other.get(ids[1]).state == "queued"

    with qtbot.waitSignal(g.handle.rowsRemoved, timeout=WAIT_MS) as removed:
        g.handle.delete([ids[3], ids[2]])
    assert sorted(removed.args[0]) == sorted([ids[3], ids[2]])
    assert g.model.rowCount() == 2
    assert other.counts()["sent"] == 0

    with qtbot.waitSignal(g.handle.failed, timeout=WAIT_MS) as missing:
        g.handle.delete([ids[3]])
    assert missing.args[1] == (
        f"Message {ids[3]} is no longer in the outbox; it was deleted elsewhere."
    )


def test_load_details(qtbot: QtBot, gui: Callable[..., Gui], other: Outbox) -> None:
    msg_id = other.add("work", outgoing(7))
    g = gui()
    with qtbot.waitSignal(g.handle.details, timeout=WAIT_MS) as got:
        g.handle.load_details(msg_id)
    got_id, info = got.args
    assert got_id == msg_id
    assert info["row"].subject == "test 7"
    assert [e.kind for e in info["events"]] == ["queued"]
    assert info["headers"] == "Subject: test 7"


def test_details_of_a_message_gone_meanwhile_are_no_error(
    qtbot: QtBot, gui: Callable[..., Gui], other: Outbox
) -> None:
    """Select a row, then Edit takes the message out (or the CLI deletes it) before its
    details are read: no warning dialog, the row just goes."""
    msg_id = other.add("work", outgoing(7))
    g = gui()
    other.delete(msg_id)
    with (
        qtbot.assertNotEmitted(g.handle.failed, wait=300),
        qtbot.assertNotEmitted(g.handle.details, wait=300),
    ):
        g.handle.load_details(msg_id)
    qtbot.waitUntil(lambda: g.model.row_for(msg_id) is None, timeout=WAIT_MS)


def test_queue_draft(
    qtbot: QtBot,
    gui: Callable[..., Gui],
    other: Outbox,
    account: Account,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    built_in: list[threading.Thread] = []

    def spy(draft: Draft, **kwargs: Any) -> Outgoing:
        built_in.append(threading.current_thread())
        return build(draft, **kwargs)

    monkeypatch.setattr(outbox_service, "build", spy)
    g = gui()
    attachment = tmp_path / "notes.txt"
    attachment.write_text("hello\n")
    draft = Draft(
        sender=Mailbox("Me", "me@example.org"),
        to=[Mailbox("", "bob@example.org")],
        subject="Report",
        text="See attached.\n",
        attachments=[attachment],
    )
    with (
        qtbot.waitSignal(g.handle.queued, timeout=WAIT_MS) as queued,
        qtbot.waitSignal(g.handle.rowsChanged, timeout=WAIT_MS),
    ):
        g.handle.queue_draft("t1", "work", draft, None)
    token, msg_id = queued.args
    assert token == "t1"
    assert built_in and built_in[0] is not threading.main_thread()
    assert other.get(msg_id).state == "queued"
    assert b"notes.txt" in other.body(msg_id)
    qtbot.waitUntil(lambda: g.model.row_for(msg_id) is not None, timeout=WAIT_MS)

    later = time.time() + 3600
    with qtbot.waitSignal(g.handle.queued, timeout=WAIT_MS) as scheduled:
        g.handle.queue_draft("t2", "work", draft, later)
    assert other.get(scheduled.args[1]).state == "scheduled"

    before = sum(other.counts().values())
    draft.attachments = [tmp_path / "missing.pdf"]
    with qtbot.waitSignal(g.handle.failed, timeout=WAIT_MS) as failed:
        g.handle.queue_draft("t3", "work", draft, None)
    assert failed.args[0] == "t3"
    assert failed.args[1].startswith("Cannot read the attachment")
    assert failed.args[1].endswith("(no such file); check the path.")
    assert sum(other.counts().values()) == before

    draft.attachments = []
    with qtbot.waitSignal(g.handle.failed, timeout=WAIT_MS) as unknown:
        g.handle.queue_draft("t4", "nosuch", draft, None)
    assert unknown.args[0] == "t4" and "no account named 'nosuch'" in unknown.args[1]
    assert sum(other.counts().values()) == before


def test_shutdown_stops_the_thread(qtbot: QtBot, ctx: AppContext) -> None:
    handle = OutboxHandle(ctx, poll_ms=20)
    with qtbot.waitSignal(handle.loaded, timeout=WAIT_MS):
        handle.start()
    assert handle.is_running()
    assert handle.shutdown(3000) is True
    assert not handle.is_running()
    assert handle.shutdown() is True  # twice is fine
    with qtbot.waitSignal(handle.failed, timeout=1000) as refused:
        handle.queue_draft("t", "work", Draft(sender=Mailbox("", "me@example.org")), None)
    assert refused.args[0] == "t"


# --- a big outbox ------------------------------------------------------------------------


def bulk_fill(path: Path, n: int) -> None:
    """n messages in one transaction, straight into the schema Outbox created."""
    Outbox(path).close()
    now = time.time()
    states = ("sent", "sent", "sent", "queued", "deferred", "failed", "scheduled")
    rows = []
    for i in range(n):
        state = states[i % len(states)]
        rows.append(
            (
                "work" if i % 3 else "personal",
                state,
                f"Invoice {i} for the month of March, with a long subject line",
                "me@example.org",
                "me@example.org",
                json.dumps([f"client{i}@example.com"]),
                json.dumps(["books@example.org"] if i % 5 == 0 else []),
                "[]",
                json.dumps([f"client{i}@example.com"]),
                f"<{i}@example.org>",
                2000 + i * 37,
                now - 86400,
                now - 86400,
                now + 3600 if state == "scheduled" else None,
                now + 600 if state == "deferred" else None,
                now - 60 if state == "sent" else None,
                0 if state in ("queued", "scheduled") else 1 + i % 4,
                "451 4.7.0 Temporary server error, try again later"
                if state in ("deferred", "failed")
                else None,
                now - 86400 + i,
            )
        )
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("BEGIN")
    db.executemany(
        "INSERT INTO messages (account, state, subject, sender, envelope_from, to_json, "
        "cc_json, bcc_json, pending_json, message_id, size, created_at, queued_at, send_at, "
        "next_attempt_at, sent_at, attempts, last_error, updated_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        rows,
    )
    db.execute("COMMIT")
    db.close()


@pytest.fixture
def frozen_heap() -> Iterator[None]:
    """What the app does once it has started (``tune_interpreter``): ``gc.freeze()``, so
    full garbage collections (they stop every thread) skip the long-lived heap instead
    of walking all of it, here pytest's too (without it they take 40-120 ms in this
    process on a busy machine, whatever the outbox does; the test prints the passes it
    saw); and a 1 ms GIL switch interval, so the GUI thread's calls into Python wait at
    most that long for the outbox thread."""
    interval = sys.getswitchinterval()
    gc.collect()
    tune_interpreter()
    yield
    gc.unfreeze()
    sys.setswitchinterval(interval)


@pytest.mark.timing
@pytest.mark.usefixtures("frozen_heap")
def test_ten_thousand_rows_load_without_freezing_the_gui(
    qtbot: QtBot,
    gui: Callable[..., Gui],
    ctx: AppContext,
    capsys: pytest.CaptureFixture[str],
    record_property: Callable[[str, object], None],
) -> None:
    n = 10_000
    bulk_fill(ctx.profile.outbox_file, n)
    g = gui(go=False, view="outbox")
    table = QTableView()
    table.resize(1100, 400)
    table.setModel(g.view)
    apply_default_layout(table)
    qtbot.addWidget(table)
    table.show()
    qtbot.waitExposed(table)

    # Each tick: (ms since start, ms this thread waited for a CPU so far). On a busy
    # machine the OS gives the CPU to other processes for tens of ms whatever we do;
    # that part of a gap is load, not a stall of ours, so it is counted apart.
    ticks: list[tuple[float, float]] = []
    clock = QElapsedTimer()
    clock.start()
    timer = QTimer()
    timer.setInterval(5)
    timer.timeout.connect(lambda: ticks.append((clock.nsecsElapsed() / 1e6, cpu_wait_ms())))
    # Full garbage collections stop every thread; note them to tell them apart.
    full_gc: list[float] = []
    began: list[float] = []

    def on_gc(phase: str, info: dict[str, int]) -> None:
        if info["generation"] == 2:
            if phase == "start":
                began.append(time.perf_counter())
            elif began:
                full_gc.append((time.perf_counter() - began.pop()) * 1000)

    timer.start()
    qtbot.wait(50)  # the timer's own rhythm before the load
    start = clock.nsecsElapsed() / 1e6
    gc.callbacks.append(on_gc)
    try:
        with qtbot.waitSignal(g.handle.loaded, timeout=30_000):
            g.handle.start()
        qtbot.waitUntil(lambda: g.model.rowCount() == n, timeout=30_000)
        loaded = round(clock.nsecsElapsed() / 1e6 - start)
        qtbot.wait(30)
    finally:
        gc.callbacks.remove(on_gc)
    timer.stop()
    before = [t for t in ticks if t[0] < start][-1:]
    pairs = list(itertools.pairwise(before + [t for t in ticks if t[0] >= start]))
    max_gap = max(b[0] - a[0] for a, b in pairs)
    stall = max((b[0] - a[0]) - (b[1] - a[1]) for a, b in pairs)
    record_property("max_gui_gap_ms", round(max_gap))
    record_property("max_gui_stall_ms", round(stall))
    record_property("load_ms", loaded)
    figures = (
        f"10k rows: loaded in {loaded} ms; longest GUI gap {max_gap:.0f} ms, "
        f"{stall:.0f} ms without the time spent waiting for a CPU (full GC passes: "
        f"{', '.join(f'{t:.0f}' for t in full_gc) or 'none'} ms; "
        f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs)"
    )
    with capsys.disabled():
        print("\n" + figures)
    assert g.view.rowCount() == sum(1 for i in range(n) if i % 7 in (3, 4))  # queued, deferred
    assert g.view.index(0, 0).data(OutboxModel.ID_ROLE) > g.view.index(1, 0).data(
        OutboxModel.ID_ROLE
    )
    assert stall < 50, f"the GUI thread stalled; {figures}"
