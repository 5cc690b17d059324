"""Folders of files written for drafts (a taken-out message's attachments in
``editing/<id>/``) go once no saved draft points into them, never before; real files,
real SQLite outbox."""

from __future__ import annotations

import os
from collections.abc import Iterator
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

import pytest

from mailgui.core.addresses import Mailbox
from mailgui.core.drafts import DraftStore, SavedDraft
from mailgui.core.editing import take_out_for_editing
from mailgui.core.message import Draft, build
from mailgui.core.outbox import BODY_CHUNK, Outbox


@pytest.fixture
def outbox(tmp_path: Path) -> Iterator[Outbox]:
    with Outbox(tmp_path / "outbox.sqlite3") as box:
        yield box


@pytest.fixture
def drafts(tmp_path: Path) -> DraftStore:
    return DraftStore(tmp_path / "drafts")


@pytest.fixture
def roots(tmp_path: Path) -> list[Path]:
    return [tmp_path / "editing", tmp_path / "pasted"]


def queue(outbox: Outbox, *files: Path) -> int:
    draft = Draft(
        sender=Mailbox("Me", "me@example.org"),
        to=[Mailbox("Bob", "bob@example.org")],
        subject="Report",
        text="Hello\n",
        attachments=list(files),
    )
    return outbox.add("work", build(draft))


def attachment(tmp_path: Path, name: str, data: bytes = b"%PDF-1.4 \x00\x01") -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def test_a_folder_goes_only_once_no_saved_draft_points_into_it(
    outbox: Outbox, drafts: DraftStore, roots: list[Path], tmp_path: Path
) -> None:
    own = attachment(tmp_path, "mine.pdf")  # the person's own file, outside the roots
    saved, _row = take_out_for_editing(outbox, queue(outbox, own), drafts, roots[0])
    (copy,) = map(Path, saved.attachments)
    folder = copy.parent
    assert folder.parent == roots[0] and copy.is_file()

    # Asked while the draft is still saved (a crash before its deletion): kept.
    assert drafts.remove_unused_folders(roots, [copy, own]) == []
    assert copy.is_file()
    drafts.delete(saved.id)
    assert drafts.remove_unused_folders(roots, [copy, own]) == [folder]
    assert not folder.exists() and roots[0].is_dir()
    assert own.is_file()  # files outside the roots are never touched
    assert drafts.remove_unused_folders(roots, [copy]) == []  # already gone: no error


def test_the_sweep_removes_what_no_draft_points_at_and_nothing_while_one_is_unreadable(
    outbox: Outbox, drafts: DraftStore, roots: list[Path], tmp_path: Path
) -> None:
    kept, _ = take_out_for_editing(
        outbox, queue(outbox, attachment(tmp_path, "a.pdf")), drafts, roots[0]
    )
    left, _ = take_out_for_editing(
        outbox, queue(outbox, attachment(tmp_path, "b.pdf")), drafts, roots[0]
    )
    drafts.delete(left.id)  # sent or discarded, then a crash before its folder went
    pasted = roots[1] / "0123abcd"  # pictures of a rich draft that went plain
    pasted.mkdir(parents=True)
    (pasted / "pasted-image-1.png").write_bytes(b"\x89PNG")
    kept_folder = Path(kept.attachments[0]).parent
    left_folder = Path(left.attachments[0]).parent
    (roots[0] / "stray.txt").write_text("not a folder")

    broken = drafts.folder / "deadbeef.json"
    broken.write_text("{not json", encoding="utf-8")  # it might point anywhere
    assert drafts.remove_unused_folders(roots) == []
    assert left_folder.is_dir() and pasted.is_dir()

    broken.unlink()
    assert drafts.remove_unused_folders(roots) == sorted([left_folder, pasted])
    assert kept_folder.is_dir() and Path(kept.attachments[0]).is_file()
    assert (roots[0] / "stray.txt").is_file()
    assert drafts.remove_unused_folders(roots) == []


def test_a_draft_pointing_into_a_pasted_folder_keeps_it(
    drafts: DraftStore, roots: list[Path]
) -> None:
    picture = roots[1] / "0123abcd" / "pasted-image-1.png"
    picture.parent.mkdir(parents=True)
    picture.write_bytes(b"\x89PNG")
    drafts.save(SavedDraft(id="0123abcd", subject="Plain now", attachments=[str(picture)]))
    assert drafts.remove_unused_folders(roots) == []
    assert picture.is_file()


