"""Render the main windows with real data into PNG files, for review and docs.

    QT_QPA_PLATFORM=offscreen .venv/bin/python scripts/screenshots.py [OUTDIR]
    QT_QPA_PLATFORM=offscreen .venv/bin/python scripts/screenshots.py --compose [OUTDIR]

``--compose`` renders only the compose window: empty, with identities, Reply-To, a
signature and an inline picture, and with recipient-domain warnings (answered by the
tests' local DNS server when dnslib is installed).

Everything shown is real: a throw-away profile, the embedded demo server, an account
whose server is down (a closed port), a message too big for the server's SIZE limit,
and one scheduled for tomorrow.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("PYTHON_KEYRING_BACKEND", "keyrings.alt.file.PlaintextKeyring")

from PySide6.QtWidgets import QApplication


def spin(app: object, seconds: float, until: object = None) -> None:
    """Process ``app``'s events for ``seconds``, or until ``until()`` is true."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        app.processEvents()  # type: ignore[attr-defined]
        time.sleep(0.02)
        if callable(until) and until():
            return


def main() -> int:
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "screenshots")
    out.mkdir(parents=True, exist_ok=True)
    home = Path(tempfile.mkdtemp(prefix="mailgui-shots-"))
    os.environ["MAILGUI_HOME"] = str(home)
    os.environ.setdefault("XDG_DATA_HOME", str(home / "xdg"))

    from mailgui.core.accounts import Account, AccountStore
    from mailgui.core.addresses import Mailbox
    from mailgui.core.message import Draft, build
    from mailgui.core.outbox import Outbox
    from mailgui.demo_server import DemoServer
    from mailgui.ui.app import demo_profile, prepare_demo
    from mailgui.ui.context import AppContext
    from mailgui.ui.main_window import MainWindow

    app = QApplication(sys.argv[:1])
    server = DemoServer().start()
    profile = demo_profile()
    profile.ensure()
    prepare_demo(profile, server)
    AccountStore(profile.accounts_file).save(
        Account("Office", "me@office.example", host="127.0.0.1", port=1, security="none",
                display_name="Me at the office", timeout=2.0)
    )  # fmt: skip
    me = Mailbox("Demo User", "you@demo.mailgui")
    big = home / "holiday-video.mp4"
    big.write_bytes(os.urandom(26 * 1024 * 1024))  # base64 makes it > the server's 32 MB
    with Outbox(profile.outbox_file) as box:

        def add(account: str, subject: str, to: str, **kw: object) -> int:
            draft = Draft(sender=me, to=[Mailbox("", to)], subject=subject,
                          text="Hello!\n", **kw)  # type: ignore[arg-type]  # fmt: skip
            return box.add(account, build(draft))

        for subject, to in [("Minutes of Monday's meeting", "team@demo.mailgui"),
                            ("Re: lunch on Friday?", "sam@demo.mailgui"),
                            ("Invoice 2026-114", "billing@demo.mailgui")]:  # fmt: skip
            add("Demo", subject, to)
        add("Demo", "Holiday video", "family@demo.mailgui", attachments=[big])
        add("Office", "Quarterly report draft", "boss@office.example")
        box.add("Demo", build(Draft(sender=me, to=[Mailbox("", "friend@demo.mailgui")],
                                    subject="Happy birthday!", text="🎂\n")),
                send_at=time.time() + 86400)  # fmt: skip

    ctx = AppContext(profile, demo_port=server.port)
    window = MainWindow(ctx, demo_server=server, watch_network=False)
    window.resize(1280, 720)
    window.show()

    def wait(seconds: float, until: object = None) -> None:
        spin(app, seconds, until)

    states = lambda: {window.model.row_for(i).state for i in window.model.ids()}  # noqa: E731
    wait(30, lambda: len(window.model.ids()) == 6 and "queued" not in states()
         and "sending" not in states())  # fmt: skip
    wait(1)
    window.grab().save(str(out / "main-outbox.png"))
    for index, name in ((2, "main-failed"), (3, "main-sent")):
        window.tabs.setCurrentIndex(index)
        window.table.selectRow(0)
        wait(1.5)
        window.grab().save(str(out / f"{name}.png"))
    window.tabs.setCurrentIndex(0)
    window.table.selectRow(0)
    wait(1.5)
    window.grab().save(str(out / "main-deferred-details.png"))

    from mailgui.ui.accounts_dialog import AccountsDialog

    dialog = AccountsDialog(ctx, window)
    dialog.resize(900, 560)
    dialog.show()
    wait(1)
    dialog.grab().save(str(out / "accounts.png"))
    dialog.close()

    from mailgui.ui.compose import ComposeWindow

    compose = ComposeWindow(ctx, window.outbox)
    compose.resize(760, 560)
    compose.show()
    wait(1)
    compose.grab().save(str(out / "compose.png"))
    compose.close()

    undo_shots(window, ctx, out, wait)

    window.shutdown()
    server.stop()
    print(f"Screenshots in {out.resolve()}")
    return 0


