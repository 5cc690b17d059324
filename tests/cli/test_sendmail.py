"""End-to-end tests of ``mailgui sendmail``: the sendmail-compatible entry point for scripts.

A message on stdin, sendmail's options (-t, -f, -F, -i, -o..., -B...), exit 0 as soon as the
message is durably queued (one quiet try follows), ``--wait`` to report the delivery outcome.
Real CLI processes against real loopback aiosmtpd servers.
"""

from __future__ import annotations

import email
import email.policy
import json
import os
import re
import sqlite3
import subprocess
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from processes import Profile
from smtp_servers import RecordingServer

MSG = b"Subject: nightly report\nX-Mailer: backup.sh\n\nAll good.\n.\n..dots\n"


def add_account(
    profile: Any,
    server: RecordingServer | None,
    *extra: str,
    name: str = "work",
    email_addr: str = "me@example.org",
    port: int | None = None,
) -> None:
    """A plain-SMTP account at ``server`` (or at 127.0.0.1:``port``)."""
    port = server.port if server is not None else port
    args = ["account", "add", name, "--email", email_addr, "--host", "127.0.0.1"]
    r = profile.run(*args, "--port", str(port), "--security", "none", "--timeout", "3", *extra)
    assert r.returncode == 0, r.stderr


def sendmail(
    profile: Any, *args: str, message: bytes = MSG, code: int = 0
) -> subprocess.CompletedProcess[bytes]:
    r = profile.run("sendmail", *args, input=message)
    assert r.returncode == code, (r.returncode, r.stdout, r.stderr)
    if code != 0:
        assert b"Traceback" not in r.stderr
        assert r.stderr.strip(), "an error must be explained on stderr"
    return r  # type: ignore[no-any-return]


def parse(data: bytes) -> email.message.EmailMessage:
    msg = email.message_from_bytes(data, policy=email.policy.default)
    assert isinstance(msg, email.message.EmailMessage)
    return msg


def stored(profile: Any) -> list[dict[str, Any]]:
    r = profile.run("outbox", "list", "--json")
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)  # type: ignore[no-any-return]


def stored_count(profile: Any) -> int:
    """Messages in the outbox database, read directly (cheaper than another process)."""
    path = profile.home / "data" / "outbox.sqlite3"
    if not path.exists():
        return 0
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return int(db.execute("SELECT COUNT(*) FROM messages").fetchone()[0])
    finally:
        db.close()


def no_bare_lf(data: bytes) -> bool:
    return re.search(rb"(?<!\r)\n", data) is None and re.search(rb"\r(?!\n)", data) is None


def cli_env(env: dict[str, str], pycache: Path) -> dict[str, str]:
    """``env`` with Python's bytecode cache in ``pycache`` (the developer environment sets
    PYTHONDONTWRITEBYTECODE, so each CLI process would recompile mailgui from source)."""
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
    """One profile with account ``work`` (Me Myself <me@example.org>) on one plain server,
    shared by the many small cases below; each checks only what changed during it."""
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
def server(smtp_server: Any, profile: Any) -> RecordingServer:
    """A plain server with the default account ``work`` (Me Myself <me@example.org>) on it."""
    srv: RecordingServer = smtp_server("none")
    add_account(profile, srv, "--display-name", "Me Myself")
    return srv


# --- the basic pipe --------------------------------------------------------------------------


def test_recipient_argument_and_missing_headers_added(
    profile: Any, server: RecordingServer
) -> None:
    r = sendmail(profile, "bob@example.org")
    assert r.stdout == b"" and r.stderr == b"", "sendmail is silent on success"
    (got,) = server.wait_for(1)
    assert got.mail_from == "me@example.org"
    assert got.rcpt_tos == ["bob@example.org"]
    assert no_bare_lf(got.data)
    msg = parse(got.data)
    assert msg["From"].addresses[0].addr_spec == "me@example.org"
    assert msg["From"].addresses[0].display_name == "Me Myself"
    assert msg["Date"] is not None and msg["Date"].datetime.tzinfo is not None
    assert re.fullmatch(r"<[^<>@\s]+@example\.org>", str(msg["Message-ID"]))
    assert msg["Subject"] == "nightly report" and msg["X-Mailer"] == "backup.sh"
    assert msg["To"] is None  # not invented: the recipient was given as an argument
    body = msg.get_content().replace("\r\n", "\n")
    assert body == "All good.\n.\n..dots\n", "a lone '.' line does not end the input"
    (row,) = stored(profile)
    assert row["state"] == "sent" and row["message_id"] == str(msg["Message-ID"])
    assert row["bcc"] == ["bob@example.org"]  # an envelope-only recipient


