"""Helpers for end-to-end tests that drive the real ``mailgui`` CLI (tests/cli/).

Imported as ``helpers`` (pytest puts this directory on ``sys.path``). Nothing here mocks
mailgui: these only build command lines, read ``--json`` output and inspect what a test
server received.
"""

from __future__ import annotations

import json
import re
import subprocess
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from processes import Profile


class Endpoint(Protocol):
    """Anything with a loopback address: RecordingServer, FakeServer, a closed port."""

    host: str
    port: int


SENDER = "me@example.org"
BOB = "bob@example.org"
CAROL = "carol@example.org"


def add_account(
    profile: Profile,
    server: Endpoint,
    *extra: str,
    name: str = "work",
    password: str | None = None,
    username: str = "me",
    security: str | None = None,
    ca_file: str | None = None,
) -> subprocess.CompletedProcess[str]:
    """``mailgui account add`` pointing at ``server`` (also re-points an existing account).

    ``security`` defaults to the server's own (``none`` for objects without one, such as a
    FakeServer); ``ca_file`` to the server's. ``extra`` comes last, so ``"--timeout", "1"``
    overrides the default of 3 seconds.
    """
    security = security or getattr(server, "security", "none")
    args = [
        "account", "add", name, "--email", SENDER, "--host", server.host,
        "--port", str(server.port), "--security", security, "--timeout", "3",
    ]  # fmt: skip
    ca = ca_file or getattr(server, "ca_file", None)
    if security != "none" and ca:
        args += ["--ca-file", ca]
    if password is not None:
        args += ["--username", username, "--password-stdin"]
    args += extra
    r = profile.run(*args, input=None if password is None else password + "\n")
    assert r.returncode == 0, r.stderr
    return r


def send(
    profile: Profile,
    *extra: str,
    to: tuple[str, ...] = (BOB,),
    subject: str = "Hi",
    timeout: float = 30,
) -> subprocess.CompletedProcess[str]:
    """``mailgui send`` of a short text message to ``to``; ``extra`` is appended."""
    return profile.run(
        "send", "--to", *to, "--subject", subject, "--body", "Hello", *extra, timeout=timeout
    )


def queue(profile: Profile, n: int = 1, **kwargs: Any) -> list[dict[str, Any]]:
    """Queue ``n`` messages without trying them (``send --queue-only --json``)."""
    docs = []
    for i in range(n):
        r = send(profile, "--queue-only", "--json", subject=f"Message {i + 1}", **kwargs)
        assert r.returncode == 0, r.stderr
        docs.append(json.loads(r.stdout))
    return docs


def show(profile: Profile, msg_id: int) -> dict[str, Any]:
    """``mailgui outbox show ID --json``."""
    r = profile.run("outbox", "show", str(msg_id), "--json")
    assert r.returncode == 0, r.stderr
    doc: dict[str, Any] = json.loads(r.stdout)
    return doc


def outbox_list(profile: Profile) -> list[dict[str, Any]]:
    """``mailgui outbox list --json``."""
    r = profile.run("outbox", "list", "--json")
    assert r.returncode == 0, r.stderr
    docs: list[dict[str, Any]] = json.loads(r.stdout)
    return docs


def assert_sentences(stderr: str, n: int = 1) -> list[str]:
    """stderr holds ``n`` lines (one per message that was not sent), each one sentence
    ending with a full stop, and no traceback or internal error."""
    assert "Traceback" not in stderr, stderr
    assert "internal error" not in stderr, stderr
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == n, f"expected {n} line(s) on stderr, got:\n{stderr}"
    for line in lines:
        assert line.rstrip().endswith("."), line
    return lines


def assert_one_sentence(stderr: str) -> str:
    return assert_sentences(stderr, 1)[0]


def parse_time(text: str | None) -> float:
    """An ISO-8601 time of the JSON contract as a POSIX timestamp."""
    assert text is not None
    return datetime.fromisoformat(text).timestamp()


def header(data: bytes | str, name: str) -> str | None:
    """The (unfolded) value of header ``name`` in a message or header block."""
    text = data.decode("utf-8", "replace") if isinstance(data, bytes) else data
    head = re.split(r"\r?\n\r?\n", text, maxsplit=1)[0]
    head = re.sub(r"\r?\n[ \t]+", " ", head)
    m = re.search(rf"^{re.escape(name)}:[ \t]*(.*?)[ \t]*\r?$", head, re.I | re.M)
    return m.group(1) if m else None


def assert_same_message(doc: dict[str, Any], data: bytes) -> None:
    """``data`` (what a server received) is the message ``doc`` (outbox show --json) holds:
    same Message-ID and Date as stored at queue time."""
    assert header(data, "Message-ID") == doc["message_id"]
    assert header(data, "Message-ID") == header(doc["headers"], "Message-ID")
    assert header(data, "Date") == header(doc["headers"], "Date")
    assert header(data, "Date")


def files_containing(root: Path, needles: list[bytes]) -> list[str]:
    """Files under ``root`` whose bytes contain any of ``needles`` (for secret leaks)."""
    hits = []
    for path in sorted(root.rglob("*")):
        if path.is_file():
            blob = path.read_bytes()
            hits += [f"{path}: {n!r}" for n in needles if n in blob]
    return hits
