"""Shared pieces of the benchmarks: statistics, profiles, certificates, messages.

Nothing here is imported by the product or the test suite. Every helper that
touches a profile takes the directory explicitly; nothing reads the user's own
mailgui profile or keyring.
"""

from __future__ import annotations

import os
import shutil
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
PYTHON = sys.executable
BIN = Path(PYTHON).parent

ACCOUNT = "bench"
USER = "bench@example.org"
PASSWORD = "bench-password"
RCPT = "bob@example.org"


# --- statistics ------------------------------------------------------------------------


@dataclass
class Samples:
    """Repeated measurements of one quantity (seconds, MB, ms or msgs/s)."""

    values: list[float] = field(default_factory=list)

    def add(self, value: float) -> None:
        self.values.append(float(value))

    @property
    def median(self) -> float:
        return statistics.median(self.values) if self.values else float("nan")

    @property
    def lo(self) -> float:
        return min(self.values) if self.values else float("nan")

    @property
    def hi(self) -> float:
        return max(self.values) if self.values else float("nan")

    def __len__(self) -> int:
        return len(self.values)


# --- environment -----------------------------------------------------------------------


def bench_env(home: Path, xdg: Path, **extra: str) -> dict[str, str]:
    """An environment with an isolated profile, plaintext keyring and offscreen Qt."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAILGUI_")}
    env.update(
        {
            "MAILGUI_HOME": str(home),
            "PYTHON_KEYRING_BACKEND": "keyrings.alt.file.PlaintextKeyring",
            "XDG_DATA_HOME": str(xdg / "data"),
            "XDG_CONFIG_HOME": str(xdg / "config"),
            "XDG_CACHE_HOME": str(xdg / "cache"),
            "XDG_STATE_HOME": str(xdg / "state"),
            "XDG_RUNTIME_DIR": str(xdg / "runtime"),
            "QT_QPA_PLATFORM": "offscreen",
        }
    )
    (xdg / "runtime").mkdir(parents=True, exist_ok=True, mode=0o700)
    env.pop("PYTHONPATH", None)
    # Byte-code caches as an installed app has them (this machine's environment may
    # forbid writing them), kept out of the source tree.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = str(xdg / "pycache")
    env.pop("PYTHONUNBUFFERED", None)  # as a user's environment has it
    env.update(extra)
    return env


def mailgui_cmd() -> list[str]:
    """The console script of this interpreter's environment (what a user runs)."""
    script = BIN / "mailgui"
    return [str(script)] if script.exists() else [PYTHON, "-m", "mailgui"]


def run(argv: Sequence[str], env: dict[str, str], *, input: bytes | None = None,
        timeout: float = 600) -> subprocess.CompletedProcess[bytes]:  # fmt: skip
    """Run and fail loudly: a benchmark that silently fails measures nothing."""
    proc = subprocess.run(
        list(argv), env=env, input=input, capture_output=True, timeout=timeout, check=False
    )
    if proc.returncode != 0:
        raise RuntimeError(
            f"{' '.join(map(str, argv))} exited with {proc.returncode}:\n"
            f"{proc.stdout.decode(errors='replace')[-2000:]}\n"
            f"{proc.stderr.decode(errors='replace')[-4000:]}"
        )
    return proc


def timed(argv: Sequence[str], env: dict[str, str], *, input: bytes | None = None,
          ok: Sequence[int] = (0,)) -> float:  # fmt: skip
    """Wall time of one process, from fork to exit, in seconds."""
    started = time.perf_counter()
    proc = subprocess.run(
        list(argv), env=env, input=input, stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE, check=False,
    )  # fmt: skip
    took = time.perf_counter() - started
    if proc.returncode not in ok:
        raise RuntimeError(
            f"{' '.join(map(str, argv))} exited with {proc.returncode}: "
            f"{proc.stderr.decode(errors='replace')[-2000:]}"
        )
    return took


def copy_profile(template: Path, dest: Path) -> Path:
    if dest.exists():
        shutil.rmtree(dest)
    shutil.copytree(template, dest)
    return dest


# --- certificates and the discard server ---------------------------------------------