def test_existing_headers_are_kept(profile: Any, server: RecordingServer) -> None:
    message = (
        b"From: Robot <me@example.org>\r\n"
        b"To: Bob <bob@example.org>\r\n"
        b"Date: Tue, 01 Jul 2025 10:00:00 +0200\r\n"
        b"Message-ID: <fixed.1234@example.org>\r\n"
        b"Subject: =?utf-8?q?Gr=C3=BC=C3=9Fe?=\r\n"
        b"\r\n"
        b"Body\r\n"
    )
    sendmail(profile, "bob@example.org", message=message)
    (got,) = server.wait_for(1)
    msg = parse(got.data)
    assert msg["Message-ID"] == "<fixed.1234@example.org>"
    assert msg["Date"] == "Tue, 01 Jul 2025 10:00:00 +0200"
    assert msg["From"].addresses[0].display_name == "Robot"
    assert msg["Subject"] == "Grüße"
    assert len(msg.get_all("Message-ID")) == 1 and len(msg.get_all("Date")) == 1
    assert got.rcpt_tos == ["bob@example.org"]


def test_utf8_body_is_made_7bit_and_round_trips(profile: Any, server: RecordingServer) -> None:
    body = "Grüße aus Köln — ☃\n" + "é" * 1500 + "\n"
    message = (
        "Subject: Bericht über Köln\nContent-Type: text/plain; charset=utf-8\n\n" + body
    ).encode()
    sendmail(profile, "bob@example.org", message=message)
    (got,) = server.wait_for(1)
    assert got.data.isascii() and no_bare_lf(got.data)
    assert max(len(line) for line in got.data.split(b"\r\n")) <= 998
    msg = parse(got.data)
    assert msg["Subject"] == "Bericht über Köln"
    assert msg.get_content().replace("\r\n", "\n") == body


# --- -t, -f, -F and compatibility options ------------------------------------------------------


def test_t_reads_recipients_from_headers_and_strips_bcc(
    profile: Any, server: RecordingServer
) -> None:
    message = (
        b"From: me@example.org\n"
        b"To: Bob <bob@example.org>, carol@example.org\n"
        b"Cc: dave@example.org\n"
        b"Bcc: secret1@example.org,\n secret2@example.org\n"
        b"Subject: with -t\n"
        b"\n"
        b"hello\n"
    )
    sendmail(profile, "-t", "extra@example.org", message=message)
    (got,) = server.wait_for(1)
    assert got.rcpt_tos == [
        "extra@example.org",
        "bob@example.org",
        "carol@example.org",
        "dave@example.org",
        "secret1@example.org",
        "secret2@example.org",
    ]
    assert b"secret" not in got.data and b"bcc" not in got.data.lower()
    msg = parse(got.data)
    assert [a.addr_spec for a in msg["To"].addresses] == ["bob@example.org", "carol@example.org"]
    assert [a.addr_spec for a in msg["Cc"].addresses] == ["dave@example.org"]
    (row,) = stored(profile)
    assert row["to"] == ["bob@example.org", "carol@example.org"]
    assert row["cc"] == ["dave@example.org"]
    assert set(row["bcc"]) == {"extra@example.org", "secret1@example.org", "secret2@example.org"}


