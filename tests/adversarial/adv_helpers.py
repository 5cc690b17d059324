"""Helpers for the adversarial suite: drive the real CLI, find secrets, read the outbox."""

from __future__ import annotations

import base64
import json
import os
import subprocess
from pathlib import Path
from typing import Any

FULL = os.environ.get("MAILGUI_ADV_FULL") == "1"
"""MAILGUI_ADV_FULL=1: the full sizes of the issue (5 000-message load, more kills)."""
PASSWORD = "pw-Adv3rsarial-Marker-9f2c"
"""The marker password: it must never turn up anywhere but the keyring and inside TLS."""
USERNAME = "me-user"
BODY_MARKER = "Body-Marker-4b7d: the message text"
SUBJECT = "Subject-Marker-81e3"
SENDER = "me@example.org"
BOB = "bob@example.org"


def secret_forms(password: str = PASSWORD, username: str = USERNAME) -> list[bytes]:
    """The password as it could leak: raw, and as the AUTH PLAIN / LOGIN payloads."""
    pw = password.encode()
    plain = base64.b64encode(b"\0" + username.encode() + b"\0" + pw)
    return [pw, base64.b64encode(pw), plain, plain.rstrip(b"=")]


def add_account(
    profile: Any,
    server: Any,
    *,
    security: str,
    ca_file: str | None = None,
    password: str | None = PASSWORD,
    name: str = "work",
    extra: tuple[str, ...] = (),
) -> subprocess.CompletedProcess[str]:
    args = [
        "account", "add", name, "--email", SENDER, "--host", server.host,
        "--port", str(server.port), "--security", security, "--timeout", "3",
    ]  # fmt: skip
    if ca_file is not None:
        args += ["--ca-file", ca_file]
    if password is not None:
        args += ["--username", USERNAME, "--password-stdin"]
    r = profile.run(*args, *extra, input=None if password is None else password + "\n")
    assert r.returncode == 0, r.stderr
    return r


def send(profile: Any, *extra: str, subject: str = SUBJECT) -> subprocess.CompletedProcess[str]:
    return profile.run(
        "send", "--to", BOB, "--subject", subject, "--body", BODY_MARKER, "--json", *extra
    )


def outbox_list(profile: Any) -> list[dict[str, Any]]:
    r = profile.run("outbox", "list", "--json")
    assert r.returncode == 0, r.stderr
    docs: list[dict[str, Any]] = json.loads(r.stdout)
    return docs


def one_sentence(stderr: str) -> str:
    """stderr is one line, one sentence, with no traceback or internal error."""
    assert "Traceback" not in stderr, stderr
    assert "internal error" not in stderr, stderr
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    assert lines[0].rstrip().endswith("."), lines[0]
    return lines[0]


def files_containing(root: Path, needles: list[bytes]) -> list[str]:
    hits = []
    for path in sorted(root.rglob("*")):
        if path.is_file():
            blob = path.read_bytes()
            hits += [f"{path}: {n!r}" for n in needles if n in blob]
    return hits


# --- in-process engine -----------------------------------------------------------------------


def build_message(i: int = 0, *, to: str = BOB, subject: str | None = None) -> Any:
    from mailgui.core.addresses import Mailbox
    from mailgui.core.message import Draft, build

    return build(
        Draft(
            sender=Mailbox("Me", SENDER),
            to=[Mailbox("", to)],
            subject=subject if subject is not None else f"Message {i}",
            text=f"Message number {i}.\n{BODY_MARKER}\n",
        )
    )


def engine(
    tmp_path: Path, server: Any, *, clock: Any = None, password: str | None = None, **settings: Any
) -> tuple[Any, Any, Any]:
    """(outbox, accounts store, Delivery) on files under ``tmp_path``, one account "work"
    pointing at ``server`` (security none, 2 s timeouts unless ``settings`` say otherwise)."""
    import time

    from mailgui.core.accounts import Account, AccountStore
    from mailgui.core.credentials import Passwords
    from mailgui.core.delivery import Delivery
    from mailgui.core.outbox import Outbox

    clock = clock or time.time
    store = AccountStore(tmp_path / "accounts.toml")
    values: dict[str, Any] = {
        "host": server.host,
        "port": server.port,
        "security": "none",
        "timeout": 2.0,
        "data_timeout": 2.0,
    }
    values.update(settings)
    store.save(Account(name="work", email=SENDER, **values))
    outbox = Outbox(tmp_path / "outbox.sqlite3", clock=clock)
    delivery = Delivery(outbox, store, clock=clock, credentials=Passwords(lambda name: password))
    return outbox, store, delivery
