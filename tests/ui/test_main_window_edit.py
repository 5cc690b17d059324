"""Edit in place (issue 4): a queued, deferred, scheduled or failed message leaves the
outbox as a draft while it is edited; sending queues it again; closing keeps the draft;
a message being sent is refused with a sentence. Real threads, real SMTP server."""

from __future__ import annotations

import time
from email import message_from_bytes
from email import policy as email_policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QDateTime, QItemSelectionModel, QThreadPool
from test_main_window import add_account as main_window_account

from mailgui.core.addresses import Mailbox
from mailgui.core.drafts import SavedDraft
from mailgui.core.message import Draft, build
from mailgui.core.outbox import MessageRow, Outbox, new_claimer
from mailgui.ui.context import AppContext
from mailgui.ui.drafts_view import draft_store
from mailgui.ui.main_window import VIEWS, MainWindow


def add_account(ctx: AppContext, port: int) -> None:
    main_window_account(ctx, port, check_recipients=False)


def offline_window(ctx: AppContext, window: Any, port: int) -> Any:
    """The main window on an account at ``port``, its sender held offline so that what
    is queued stays in the outbox until the test has edited it."""
    add_account(ctx, port)
    w = window()
    w.mail_sender.set_online(False)
    return w


def queue(ctx: AppContext, attachment: Path, **kwargs: Any) -> int:
    """Queue as another process would (its own connection)."""
    draft = Draft(
        sender=Mailbox("", "me@example.org"),
        to=[Mailbox("Bob", "bob@example.org")],
        bcc=[Mailbox("", "eve@example.org")],
        subject="First version",
        text="Hello Bob\n",
        attachments=[attachment],
    )
    with Outbox(ctx.profile.outbox_file) as box:
        return box.add("work", build(draft), **kwargs)


def in_outbox(ctx: AppContext, msg_id: int) -> list[MessageRow]:
    with Outbox(ctx.profile.outbox_file) as box:
        return box.get_many([msg_id])


def select(window: MainWindow, msg_id: int) -> None:
    """Show the tab the message is in (Outbox, Scheduled, Failed) and select its row."""
    row = window.model.ids().index(msg_id)
    state = window.model.state_at(row)
    views = [key for key, _label in VIEWS]
    window.tabs.setCurrentIndex(views.index(state if state in views else "outbox"))
    source = window.model.index(row, 0)
    index = window.proxy.mapFromSource(source)
    assert index.isValid()
    window.table.selectionModel().select(
        index,
        QItemSelectionModel.SelectionFlag.ClearAndSelect | QItemSelectionModel.SelectionFlag.Rows,
    )


@pytest.fixture
def attachment(tmp_path: Path) -> Path:
    path = tmp_path / "notes.pdf"
    path.write_bytes(b"%PDF-1.4 \x00\xff binary")
    return path


def open_editor(qtbot: Any, w: MainWindow, msg_id: int) -> Any:
    qtbot.waitUntil(lambda: msg_id in w.model.ids(), timeout=5000)
    select(w, msg_id)
    assert w.act_edit.isEnabled()
    w.act_edit.trigger()
    qtbot.waitUntil(lambda: len(w.editors) == 1, timeout=5000)
    return w.editors[0]


def test_edit_queued_message_takes_it_out_and_resending_delivers_it(
    qtbot: Any, ctx: AppContext, smtp_server: Any, window: Any, attachment: Path
) -> None:
    server = smtp_server("none")
    w = offline_window(ctx, window, server.port)
    msg_id = queue(ctx, attachment)
    editor = open_editor(qtbot, w, msg_id)

    assert in_outbox(ctx, msg_id) == []  # out of the outbox while being edited...
    qtbot.waitUntil(lambda: msg_id not in w.model.ids(), timeout=5000)  # ...and the table
    (saved,) = draft_store(ctx).all()  # ...and on disk as a draft a crash would offer back
    assert saved.open and saved.id == editor.draft_id
    assert editor.to_edit.text() == "Bob <bob@example.org>"
    assert editor.bcc_edit.text() == "eve@example.org"
    assert editor.subject_edit.text() == "First version"
    assert [p.name for p in editor.attachments] == ["notes.pdf"]

    editor.undo_seconds = 0
    editor.subject_edit.setText("Second version")
    with qtbot.waitSignal(editor.sent, timeout=5000) as sent:
        assert editor.send(force=True)
    new_id = sent.args[0]
    assert new_id != msg_id  # queued again: a new message (new Message-ID)
    assert draft_store(ctx).all() == []  # the draft became the message
    w.mail_sender.set_online(True)
    w.send_now()
    (received,) = server.wait_for(1)
    assert sorted(received.rcpt_tos) == ["bob@example.org", "eve@example.org"]
    data = received.data if isinstance(received.data, bytes) else received.data.encode()
    assert b"Subject: Second version" in data and b"Bcc" not in data
    assert b"notes.pdf" in data
    qtbot.waitUntil(lambda: w.model.row_for(new_id) is not None, timeout=5000)
    qtbot.waitUntil(lambda: w.model.state_at(w.model.ids().index(new_id)) == "sent", timeout=10_000)