def test_without_t_header_recipients_are_not_used(profile: Any, server: RecordingServer) -> None:
    message = b"To: bob@example.org\nBcc: secret@example.org\nSubject: s\n\nb\n"
    sendmail(profile, "carol@example.org", message=message)
    (got,) = server.wait_for(1)
    assert got.rcpt_tos == ["carol@example.org"]
    assert b"secret" not in got.data  # the Bcc header is stripped all the same


@pytest.mark.parametrize("form", ["separate", "joined", "r"])
def test_f_sets_the_envelope_sender(profile: Any, server: RecordingServer, form: str) -> None:
    args = {
        "separate": ["-f", "bounces@example.org"],
        "joined": ["-fbounces@example.org"],
        "r": ["-r", "bounces@example.org"],
    }[form]
    message = b"From: Me <me@example.org>\nSubject: s\n\nb\n"
    sendmail(profile, *args, "bob@example.org", message=message)
    (got,) = server.wait_for(1)
    assert got.mail_from == "bounces@example.org"
    assert parse(got.data)["From"].addresses[0].addr_spec == "me@example.org"


@pytest.mark.parametrize(
    "flags",
    [
        ["-i"],
        ["-oi"],
        ["-odi"],
        ["-oem"],
        ["-FCronDaemon"],
        ["-F", "Cron Daemon"],
        ["-FCronDaemon", "-i", "-B8BITMIME", "-oem"],  # Debian cron's form
        ["-t", "-oem", "-i"],  # busybox/dcron's form
        ["-v", "-odb", "-oQ/tmp", "-Nnever", "--"],
        # options whose value is a separate argument: the value is never a recipient
        ["-N", "success,failure", "-R", "hdrs", "-B", "8BITMIME", "-V", "envid@example.org"],
        ["-X", "/tmp/traffic@example.org.log", "-o", "i"],
    ],
    ids=lambda f: " ".join(f),
)
def test_compatibility_options_are_accepted(
    shared: tuple[Profile, RecordingServer], flags: list[str]
) -> None:
    profile, server = shared
    before = len(server.messages)
    message = b"To: root@example.org\nSubject: Cron <root@host> run-parts\n\nout\n"
    rcpt = [] if "-t" in flags else ["root@example.org"]
    sendmail(profile, *flags, *rcpt, message=message)
    got = server.wait_for(before + 1)[-1]
    assert len(server.messages) == before + 1
    assert got.rcpt_tos == ["root@example.org"]
    msg = parse(got.data)
    name = msg["From"].addresses[0].display_name
    if "-FCronDaemon" in flags:
        assert name == "CronDaemon"
    elif "-F" in flags:
        assert name == "Cron Daemon"
    else:
        assert name == "Me Myself"
    assert msg.get_content().replace("\r\n", "\n") == "out\n"


def test_cron_bare_local_recipient(profile: Any, server: RecordingServer) -> None:
    """cron mails "root": a local name goes to the account's own address (what msmtp's
    aliases file is usually set up for), with a note in the log."""
    message = b"Subject: Cron <root@host> run-parts\n\nout\n"
    sendmail(profile, "-FCronDaemon", "-i", "-B8BITMIME", "-oem", "root", message=message)
    (got,) = server.wait_for(1)
    assert got.rcpt_tos == ["me@example.org"]
    log = (profile.home / "state" / "mailgui.log").read_text()
    assert "'root' has no domain" in log


def test_cron_from_header_without_domain(profile: Any, server: RecordingServer) -> None:
    """Debian cron writes ``From: root (Cron Daemon)``: the account's address replaces it,
    the comment becomes the display name."""
    message = (
        b"From: root (Cron Daemon)\nTo: root\nSubject: Cron <root@host> ls\n"
        b"Content-Type: text/plain; charset=UTF-8\n\nout\n"
    )
    sendmail(profile, "-FCronDaemon", "-i", "-B8BITMIME", "-oem", "root", message=message)
    (got,) = server.wait_for(1)
    assert got.mail_from == "me@example.org"
    assert got.rcpt_tos == ["me@example.org"]
    msg = parse(got.data)
    (sender,) = msg["From"].addresses
    assert (sender.display_name, sender.addr_spec) == ("Cron Daemon", "me@example.org")
    assert len(msg.get_all("From")) == 1


