"""Render the main windows with real data into PNG files, for review and docs.

    QT_QPA_PLATFORM=offscreen .venv/bin/python scripts/screenshots.py [OUTDIR]

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

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("PYTHON_KEYRING_BACKEND", "keyrings.alt.file.PlaintextKeyring")


def main() -> int:
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "screenshots")
    out.mkdir(parents=True, exist_ok=True)
    home = Path(tempfile.mkdtemp(prefix="mailgui-shots-"))
    os.environ["MAILGUI_HOME"] = str(home)
    os.environ.setdefault("XDG_DATA_HOME", str(home / "xdg"))

    from PySide6.QtWidgets import QApplication

    from mailgui.core.accounts import Account, AccountStore
    from mailgui.core.addresses import Mailbox
    from mailgui.core.message import Draft, build
    from mailgui.core.outbox import Outbox
    from mailgui.demo import DemoServer
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
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            app.processEvents()
            time.sleep(0.02)
            if callable(until) and until():
                return

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

    window.shutdown()
    server.stop()
    print(f"Screenshots in {out.resolve()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
