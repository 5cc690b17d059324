"""End-to-end tests of mailgui's subcommands: the real CLI process against real SMTP servers.

Every test drives ``python -m mailgui`` (``profile.run``) in an isolated MAILGUI_HOME with a
per-test plaintext keyring, against loopback aiosmtpd servers (tests/smtp_servers.py), and
checks what the DESIGN.md contract promises: exit codes, ``--json`` fields, outbox states,
where passwords go, and the exact bytes the server received.
"""

from __future__ import annotations

import base64
import email
import email.policy
import json
import os
import re
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from processes import Profile
from smtp_servers import Faults, RecordingServer

import mailgui

PASSWORD = "pw-Zq8x!K3v#rT"
MESSAGE_FIELDS = {
    "id",
    "account",
    "state",
    "subject",
    "from",
    "to",
    "cc",
    "bcc",
    "message_id",
    "created_at",
    "send_at",
    "next_attempt_at",
    "sent_at",
    "attempts",
    "last_error",
    "recipient_errors",
}
TIME_FIELDS = ("created_at", "send_at", "next_attempt_at", "sent_at")
BOB = ["--to", "bob@example.org"]
SB = ["--subject", "s", "--body", "b"]


# --- helpers -----------------------------------------------------------------------------------


def add_account(
    profile: Any,
    server: RecordingServer | None,
    *extra: str,
    name: str = "work",
    email_addr: str = "me@example.org",
    password: str | None = None,
    port: int | None = None,
) -> subprocess.CompletedProcess[str]:
    """``mailgui account add`` pointing at ``server`` (or at 127.0.0.1:``port``)."""
    security = server.security if server is not None else "none"
    args = ["account", "add", name, "--email", email_addr, "--host", "127.0.0.1"]
    args += ["--port", str(server.port if server is not None else port)]
    args += ["--security", security, "--timeout", "3", *extra]
    if server is not None and security != "none":
        args += ["--ca-file", str(server.ca_file)]
    if password is not None:
        args += ["--username", "me", "--password-stdin"]
    r = profile.run(*args, input=None if password is None else password + "\n")
    assert r.returncode == 0, r.stderr
    return r


def run_json(profile: Any, *args: str, code: int = 0) -> Any:
    r = profile.run(*args, "--json")
    assert r.returncode == code, (r.returncode, r.stdout, r.stderr)
    return json.loads(r.stdout)


def outbox(profile: Any) -> list[dict[str, Any]]:
    return run_json(profile, "outbox", "list")  # type: ignore[no-any-return]


def stored(profile: Any) -> list[tuple[int, str]]:
    """(id, state) of every message in the profile's outbox database, read directly.

    Cheaper than another ``outbox list`` process; used where a test only has to prove that
    nothing was queued. A missing database file means nothing was ever queued.
    """
    path = profile.home / "data" / "outbox.sqlite3"
    if not path.exists():
        return []
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return [(r[0], r[1]) for r in db.execute("SELECT id, state FROM messages ORDER BY id")]
    finally:
        db.close()


def parse(data: bytes) -> email.message.EmailMessage:
    msg = email.message_from_bytes(data, policy=email.policy.default)
    assert isinstance(msg, email.message.EmailMessage)
    return msg


def assert_clean_error(r: subprocess.CompletedProcess[str], code: int) -> None:
    """The exit code, and one clear sentence on stderr without a traceback."""
    assert r.returncode == code, (r.returncode, r.stdout, r.stderr)
    assert "Traceback" not in r.stderr
    assert r.stderr.strip(), "an error must be explained on stderr"


def assert_utc_iso(value: str | None) -> None:
    if value is None:
        return
    when = datetime.fromisoformat(value)
    assert when.utcoffset() is not None and when.utcoffset().total_seconds() == 0, value


def text_of(part: email.message.EmailMessage) -> str:
    """A text part's content with the wire's CRLF turned back into LF."""
    content = part.get_content()
    assert isinstance(content, str)
    return content.replace("\r\n", "\n")


def no_bare_lf(data: bytes) -> bool:
    return re.search(rb"(?<!\r)\n", data) is None and re.search(rb"\r(?!\n)", data) is None