@pytest.mark.parametrize("value", ["root", "Cron Daemon <root>"])
def test_local_from_forms(shared: tuple[Profile, RecordingServer], value: str) -> None:
    profile, server = shared
    before = len(server.messages)
    sendmail(profile, "bob@example.org", message=f"From: {value}\nSubject: s\n\nb\n".encode())
    got = server.wait_for(before + 1)[-1]
    (sender,) = parse(got.data)["From"].addresses
    assert sender.addr_spec == "me@example.org"
    assert sender.display_name == ("Cron Daemon" if "<" in value else "Me Myself")


@pytest.mark.parametrize("flags", [["-bm"], ["-oX"], ["-o", "Xyz"], ["-oQ/var/spool", "-bm"]])
def test_bm_and_unknown_o_options_are_ignored(
    shared: tuple[Profile, RecordingServer], flags: list[str]
) -> None:
    profile, server = shared
    before = len(server.messages)
    sendmail(profile, *flags, "bob@example.org")
    assert server.wait_for(before + 1)[-1].rcpt_tos == ["bob@example.org"]


def test_other_modes_are_usage_errors(shared: tuple[Profile, RecordingServer]) -> None:
    profile, _server = shared
    queued = stored_count(profile)
    for mode in ("-bp", "-bs", "-bv"):
        r = sendmail(profile, mode, "bob@example.org", code=64)
        assert b"not supported" in r.stderr
    assert stored_count(profile) == queued


@pytest.mark.parametrize("name", ["sendmail", "mailgui-sendmail"])
def test_invoked_as_sendmail(
    profile: Any, server: RecordingServer, name: str, tmp_path: Path
) -> None:
    """A link named ``sendmail`` (and the ``mailgui-sendmail`` script) is ``mailgui sendmail``."""
    import sys

    entry = "main" if name == "sendmail" else "sendmail_main"
    script = tmp_path / "bin" / name
    script.parent.mkdir()
    script.write_text(
        f"#!{sys.executable}\nimport sys\nfrom mailgui.cli import {entry}\nsys.exit({entry}())\n"
    )
    script.chmod(0o755)
    r = replace(profile, command=[str(script)]).run(
        "-t", "-oi", input=b"To: bob@example.org\n\nb\n"
    )
    assert r.returncode == 0, r.stderr
    assert server.wait_for(1)[0].rcpt_tos == ["bob@example.org"]


def test_unsupported_option_is_usage_error(shared: tuple[Profile, RecordingServer]) -> None:
    profile, server = shared
    queued, connections = stored_count(profile), server.connections
    sendmail(profile, "-q", "bob@example.org", code=64)
    sendmail(profile, "-f", code=64)
    sendmail(profile, "-N", code=64)
    assert stored_count(profile) == queued and server.connections == connections


# --- which account ---------------------------------------------------------------------------


def test_account_chosen_by_from_else_default(profile: Any, smtp_server: Any) -> None:
    work, home = smtp_server("none"), smtp_server("none")
    add_account(profile, work, name="work", email_addr="me@example.org")
    add_account(profile, home, name="home", email_addr="me@home.example")

    sendmail(profile, "bob@example.org", message=b"From: Me <ME@Home.Example>\nSubject: a\n\nb\n")
    (got,) = home.wait_for(1)
    assert got.mail_from.lower() == "me@home.example"
    sendmail(profile, "bob@example.org", message=b"From: x@elsewhere.example\nSubject: b\n\nb\n")
    (got,) = work.wait_for(1)  # no account has that address: the default one sends it
    assert parse(got.data)["From"].addresses[0].addr_spec == "x@elsewhere.example"
    sendmail(profile, "bob@example.org", message=b"Subject: c\n\nb\n")
    assert work.wait_for(2)[1].mail_from == "me@example.org"

    sendmail(profile, "--account", "home", "bob@example.org", message=b"Subject: d\n\nb\n")
    assert home.wait_for(2)[1].mail_from == "me@home.example"
    sendmail(profile, "--account=home", "bob@example.org", message=b"Subject: e\n\nb\n")
    assert home.wait_for(3)[2].mail_from == "me@home.example"
    rows = stored(profile)
    assert [r["account"] for r in rows] == ["home", "work", "work", "home", "home"]
    assert all(r["state"] == "sent" for r in rows)

    sendmail(profile, "--account", "nobody", "bob@example.org", code=78)
    assert stored_count(profile) == 5


