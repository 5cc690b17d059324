"""The profile's log file: private, and opened only when something is logged."""

from __future__ import annotations

import logging
import stat
from pathlib import Path

import pytest

from mailgui.core import log
from mailgui.core.paths import Profile


@pytest.fixture
def clean_logger() -> object:
    before = list(log.logger.handlers)
    yield
    for handler in log.logger.handlers:
        if handler not in before:
            log.logger.removeHandler(handler)
            handler.close()


@pytest.mark.usefixtures("clean_logger")
def test_the_log_file_opens_on_the_first_record_and_is_private(tmp_path: Path) -> None:
    for handler in list(log.logger.handlers):  # another test's setup in this process
        if getattr(handler, "_mailgui", False):
            log.logger.removeHandler(handler)
    profile = Profile(tmp_path / "c", tmp_path / "d", tmp_path / "s")
    log.setup(profile)
    log.setup(profile)  # once per process
    assert sum(getattr(h, "_mailgui", False) for h in log.logger.handlers) == 1
    assert not profile.log_file.exists()  # nothing logged yet: no file

    logging.getLogger("mailgui.test").info("queued message %d", 7)
    for handler in log.logger.handlers:
        handler.flush()
    text = profile.log_file.read_text()
    assert "INFO mailgui.test: queued message 7" in text
    assert stat.S_IMODE(profile.log_file.stat().st_mode) == 0o600
