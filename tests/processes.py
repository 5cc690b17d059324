"""Running the real mailgui as a process: an isolated profile to run it in (the
``profile`` fixture of conftest.py makes one), and CLIs started in the background.

Nothing here mocks mailgui: a test gets the same ``python -m mailgui`` a user runs, in a
home, keyring and XDG folders of its own.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, overload

from waiting import WAIT, until

from mailgui.core.paths import Profile as Paths


@dataclass(frozen=True)
class Profile:
    """A fresh mailgui home plus the environment to run ``python -m mailgui`` in it."""

    home: Path
    env: dict[str, str]
    command: list[str] = field(default_factory=lambda: [sys.executable, "-m", "mailgui"])
    """What ``run`` executes before its arguments (replaceable with dataclasses.replace)."""

    @overload
    def run(
        self, *args: str | os.PathLike[str], input: bytes, timeout: float = 30
    ) -> subprocess.CompletedProcess[bytes]: ...

    @overload
    def run(
        self, *args: str | os.PathLike[str], input: str | None = None, timeout: float = 30
    ) -> subprocess.CompletedProcess[str]: ...

    def run(
        self,
        *args: str | os.PathLike[str],
        input: str | bytes | None = None,
        timeout: float = 30,
    ) -> subprocess.CompletedProcess[str] | subprocess.CompletedProcess[bytes]:
        """Run the CLI with captured output: text (UTF-8) unless ``input`` is bytes.

        Without ``input`` stdin is /dev/null, and the child gets a new session (no controlling
        terminal), so a password prompt can neither block on nor reach the real terminal.
        """
        argv = [*self.command, *(os.fspath(arg) for arg in args)]
        common: dict[str, Any] = {
            "capture_output": True,
            "env": self.env,
            "timeout": timeout,
            "start_new_session": True,
            "check": False,
        }
        if isinstance(input, bytes):
            return subprocess.run(argv, input=input, **common)
        if input is None:
            common["stdin"] = subprocess.DEVNULL
        return subprocess.run(
            argv, input=input, encoding="utf-8", errors="backslashreplace", **common
        )


@contextmanager
def started(profile: Profile, *args: str, **popen: Any) -> Iterator[subprocess.Popen[Any]]:
    """``mailgui ARGS`` running in the background on ``profile``; killed if still alive at
    the end, and reaped.

    By default stdin is /dev/null, stdout and stderr are text pipes (read them with
    ``proc.communicate()``) and the child has a session of its own; ``popen`` overrides
    any of that (``stdout=file, text=False``, ``env=...``). No arguments: the app itself.
    """
    options: dict[str, Any] = {
        "env": profile.env,
        "stdin": subprocess.DEVNULL,
        "stdout": subprocess.PIPE,
        "stderr": subprocess.PIPE,
        "text": True,
        "start_new_session": True,
    }
    options.update(popen)
    proc = subprocess.Popen([*profile.command, *args], **options)
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
        # ValueError: the test already read the pipes to the end (communicate closes them).
        with suppress(subprocess.TimeoutExpired, ValueError):
            proc.communicate(timeout=10)
        if proc.poll() is None:  # a pipe held open by a grandchild: reap the child anyway
            proc.wait(timeout=10)


def sender_lock_held(
    profile: Profile,
    proc: subprocess.Popen[Any],
    what: str = "mailgui",
    output: Callable[[], str] = lambda: "",
) -> None:
    """Wait until ``proc`` holds the profile's sender lock: the agent (its signal handlers
    are set by then) or the app (its sender thread has opened its outbox connection).
    Fails at once if the process exits instead, with what ``output()`` returns."""
    lock = Paths.from_env(profile.env).state_dir / "sender.lock"

    def holds() -> bool:
        assert proc.poll() is None, f"the {what} exited with {proc.returncode}:\n{output()}"
        try:
            return lock.read_text().strip() == str(proc.pid)
        except OSError:
            return False

    until(holds, timeout=WAIT, what=f"the {what} to hold the sender lock")