def test_no_account_at_all_exits_78(profile: Any) -> None:
    sendmail(profile, "bob@example.org", code=78)
    assert stored_count(profile) == 0


# --- server down, --wait ------------------------------------------------------------------------


def test_server_down_is_still_queued_and_wait_reports_75(profile: Any, closed_port: int) -> None:
    add_account(profile, None, port=closed_port)
    r = sendmail(profile, "bob@example.org")
    assert r.stdout == b""
    sendmail(profile, "--wait", "carol@example.org", code=75)
    rows = stored(profile)
    assert [r["state"] for r in rows] == ["deferred", "deferred"]
    assert all(r["last_error"] and r["attempts"] == 1 for r in rows)


@pytest.mark.parametrize("flag", ["-odq", "-odd", "--queue-only", "-ODeliveryMode=q"])
def test_queue_only_mode_queues_without_a_try(
    shared: tuple[Profile, RecordingServer], flag: str
) -> None:
    """sendmail's queue delivery mode (as msmtpq): exit 0 once it is durably queued; no
    connection is made; the app or the agent sends it later."""
    profile, server = shared
    before_sent, before_rows = len(server.messages), stored(profile)
    r = sendmail(profile, flag, "-oi", "queued@example.org")
    assert r.stdout == b"" and r.stderr == b""
    rows = stored(profile)
    (new,) = [row for row in rows if row["id"] not in {b["id"] for b in before_rows}]
    assert (new["state"], new["attempts"]) == ("queued", 0)
    assert len(server.messages) == before_sent  # nothing was tried
    r = profile.run("outbox", "flush")
    assert r.returncode == 0, r.stderr
    assert server.wait_for(before_sent + 1)[-1].rcpt_tos == ["queued@example.org"]


def test_queue_only_and_wait_together_are_a_usage_error(
    shared: tuple[Profile, RecordingServer],
) -> None:
    profile, _server = shared
    queued = stored_count(profile)
    r = sendmail(profile, "-odq", "--wait", "bob@example.org", code=64)
    assert b"--wait" in r.stderr and b"-odq" in r.stderr
    assert stored_count(profile) == queued


def test_odi_and_odb_try_at_once(shared: tuple[Profile, RecordingServer]) -> None:
    profile, server = shared
    for flag in ("-odi", "-odb"):
        before = len(server.messages)
        sendmail(profile, "-odq", flag, "now@example.org")  # the last mode given wins
        assert server.wait_for(before + 1)[-1].rcpt_tos == ["now@example.org"]


def test_wait_reports_success(profile: Any, server: RecordingServer) -> None:
    r = sendmail(profile, "--wait", "bob@example.org")
    assert b"Sent message" in r.stdout
    server.wait_for(1)


# --- bad input -----------------------------------------------------------------------------------