def cli_env(env: dict[str, str], pycache: Path) -> dict[str, str]:
    """``env`` with Python's bytecode cache kept in ``pycache``, outside the repository.

    The developer environment sets PYTHONDONTWRITEBYTECODE, which makes every CLI process
    recompile mailgui from source (~30 % of its start time); an installed mailgui has its
    .pyc files, so this is both faster and more realistic.
    """
    env = {k: v for k, v in env.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = str(pycache)
    return env


@pytest.fixture(scope="session")
def pycache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("pycache")


@pytest.fixture
def profile(profile: Profile, pycache: Path) -> Profile:
    """conftest's isolated profile, with a bytecode cache for the CLI processes."""
    return replace(profile, env=cli_env(profile.env, pycache))


@pytest.fixture(scope="module")
def shared(
    tmp_path_factory: pytest.TempPathFactory, pycache: Path
) -> Iterator[tuple[Profile, RecordingServer]]:
    """One profile with account ``work`` on one plain server, for the many tests that must
    fail before anything is queued or sent (they check that nothing changed)."""
    root = tmp_path_factory.mktemp("shared")
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAILGUI_")}
    env.update(
        MAILGUI_HOME=str(root / "mailgui-home"),
        PYTHON_KEYRING_BACKEND="keyrings.alt.file.PlaintextKeyring",
        XDG_DATA_HOME=str(root / "xdg-data"),
        XDG_CONFIG_HOME=str(root / "xdg-config"),
        XDG_CACHE_HOME=str(root / "xdg-cache"),
        XDG_STATE_HOME=str(root / "xdg-state"),
    )
    (root / "mailgui-home").mkdir()
    prof = Profile(home=root / "mailgui-home", env=cli_env(env, pycache))
    with RecordingServer("none") as server:
        add_account(prof, server, "--display-name", "Me Myself")
        yield prof, server


@pytest.fixture
def server(smtp_server: Any) -> RecordingServer:
    return smtp_server("none")  # type: ignore[no-any-return]


@pytest.fixture
def account(profile: Any, server: RecordingServer) -> RecordingServer:
    """A plain-SMTP account ``work`` (me@example.org) on ``server``; returns the server."""
    add_account(profile, server, "--display-name", "Me Myself")
    return server


# --- version, help, usage ------------------------------------------------------------------


def test_version_from_module_and_console_script(profile: Any) -> None:
    r = profile.run("--version")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == f"mailgui {mailgui.__version__}"
    script = Path(sys.executable).parent / "mailgui"
    if script.exists():
        r = replace(profile, command=[str(script)]).run("--version")
        assert r.returncode == 0 and r.stdout.strip() == f"mailgui {mailgui.__version__}"


def test_help_lists_every_command(profile: Any) -> None:
    r = profile.run("--help")
    assert r.returncode == 0, r.stderr
    for command in ("account", "send", "sendmail", "outbox"):
        assert command in r.stdout
    r = profile.run("send", "--help")
    assert r.returncode == 0
    for option in ("--to", "--cc", "--bcc", "--body-file", "--html-file", "--attach", "--at"):
        assert option in r.stdout


@pytest.mark.parametrize(
    "args",
    [
        ["frobnicate"],
        ["account"],
        ["account", "frob"],
        ["send", "--to", "bob@example.org", "--body", "x"],  # no --subject
        ["send", "--to", "bob@example.org", "--subject", "x"],  # no body of any kind
        ["send", "--to", "bob@example.org", "--subject", "x", "--body", "a", "--body-file", "f"],
        ["outbox", "retry"],
        ["outbox", "retry", "1", "--all"],
        ["outbox", "show", "one"],
        ["outbox", "list", "--state", "lost"],
        ["--no-such-option"],
    ],
    ids=lambda a: " ".join(a),
)
def test_bad_usage_exits_64(shared: tuple[Profile, RecordingServer], args: list[str]) -> None:
    profile, server = shared
    r = profile.run(*args)
    assert_clean_error(r, 64)
    assert stored(profile) == [] and server.messages == []


def test_bad_at_time_is_usage_error(shared: tuple[Profile, RecordingServer]) -> None:
    profile, _ = shared
    r = profile.run(
        "send", "--to", "b@example.org", "--subject", "s", "--body", "b", "--at", "soon"
    )
    assert_clean_error(r, 64)
    assert stored(profile) == []


# --- no Qt in the command line; start time ----------------------------------------------------


def test_cli_never_imports_qt(profile: Any) -> None:
    code = (
        "import sys, mailgui.cli\n"
        "rc = mailgui.cli.main(['outbox', 'list'])\n"
        "assert rc == 0, rc\n"
        "qt = sorted(m for m in sys.modules if m.startswith('PySide6'))\n"
        "assert not qt, qt\n"
    )
    r = subprocess.run(
        [sys.executable, "-c", code], env=profile.env, capture_output=True, text=True, timeout=30
    )
    assert r.returncode == 0, r.stderr
    assert "empty" in r.stdout


def test_version_and_queueing_sendmail_import_no_dataclasses(
    profile: Any, account: RecordingServer
) -> None:
    """``dataclasses`` brings ``inspect`` (ast, dis, tokenize): too slow for what runs once
    per message (see mailgui.cli)."""
    code = (
        "import sys, mailgui.cli\n"
        "try:\n"
        "    mailgui.cli.main(['--version'])\n"
        "except SystemExit as exc:\n"
        "    assert exc.code == 0, exc.code\n"
        "rc = mailgui.cli.main(['sendmail', '-odq', 'bob@example.org'])\n"
        "assert rc == 0, rc\n"
        "slow = sorted({'dataclasses', 'inspect'} & set(sys.modules))\n"
        "assert not slow, slow\n"
    )
    r = subprocess.run(
        [sys.executable, "-c", code],
        env=profile.env,
        input=b"Subject: hi\n\nHello\n",
        capture_output=True,
        timeout=30,
    )
    assert r.returncode == 0, r.stderr
    assert len(stored(profile)) == 1


def test_core_and_cli_work_without_pyside6(profile: Any) -> None:
    """With PySide6 made unimportable, every core module and the CLI still load and run."""
    code = (
        "import sys, importlib, pkgutil\n"
        "sys.modules['PySide6'] = None  # any import of it now raises ImportError\n"
        "import mailgui.core\n"
        "names = [m.name for m in pkgutil.iter_modules(mailgui.core.__path__, 'mailgui.core.')]\n"
        "assert len(names) >= 8, names\n"
        "for name in names:\n"
        "    importlib.import_module(name)\n"
        "import mailgui.cli\n"
        "assert mailgui.cli.main(['outbox', 'list']) == 0\n"
        "assert mailgui.cli.main(['account', 'list', '--json']) == 0\n"
        "print(len(names))\n"
    )
    r = subprocess.run(
        [sys.executable, "-c", code], env=profile.env, capture_output=True, text=True, timeout=30
    )
    assert r.returncode == 0, r.stderr


def test_cli_start_time(profile: Any) -> None:
    profile.run("outbox", "list")  # first run creates the profile and the database
    times = []
    for _ in range(3):
        start = time.perf_counter()
        r = profile.run("outbox", "list")
        times.append(time.perf_counter() - start)
        assert r.returncode == 0, r.stderr
    best = min(times)
    print(f"mailgui outbox list: best of 3 = {best * 1000:.0f} ms")
    assert best < 1.5, times


# --- accounts ------------------------------------------------------------------------------------


def test_first_account_is_default_and_default_moves(profile: Any, server: RecordingServer) -> None:
    r = add_account(profile, server, name="first")
    assert "the default" in r.stdout
    add_account(profile, server, name="second", email_addr="two@example.org")
    accounts = run_json(profile, "account", "list")
    assert [(a["name"], a["default"]) for a in accounts] == [("first", True), ("second", False)]

    add_account(profile, server, "--default", name="third", email_addr="three@example.org")
    accounts = run_json(profile, "account", "list")
    assert {a["name"]: a["default"] for a in accounts} == {
        "first": False,
        "second": False,
        "third": True,
    }
    r = profile.run("account", "list")
    assert r.returncode == 0
    marked = [line for line in r.stdout.splitlines() if line.startswith("*")]
    assert len(marked) == 1 and "third" in marked[0]

    # `send` without --account uses the default account
    doc = run_json(profile, "send", "--to", "bob@example.org", "--subject", "s", "--body", "b")
    assert doc["account"] == "third" and doc["from"] == "three@example.org"
    (got,) = server.wait_for(1)
    assert got.mail_from == "three@example.org"

    # removing the default makes another account the default
    assert profile.run("account", "remove", "third").returncode == 0
    accounts = run_json(profile, "account", "list")
    assert sum(a["default"] for a in accounts) == 1


def test_account_json_fields_and_password_only_in_keyring(
    profile: Any, smtp_server: Any, tmp_path: Path
) -> None:
    server = smtp_server("starttls", users={"me": PASSWORD})
    r = add_account(profile, server, "--display-name", "Zoë", password=PASSWORD)
    assert "unencrypted" in r.stderr  # the plaintext keyring is not passed off as secure

    shown = run_json(profile, "account", "show", "work")
    expected = {
        "name": "work",
        "email": "me@example.org",
        "host": "127.0.0.1",
        "port": server.port,
        "security": "starttls",
        "username": "me",
        "display_name": "Zoë",
        "direct": False,
        "default": True,
        "has_password": True,
    }
    assert {k: shown[k] for k in expected} == expected
    assert Path(shown["ca_file"]) == Path(server.ca_file).resolve()
    for key in ("timeout", "data_timeout", "retry", "limits"):
        assert key in shown
    assert shown["timeout"] == 3
    assert not any("password" in k and k != "has_password" for k in shown)

    listed = run_json(profile, "account", "list")
    assert len(listed) == 1 and listed[0]["name"] == "work" and "has_password" in listed[0]

    text_show = profile.run("account", "show", "work")
    text_list = profile.run("account", "list")
    b64 = base64.b64encode(PASSWORD.encode()).decode()
    for r in (text_show, text_list):
        assert r.returncode == 0
        assert PASSWORD not in r.stdout + r.stderr
    assert "has_password:  True" in text_show.stdout
    assert PASSWORD not in json.dumps(shown) + json.dumps(listed)

    # The password is in the keyring (service "mailgui", user = account name) ...
    code = "import keyring; print(keyring.get_password('mailgui', 'work'))"
    r = subprocess.run(
        [sys.executable, "-c", code], env=profile.env, capture_output=True, text=True, timeout=30
    )
    assert r.stdout.strip() == PASSWORD, r.stderr
    keyring_dir = Path(profile.env["XDG_DATA_HOME"]) / "python_keyring"
    assert any(keyring_dir.iterdir()), "the plaintext keyring file is where the password goes"
    # ... and in no file of the profile, in any form.
    assert profile.run("account", "test", "work").returncode == 0  # also writes the log
    for path in profile.home.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert PASSWORD.encode() not in data, path
            assert b64.encode() not in data, path

    # Removing the account removes its password too.
    r = profile.run("account", "remove", "work")
    assert r.returncode == 0, r.stderr
    r = subprocess.run(
        [sys.executable, "-c", code], env=profile.env, capture_output=True, text=True, timeout=30
    )
    assert r.stdout.strip() == "None"
    assert run_json(profile, "account", "list") == []


def test_account_without_password_has_no_password(profile: Any, account: RecordingServer) -> None:
    shown = run_json(profile, "account", "show", "work")
    assert shown["has_password"] is False and shown["username"] == ""
    assert run_json(profile, "account", "list")[0]["has_password"] is False


def test_account_set_changes_only_what_it_is_given(
    profile: Any, account: RecordingServer, tmp_path: Path
) -> None:
    before = run_json(profile, "account", "show", "work")
    signature = tmp_path / "sig.txt"
    signature.write_text("Me\nExample Ltd\n")
    r = profile.run(
        "account", "set", "work", "--per-minute", "5", "--per-day", "500", "--timeout", "12",
        "--retry-max", "3600", "--give-up-after-days", "2", "--reply-to", "team@example.org",
        "--signature-file", str(signature), "--recipient-checks", "off",
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("Updated account 'work': ")
    after = run_json(profile, "account", "show", "work")
    assert after["limits"] == {"per_minute": 5, "per_hour": 0, "per_day": 500}
    assert after["retry"] == {"first_delay": 60.0, "max_delay": 3600.0, "give_up_after": 172800.0}
    assert (after["timeout"], after["check_recipients"]) == (12.0, False)
    assert (after["reply_to"], after["signature"]) == ("team@example.org", "Me\nExample Ltd")
    changed = ("limits", "retry", "timeout", "check_recipients", "reply_to", "signature")
    unchanged = {k: v for k, v in before.items() if k not in changed}
    assert {k: after[k] for k in unchanged} == unchanged  # host, port, name, password...
    # A limit set again keeps the others.
    assert profile.run("account", "set", "work", "--per-hour", "60").returncode == 0
    limits = run_json(profile, "account", "show", "work")["limits"]
    assert limits == {"per_minute": 5, "per_hour": 60, "per_day": 500}


@pytest.mark.parametrize(
    ("args", "code", "words"),
    [
        (["work"], 64, "Give at least one setting to change"),
        (["work", "--per-minute", "-3"], 64, "'-3' is not a whole number"),
        (["work", "--timeout", "0"], 64, "'0' is not a positive number"),
        (["nobody", "--timeout", "3"], 78, "There is no account named 'nobody'"),
    ],
)
def test_account_set_refuses_bad_input(
    profile: Any, account: RecordingServer, args: list[str], code: int, words: str
) -> None:
    r = profile.run("account", "set", *args)
    assert r.returncode == code
    assert words in r.stderr and "Traceback" not in r.stderr


def test_account_test_starttls_auth(profile: Any, smtp_server: Any) -> None:
    server = smtp_server("starttls", users={"me": PASSWORD})
    add_account(profile, server, password=PASSWORD)
    r = profile.run("account", "test", "work")
    assert r.returncode == 0, r.stderr
    assert re.search(r"Encrypted with TLSv1\.[23]", r.stdout), r.stdout
    assert "certificate verified" in r.stdout
    assert "Certificate:" in r.stdout
    assert "Logged in as me" in r.stdout
    assert PASSWORD not in r.stdout + r.stderr
    assert server.auth_attempts == [("me", True)]
    assert server.messages == []  # a test sends nothing


def test_account_test_wrong_password_exits_77(profile: Any, smtp_server: Any) -> None:
    server = smtp_server("starttls", users={"me": PASSWORD})
    add_account(profile, server, password="not-the-password")
    r = profile.run("account", "test", "work")
    assert_clean_error(r, 77)
    assert "not-the-password" not in r.stdout + r.stderr
    assert server.auth_attempts == [("me", False)]  # one failure per try, not per mechanism


def test_account_test_plain_server(profile: Any, account: RecordingServer) -> None:
    r = profile.run("account", "test", "work")
    assert r.returncode == 0, r.stderr
    assert "Not encrypted" in r.stdout


@pytest.mark.parametrize("action", ["remove", "show", "test"])
def test_unknown_account_exits_78(profile: Any, action: str) -> None:
    r = profile.run("account", action, "nobody")
    assert_clean_error(r, 78)
    assert "nobody" in r.stderr


def test_send_with_unknown_account_exits_78(shared: tuple[Profile, RecordingServer]) -> None:
    profile, _ = shared
    r = profile.run(
        "send", "--account", "nobody", "--to", "b@example.org", "--subject", "s", "--body", "b"
    )
    assert_clean_error(r, 78)
    assert stored(profile) == []


def test_send_without_any_account_exits_78(profile: Any) -> None:
    r = profile.run("send", "--to", "b@example.org", "--subject", "s", "--body", "b")
    assert_clean_error(r, 78)
    assert "account add" in r.stderr


@pytest.mark.parametrize(
    "backend", ["keyring.backends.fail.Keyring", "keyring.backends.null.Keyring"]
)
def test_no_keyring_refuses_password_and_writes_nothing(
    profile: Any, server: RecordingServer, tmp_path: Path, backend: str
) -> None:
    no_keyring = replace(profile, env={**profile.env, "PYTHON_KEYRING_BACKEND": backend})
    r = no_keyring.run(
        "account", "add", "work", "--email", "me@example.org", "--host", "127.0.0.1", "--port",
        str(server.port), "--security", "starttls", "--username", "me", "--password-stdin",
        input=PASSWORD + "\n",
    )  # fmt: skip
    assert_clean_error(r, 78)
    assert "keyring" in r.stderr.lower() and "not saved" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
    assert no_keyring.run("account", "list", "--json").stdout.strip() == "[]"
    assert run_json(profile, "account", "list") == []
    b64 = base64.b64encode(PASSWORD.encode())
    for path in tmp_path.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert PASSWORD.encode() not in data and b64 not in data, path


def test_account_add_refuses_injection(profile: Any, server: RecordingServer) -> None:
    for extra in (
        ["--display-name", "Me\r\nBcc: eve@evil.example"],
        ["--display-name", "Me\nX: y"],
    ):
        r = profile.run(
            "account", "add", "work", "--email", "me@example.org", "--host", "127.0.0.1",
            "--port", str(server.port), "--security", "none", *extra,
        )  # fmt: skip
        assert_clean_error(r, 65)
    r = profile.run(
        "account", "add", "work", "--email", "me@example.org\r\nBcc: e@x.org", "--host",
        "127.0.0.1", "--security", "none",
    )  # fmt: skip
    assert_clean_error(r, 65)
    assert run_json(profile, "account", "list") == []


# --- send: recipients, bodies, attachments -----------------------------------------------------


def test_send_recipients_flags_cc_and_bcc(profile: Any, account: RecordingServer) -> None:
    doc = run_json(
        profile, "send", "--to", "a@example.org", "b@example.org", "--to",
        "c@example.org, d@example.org", "--cc", "Carol <carol@example.org>", "dave@example.org",
        "--bcc", "hidden1@example.org", "--bcc", "hidden2@example.org", "--subject", "Many",
        "--body", "hello",
    )  # fmt: skip
    assert doc["state"] == "sent"
    assert doc["to"] == ["a@example.org", "b@example.org", "c@example.org", "d@example.org"]
    assert doc["cc"] == ["carol@example.org", "dave@example.org"]
    assert doc["bcc"] == ["hidden1@example.org", "hidden2@example.org"]
    (got,) = account.wait_for(1)
    assert got.mail_from == "me@example.org"
    assert got.rcpt_tos == [*doc["to"], *doc["cc"], *doc["bcc"]]
    assert b"hidden" not in got.data and b"bcc" not in got.data.lower()
    msg = parse(got.data)
    assert [a.addr_spec for a in msg["To"].addresses] == doc["to"]
    assert [a.addr_spec for a in msg["Cc"].addresses] == doc["cc"]
    assert msg["Cc"].addresses[0].display_name == "Carol"
    assert msg["From"].addresses[0].display_name == "Me Myself"
    assert msg["Bcc"] is None


def test_send_json_message_object(profile: Any, account: RecordingServer) -> None:
    before = datetime.now(UTC).replace(microsecond=0)
    doc = run_json(profile, "send", "--to", "bob@example.org", "--subject", "J", "--body", "b")
    assert set(doc) >= MESSAGE_FIELDS
    assert isinstance(doc["id"], int)
    assert doc["account"] == "work" and doc["state"] == "sent" and doc["subject"] == "J"
    assert doc["from"] == "me@example.org"
    assert doc["to"] == ["bob@example.org"] and doc["cc"] == [] and doc["bcc"] == []
    assert re.fullmatch(r"<[^<>@\s]+@example\.org>", doc["message_id"])
    for key in TIME_FIELDS:
        assert_utc_iso(doc[key])
    assert doc["send_at"] is None and doc["next_attempt_at"] is None
    created = datetime.fromisoformat(doc["created_at"])
    sent = datetime.fromisoformat(doc["sent_at"])
    assert before <= created <= sent <= datetime.now(UTC)
    assert doc["attempts"] == 1 and doc["last_error"] is None and doc["recipient_errors"] == {}
    (got,) = account.wait_for(1)
    assert parse(got.data)["Message-ID"] == doc["message_id"]


def test_send_body_file_and_utf8_round_trip(profile: Any, smtp_server: Any, tmp_path: Path) -> None:
    server = smtp_server("none")
    name = "Zoë Ünïcode-Tëst 日本"
    add_account(profile, server, "--display-name", name)
    subject = "Grüße, ☃ — 日本語のテスト with a rather long subject line to make it fold ✓"
    body = "Привет, мир!\nnaïve café 🎉\n\n-- \nZoë\n"
    body_file = tmp_path / "body.txt"
    body_file.write_text(body, encoding="utf-8")
    doc = run_json(
        profile, "send", "--to", "Ådne Ørsted <adne@example.org>", "--subject", subject,
        "--body-file", str(body_file),
    )  # fmt: skip
    assert doc["subject"] == subject
    (got,) = server.wait_for(1)
    assert got.data.isascii(), "the message must be 7-bit clean"
    msg = parse(got.data)
    assert msg["Subject"] == subject
    assert msg["From"].addresses[0].display_name == name
    assert msg["To"].addresses[0].display_name == "Ådne Ørsted"
    assert msg.get_content_type() == "text/plain"
    assert text_of(msg) == body


def test_send_body_from_stdin(profile: Any, account: RecordingServer) -> None:
    r = profile.run("send", *BOB, "--subject", "s", "--body-file", "-", input="from stdin ✓\n")
    assert r.returncode == 0, r.stderr
    (got,) = account.wait_for(1)
    assert text_of(parse(got.data)) == "from stdin ✓\n"


def test_send_html_file_makes_alternative(
    profile: Any, account: RecordingServer, tmp_path: Path
) -> None:
    html = "<html><body><h1>Title</h1><p>Hello <b>wörld</b>, see <a href='https://example.org/x'>this</a>.</p></body></html>"
    html_file = tmp_path / "mail.html"
    html_file.write_text(html, encoding="utf-8")
    r = profile.run("send", "--to", "bob@example.org", "--subject", "H", "--html-file", html_file)
    assert r.returncode == 0, r.stderr
    (got,) = account.wait_for(1)
    msg = parse(got.data)
    assert msg.get_content_type() == "multipart/alternative"
    types = [p.get_content_type() for p in msg.iter_parts()]
    assert types == ["text/plain", "text/html"]
    plain = text_of(msg.get_body(("plain",)))
    assert "Hello" in plain and "wörld" in plain and "Title" in plain
    assert "<p>" not in plain and "<b>" not in plain
    assert "https://example.org/x" in plain
    assert text_of(msg.get_body(("html",))).strip() == html


def test_send_attachments_round_trip(
    profile: Any, account: RecordingServer, tmp_path: Path
) -> None:
    files = {
        "picture.png": b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4,
        "report.pdf": b"%PDF-1.4\n" + os.urandom(3000) + b"\n%%EOF\n",
        "blob.zzunknown": b"\x00\x01\x02 data\r\n.\r\n",
    }
    paths = []
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
        paths.append(str(tmp_path / name))
    r = profile.run(
        "send", "--to", "bob@example.org", "--subject", "Files", "--body", "see att", "--attach",
        paths[0], paths[1], "--attach", paths[2],
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    (got,) = account.wait_for(1)
    assert no_bare_lf(got.data)
    msg = parse(got.data)
    assert msg.get_content_type() == "multipart/mixed"
    assert text_of(msg.get_body(("plain",))) == "see att\n"
    atts = {p.get_filename(): p for p in msg.iter_attachments()}
    assert set(atts) == set(files)
    assert atts["picture.png"].get_content_type() == "image/png"
    assert atts["report.pdf"].get_content_type() == "application/pdf"
    assert atts["blob.zzunknown"].get_content_type() == "application/octet-stream"
    for name, data in files.items():
        assert atts[name].get_payload(decode=True) == data, name


# --- send: queueing and scheduling -------------------------------------------------------------


def test_queue_only_then_flush(profile: Any, account: RecordingServer) -> None:
    doc = run_json(
        profile, "send", "--to", "bob@example.org", "--subject", "Q", "--body", "b", "--queue-only"
    )
    assert doc["state"] == "queued" and doc["attempts"] == 0 and doc["sent_at"] is None
    r = profile.run(
        "send", "--to", "bob@example.org", "--subject", "Q2", "--body", "b", "--queue-only"
    )
    assert r.returncode == 0 and "Queued message" in r.stdout
    time.sleep(0.2)
    assert account.connections == 0 and account.messages == []
    assert [m["state"] for m in outbox(profile)] == ["queued", "queued"]

    flushed = run_json(profile, "outbox", "flush")
    assert [m["state"] for m in flushed] == ["sent", "sent"]
    assert len(account.wait_for(2)) == 2
    assert account.connections == 1, "one connection serves all of an account's messages"


def test_at_in_future_is_scheduled_and_not_flushed(profile: Any, account: RecordingServer) -> None:
    doc = run_json(
        profile, "send", "--to", "bob@example.org", "--subject", "Later", "--body", "b", "--at",
        "2099-03-04T05:06:07+02:00",
    )  # fmt: skip
    assert doc["state"] == "scheduled"
    assert doc["send_at"] == "2099-03-04T03:06:07+00:00"
    assert_utc_iso(doc["created_at"])
    r = profile.run(
        "send", "--to", "bob@example.org", "--subject", "Later2", "--body", "b", "--at",
        "2099-03-04T05:06:07Z",
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert "Scheduled message" in r.stdout

    r = profile.run("outbox", "flush")
    assert r.returncode == 0, r.stderr
    assert "Nothing to send" in r.stdout
    time.sleep(0.2)
    assert account.connections == 0 and account.messages == []
    scheduled = run_json(profile, "outbox", "list", "--state", "scheduled")
    assert [m["subject"] for m in scheduled] == ["Later", "Later2"]
    assert scheduled[1]["send_at"] == "2099-03-04T05:06:07+00:00"


def test_at_without_zone_is_local_time(profile: Any, account: RecordingServer) -> None:
    # POSIX TZ: "-05:30" means 5 h 30 east of Greenwich; no tzdata needed.
    india = replace(profile, env={**profile.env, "TZ": "IST-05:30"})
    r = india.run(
        "send", "--to", "bob@example.org", "--subject", "Local", "--body", "b", "--at",
        "2099-06-01T12:00", "--json",
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["state"] == "scheduled"
    assert doc["send_at"] == "2099-06-01T06:30:00+00:00"


def test_at_in_the_past_is_refused(profile: Any, account: RecordingServer) -> None:
    """A time already gone is a mistake (a wrong date, a zone left out), not "now":
    refused with a sentence, nothing queued. A minute of slack for "--at 09:30" typed
    at 09:30:40."""
    r = profile.run(
        "send", "--to", "bob@example.org", "--subject", "Past", "--body", "b", "--at",
        "2000-01-01T00:00:00+00:00",
    )  # fmt: skip
    assert_clean_error(r, 64)
    assert "is in the past, so nothing was queued" in r.stderr
    assert run_json(profile, "outbox", "list") == []
    just_now = datetime.now(UTC).replace(microsecond=0).isoformat()
    doc = run_json(
        profile, "send", "--to", "bob@example.org", "--subject", "Now", "--body", "b", "--at",
        just_now,
    )  # fmt: skip
    assert doc["state"] == "queued"  # due at once; with --at it is not tried now
    assert [m["state"] for m in run_json(profile, "outbox", "flush")] == ["sent"]
    account.wait_for(1)


# --- send: input errors --------------------------------------------------------------------------


INPUT_ERRORS = {
    "subject-crlf": [*BOB, "--subject", "Hi\r\nBcc: eve@evil.example", "--body", "b"],
    "subject-lf": [*BOB, "--subject", "Hi\nX-Injected: yes", "--body", "b"],
    "subject-cr": [*BOB, "--subject", "Hi\rBcc: eve@evil.example", "--body", "b"],
    "to-crlf": ["--to", "bob@example.org\r\nBcc: eve@evil.example", *SB],
    "cc-lf": [*BOB, "--cc", "c@example.org\nBcc: e@x.org", *SB],
    "bcc-crlf": [*BOB, "--bcc", "c@example.org\r\n", *SB],
    "quoted-name-crlf": ["--to", '"Eve\r\nBcc: x@y.org" <e@x.org>', *SB],
    "name-u2028": ["--to", "Eve\u2028Bcc <e@x.org>", *SB],
    "bob-at": ["--to", "bob@", *SB],
    "no-at": ["--to", "bob", *SB],
    "double-at": [*BOB, "--cc", "carol@@example.org", *SB],
    "missing-attachment": [*BOB, "--attach", "/nonexistent/file.pdf", *SB],
    "missing-body-file": [*BOB, "--subject", "s", "--body-file", "/nonexistent/body.txt"],
    "missing-html-file": [*BOB, "--subject", "s", "--html-file", "/nonexistent/b.html"],
}


@pytest.mark.parametrize("args", list(INPUT_ERRORS.values()), ids=list(INPUT_ERRORS))
def test_input_errors_exit_65_and_queue_nothing(
    shared: tuple[Profile, RecordingServer], args: list[str]
) -> None:
    profile, server = shared
    connections = server.connections
    r = profile.run("send", *args)
    assert_clean_error(r, 65)
    assert len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert stored(profile) == []
    assert server.connections == connections and server.messages == []


def test_folder_and_non_utf8_files_exit_65(
    shared: tuple[Profile, RecordingServer], tmp_path: Path
) -> None:
    profile, _ = shared
    r = profile.run("send", *BOB, *SB, "--attach", tmp_path)  # a folder cannot be read as a file
    assert_clean_error(r, 65)
    latin1 = tmp_path / "latin1.txt"
    latin1.write_bytes("café\n".encode("latin-1"))
    r = profile.run("send", "--to", "bob@example.org", "--subject", "s", "--body-file", latin1)
    assert_clean_error(r, 65)
    assert "UTF-8" in r.stderr
    assert stored(profile) == []


def test_cve_2023_27043_never_reaches_bob(shared: tuple[Profile, RecordingServer]) -> None:
    profile, account = shared
    for value in ("alice@example.org(<bob@example.org>", "alice@example.org <bob@example.org>"):
        r = profile.run("send", "--to", value, "--subject", "s", "--body", "b")
        assert_clean_error(r, 65)
    assert stored(profile) == []
    assert all("bob@" not in rcpt for m in account.messages for rcpt in m.rcpt_tos)


def test_nul_in_arguments_is_refused(shared: tuple[Profile, RecordingServer]) -> None:
    """A NUL cannot travel in argv, so a real process calls the CLI's main() with JSON args."""
    profile, _ = shared
    cases = [
        ["send", "--to", "bob@example.org", "--subject", "a\x00b", "--body", "b"],
        ["send", "--to", "bob\x00@example.org", "--subject", "s", "--body", "b"],
        ["send", "--to", "Bob\x00 <bob@example.org>", "--subject", "s", "--body", "b"],
        [
            "send",
            "--to",
            "bob@example.org",
            "--cc",
            "c@example.org\x00",
            "--subject",
            "s",
            "--body",
            "b",
        ],
    ]
    code = (
        "import json, sys, mailgui.cli\n"
        "print(json.dumps([mailgui.cli.main(args) for args in json.loads(sys.argv[1])]))\n"
    )
    r = replace(profile, command=[sys.executable, "-c", code]).run(json.dumps(cases))
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout) == [65] * len(cases)
    assert "Traceback" not in r.stderr
    assert len(r.stderr.strip().splitlines()) == len(cases)
    assert stored(profile) == []


def test_nul_in_body_never_reaches_the_wire_raw(
    profile: Any, account: RecordingServer, tmp_path: Path
) -> None:
    body = tmp_path / "nul.txt"
    body.write_bytes(b"before\x00after\n")
    r = profile.run("send", "--to", "bob@example.org", "--subject", "s", "--body-file", body)
    assert r.returncode == 0, r.stderr
    (got,) = account.wait_for(1)
    assert b"\x00" not in got.data
    assert text_of(parse(got.data)) == "before\x00after\n"


# --- wire format -------------------------------------------------------------------------------


def test_bare_lf_and_leading_dots_arrive_intact(
    profile: Any, account: RecordingServer, tmp_path: Path
) -> None:
    text = "line one\n.leading dot\n..two dots\n.\n. space\nlast line\n"
    body = tmp_path / "dots.txt"
    body.write_bytes(text.encode())
    r = profile.run("send", "--to", "bob@example.org", "--subject", "dots", "--body-file", body)
    assert r.returncode == 0, r.stderr
    account.wait_for(1)
    time.sleep(0.2)  # a missing dot-stuffing would show up as a second, bogus transaction
    assert len(account.messages) == 1 and account.connections == 1
    got = account.messages[0]
    assert no_bare_lf(got.data), "every LF must be preceded by CR"
    body_bytes = got.data.split(b"\r\n\r\n", 1)[1]
    assert body_bytes == text.replace("\n", "\r\n").encode()
    assert text_of(parse(got.data)) == text


def test_long_line_is_wrapped_and_round_trips(
    profile: Any, account: RecordingServer, tmp_path: Path
) -> None:
    line = "".join(chr(ord("a") + i % 26) for i in range(5000))
    text = f"short\n{line}\n{'ü' * 2000}\nend\n"
    body = tmp_path / "long.txt"
    body.write_text(text, encoding="utf-8")
    r = profile.run("send", "--to", "bob@example.org", "--subject", "long", "--body-file", body)
    assert r.returncode == 0, r.stderr
    (got,) = account.wait_for(1)
    assert no_bare_lf(got.data)
    assert max(len(x) for x in got.data.split(b"\r\n")) <= 998
    assert text_of(parse(got.data)) == text


def test_long_subject_is_folded(profile: Any, account: RecordingServer) -> None:
    subject = "word " * 400  # 2000 characters
    r = profile.run("send", "--to", "bob@example.org", "--subject", subject.strip(), "--body", "b")
    assert r.returncode == 0, r.stderr
    (got,) = account.wait_for(1)
    assert max(len(x) for x in got.data.split(b"\r\n")) <= 998
    assert parse(got.data)["Subject"] == subject.strip()


# --- the outbox --------------------------------------------------------------------------------


def test_outbox_list_show_delete(profile: Any, account: RecordingServer) -> None:
    r = profile.run("outbox", "list")
    assert r.returncode == 0 and "empty" in r.stdout
    sent = run_json(
        profile, "send", "--to", "bob@example.org", "--bcc", "hid@example.org", "--subject",
        "First ✓", "--body", "b",
    )  # fmt: skip
    queued = run_json(
        profile, "send", "--to", "carol@example.org", "--subject", "Second", "--body", "b",
        "--queue-only",
    )  # fmt: skip

    listed = outbox(profile)
    assert [(m["id"], m["state"]) for m in listed] == [
        (sent["id"], "sent"),
        (queued["id"], "queued"),
    ]
    for m in listed:
        assert set(m) >= MESSAGE_FIELDS
        for key in TIME_FIELDS:
            assert_utc_iso(m[key])
    r = profile.run("outbox", "list")
    assert r.returncode == 0
    assert "First ✓" in r.stdout and "Second" in r.stdout and "queued" in r.stdout

    shown = run_json(profile, "outbox", "show", str(sent["id"]))
    assert set(shown) >= MESSAGE_FIELDS
    assert shown["bcc"] == ["hid@example.org"]
    assert [e["kind"] for e in shown["events"]] == ["queued", "sent"]
    assert all({"at", "kind", "text"} <= set(e) for e in shown["events"])
    assert "250" in shown["events"][-1]["text"]
    assert f"Message-ID: {sent['message_id']}" in shown["headers"]
    assert "Subject:" in shown["headers"] and "hid@" not in shown["headers"]
    r = profile.run("outbox", "show", str(sent["id"]))
    assert r.returncode == 0, r.stderr
    assert "History:" in r.stdout and "Headers:" in r.stdout and sent["message_id"] in r.stdout

    r = profile.run("outbox", "delete", str(queued["id"]))
    assert r.returncode == 0, r.stderr
    assert [m["id"] for m in outbox(profile)] == [sent["id"]]
    for args in (
        ["outbox", "delete", str(queued["id"])],
        ["outbox", "delete", "999"],
        ["outbox", "show", "999"],
        ["outbox", "retry", "999"],
    ):
        assert_clean_error(profile.run(*args), 64)
    assert len(account.messages) == 1


def test_failed_message_listed_then_retried(profile: Any, smtp_server: Any) -> None:
    server = smtp_server("none", faults=Faults(data_reply=["554 5.7.1 Rejected by policy"]))
    add_account(profile, server)
    r = profile.run("send", "--to", "bob@example.org", "--subject", "F", "--body", "b", "--json")
    assert r.returncode == 69, r.stderr
    doc = json.loads(r.stdout)
    assert doc["state"] == "failed" and "554" in doc["last_error"]
    assert doc["next_attempt_at"] is None and doc["sent_at"] is None
    ok = run_json(profile, "send", "--to", "carol@example.org", "--subject", "OK", "--body", "b")
    assert ok["state"] == "sent"

    failed = run_json(profile, "outbox", "list", "--state", "failed")
    assert [m["id"] for m in failed] == [doc["id"]]
    assert [m["id"] for m in run_json(profile, "outbox", "list", "--state", "sent")] == [ok["id"]]
    r = profile.run("outbox", "list", "--state", "failed")
    assert r.returncode == 0 and "554 5.7.1 Rejected by policy" in r.stdout
    assert profile.run("outbox", "list", "--state", "deferred").stdout.strip() == (
        "No deferred messages."
    )

    # a flush does not resend failed messages; retry does
    assert run_json(profile, "outbox", "flush") == []
    retried = run_json(profile, "outbox", "retry", str(doc["id"]))
    assert retried["state"] == "sent" and retried["attempts"] == 2
    assert retried["message_id"] == doc["message_id"]
    got = server.wait_for(2)
    assert parse(got[-1].data)["Message-ID"] == doc["message_id"]
    assert run_json(profile, "outbox", "list", "--state", "failed") == []
    r = profile.run("outbox", "retry", str(doc["id"]))
    assert_clean_error(r, 64)  # already sent


def test_retry_all_and_flush_text_output(profile: Any, smtp_server: Any) -> None:
    server = smtp_server("none", faults=Faults(data_reply=["451 4.3.0 Try later"] * 2))
    add_account(profile, server)
    for subject in ("one", "two"):
        r = profile.run("send", "--to", "bob@example.org", "--subject", subject, "--body", "b")
        assert r.returncode == 75, r.stderr
        assert "still in the outbox" in r.stderr and "451" in r.stderr
    deferred = outbox(profile)
    assert [m["state"] for m in deferred] == ["deferred", "deferred"]
    assert all(m["next_attempt_at"] for m in deferred)

    r = profile.run("outbox", "retry", "--all")
    assert r.returncode == 0, r.stderr
    assert r.stdout.count("Sent message") == 2
    assert [state for _, state in stored(profile)] == ["sent", "sent"]
    server.wait_for(2)
    r = profile.run("outbox", "flush")
    assert r.returncode == 0 and "Nothing to send" in r.stdout
    assert run_json(profile, "outbox", "retry", "--all") == []


def test_flush_per_account(profile: Any, smtp_server: Any) -> None:
    one, two = smtp_server("none"), smtp_server("none")
    add_account(profile, one, name="one", email_addr="one@example.org")
    add_account(profile, two, name="two", email_addr="two@example.org")
    for name in ("one", "two"):
        r = profile.run(
            "send", "--account", name, "--to", "bob@example.org", "--subject", name, "--body",
            "b", "--queue-only",
        )  # fmt: skip
        assert r.returncode == 0, r.stderr
    flushed = run_json(profile, "outbox", "flush", "--account", "two")
    assert [(m["account"], m["state"]) for m in flushed] == [("two", "sent")]
    assert two.wait_for(1)[0].mail_from == "two@example.org"
    assert one.messages == []
    assert_clean_error(profile.run("outbox", "flush", "--account", "nobody"), 78)
    r = profile.run("outbox", "flush")
    assert r.returncode == 0 and "Sent message" in r.stdout
    assert one.wait_for(1)[0].mail_from == "one@example.org"


def test_server_down_keeps_message_queued(profile: Any, closed_port: int) -> None:
    add_account(profile, None, port=closed_port)
    r = profile.run("send", "--to", "bob@example.org", "--subject", "s", "--body", "b", "--json")
    assert r.returncode == 75, r.stderr
    doc = json.loads(r.stdout)
    assert doc["state"] == "deferred" and doc["last_error"]
    assert_utc_iso(doc["next_attempt_at"])
    assert [m["id"] for m in outbox(profile)] == [doc["id"]]
    assert profile.run("outbox", "flush").returncode == 75


def test_send_remembers_the_servers_size_limit_for_compose(
    profile: Any, account: RecordingServer
) -> None:
    """The compose window's pre-flight check reads the SIZE the server announced at its
    last EHLO, whoever connected; here `mailgui send` did."""
    r = profile.run("send", "--to", "bob@example.org", "--subject", "s", "--body", "b")
    assert r.returncode == 0, r.stderr
    limits = json.loads((profile.home / "data" / "server_limits.json").read_text())
    assert limits == {"work": 33554432}  # aiosmtpd's default, announced as SIZE