@pytest.mark.parametrize("state", ["deferred", "failed", "scheduled"])
def test_closing_the_editor_keeps_a_draft(
    qtbot: Any,
    ctx: AppContext,
    closed_port: int,
    window: Any,
    attachment: Path,
    monkeypatch: pytest.MonkeyPatch,
    state: str,
) -> None:
    from mailgui.ui.compose import ComposeWindow

    w = offline_window(ctx, window, closed_port)
    send_at = time.time() + 3600 if state == "scheduled" else None
    msg_id = queue(ctx, attachment, send_at=send_at)
    if state != "scheduled":
        with Outbox(ctx.profile.outbox_file) as box:
            claimer = new_claimer()
            assert isinstance(box.claim_next(claimer, "work"), MessageRow)
            retry_at = time.time() + 600 if state == "deferred" else None
            box.finish(msg_id, claimer, state, note="x", error="451", next_attempt_at=retry_at)
    editor = open_editor(qtbot, w, msg_id)
    assert in_outbox(ctx, msg_id) == []
    if state == "scheduled":
        assert "Send schedules it again for" in w.statusBar().currentMessage()
    monkeypatch.setattr(ComposeWindow, "_ask_on_close", lambda self: "save")
    editor.close()
    qtbot.waitUntil(lambda: w.editors == [], timeout=5000)
    (saved,) = draft_store(ctx).all()  # in File → Drafts, not offered as a crash leftover
    assert not saved.open and saved.subject == "First version"
    assert saved.send_at == send_at  # a scheduled message's time stays with its draft
    w.drafts_menu.refresh()
    assert [a.text().split("\t")[0] for a in w.drafts_menu.actions()] == ["First version"]


def test_editing_a_scheduled_message_keeps_its_time(
    qtbot: Any, ctx: AppContext, closed_port: int, window: Any, attachment: Path
) -> None:
    add_account(ctx, closed_port)
    w = window()
    send_at = float(int(time.time()) + 3600)
    msg_id = queue(ctx, attachment, send_at=send_at)
    editor = open_editor(qtbot, w, msg_id)
    assert in_outbox(ctx, msg_id) == []
    assert editor.scheduled_note.isVisible()
    when = editor._when_text(send_at)
    assert editor.scheduled_note.label.text() == f"Scheduled for {when}: Send keeps this time."
    assert when in editor.send_action.toolTip()

    editor.subject_edit.setText("Second version")
    with qtbot.waitSignal(editor.sent, timeout=5000) as sent:
        assert editor.send(force=True)  # plain Send: no time chosen again
    (row,) = in_outbox(ctx, sent.args[0])
    assert (row.state, row.send_at, row.subject) == ("scheduled", send_at, "Second version")
    assert draft_store(ctx).all() == []


def test_the_kept_time_can_be_changed_or_cleared(
    qtbot: Any, ctx: AppContext, closed_port: int, window: Any, attachment: Path
) -> None:
    w = offline_window(ctx, window, closed_port)
    send_at = float(int(time.time()) + 3600)
    first = queue(ctx, attachment, send_at=send_at)
    second = queue(ctx, attachment, send_at=send_at)

    editor = open_editor(qtbot, w, first)
    editor.change_time_button.click()
    assert editor.schedule_bar.isVisible()
    assert editor.schedule_edit.dateTime().toSecsSinceEpoch() == send_at  # starts from it
    later = send_at + 2 * 3600
    editor.schedule_edit.setDateTime(QDateTime.fromSecsSinceEpoch(int(later)))
    with qtbot.waitSignal(editor.sent, timeout=5000) as sent:
        editor.schedule_button.click()
    (row,) = in_outbox(ctx, sent.args[0])
    assert (row.state, row.send_at) == ("scheduled", later)
    qtbot.waitUntil(lambda: w.editors == [], timeout=5000)

    editor = open_editor(qtbot, w, second)
    editor.undo_seconds = 0
    editor.clear_time_button.click()
    assert not editor.scheduled_note.isVisible()
    editor.save_draft()
    assert draft_store(ctx).load(editor.draft_id).send_at is None  # cleared on disk too
    with qtbot.waitSignal(editor.sent, timeout=5000) as sent:
        assert editor.send(force=True)
    (row,) = in_outbox(ctx, sent.args[0])
    assert row.state == "queued"