BAD_INPUT: dict[str, tuple[list[str], bytes]] = {
    "no-recipients": ([], MSG),
    "t-without-recipient-headers": (["-t"], b"Subject: no To, Cc or Bcc\n\nb\n"),
    "t-empty-group": (["-t"], b"To: undisclosed-recipients:;\nSubject: s\n\nb\n"),
    "nul-in-subject": (["bob@example.org"], b"Subject: a\x00b\n\nbody\n"),
    "nul-in-other-header": (["bob@example.org"], b"X-Evil: a\x00Bcc: x@evil.example\n\nb\n"),
    "bare-cr-injection": (["bob@example.org"], b"Subject: a\rBcc: eve@evil.example\n\nb\n"),
    "nul-in-from": (["bob@example.org"], b"From: Me <me@example.org>\x00\nSubject: s\n\nb\n"),
    "t-cve-2023-27043": (["-t"], b"To: alice@example.org(<bob@example.org>\nSubject: s\n\nb\n"),
    "t-bad-address": (["-t"], b"To: bob@\nSubject: s\n\nb\n"),
    "bad-argument": (["bob@"], MSG),
    "cve-2023-27043-argument": (["alice@example.org(<bob@example.org>"], MSG),
    "empty-input": (["bob@example.org"], b""),
    "no-headers": (["bob@example.org"], b"just a line of text without any header\n"),
    "two-from-addresses": (["bob@example.org"], b"From: a@example.org, b@example.org\n\nb\n"),
    "bad-date": (["bob@example.org"], b"Subject: s\nDate: not a date\n\nb\n"),
    "bad-message-id": (["bob@example.org"], b"Subject: s\nMessage-ID: nope\n\nb\n"),
    "bad-envelope-sender": (["-f", "bad@"], MSG),
}


@pytest.mark.parametrize(("args", "message"), list(BAD_INPUT.values()), ids=list(BAD_INPUT))
def test_bad_input_exits_65_and_queues_nothing(
    shared: tuple[Profile, RecordingServer], args: list[str], message: bytes
) -> None:
    profile, server = shared
    queued, connections = stored_count(profile), server.connections
    r = sendmail(profile, *args, message=message, code=65)
    assert len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert stored_count(profile) == queued
    assert server.connections == connections


# --- git send-email ------------------------------------------------------------------------------


def _has_git_send_email() -> bool:
    import shutil

    if shutil.which("git") is None:
        return False
    # --dump-aliases loads the script and its Perl modules (Mail::Address...) and exits.
    r = subprocess.run(
        ["git", "send-email", "--dump-aliases"], capture_output=True, check=False, timeout=30
    )
    return r.returncode == 0


@pytest.mark.skipif(
    not _has_git_send_email(),
    reason="git send-email is not installed or not working (Debian: git-email)",
)
def test_git_send_email_through_mailgui_sendmail(
    profile: Any, server: RecordingServer, tmp_path: Path
) -> None:
    """``git send-email`` with ``sendemail.sendmailCmd = mailgui-sendmail``."""
    import sys

    script = tmp_path / "bin" / "mailgui-sendmail"
    script.parent.mkdir()
    script.write_text(
        f"#!{sys.executable}\nimport sys\nfrom mailgui.cli import sendmail_main\n"
        "sys.exit(sendmail_main())\n"
    )
    script.chmod(0o755)
    repo = tmp_path / "repo"
    env = dict(profile.env, GIT_CONFIG_GLOBAL="/dev/null", GIT_CONFIG_NOSYSTEM="1",
               HOME=str(tmp_path), GIT_AUTHOR_NAME="Me Myself", GIT_AUTHOR_EMAIL="me@example.org",
               GIT_COMMITTER_NAME="Me Myself", GIT_COMMITTER_EMAIL="me@example.org")  # fmt: skip

    def git(*args: str) -> str:
        r = subprocess.run(
            ["git", "-C", str(repo), *args], env=env, capture_output=True, text=True, timeout=60
        )
        assert r.returncode == 0, r.stderr
        return r.stdout

    repo.mkdir()
    git("init", "-q")
    (repo / "README").write_text("hello\n")
    git("add", "README")
    git("commit", "-q", "-m", "Add a README")
    patch = git("format-patch", "-1", "-o", str(tmp_path / "patches")).strip()
    git("config", "sendemail.sendmailCmd", str(script))
    git(
        "send-email", "--confirm=never", "--suppress-cc=all", "--to", "bob@example.org",
        "--from", "Me Myself <me@example.org>", patch,
    )  # fmt: skip
    (got,) = server.wait_for(1)
    assert got.rcpt_tos == ["bob@example.org"]
    msg = parse(got.data)
    assert msg["Subject"] == "[PATCH] Add a README"
    assert "+hello" in msg.get_content()
    (row,) = stored(profile)
    assert row["state"] == "sent" and row["account"] == "work"
