"""Pre-flight checks (pure functions) and the outbox's race-safe Undo send."""

from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest
from clock import Clock

from mailgui.core.outbox import Outbox, new_claimer
from mailgui.core.outgoing import Outgoing
from mailgui.core.preflight import (
    Composed,
    Finding,
    check,
    encoded_size,
    mentioned_attachment,
    size_matters,
)


@pytest.mark.parametrize(
    ("text", "word"),
    [
        ("The report is attached.", "attached"),
        ("See the ATTACHMENT", "ATTACHMENT"),
        ("Enclosed you will find it", "Enclosed"),
        ("Siehe Anhang", "Anhang"),
        ("Le fichier ci-joint", "ci-joint"),
        ("Voici la pièce jointe", "pièce jointe"),
        ("Te mando el adjunto", "adjunto"),
        ("Segue em anexo", "em anexo"),
        ("Il file in allegato", "in allegato"),
        ("Zie bijlage", "bijlage"),
    ],
)
def test_attachment_words_in_a_few_languages(text: str, word: str) -> None:
    assert mentioned_attachment(text) == word


@pytest.mark.parametrize(
    "text",
    [
        "No files today.",
        "> the report is attached\nThanks, got it.",  # only in the quote
        "We are detached from it.",  # not a whole word
        "unattached",
        "",
    ],
)
def test_no_attachment_word(text: str) -> None:
    assert mentioned_attachment(text) is None


def test_encoded_size_counts_base64_growth() -> None:
    assert encoded_size(0, 0, []) == 2048
    one_mb = encoded_size(0, 0, [1_000_000])
    assert 1_350_000 < one_mb < 1_400_000  # 4/3 plus line ends plus headers
    assert encoded_size(1000, 2000, []) == 2048 + 3300


# --- the rules: pure functions of what the window holds --------------------------------

READY = Composed(recipients=("bob@example.org", "", ""), subject="Hello", text="Hi Bob")


def test_a_ready_message_has_no_findings() -> None:
    assert check(READY) == []


def test_no_recipient_blocks_and_comes_first() -> None:
    found = check(Composed(recipients=("  ", "", ""), subject="", text=""))
    assert [f.key for f in found] == ["recipients", "subject"]
    assert found[0] == Finding("recipients", "block")
    assert not found[0].dismissable and found[1].dismissable


def test_any_field_counts_as_a_recipient_even_unparsed() -> None:
    # A bad address is shown under its field; here it still counts as someone.
    assert check(Composed(recipients=("", "", "not an address"), subject="x")) == []


def test_an_empty_subject_is_a_warning() -> None:
    assert check(Composed(recipients=("a@b.org",), subject=" \t")) == [Finding("subject", "warn")]


@pytest.mark.parametrize(
    ("text", "subject"),
    [("The report is attached.", "Report"), ("Hi", "Attachment: the report")],
)
def test_a_mentioned_attachment_that_is_missing(text: str, subject: str) -> None:
    composed = Composed(recipients=("a@b.org",), subject=subject, text=text)
    (finding,) = check(composed)
    assert finding.key == "attachment" and finding.level == "warn"
    assert finding.word.lower() in (text + subject).lower()
    assert check(Composed(recipients=("a@b.org",), subject=subject, text=text, attachments=1)) == []


def test_the_body_word_is_named_before_the_subject_word() -> None:
    composed = Composed(recipients=("a@b.org",), subject="Anhang", text="see attached")
    assert check(composed)[0].word == "attached"


def test_too_big_for_the_server() -> None:
    base = Composed(recipients=("a@b.org",), subject="x", attachments=1, size_limit=1_000_000)
    assert check(replace(base, encoded_size=1_000_000)) == []
    (finding,) = check(replace(base, encoded_size=1_200_000))
    assert finding == Finding("size", "warn", size=1_200_000, limit=1_000_000)
    # Not measured, or no limit known: nothing to say.
    assert check(base) == []
    assert check(replace(base, size_limit=None, encoded_size=9**9)) == []


def test_size_is_measured_only_with_a_limit_and_something_attached() -> None:
    assert size_matters(10_000, 1, 0) and size_matters(10_000, 0, 2)
    assert not size_matters(10_000, 0, 0)
    assert not size_matters(None, 3, 3) and not size_matters(0, 3, 3)


def test_findings_come_in_the_panel_order() -> None:
    everything = Composed(
        recipients=(),
        subject="",
        text="attached",
        size_limit=10,
        encoded_size=2048,
    )
    assert [f.key for f in check(everything)] == ["recipients", "subject", "attachment", "size"]


def test_the_rules_need_no_qt() -> None:
    import subprocess
    import sys

    code = "import sys, mailgui.core.preflight; assert 'PySide6' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


def outgoing() -> Outgoing:
    return Outgoing(
        envelope_from="me@example.org",
        recipients=["bob@example.org"],
        data=b"Subject: x\r\n\r\nbody\r\n",
        message_id="<1@example.org>",
        date=datetime.now(UTC),
        subject="x",
        sender="me@example.org",
        to=["bob@example.org"],
        cc=[],
        bcc=[],
        smtputf8=False,
    )


def test_cancel_scheduled_deletes_only_a_message_still_waiting(tmp_path: Path) -> None:
    clock = Clock()
    with Outbox(tmp_path / "outbox.sqlite3", clock=clock) as box:
        waiting = box.add("work", outgoing(), send_at=clock.now + 10)
        assert box.get(waiting).state == "scheduled"
        assert box.cancel_scheduled(waiting) is True
        assert box.get_many([waiting]) == []
        assert box.cancel_scheduled(waiting) is False  # gone: nothing to undo

        late = box.add("work", outgoing(), send_at=clock.now + 10)
        clock.advance(11)
        box.promote_due()
        assert box.get(late).state == "queued"
        assert box.cancel_scheduled(late) is False  # the sender's turn came first
        assert box.get(late).state == "queued"
        claimed = box.claim_next(new_claimer(), "work")
        assert claimed is not None and claimed.id == late
        assert box.cancel_scheduled(late) is False
        assert box.get(late).state == "sending"


def test_server_limits_remember_the_last_ehlo_size(tmp_path: Path) -> None:
    from mailgui.core.server_limits import ServerLimits

    limits = ServerLimits(tmp_path / "data" / "server_limits.json")
    assert limits.size_limit("work") is None
    limits.remember("work", 10_485_760)
    limits.remember("home", None)
    assert limits.size_limit("work") == 10_485_760
    assert limits.size_limit("home") is None
    limits.remember("work", None)  # the server stopped announcing one
    assert limits.size_limit("work") is None
    limits.path.write_text("not json")
    assert limits.size_limit("work") is None  # a broken file is no limit, not a crash


def test_profile_files_of_compose_are_private(tmp_path) -> None:
    import os
    import stat

    from mailgui.core.files import write_private

    old = os.umask(0)
    try:
        target = tmp_path / "sub" / "drafts.json"
        write_private(target, "{}")
        write_private(target, '{"a": 1}')
    finally:
        os.umask(old)
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert stat.S_IMODE(target.parent.stat().st_mode) == 0o700
    assert target.read_text() == '{"a": 1}'
    assert not list(target.parent.glob("*.tmp"))
