"""Priority and read-receipt headers: written by build, read back by editing."""

from email import message_from_bytes, policy
from pathlib import Path

import pytest

from mailgui.core.addresses import Mailbox
from mailgui.core.editing import draft_from_stored
from mailgui.core.errors import InputError
from mailgui.core.message import Draft, build


def draft(**extra: object) -> Draft:
    return Draft(
        sender=Mailbox("Mia Ëxample", "me@example.org"),
        to=[Mailbox("", "bob@example.org")],
        subject="Hi",
        text="body\n",
        **extra,  # type: ignore[arg-type]
    )


@pytest.mark.parametrize(
    ("priority", "x_priority", "importance"),
    [("high", "1 (Highest)", "high"), ("low", "5 (Lowest)", "low"), ("normal", None, None)],
)
def test_priority_headers(
    priority: str, x_priority: str | None, importance: str | None, tmp_path: Path
) -> None:
    out = build(draft(priority=priority))
    msg = message_from_bytes(out.data, policy=policy.default)
    assert msg["X-Priority"] == x_priority
    assert msg["Importance"] == importance
    back = draft_from_stored(out.data, bcc=[], attachments_dir=tmp_path)
    assert back.priority == priority


def test_unknown_priority_is_refused() -> None:
    with pytest.raises(InputError, match="Unknown priority"):
        build(draft(priority="urgent"))


def test_read_receipt_goes_to_the_sender_or_reply_to(tmp_path: Path) -> None:
    plain = build(draft())
    assert b"Disposition-Notification-To" not in plain.data
    out = build(draft(read_receipt=True))
    assert b"\r\nDisposition-Notification-To: me@example.org\r\n" in out.data
    assert draft_from_stored(out.data, bcc=[], attachments_dir=tmp_path).read_receipt
    replied = build(draft(read_receipt=True, reply_to=[Mailbox("", "desk@example.org")]))
    assert b"\r\nDisposition-Notification-To: desk@example.org\r\n" in replied.data