def make_certs(directory: Path) -> tuple[Path, Path]:
    """A throw-away CA and a server certificate for 127.0.0.1: (ca.pem, server.pem)."""
    import trustme

    directory.mkdir(parents=True, exist_ok=True)
    ca = trustme.CA()
    leaf = ca.issue_cert("localhost", "127.0.0.1")
    ca_pem = directory / "ca.pem"
    server_pem = directory / "server.pem"
    ca.cert_pem.write_to_path(str(ca_pem))
    leaf.private_key_and_cert_chain_pem.write_to_path(str(server_pem))
    return ca_pem, server_pem


class DiscardServer:
    """``discard_server.py`` in a process of its own (so it never competes with the
    measured client for the GIL): STARTTLS required, AUTH PLAIN/LOGIN, drops mail."""

    def __init__(self, server_pem: Path) -> None:
        self.server_pem = server_pem
        self.proc: subprocess.Popen[bytes] | None = None
        self.port = 0
        self.dns_port = 0

    def start(self) -> DiscardServer:
        self.proc = subprocess.Popen(
            [PYTHON, str(HERE / "discard_server.py"), str(self.server_pem), USER, PASSWORD],
            stdout=subprocess.PIPE,
            stdin=subprocess.PIPE,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline().decode().split()
        if len(line) != 2 or not all(x.isdigit() for x in line):
            self.stop()
            raise RuntimeError(f"the discard server did not start: {line!r}")
        self.port, self.dns_port = int(line[0]), int(line[1])
        return self

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def __enter__(self) -> DiscardServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def free_closed_port() -> int:
    """A port on 127.0.0.1 where nothing listens (connections are refused)."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# --- profiles --------------------------------------------------------------------------


def add_account(env: dict[str, str], port: int, ca_pem: Path, *, password: bool = True) -> None:
    """Through the CLI, as a user would: STARTTLS on 127.0.0.1, the throw-away CA."""
    argv = [
        *mailgui_cmd(), "account", "add", ACCOUNT, "--email", USER, "--host", "127.0.0.1",
        "--port", str(port), "--security", "starttls", "--ca-file", str(ca_pem),
        "--timeout", "20",
    ]  # fmt: skip
    if password:
        argv += ["--password-stdin"]
    run(argv, env, input=(PASSWORD + "\n").encode() if password else None)


def text_of_size(n: int) -> str:
    """Plain prose of about ``n`` characters in 72-column lines."""
    words = "the outbox keeps every message safe until the server takes it".split()  # noqa: SIM905
    lines, line, size, i = [], [], 0, 0
    while size < n:
        w = words[i % len(words)]
        i += 1
        if sum(len(x) + 1 for x in line) + len(w) > 72:
            lines.append(" ".join(line))
            size += len(lines[-1]) + 1
            line = []
        line.append(w)
    return "\n".join(lines) + "\n"


def queue_messages(home: Path, n: int, *, body_size: int = 1700, subject: str = "Report") -> int:
    """Queue ``n`` messages of about 2 KB each (headers included) straight through the
    core (this is set-up, not a measured figure). Returns the size of one message."""
    from mailgui.core.addresses import Mailbox
    from mailgui.core.message import Draft, build
    from mailgui.core.outbox import Outbox

    text = text_of_size(body_size)
    size = 0
    with Outbox(home / "data" / "outbox.sqlite3") as box:
        for i in range(n):
            out = build(
                Draft(
                    sender=Mailbox("Bench", USER),
                    to=[Mailbox("Bob", RCPT)],
                    subject=f"{subject} {i + 1}",
                    text=text,
                )
            )
            size = len(out.data)
            box.add(ACCOUNT, out)
    return size


def fmt(value: float, unit: str) -> str:
    if value != value:  # nan
        return "-"
    if unit == "s":
        return f"{value * 1000:.0f} ms" if value < 10 else f"{value:.1f} s"
    if unit == "ms":
        return f"{value:.0f} ms"
    if unit == "MB":
        return f"{value:.0f} MB"
    if unit == "msg/s":
        return f"{value:.0f}/s"
    return f"{value:g}"
