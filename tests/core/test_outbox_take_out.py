"""Taking a message (or some recipients) out of the outbox before it is sent: Edit's
take-out transaction and the null-MX refusal of the recipient checks (real SQLite)."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from mailgui.core.addresses import Mailbox
from mailgui.core.drafts import DraftStore
from mailgui.core.editing import take_out_for_editing
from mailgui.core.errors import UsageError
from mailgui.core.message import Draft, build
from mailgui.core.outbox import MessageRow, Outbox, new_claimer


@pytest.fixture
def outbox(tmp_path: Path) -> Iterator[Outbox]:
    with Outbox(tmp_path / "outbox.sqlite3") as box:
        yield box


@pytest.fixture
def drafts(tmp_path: Path) -> DraftStore:
    return DraftStore(tmp_path / "drafts")


def queue(outbox: Outbox, tmp_path: Path, **kwargs: object) -> int:
    report = tmp_path / "report.pdf"
    report.write_bytes(b"%PDF-1.4 \x00\x01")
    draft = Draft(
        sender=Mailbox("Me", "me@example.org"),
        to=[Mailbox("Bob", "bob@example.org")],
        cc=[Mailbox("", "carol@example.org")],
        bcc=[Mailbox("", "eve@example.org")],
        subject="Report",
        text="Hello\n",
        attachments=[report],
        priority="high",
    )
    return outbox.add("work", build(draft), **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize("state", ["queued", "deferred", "failed", "scheduled"])
def test_take_out_turns_a_waiting_message_into_a_draft(
    outbox: Outbox, drafts: DraftStore, tmp_path: Path, state: str
) -> None:
    send_at = time.time() + 3600 if state == "scheduled" else None
    msg_id = queue(outbox, tmp_path, send_at=send_at)
    if state in ("deferred", "failed"):
        claimer = new_claimer()
        row = outbox.claim_next(claimer, "work")
        assert isinstance(row, MessageRow)
        outbox.finish(msg_id, claimer, state, note="x", error="451 later")
    assert outbox.get(msg_id).state == state

    saved, row = take_out_for_editing(outbox, msg_id, drafts, tmp_path / "editing")
    assert row.id == msg_id and row.state == state
    assert outbox.get_many([msg_id]) == []  # gone from the outbox...
    assert drafts.load(saved.id) == saved  # ...and on disk as a draft, open (crash: offered)
    assert saved.open and [d.id for d in drafts.left_open()] == [saved.id]
    assert saved.account == "work"
    assert saved.to == "Bob <bob@example.org>" and saved.cc == "carol@example.org"
    assert saved.bcc == "eve@example.org"
    assert saved.subject == "Report" and saved.text == "Hello\n"
    assert saved.priority == "high"
    assert saved.send_at == send_at  # a scheduled message keeps its time; others have none
    (attachment,) = saved.attachments
    assert Path(attachment).read_bytes() == b"%PDF-1.4 \x00\x01"
    assert Path(attachment).parent == tmp_path / "editing" / str(msg_id)


def test_take_out_refuses_a_message_being_sent(
    outbox: Outbox, drafts: DraftStore, tmp_path: Path
) -> None:
    msg_id = queue(outbox, tmp_path)
    assert isinstance(outbox.claim_next(new_claimer(), "work"), MessageRow)
    with pytest.raises(UsageError, match="being sent right now"):
        take_out_for_editing(outbox, msg_id, drafts, tmp_path / "editing")
    assert outbox.get(msg_id).state == "sending"
    assert drafts.all() == []  # nothing was made of it


def test_take_out_refuses_sent_and_missing(
    outbox: Outbox, drafts: DraftStore, tmp_path: Path
) -> None:
    msg_id = queue(outbox, tmp_path)
    claimer = new_claimer()
    outbox.claim_next(claimer, "work")
    outbox.finish(msg_id, claimer, "sent", note="ok")
    with pytest.raises(UsageError, match="already sent"):
        take_out_for_editing(outbox, msg_id, drafts, tmp_path / "editing")
    with pytest.raises(UsageError, match="no message 999"):
        take_out_for_editing(outbox, 999, drafts, tmp_path / "editing")
    assert drafts.all() == []


def test_a_failure_while_keeping_leaves_the_message_in_the_outbox(
    outbox: Outbox, tmp_path: Path
) -> None:
    msg_id = queue(outbox, tmp_path)

    def keep(_row: MessageRow, _body: bytes) -> None:
        raise OSError(28, "No space left on device")

    with pytest.raises(OSError):
        outbox.take_out(msg_id, keep)
    assert outbox.get(msg_id).state == "queued"


def test_no_sender_can_claim_while_the_message_is_taken_out(outbox: Outbox, tmp_path: Path) -> None:
    """The take-out holds the write lock from its check to the delete: a sender that
    tries to claim meanwhile waits, then finds nothing."""
    msg_id = queue(outbox, tmp_path)
    inside = threading.Event()
    claimed: list[object] = []

    def claim() -> None:
        with Outbox(outbox.path) as other:
            inside.wait(5)
            claimed.append(other.claim_next(new_claimer(), "work"))

    thread = threading.Thread(target=claim)
    thread.start()

    def keep(row: MessageRow, _body: bytes) -> int:
        inside.set()
        time.sleep(0.3)  # the other connection now tries BEGIN IMMEDIATE and waits
        return row.id

    assert outbox.take_out(msg_id, keep) == msg_id
    thread.join(10)
    assert claimed == [None]


def test_refuse_recipients_records_them_and_fails_when_none_is_left(
    outbox: Outbox, tmp_path: Path
) -> None:
    msg_id = queue(outbox, tmp_path)
    reason = "The domain example.org accepts no mail (null MX)."
    row = outbox.refuse_recipients(msg_id, {"carol@example.org": reason, "x@nowhere": reason})
    assert row is not None and row.state == "queued"
    assert row.pending == ["bob@example.org", "eve@example.org"]
    assert row.recipient_errors == {"carol@example.org": reason}

    row = outbox.refuse_recipients(msg_id, {"bob@example.org": reason, "eve@example.org": reason})
    assert row is not None and row.state == "failed"
    assert row.pending == [] and row.last_error == reason
    assert set(row.recipient_errors) == {"bob@example.org", "carol@example.org", "eve@example.org"}
    kinds = [e.kind for e in outbox.events(msg_id)]
    assert kinds.count("refused") == 3 and kinds[-1] == "failed"


def test_refuse_recipients_leaves_a_message_being_sent_alone(
    outbox: Outbox, tmp_path: Path
) -> None:
    msg_id = queue(outbox, tmp_path)
    outbox.claim_next(new_claimer(), "work")
    assert outbox.refuse_recipients(msg_id, {"bob@example.org": "no"}) is None
    row = outbox.get(msg_id)
    assert row.state == "sending" and "bob@example.org" in row.pending
    with sqlite3.connect(outbox.path) as db:
        assert db.execute("SELECT recipient_errors_json FROM messages").fetchone() == ("{}",)


def test_take_out_keeps_identity_reply_to_and_inline_images(
    outbox: Outbox, drafts: DraftStore, tmp_path: Path
) -> None:
    from mailgui.core import message

    image_type = getattr(message, "InlineImage", None)
    if image_type is None or not hasattr(drafts, "load_images"):
        pytest.skip("this tree has no inline images")
    png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32
    draft = Draft(
        sender=Mailbox("Ada (support)", "support@example.org"),
        to=[Mailbox("", "bob@example.org")],
        reply_to=[Mailbox("", "tickets@example.org")],
        subject="Look",
        html='<p>See <img src="cid:img1.abc@mailgui"></p>',
        inline_images=[image_type("img1.abc@mailgui", png, "image/png", "shot.png")],
    )
    msg_id = outbox.add("work", build(draft))
    saved, _row = take_out_for_editing(outbox, msg_id, drafts, tmp_path / "editing")
    assert getattr(saved, "identity", "support@example.org") == "support@example.org"
    assert getattr(saved, "reply_to", "tickets@example.org") == "tickets@example.org"
    assert saved.html is not None and "cid:img1.abc@mailgui" in saved.html
    assert saved.attachments == []  # the image is inline, not an attachment
    (image,) = drafts.load_images(drafts.load(saved.id))
    assert image.cid == "img1.abc@mailgui" and image.data == png


def test_take_out_never_writes_into_a_folder_that_exists(
    tmp_path: Path, drafts: DraftStore
) -> None:
    """An outbox made anew (the old one was damaged and moved aside) counts from 1 again:
    a draft taken out of the old one may still point into editing/1/. Its files stay."""
    older = tmp_path / "editing" / "1"
    older.mkdir(parents=True)
    (older / "report.pdf").write_bytes(b"the older draft's file")
    with Outbox(tmp_path / "new-outbox.sqlite3") as box:
        msg_id = queue(box, tmp_path)
        assert msg_id == 1
        saved, _row = take_out_for_editing(box, msg_id, drafts, tmp_path / "editing")
    (attachment,) = saved.attachments
    assert Path(attachment).parent == tmp_path / "editing" / "1-2"
    assert Path(attachment).read_bytes() == b"%PDF-1.4 \x00\x01"
    assert (older / "report.pdf").read_bytes() == b"the older draft's file"


def test_a_take_out_that_fails_after_writing_its_draft_leaves_no_second_copy(
    outbox: Outbox, drafts: DraftStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The take-out writes the draft, then deletes the row: when the sync or the commit
    fails in between, the message stays in the outbox and the draft and its files go."""
    from mailgui.core import editing

    msg_id = queue(outbox, tmp_path)

    def fail(*_args: object) -> None:  # the draft is on disk; the row not yet deleted
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(editing, "_sync", fail)
    with pytest.raises(OSError):
        take_out_for_editing(outbox, msg_id, drafts, tmp_path / "editing")
    assert outbox.get(msg_id).state == "queued"  # the message never left...
    assert drafts.all() == []  # ...so there is no draft of it to send a second time
    assert not (tmp_path / "editing" / str(msg_id)).exists()


