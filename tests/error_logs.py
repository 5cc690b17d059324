"""Failing a test whose code logs an unexpected error (used by conftest.py).

mailgui logs through ``mailgui`` and the loggers below it (``mailgui.delivery``,
``mailgui.ui.sender``...; core/log.py). A record at ERROR or above there means a bug
was caught and swallowed (``log.exception`` in a loop that must not die, a background
job that raised): the test passes, and the bug stays. So one :class:`Recorder` sits on
the ``mailgui`` logger itself for the whole session (a test that turns the logger's
propagation off still reaches it), and the ``error_log`` fixture fails every test that
left a record there, unless the test says it expects one::

    @pytest.mark.expect_error_log("a background job failed")  # words of each message
    @pytest.mark.expect_error_log  # any error (rarely right)

A record logged while the test runs fails the test; one logged by a fixture's teardown
(the window closing, the background jobs ending) is an error at teardown.
"""

from __future__ import annotations

import logging

import pytest

LOGGER = "mailgui"
MARKER = "expect_error_log"


class Recorder(logging.Handler):
    """Keeps every record of ERROR or above that reaches the ``mailgui`` logger."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def install(self) -> None:
        logging.getLogger(LOGGER).addHandler(self)

    def reset(self) -> None:
        with self.lock:  # type: ignore[union-attr]  # (created by Handler.__init__)
            self.records.clear()


def _describe(record: logging.LogRecord) -> str:
    text = f"{record.levelname} {record.name}: {record.getMessage()}"
    if record.exc_info and record.exc_info[1] is not None:
        exc = record.exc_info[1]
        text += f" [{type(exc).__name__}: {exc}]"
    return text


class ErrorLog:
    """The ``error_log`` fixture: what the test's code logged at ERROR or above.

    ``records`` are all of them (a test expecting one can look at it there); the ones no
    ``expect_error_log`` marker allows fail the test.
    """

    def __init__(self, recorder: Recorder, node: pytest.Item) -> None:
        self._recorder = recorder
        self._reported = 0
        self.allowed: list[str] | None = []  # None: any error is expected
        for marker in node.iter_markers(MARKER):
            if not marker.args:
                self.allowed = None
            elif self.allowed is not None:
                self.allowed += [str(words) for words in marker.args]
        recorder.reset()

    @property
    def records(self) -> list[logging.LogRecord]:
        return list(self._recorder.records)

    def _expected(self, record: logging.LogRecord) -> bool:
        return self.allowed is None or any(w in record.getMessage() for w in self.allowed)

    def forget(self) -> None:
        """Leave the records so far unreported (the test failed anyway: its captured log
        shows them)."""
        self._reported = len(self._recorder.records)

    def check(self, when: str) -> None:
        """AssertionError naming the unexpected records logged since the last check."""
        records = self.records
        new, self._reported = records[self._reported :], len(records)
        unexpected = [r for r in new if not self._expected(r)]
        if unexpected:
            lines = "\n".join(f"  {_describe(r)}" for r in unexpected)
            raise AssertionError(
                f"mailgui logged {len(unexpected)} unexpected error(s) {when}:\n{lines}\n"
                f"(a test that expects one says so: @pytest.mark.{MARKER}('words of it'))"
            )
