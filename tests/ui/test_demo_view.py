"""The demo server's received view, fed by a real DemoServer over real SMTP."""
# pytest-qt's QtBot methods are not annotated:
# mypy: disable-error-code="no-untyped-call"

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import smtplib
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from mailgui.demo_server import DemoServer, Received
from mailgui.ui.demo_view import RAW_LIMIT, ReceivedView, describe, summarize


@pytest.fixture
def server() -> Iterator[DemoServer]:
    demo = DemoServer().start()
    yield demo
    demo.stop()


@pytest.fixture
def view(qtbot: QtBot, server: DemoServer) -> ReceivedView:
    widget = ReceivedView(server)
    qtbot.addWidget(widget)
    widget.show()
    qtbot.waitExposed(widget)
    return widget


def send(
    server: DemoServer,
    *,
    subject: str,
    body: str,
    to: str = "Friend <friend@demo.mailgui>",
    cc: str | None = None,
    bcc: list[str] = (),  # type: ignore[assignment]
    attachment: tuple[str, bytes] | None = None,
) -> None:
    msg = EmailMessage()
    msg["From"] = "Demo User <you@demo.mailgui>"
    msg["To"] = to
    if cc:
        msg["Cc"] = cc
    msg["Subject"] = subject
    msg["Date"] = "Mon, 02 Sep 2024 10:15:00 +0200"
    msg["Message-ID"] = f"<{abs(hash(subject))}@demo.mailgui>"
    msg.set_content(body)
    if attachment:
        name, data = attachment
        msg.add_attachment(data, maintype="application", subtype="pdf", filename=name)
    recipients = [a.strip().split("<")[-1].rstrip(">") for a in [to, *(cc or "").split(",")]]
    with smtplib.SMTP(server.host, server.port, timeout=10) as smtp:
        smtp.send_message(msg, to_addrs=[r for r in recipients if r] + list(bcc))


def test_shows_a_message_sent_through_the_server(
    qtbot: QtBot, view: ReceivedView, server: DemoServer
) -> None:
    assert view.windowTitle() == "Received (demo)"
    assert view.message_count() == 0
    assert "Nothing received yet" in view.placeholder.text()
    assert view.grab().save("/tmp/received_empty.png")

    send(
        server,
        subject="Hello from the test ✉",
        body="It works: queued durably, then sent.\n",
        cc="Carol <carol@demo.mailgui>",
        bcc=["hidden@demo.mailgui"],
        attachment=("numbers.pdf", b"%PDF" * 300),
    )
    qtbot.waitUntil(lambda: view.message_count() == 1, timeout=5000)
    row = view.list.topLevelItem(0)
    assert row is not None
    assert row.text(1) == "Demo User"
    assert row.toolTip(1) == "Demo User <you@demo.mailgui>"
    assert row.text(2) == "Friend"
    assert row.text(3) == "Hello from the test ✉"

    view.select_index(0)  # the first message is also selected by itself
    qtbot.waitUntil(lambda: view.current_details() is not None, timeout=5000)
    assert view.subject_label.text() == "Hello from the test ✉"
    assert view.body_view.toPlainText() == "It works: queued durably, then sent.\n"
    headers = view.headers_label.text()
    for expected in (
        "Demo User &lt;you@demo.mailgui&gt;",
        "Carol &lt;carol@demo.mailgui&gt;",
        "Mon, 02 Sep 2024 10:15:00 +0200",
        "@demo.mailgui&gt;",  # Message-ID
        "hidden@demo.mailgui",  # only in "Delivered to": the envelope
        "numbers.pdf (1.2 kB)",
    ):
        assert expected in headers

    assert not view.raw_view.isVisible()
    qtbot.mouseClick(view.raw_button, Qt.MouseButton.LeftButton)
    assert view.raw_view.isVisible()
    raw = view.raw_view.toPlainText()
    assert view.grab().save("/tmp/received_raw.png")
    assert "\nSubject: " in raw
    assert "Content-Disposition: attachment" in raw
    assert "hidden@demo.mailgui" not in raw
    qtbot.mouseClick(view.raw_button, Qt.MouseButton.LeftButton)
    assert view.body_view.isVisible()


def test_new_messages_appear_newest_first_and_screenshot(
    qtbot: QtBot, view: ReceivedView, server: DemoServer
) -> None:
    view.resize(820, 600)
    send(server, subject="Lunch on Friday?", body="Pizza at noon?\n", to="bob@demo.mailgui")
    qtbot.waitUntil(lambda: view.message_count() == 1, timeout=5000)
    send(
        server,
        subject="Quarterly report",
        body="Hello Bob,\n\nthe numbers for Q3 are attached.\n\nMia\n",
        cc="carol@demo.mailgui",
        attachment=("Quarterly report Q3.pdf", b"%PDF" * 40_000),
    )
    qtbot.waitUntil(lambda: view.message_count() == 2, timeout=5000)
    assert [s.subject for s in view.summaries()] == ["Quarterly report", "Lunch on Friday?"]
    # The first message stayed selected; the list did not jump to the new one.
    qtbot.waitUntil(lambda: view.current_details() is not None, timeout=5000)
    assert view.subject_label.text() == "Lunch on Friday?"

    view.select_index(1)
    qtbot.waitUntil(lambda: view.subject_label.text() == "Quarterly report", timeout=5000)
    qtbot.waitUntil(lambda: "Hello Bob" in view.body_view.toPlainText(), timeout=5000)
    qtbot.wait(30)
    assert view.grab().save("/tmp/received.png")


def test_summary_reads_only_headers_and_describe_cuts_big_raw_sources() -> None:
    msg = EmailMessage()
    msg["From"] = "a@example.org"
    msg["Subject"] = "Big"
    msg.set_content("text")
    msg.add_attachment(b"\0" * (RAW_LIMIT + 10), maintype="application", subtype="octet-stream")
    data = msg.as_bytes().replace(b"\n", b"\r\n")
    received = Received("a@example.org", ["b@example.org", "c@example.org"], data, 0.0)

    summary = summarize(3, received)
    assert (summary.index, summary.sender_names, summary.to_names, summary.subject) == (
        3,
        "a@example.org",
        "b@example.org, c@example.org",  # no To header: the envelope
        "Big",
    )
    details = describe(3, received)
    assert details.raw_truncated
    assert len(details.raw) == RAW_LIMIT
    assert details.attachments == [("(no name)", RAW_LIMIT + 10)]


def test_snapshot_is_a_copy_from_an_index(server: DemoServer, tmp_path: Path) -> None:
    send(server, subject="one", body="1\n")
    send(server, subject="two", body="2\n")
    server.wait_for(2)
    assert len(server.snapshot()) == 2
    tail = server.snapshot(1)
    assert len(tail) == 1 and b"Subject: two" in tail[0].data
    tail.clear()
    assert len(server.snapshot()) == 2
    assert server.snapshot(5) == []
