"""One desktop app per profile: a second start hands its request to the running one.

The running app listens on a ``QLocalServer`` at a Unix socket named after the profile,
in the user's runtime folder (``$XDG_RUNTIME_DIR`` when it is usable, else the temporary
folder). A second ``mailgui`` (say ``mailgui mailto:...`` from a browser) connects, checks
that the socket's owner is the same user, sends one JSON line (``{"mailto": URL or
null}``) and exits once the running app answered ``ok``. The receiver parses the link
again itself: what comes over the socket is treated like any other untrusted input.

The app paints its window before it listens (``instance_server.py``: QtNetwork, ~10 ms
to import, is loaded after the first paint), so it claims the profile first with
``state/window.lock``: a start that finds the lock taken but nobody listening yet waits
for the listener (``hand_over``) instead of opening a second window. This side runs
before any window, so it imports no Qt, and its socket is ``_socket``'s: the ``socket``
module's enum conversions cost ~6 ms of every start.
"""

from __future__ import annotations

import os
import stat
import time
import zlib
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from mailgui.core.sender_lock import FileLock

if TYPE_CHECKING:
    from mailgui.core.paths import Profile

CONNECT_MS = 1000
STARTING_S = 5.0  # how long a start waits for one that holds the lock to listen
_SUN_PATH = 100  # a Unix socket's path must fit in sun_path (108 bytes on Linux)


def _usable(folder: str | None, *, private: bool = False) -> bool:
    """A folder this user may make a socket in. ``private`` ($XDG_RUNTIME_DIR): also
    this user's own and closed to others, as the XDG spec has it (an inherited one of
    another user, after ``su``, is not)."""
    if not folder:
        return False
    try:
        st = os.stat(folder)
    except OSError:
        return False
    if private and (st.st_uid != os.getuid() or st.st_mode & 0o077):
        return False
    return stat.S_ISDIR(st.st_mode) and os.access(folder, os.W_OK | os.X_OK)


def server_names(profile: Profile) -> list[str]:
    """Where the app of ``profile`` may listen, best first: one socket per user and
    profile (a demo or another MAILGUI_HOME runs on its own) in each usable runtime
    folder. The app listens on the first; a later start tries them all, so a start
    without ``$XDG_RUNTIME_DIR`` (ssh, su) still finds an app started with it."""
    digest = zlib.crc32(str(profile.data_dir.resolve()).encode())
    name = f"mailgui-{os.getuid() if hasattr(os, 'getuid') else 0}-{digest:08x}"
    paths: list[str] = []
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    for folder in (runtime, os.environ.get("TMPDIR"), "/tmp"):
        path = os.path.join(folder or "", name)
        usable = _usable(folder, private=folder is runtime)
        if usable and len(os.fsencode(path)) <= _SUN_PATH and path not in paths:
            paths.append(path)
    return paths or [os.path.join("/tmp", name)]


def server_name(profile: Profile) -> str:
    """The socket the app of ``profile`` listens on."""
    return server_names(profile)[0]


def window_lock(profile: Profile) -> FileLock:
    """Held by the app of ``profile`` from before its window shows until it exits."""
    return FileLock(profile.state_dir / "window.lock")


def send_to_running(names: Sequence[str], request: dict[str, Any]) -> bool:
    """True when a running app of this user took the request (then this process should
    just exit). A socket owned by another user is never written to."""
    import _socket
    import struct

    for name in names:
        sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
        answer = b""
        try:
            sock.settimeout(CONNECT_MS / 1000)
            sock.connect(name)
            if hasattr(_socket, "SO_PEERCRED"):
                creds = sock.getsockopt(_socket.SOL_SOCKET, _socket.SO_PEERCRED, 12)
                if struct.unpack("3i", creds)[1] != os.getuid():
                    continue  # someone else's socket at our name: not ours to talk to
            import json  # only with someone to talk to: most starts find nobody

            sock.sendall((json.dumps(request) + "\n").encode())
            sock.settimeout(CONNECT_MS * 3 / 1000)
            while b"\n" not in answer and len(answer) < 64:
                chunk = sock.recv(64)
                if not chunk:
                    break
                answer += chunk
        except OSError:  # no socket, nobody listening (a crashed app's), or no answer
            continue
        finally:
            sock.close()
        if answer.startswith(b"ok"):
            return True
    return False


def hand_over(profile: Profile, request: dict[str, Any], lock: FileLock) -> bool:
    """Before this start opens a window: True when another app of this profile took the
    request (this process should exit). False when this start takes ``lock`` and is the
    app; it keeps the lock until it exits. When the lock's holder is still starting (its
    window shows before it listens), this waits for it to listen, up to STARTING_S."""
    names = server_names(profile)
    deadline = time.monotonic() + STARTING_S
    while True:
        if send_to_running(names, request):
            return True
        try:
            if lock.acquire():
                return False  # this start is the app
        except OSError:  # no lock file possible (a read-only profile): be the app without
            return False
        if time.monotonic() > deadline:
            return False  # the holder never listened (hung?): open a window after all
        time.sleep(0.05)