def test_settle_removes_the_draft_of_a_take_out_a_dead_process_left(
    outbox: Outbox, drafts: DraftStore, tmp_path: Path
) -> None:
    """A process that died between writing the draft and removing the message left both:
    settle_take_outs (run before recovered drafts are offered) removes that draft. The
    draft of a take-out that committed is kept, also when another message has the same
    Message-ID (sendmail keeps a caller's Message-ID)."""
    from mailgui.core.drafts import SavedDraft
    from mailgui.core.editing import settle_take_outs

    committed_id = queue(outbox, tmp_path)
    message_id = outbox.get(committed_id).message_id
    committed, _row = take_out_for_editing(outbox, committed_id, drafts, tmp_path / "editing")
    assert (committed.taken_from_id, committed.taken_from) == (committed_id, message_id)
    twin = outbox.add(
        "work",
        build(
            Draft(
                sender=Mailbox("", "me@example.org"), to=[Mailbox("", "b@example.org")], text="x\n"
            )
        ),
    )
    outbox.db.execute("UPDATE messages SET message_id = ? WHERE id = ?", (message_id, twin))

    still_id = queue(outbox, tmp_path)
    left = SavedDraft(
        subject="Report", open=True,
        taken_from_id=still_id, taken_from=outbox.get(still_id).message_id,
    )  # fmt: skip
    drafts.save(left)

    assert settle_take_outs(outbox, drafts) == [left.id]
    assert [d.id for d in drafts.left_open()] == [committed.id]
    assert outbox.get(still_id).state == "queued"
    assert settle_take_outs(outbox, drafts) == []
