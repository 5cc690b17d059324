"""Self-tests of the check that fails a test whose code logs an unexpected error
(error_logs.py, the ``error_log`` fixture of conftest.py)."""

from __future__ import annotations

import logging
import threading

import pytest
from error_logs import ErrorLog, Recorder

from mailgui.core.log import get_logger


def record(message: str) -> logging.LogRecord:
    return logging.LogRecord("mailgui.test", logging.ERROR, __file__, 1, message, None, None)


@pytest.mark.expect_error_log("the expected failure")
def test_an_expected_error_is_kept_for_the_test_to_read(error_log: ErrorLog) -> None:
    get_logger("mailgui.test").warning("a warning is not an error")
    logger = get_logger("mailgui.deep.down")  # any logger below "mailgui", any thread
    thread = threading.Thread(target=logger.error, args=["the expected failure"])
    thread.start()
    thread.join()
    assert [r.getMessage() for r in error_log.records] == ["the expected failure"]


def test_an_unexpected_error_fails_and_names_the_record(request: pytest.FixtureRequest) -> None:
    recorder = Recorder()
    log = ErrorLog(recorder, request.node)
    log.check("during the test")  # nothing logged: fine
    recorder.handle(record("the flush hit an error"))
    with pytest.raises(AssertionError, match=r"(?s)1 unexpected error.*the flush hit an error"):
        log.check("during the test")
    log.check("at teardown")  # each record is reported once


@pytest.mark.expect_error_log("one expected")
def test_the_marker_allows_only_the_errors_it_names(request: pytest.FixtureRequest) -> None:
    recorder = Recorder()
    log = ErrorLog(recorder, request.node)
    recorder.handle(record("exactly one expected thing"))
    log.check("during the test")
    recorder.handle(record("something else"))
    with pytest.raises(AssertionError, match="something else"):
        log.check("during the test")


@pytest.mark.expect_error_log("seen anyway")
def test_the_recorder_sees_errors_when_propagation_is_off(
    error_log: ErrorLog, monkeypatch: pytest.MonkeyPatch
) -> None:
    """It sits on the ``mailgui`` logger itself, not on the root logger (caplog's place)."""
    monkeypatch.setattr(logging.getLogger("mailgui"), "propagate", False)
    get_logger("mailgui.test").error("seen anyway")
    assert [r.getMessage() for r in error_log.records] == ["seen anyway"]
