"""The profile's log file: private, and opened only when something is logged."""

from __future__ import annotations

import logging
import stat
from pathlib import Path

import pytest

from mailgui.core import log
from mailgui.core.paths import Profile

ROOT = logging.getLogger("mailgui")


@pytest.fixture
def clean_logger() -> object:
    before = list(ROOT.handlers)
    yield
    for handler in ROOT.handlers:
        if handler not in before:
            ROOT.removeHandler(handler)
            handler.close()


@pytest.mark.usefixtures("clean_logger")
def test_the_log_file_opens_on_the_first_record_and_is_private(tmp_path: Path) -> None:
    for handler in list(ROOT.handlers):  # another test's setup in this process
        if getattr(handler, "_mailgui", False):
            ROOT.removeHandler(handler)
    profile = Profile(tmp_path / "c", tmp_path / "d", tmp_path / "s")
    log.setup(profile)
    log.setup(profile)  # once per process
    assert sum(getattr(h, "_mailgui", False) for h in ROOT.handlers) == 1
    assert not profile.log_file.exists()  # nothing logged yet: no file

    log.get_logger("mailgui.test").info("queued message %d", 7)
    for handler in ROOT.handlers:
        handler.flush()
    text = profile.log_file.read_text()
    assert "INFO mailgui.test: queued message 7" in text
    assert stat.S_IMODE(profile.log_file.stat().st_mode) == 0o600


def test_no_module_makes_its_logger_past_core_log() -> None:
    """``setup`` may leave the handler pending (``logging`` not imported yet): a logger
    from ``logging.getLogger`` would then write to nowhere. mailgui's modules use
    ``log.get_logger``, which attaches it first."""
    import mailgui

    package = Path(mailgui.__file__).parent
    offenders = [
        str(path.relative_to(package))
        for path in package.rglob("*.py")
        if path.name != "log.py" and "logging.getLogger(" in path.read_text()
    ]
    assert offenders == []


def test_sendmail_that_logs_nothing_imports_no_logging_and_one_that_logs_writes_it(
    tmp_path: Path,
) -> None:
    """``mailgui sendmail -odq`` runs once per message from cron: logging (~10 ms) is
    imported only when something is logged, and then the record still reaches the file."""
    import os
    import subprocess
    import sys

    env = dict(os.environ, MAILGUI_HOME=str(tmp_path))
    env.pop("PYTHONPATH", None)
    add = [sys.executable, "-m", "mailgui", "account", "add", "work"]
    add += ["--email", "me@example.org", "--host", "127.0.0.1", "--port", "2525"]
    add += ["--security", "none"]
    subprocess.run(add, env=env, check=True, capture_output=True, timeout=30, input=b"")
    probe = (
        "import sys\n"
        "from mailgui.cli import main\n"
        "rc = main(['sendmail', '-odq', *sys.argv[1:]])\n"
        "print('logging' in sys.modules)\n"
        "sys.exit(rc)\n"
    )

    def sendmail(recipient: str) -> bytes:
        r = subprocess.run(
            [sys.executable, "-c", probe, recipient],
            env=env,
            input=b"Subject: hi\n\nHello\n",
            capture_output=True,
            timeout=30,
        )
        assert r.returncode == 0, r.stderr
        return r.stdout.strip()

    assert sendmail("bob@example.org") == b"False"  # nothing logged: logging not imported
    assert sendmail("root") == b"True"  # a bare local name is logged
    text = (tmp_path / "state" / "mailgui.log").read_text()
    assert "recipient 'root' has no domain; delivering it to the account's address" in text


def test_a_record_logged_while_the_file_opens_is_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The agent's SIGTERM handler logs "stopping" while the first record is still
    opening the file (importing logging.handlers); that second record used to import
    it again and fail ("cannot access submodule 'handlers' of module 'logging'")."""
    from mailgui.core import log_file

    handler = log_file.OnFirstRecord(tmp_path / "mailgui.log")
    real = log_file.private_log

    def opening(path: Path) -> logging.FileHandler:
        # what the signal handler does in the middle of the import
        handler.handle(logging.makeLogRecord({"msg": "stopping", "levelno": 20}))
        return real(path)

    monkeypatch.setattr(log_file, "private_log", opening)
    handler.handle(logging.makeLogRecord({"msg": "agent started", "levelno": 20}))
    handler.close()
    text = (tmp_path / "mailgui.log").read_text()
    assert text.index("agent started") < text.index("stopping")