def test_a_kept_time_that_passed_is_said_then_sent_now(
    qtbot: Any, ctx: AppContext, smtp_server: Any, window: Any, attachment: Path
) -> None:
    server = smtp_server("none")
    w = offline_window(ctx, window, server.port)
    send_at = float(int(time.time()) + 3600)
    msg_id = queue(ctx, attachment, send_at=send_at)
    editor = open_editor(qtbot, w, msg_id)
    editor.undo_seconds = 0
    editor._clock = lambda: send_at + 60  # an hour of editing later

    assert not editor.send(force=True)  # the first Send says so and stops
    text = editor.scheduled_note.label.text()
    assert text == (
        f"This message was scheduled for {editor._when_text(send_at)}, which has passed: "
        "Send sends it now."
    )
    assert in_outbox(ctx, msg_id) == [] and len(draft_store(ctx).all()) == 1
    with qtbot.waitSignal(editor.sent, timeout=5000) as sent:
        assert editor.send(force=True)
    new_id = sent.args[0]
    assert in_outbox(ctx, new_id)[0].state == "queued"
    w.mail_sender.set_online(True)
    w.send_now()
    (received,) = server.wait_for(1)
    assert sorted(received.rcpt_tos) == ["bob@example.org", "eve@example.org"]


def test_a_message_being_sent_is_not_opened(
    qtbot: Any, ctx: AppContext, closed_port: int, window: Any, attachment: Path
) -> None:
    w = offline_window(ctx, window, closed_port)
    msg_id = queue(ctx, attachment)
    qtbot.waitUntil(lambda: msg_id in w.model.ids(), timeout=5000)
    with Outbox(ctx.profile.outbox_file) as box:  # another sender (the CLI) holds it
        assert isinstance(box.claim_next(new_claimer(), "work"), MessageRow)
    qtbot.waitUntil(lambda: w.model.state_at(w.model.ids().index(msg_id)) == "sending")
    select(w, msg_id)
    assert w.act_edit.isEnabled()
    w.act_edit.trigger()
    text = w.statusBar().currentMessage()
    assert text == (
        f"Message {msg_id} is being sent right now, so it cannot be edited; wait for this "
        "try to end and edit it then."
    )
    qtbot.wait(200)
    assert w.editors == [] and draft_store(ctx).all() == []
    assert in_outbox(ctx, msg_id)[0].state == "sending"


def test_a_message_claimed_meanwhile_is_refused_by_the_outbox(
    qtbot: Any, ctx: AppContext, closed_port: int, window: Any, attachment: Path
) -> None:
    """The row still said "queued" when Edit was chosen, but a sender took it since:
    the take-out transaction refuses, and says so."""
    w = offline_window(ctx, window, closed_port)
    msg_id = queue(ctx, attachment)
    qtbot.waitUntil(lambda: msg_id in w.model.ids(), timeout=5000)
    w.outbox.shutdown()  # the table keeps showing "queued"
    select(w, msg_id)
    with Outbox(ctx.profile.outbox_file) as box:
        assert isinstance(box.claim_next(new_claimer(), "work"), MessageRow)
    w.act_edit.trigger()
    qtbot.waitUntil(lambda: "being sent right now" in w.statusBar().currentMessage(), timeout=5000)
    assert w.editors == [] and draft_store(ctx).all() == []


# --- the files written for an edited message go once no draft needs them -------------


def attached_bytes(ctx: AppContext, msg_id: int) -> bytes:
    """The attachment as the outbox holds it (in the stored message)."""
    with Outbox(ctx.profile.outbox_file) as box:
        msg = message_from_bytes(box.body(msg_id), policy=email_policy.default)
    assert isinstance(msg, EmailMessage)
    (part,) = msg.iter_attachments()
    data = part.get_payload(decode=True)
    assert isinstance(data, bytes)
    return data


