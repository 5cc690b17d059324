"""The command-line tour: ``python -m mailgui.demo_tour`` (``scripts/demo`` without a
display) sets up a throw-away profile with a "Demo" account pointing at the embedded
server (``demo_server.py``), sends a message through the real command line, and prints
what the server received.

A script on top of the CLI, kept out of the product's modules: nothing imports it, so
``cli → ui/app → demo_server`` never loops back to the CLI.
"""

from __future__ import annotations

import os
import shlex
import sys
import tempfile
from email import message_from_bytes, policy

from mailgui.cli import main as cli
from mailgui.demo_server import DemoServer


def main() -> int:
    server = DemoServer().start()
    try:
        home = os.environ.setdefault("MAILGUI_HOME", tempfile.mkdtemp(prefix="mailgui-demo-"))
        print(f"Demo profile: {home}")
        print(f"Demo SMTP server listening on {server.host}:{server.port}\n")
        steps = [
            [
                "account",
                "add",
                "Demo",
                "--email",
                "you@demo.mailgui",
                "--display-name",
                "Demo User",
                "--host",
                server.host,
                "--port",
                str(server.port),
                "--security",
                "none",
                "--no-recipient-checks",  # demo.mailgui is not in the public DNS
            ],
            [
                "send",
                "--account",
                "Demo",
                "--to",
                "Friend <friend@demo.mailgui>",
                "--subject",
                "Hello from mailgui ✉",
                "--body",
                "It works: queued durably, then sent.\n",
            ],
            ["outbox", "list"],
        ]
        for argv in steps:
            print("$ mailgui " + shlex.join(argv))
            code = cli(argv)
            sys.stdout.flush()
            if code:
                return code
            print()
        for msg in server.wait_for(1):
            parsed = message_from_bytes(msg.data, policy=policy.default)
            print(f"The demo server received a message for {', '.join(msg.rcpt_tos)}:")
            for key in ("From", "To", "Subject", "Date", "Message-ID"):
                print(f"  {key}: {parsed[key]}")
        return 0
    finally:
        server.stop()


if __name__ == "__main__":
    raise SystemExit(main())
