"""The drafts folder's JSON: the send time a draft may keep, and drafts older than it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mailgui.core.drafts import DraftStore, SavedDraft


def test_send_time_is_saved_and_loaded(tmp_path: Path) -> None:
    store = DraftStore(tmp_path / "drafts", clock=lambda: 1000.0)
    draft = SavedDraft(account="work", subject="Later", send_at=1_900_000_000.5)
    store.save(draft)
    assert store.load(draft.id).send_at == 1_900_000_000.5
    assert store.load(draft.id) == draft


def test_a_draft_written_before_send_times_still_loads(tmp_path: Path) -> None:
    folder = tmp_path / "drafts"
    folder.mkdir()
    old = {  # as an older mailgui wrote it: no send_at
        "account": "work", "identity": "me@example.org", "to": "bob@example.org", "cc": "",
        "bcc": "", "reply_to": "", "subject": "Old", "text": "Hi\n", "html": None,
        "attachments": [], "inline_images": [], "priority": "normal", "read_receipt": False,
        "open": False, "saved_at": 5.0, "id": "0123abcd",
    }  # fmt: skip
    (folder / "0123abcd.json").write_text(json.dumps(old), encoding="utf-8")
    store = DraftStore(folder)
    (draft,) = store.all()
    assert draft.subject == "Old" and draft.send_at is None
    assert store.load("0123abcd") == draft


@pytest.mark.parametrize("value", ["tomorrow", True, -5, 0, [1]])
def test_a_bad_send_time_is_dropped_not_fatal(tmp_path: Path, value: object) -> None:
    folder = tmp_path / "drafts"
    folder.mkdir()
    data = {"subject": "Odd", "send_at": value, "id": "abc"}
    (folder / "abc.json").write_text(json.dumps(data), encoding="utf-8")
    draft = DraftStore(folder).load("abc")
    assert draft.subject == "Odd" and draft.send_at is None