def undo_shots(window: Any, ctx: Any, out: Path, wait: Any) -> None:
    """A message in its undo delay (Outbox tab and status bar), the question on quit
    while mail waits, and the Preferences dialog."""
    from mailgui.ui.compose import ComposeWindow

    window.tabs.setCurrentIndex(0)
    compose = ComposeWindow(ctx, window.outbox, undo_seconds=30)
    compose.undoable.connect(window.offer_undo)
    compose.show()
    compose.to_edit.setText("Sam <sam@demo.mailgui>")
    compose.subject_edit.setText("See you at eight")
    compose.body_edit.setPlainText("Table for two is booked.")
    compose.send()
    wait(5, lambda: window.undo_notice.isVisible())
    wait(1.5)
    window.grab().save(str(out / "main-undo-delay.png"))
    window.tabs.setCurrentIndex(1)
    wait(0.5)
    window.grab().save(str(out / "main-undo-delay-scheduled-tab.png"))
    window.tabs.setCurrentIndex(0)
    wait(0.3)
    ask = getattr(window, "request_quit", None)
    if ask is not None:  # the question on quit (issue 17)
        ask()
        wait(0.5)
        box = getattr(window, "quit_box", None)
        if box is not None:
            box.grab().save(str(out / "quit-question.png"))
            box.reject()
            wait(0.3)
    prefs = getattr(window, "show_preferences", None)
    if prefs is not None:
        dialog = prefs(modal=False)
        wait(0.5)
        dialog.grab().save(str(out / "preferences.png"))
        dialog.reject()
    window.undo_notice.undo()
    wait(2)
    for w in QApplication.topLevelWidgets():  # the compose window Undo reopened
        if isinstance(w, ComposeWindow) and w.isVisible():
            w._done = True
            w.close()


def compose_shots(out: Path) -> int:
    """The compose window in its states, on a throw-away profile (no server needed)."""
    out.mkdir(parents=True, exist_ok=True)
    home = Path(tempfile.mkdtemp(prefix="mailgui-compose-shots-"))
    os.environ["MAILGUI_HOME"] = str(home)
    dns = None
    try:  # the tests' DNS server: real answers for made-up domains, no internet needed
        sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
        from dns_server import DnsServer

        dns = DnsServer().start()
        dns.add(".", "NS", "a.root-servers.net.")  # an honest server knows the root
        dns.add("null.example", "MX", "0 .").add("example.org", "MX", "10 mx.example.org.")
        os.environ["MAILGUI_NAMESERVER"] = dns.address
    except ImportError:
        print("dnslib is not installed: only typo warnings will show")

    from PySide6.QtCore import Qt
    from PySide6.QtGui import QColor, QFont, QImage, QLinearGradient, QPainter
    from PySide6.QtWidgets import QApplication

    from mailgui.core.accounts import Account, Identity
    from mailgui.core.paths import Profile
    from mailgui.ui.compose import ComposeWindow
    from mailgui.ui.context import AppContext
    from mailgui.ui.outbox_service import OutboxHandle

    app = QApplication.instance() or QApplication(sys.argv[:1])
    profile = Profile(home / "config", home / "data", home / "state")
    profile.ensure()
    ctx = AppContext(profile)
    ctx.accounts.save(
        Account("Work", "ada@example.org", display_name="Ada Lovelace", host="smtp.example.org",
                signature="Ada Lovelace\nAnalytical Engines Ltd · +44 20 7946 0000",
                identities=(Identity("Engines Support", "support@example.org",
                                     "tickets@example.org", "The Support Team"),))
    )  # fmt: skip
    ctx.accounts.save(Account("Home", "ada@home.example", host="mail.home.example"))
    handle = OutboxHandle(ctx)
    handle.start()

    def wait(seconds: float, until: object = None) -> None:
        spin(app, seconds, until)

    def shot(window: ComposeWindow, name: str) -> None:
        wait(0.3)
        window.grab().save(str(out / f"{name}.png"))

    compose = ComposeWindow(ctx, handle)
    compose.resize(760, 600)
    compose.show()
    shot(compose, "compose-empty")

    chart = QImage(640, 240, QImage.Format.Format_RGB32)
    painter = QPainter(chart)
    gradient = QLinearGradient(0, 0, 640, 240)
    gradient.setColorAt(0, QColor("#1e88e5"))
    gradient.setColorAt(1, QColor("#43a047"))
    painter.fillRect(chart.rect(), gradient)
    painter.setPen(QColor("white"))
    painter.setFont(QFont("Sans", 28, QFont.Weight.Bold))
    painter.drawText(chart.rect(), Qt.AlignmentFlag.AlignCenter, "Q3: +4 %")
    painter.end()
    picture = home / "q3-chart.png"
    chart.save(str(picture))

    compose.from_combo.setCurrentIndex(1)  # Engines Support: its signature and Reply-To
    compose.to_edit.setText("Bob Builder <bob@example.org>")
    compose.subject_edit.setText("Quarterly numbers")
    compose.set_rich_text(True)
    body = compose.body_edit
    cursor = body.textCursor()
    cursor.movePosition(cursor.MoveOperation.Start)
    body.setTextCursor(cursor)
    body.insertPlainText("Hello Bob,\n\nhere is the chart you asked for:\n")
    compose.insert_images([picture])
    wait(5, lambda: bool(compose.inline_images()))
    body.insertPlainText("\n")
    shot(compose, "compose-filled")

    compose.to_edit.setText("Bob Builder <bob@gmial.com>, info@null.example")
    compose._check_field(compose.fields["to"])
    compose.cc_edit.setText("sam@nowhere.example")
    compose._check_field(compose.fields["cc"])
    wait(5, lambda: not compose.checker.is_running())
    shot(compose, "compose-warnings")

    compose._done = True
    compose.close()

    check = ComposeWindow(ctx, handle)  # pre-flight: no subject, a promised attachment
    check.resize(760, 600)
    check.show()
    check.to_edit.setText("bob@example.org")
    check.body_edit.insertPlainText("Hi Bob, the report is attached.\n")
    check.send()
    shot(check, "compose-preflight")
    check._done = True
    check.close()
    handle.shutdown()
    if dns is not None:
        dns.stop()
    print(f"Screenshots in {out.resolve()}")
    return 0


if __name__ == "__main__":
    if "--compose" in sys.argv:
        args = [a for a in sys.argv[1:] if a != "--compose"]
        raise SystemExit(compose_shots(Path(args[0] if args else "screenshots")))
    raise SystemExit(main())