def test_queueing_the_edited_message_again_removes_its_files(
    qtbot: Any, ctx: AppContext, closed_port: int, window: Any, attachment: Path
) -> None:
    w = offline_window(ctx, window, closed_port)
    msg_id = queue(ctx, attachment)
    editor = open_editor(qtbot, w, msg_id)
    (copy,) = editor.attachments
    folder = ctx.profile.data_dir / "editing" / str(msg_id)
    assert copy.parent == folder and copy.read_bytes() == attachment.read_bytes()

    editor.undo_seconds = 0
    with qtbot.waitSignal(editor.sent, timeout=5000) as sent:
        assert editor.send(force=True)
    qtbot.waitUntil(lambda: not folder.exists(), timeout=5000)
    assert attached_bytes(ctx, sent.args[0]) == attachment.read_bytes()  # in the outbox


def test_undo_keeps_the_files_until_it_is_over(
    qtbot: Any, ctx: AppContext, closed_port: int, window: Any, attachment: Path
) -> None:
    w = offline_window(ctx, window, closed_port)
    msg_id = queue(ctx, attachment)
    editor = open_editor(qtbot, w, msg_id)
    (copy,) = editor.attachments
    editor.undo_seconds = 30
    with qtbot.waitSignal(editor.sent, timeout=5000) as sent:
        assert editor.send(force=True)
    qtbot.waitUntil(lambda: w.editors == [], timeout=5000)
    assert w.undo_notice.msg_id == sent.args[0]  # Undo is offered
    QThreadPool.globalInstance().waitForDone(5000)  # any job removing files has run
    assert copy.is_file()  # Undo would bring the draft back with this file

    w.undo_notice.undo_button.click()
    qtbot.waitUntil(lambda: len(w.editors) == 1, timeout=5000)
    back = w.editors[0]
    assert back.attachments == [copy] and copy.is_file()

    back.undo_seconds = 1
    with qtbot.waitSignal(back.sent, timeout=5000) as sent:
        assert back.send(force=True)
    assert w.undo_notice.msg_id == sent.args[0]
    qtbot.waitUntil(lambda: w.undo_notice.msg_id is None, timeout=5000)  # Undo is over
    qtbot.waitUntil(lambda: not copy.parent.exists(), timeout=5000)
    assert attached_bytes(ctx, sent.args[0]) == attachment.read_bytes()


def test_discarding_removes_the_files_and_saving_keeps_them(
    qtbot: Any,
    ctx: AppContext,
    closed_port: int,
    window: Any,
    attachment: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from mailgui.ui.compose import ComposeWindow

    w = offline_window(ctx, window, closed_port)
    kept_id, dropped_id = queue(ctx, attachment), queue(ctx, attachment)
    answer = "save"
    monkeypatch.setattr(ComposeWindow, "_ask_on_close", lambda self: answer)

    editor = open_editor(qtbot, w, kept_id)
    (kept,) = editor.attachments
    editor.close()
    qtbot.waitUntil(lambda: w.editors == [], timeout=5000)

    answer = "discard"
    editor = open_editor(qtbot, w, dropped_id)
    (dropped,) = editor.attachments
    editor.close()
    qtbot.waitUntil(lambda: w.editors == [], timeout=5000)
    qtbot.waitUntil(lambda: not dropped.parent.exists(), timeout=5000)
    assert kept.is_file()  # File → Drafts still has it, attachment and all
    (saved,) = draft_store(ctx).all()
    assert saved.attachments == [str(kept)]


def test_the_start_removes_folders_no_saved_draft_points_at(
    qtbot: Any, ctx: AppContext, window: Any
) -> None:
    """What a crash (or a quit during Undo) leaves: folders whose draft is gone."""
    editing = ctx.profile.data_dir / "editing"
    used = editing / "7" / "notes.pdf"
    left = editing / "8" / "old.pdf"
    for path in (used, left):
        path.parent.mkdir(parents=True)
        path.write_bytes(b"%PDF-1.4")
    draft_store(ctx).save(SavedDraft(subject="Still writing", attachments=[str(used)]))

    w = window()
    qtbot.waitUntil(lambda: not left.parent.exists(), timeout=5000)
    assert w._to_draft.wait()
    assert used.is_file()
