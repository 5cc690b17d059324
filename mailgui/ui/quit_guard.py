"""Quitting while mail waits: the question, and the headless sender that keeps going.

Without a tray (stock GNOME) the window is the only sender; quitting it leaves queued,
deferred and scheduled mail until the next start. So the window asks (``QuitQuestion``)
and, if the person wants, starts ``mailgui agent`` as a process of its own on the same
profile (``start_agent``, run in a pool thread). The agent only sends while it holds
the profile's sender lock (``core/sender_lock.py``), so one already running is not
started again: the lock is tried first, after the window's own sender let it go.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import NamedTuple

from PySide6.QtWidgets import QMessageBox, QPushButton, QWidget

from mailgui.core.log import get_logger
from mailgui.core.paths import Profile
from mailgui.core.sender_lock import SenderLock
from mailgui.ui.plurals import english

__all__ = [
    "UNIT_NAME",
    "AgentStart",
    "QuitQuestion",
    "agent_command",
    "agent_env",
    "start_agent",
    "unit_hint",
]

log = get_logger(__name__)

UNIT_NAME = "mailgui-agent.service"
_SOURCE_UNIT = Path(__file__).resolve().parents[2] / "packaging" / UNIT_NAME  # a checkout


class AgentStart(NamedTuple):
    """What ``start_agent`` did: ``started`` a new agent (its ``pid``), or not and why."""

    started: bool
    pid: int = 0
    reason: str = ""  # "running": one holds the sender lock already; else an error


def agent_command() -> list[str]:
    """The command that runs ``mailgui agent`` with this interpreter (or this frozen app)."""
    if getattr(sys, "frozen", False):  # PyInstaller: the app is the ``mailgui`` command
        return [sys.executable, "agent"]
    return [sys.executable, "-m", "mailgui", "agent"]


def agent_env(profile: Profile, environ: dict[str, str] | None = None) -> dict[str, str] | None:
    """An environment in which ``mailgui agent`` opens ``profile``; None when no
    environment can say so (its folders share no MAILGUI_HOME root and are not the
    platform's defaults)."""
    env = dict(os.environ if environ is None else environ)
    root = profile.config_dir.parent
    rooted = (profile.config_dir, profile.data_dir, profile.state_dir) == (
        root / "config",
        root / "data",
        root / "state",
    )
    if rooted:
        env["MAILGUI_HOME"] = str(root)
        return env
    env.pop("MAILGUI_HOME", None)
    return env if Profile.from_env(env) == profile else None


def start_agent(
    profile: Profile, *, own_sender_stopped: bool = True, command: list[str] | None = None
) -> AgentStart:
    """Start ``mailgui agent`` detached (its own session, no terminal), unless one
    holds the profile's sender lock already. Call it in a pool thread, after the
    window's sender thread has ended (``own_sender_stopped``); when it has not, the
    lock may still be this process's own, so the agent is started anyway (it waits for
    the lock, which the kernel frees when this process ends)."""
    if own_sender_stopped:
        probe = SenderLock.for_profile(profile)
        try:
            free = probe.acquire()
        except OSError as exc:
            return AgentStart(False, reason=str(exc))
        if not free:
            log.info("an agent already sends for this profile; none started")
            return AgentStart(False, reason="running")
        probe.release()
    env = agent_env(profile)
    if env is None:
        return AgentStart(False, reason=f"no command line opens the profile in {profile.data_dir}")
    try:
        process = subprocess.Popen(
            command or agent_command(),
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,  # not killed with the terminal or the app's group
            close_fds=True,
            cwd=str(Path.home()),
        )
    except OSError as exc:
        log.error("the background sender could not be started: %s", exc)
        return AgentStart(False, reason=str(exc))
    log.info("background sender started (pid %d)", process.pid)
    return AgentStart(True, pid=process.pid)


def _user_unit_dirs() -> list[Path]:
    config = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    data = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    return [
        config / "systemd" / "user",
        data / "systemd" / "user",
        Path("/etc/systemd/user"),
        Path("/usr/local/lib/systemd/user"),
        Path("/usr/lib/systemd/user"),
        Path("/usr/share/systemd/user"),
    ]


def has_systemd_user() -> bool:
    """A systemd user manager runs for this login (its runtime folder is there)."""
    runtime = os.environ.get("XDG_RUNTIME_DIR") or f"/run/user/{os.getuid()}"
    return shutil.which("systemctl") is not None and Path(runtime, "systemd").is_dir()


def unit_hint() -> str | None:
    """How to keep sending after every quit with the packaged user unit: the commands,
    or None without systemd --user or without the unit file (installed, or in the
    source checkout's packaging/). Looks at a few files: call it in a pool thread."""
    if not has_systemd_user():
        return None
    for folder in _user_unit_dirs():
        if (folder / UNIT_NAME).is_file():
            return f"systemctl --user enable --now {UNIT_NAME}"
    if _SOURCE_UNIT.is_file():
        return (
            f"install -Dm644 {_SOURCE_UNIT} ~/.config/systemd/user/{UNIT_NAME} && "
            f"systemctl --user daemon-reload && systemctl --user enable --now {UNIT_NAME}"
        )
    return None


class QuitQuestion(QMessageBox):
    """ "N messages are still waiting. Keep sending them in the background?", shown
    window-modal with ``open()`` (no nested event loop); ``choice()`` after
    ``finished``: "background", "quit" or "cancel"."""

    def __init__(
        self,
        parent: QWidget,
        waiting: int,
        *,
        held: int = 0,
        background: bool = True,
        hint: str | None = None,
        demo: bool = False,
    ) -> None:
        super().__init__(parent)
        self.setIcon(QMessageBox.Icon.Question)
        self.setWindowTitle(self.tr("Messages are waiting"))
        self.setText(
            english(
                self.tr(
                    "%n message(s) are still waiting. Keep sending them in the background?",
                    "",
                    waiting,
                ),
                waiting,
            )
            if background
            else english(
                self.tr("%n message(s) are still waiting. Quit anyway?", "", waiting), waiting
            )
        )
        lines = []
        if background:
            lines.append(
                self.tr(
                    "mailgui's background sender (mailgui agent) sends them after this "
                    "window closes and keeps running until you log out or stop it."
                )
            )
        elif demo:
            lines.append(self.tr("The demo server stops with mailgui, so nothing can send them."))
        lines.append(self.tr("“Quit anyway” leaves them in the outbox until mailgui starts again."))
        if held:
            lines.append(
                english(
                    self.tr(
                        "Either way, what you just sent (%n message(s)) goes out now.", "", held
                    ),
                    held,
                )
            )
        self.setInformativeText("\n\n".join(lines))
        if hint and background:
            self.setDetailedText(
                self.tr(
                    "To send in the background whenever you are logged in, enable the user unit:"
                )
                + "\n\n"
                + hint
            )
        self.background_button: QPushButton | None = None
        if background:
            self.background_button = self.addButton(
                self.tr("Send in background"), QMessageBox.ButtonRole.AcceptRole
            )
        self.quit_button = self.addButton(
            self.tr("Quit anyway"), QMessageBox.ButtonRole.DestructiveRole
        )
        self.cancel_button = self.addButton(self.tr("Cancel"), QMessageBox.ButtonRole.RejectRole)
        self.setDefaultButton(self.background_button or self.cancel_button)
        self.setEscapeButton(self.cancel_button)

    def choice(self) -> str:
        clicked = self.clickedButton()
        if clicked is not None and clicked is self.background_button:
            return "background"
        if clicked is self.quit_button:
            return "quit"
        return "cancel"