def parse(data: bytes) -> EmailMessage:
    msg = message_from_bytes(data, policy=policy.default)
    assert isinstance(msg, EmailMessage)
    return msg


def test_a_queued_draft_carries_its_big_attachment_so_its_folder_can_go(
    outbox: Outbox, drafts: DraftStore, roots: list[Path], tmp_path: Path
) -> None:
    """What the compose window does on Send: build and queue the draft, delete it, then
    let go of its folder; the outbox must hold every byte of the attachment by then,
    also past the size the outbox writes in chunks."""
    data = os.urandom(3 * BODY_CHUNK + 12345)
    original = attachment(tmp_path, "scan.tiff", data)
    saved, _row = take_out_for_editing(outbox, queue(outbox, original), drafts, roots[0])
    original.unlink()  # only the copy in editing/<id>/ is left
    draft = Draft(
        sender=Mailbox("Me", "me@example.org"),
        to=[Mailbox("Bob", "bob@example.org")],
        subject=saved.subject + " (fixed)",
        text=saved.text,
        attachments=[Path(a) for a in saved.attachments],
    )
    new_id = outbox.add("work", build(draft))
    drafts.delete(saved.id)
    (folder,) = drafts.remove_unused_folders(roots, saved.attachments)
    assert not folder.exists()

    (part,) = parse(outbox.body(new_id)).iter_attachments()
    assert part.get_filename() == "scan.tiff"
    assert part.get_payload(decode=True) == data


def test_a_profile_reached_through_a_link_keeps_the_folders_its_drafts_use(
    tmp_path: Path,
) -> None:
    """The draft was written with the profile's path through a link (MAILGUI_HOME=~/mail,
    a link to the real folder); the sweep runs with the real path. The draft's folder
    stays; a folder no draft uses goes."""
    real = tmp_path / "real"
    (real / "editing" / "5").mkdir(parents=True)
    (real / "editing" / "6").mkdir()
    (real / "editing" / "5" / "a.pdf").write_bytes(b"%PDF")
    link = tmp_path / "link"
    link.symlink_to(real)
    store = DraftStore(real / "drafts")
    store.save(SavedDraft(subject="Edited", attachments=[str(link / "editing" / "5" / "a.pdf")]))

    removed = store.remove_unused_folders([real / "editing", real / "pasted"])
    assert removed == [real / "editing" / "6"]
    assert (real / "editing" / "5" / "a.pdf").read_bytes() == b"%PDF"
    # and the other way round: the sweep through the link, the draft by the real name
    store.save(SavedDraft(subject="Edited", attachments=[str(real / "editing" / "5" / "a.pdf")]))
    assert store.remove_unused_folders([link / "editing", link / "pasted"]) == []


def test_the_sweep_waits_for_a_take_out_of_another_mailgui(tmp_path: Path) -> None:
    """A second mailgui on the profile (started when the first was slow to answer) sweeps
    while the first is between writing a take-out's files and saving its draft: the
    sweep waits for the drafts lock, so the folder is not taken from under it."""
    import fcntl
    import threading

    store = DraftStore(tmp_path / "drafts")
    folder = tmp_path / "editing" / "7"
    folder.mkdir(parents=True)
    (folder / "a.pdf").write_bytes(b"%PDF")
    store.folder.mkdir(parents=True)
    other = os.open(store.folder / ".lock", os.O_RDWR | os.O_CREAT, 0o600)  # its take-out
    fcntl.flock(other, fcntl.LOCK_EX)
    result: list[list[Path]] = []
    sweep = threading.Thread(
        target=lambda: result.append(store.remove_unused_folders([tmp_path / "editing"]))
    )
    sweep.start()
    sweep.join(0.3)
    assert sweep.is_alive() and (folder / "a.pdf").exists()  # waiting, nothing removed
    store.save(SavedDraft(subject="Taken out", attachments=[str(folder / "a.pdf")]))
    os.close(other)  # the take-out committed
    sweep.join(10)
    assert result == [[]] and (folder / "a.pdf").read_bytes() == b"%PDF"
