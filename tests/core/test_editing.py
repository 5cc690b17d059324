"""A stored message comes back as an equal Draft (for "Edit" in the GUI)."""

from pathlib import Path

from mailgui.core.addresses import Mailbox
from mailgui.core.editing import draft_from_stored
from mailgui.core.message import Draft, build


def test_round_trip(tmp_path: Path) -> None:
    report = tmp_path / "Q3 report.pdf"
    report.write_bytes(b"%PDF-1.4 \x00\x01 binary")
    draft = Draft(
        sender=Mailbox("Me Myself", "me@example.org"),
        to=[Mailbox("Bob Ünicode", "bob@example.org"), Mailbox("", "carol@example.org")],
        cc=[Mailbox("", "dave@example.org")],
        bcc=[Mailbox("", "eve@example.org")],
        subject="Quarterly ✓",
        text="Hello\nsecond line\n",
        attachments=[report],
    )
    out = build(draft)
    back = draft_from_stored(out.data, bcc=out.bcc, attachments_dir=tmp_path / "edit")
    assert back.sender == draft.sender
    assert back.to == draft.to and back.cc == draft.cc and back.bcc == draft.bcc
    assert back.subject == draft.subject
    assert back.text == draft.text
    assert [p.name for p in back.attachments] == ["Q3 report.pdf"]
    assert back.attachments[0].read_bytes() == report.read_bytes()
    assert back.attachments[0].parent == tmp_path / "edit"


def test_html_and_hostile_filename(tmp_path: Path) -> None:
    evil = tmp_path / "x.txt"
    evil.write_text("data")
    out = build(
        Draft(sender=Mailbox("", "me@example.org"), to=[Mailbox("", "b@example.org")],
              subject="s", html="<p>Hi <b>there</b></p>", attachments=[evil])
    )  # fmt: skip
    data = out.data.replace(b'filename="x.txt"', b'filename="../../etc/passwd"')
    back = draft_from_stored(data, bcc=[], attachments_dir=tmp_path / "edit")
    assert back.html is not None and "<b>there</b>" in back.html
    assert back.attachments[0].parent == tmp_path / "edit"  # never outside the folder
    assert back.attachments[0].name == "passwd"
