"""One app per profile, with real processes: a second start hands over and exits."""

from __future__ import annotations

import os
import select
import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from waiting import until

from mailgui.core.paths import Profile as MailguiProfile
from mailgui.ui.instance_server import InstanceServer
from mailgui.ui.single_instance import (
    send_to_running,
    server_name,
    server_names,
    window_lock,
)


def _app(profile, **extra: str) -> subprocess.Popen[bytes]:
    env = dict(profile.env, QT_QPA_PLATFORM="offscreen", **extra)
    return subprocess.Popen(
        [sys.executable, "-m", "mailgui"],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def test_a_second_start_hands_over_to_the_first_app(profile) -> None:
    """Two real starts: the first becomes the app and listens (after its first paint);
    the second, started as soon as the first holds the profile, hands over and exits
    (it has no smoke quit: as a second app it would never exit)."""
    first = _app(profile, MAILGUI_SMOKE_QUIT_MS="8000")
    lock = profile.home / "state" / "window.lock"
    try:
        until(lock.exists, timeout=15, what="the first to be the app", interval=0.01)
        second = _app(profile)  # while the first builds its window, before it listens
        try:
            _, err = second.communicate(timeout=20)
        finally:
            if second.poll() is None:
                second.kill()
        assert second.returncode == 0, err
        assert first.poll() is None  # the first is still the app
    finally:
        try:
            first.wait(15)  # its smoke quit
        except subprocess.TimeoutExpired:
            first.kill()
        first.communicate()


def test_a_start_waits_for_an_app_that_holds_the_profile_but_does_not_listen_yet(
    qtbot, profile, ctx
) -> None:
    """This test is the first app between its lock and its listener (it paints its
    window in that gap); the real second start must wait and hand over, not open a
    window of its own (it has no smoke quit: as an app it would never exit)."""
    lock = window_lock(ctx.profile)
    assert lock.acquire()
    got: list[dict] = []
    second = _app(profile)
    try:
        qtbot.wait(1500)  # the second start has looked and found nobody listening
        assert second.poll() is None
        instance = InstanceServer(server_name(ctx.profile))
        instance.received.connect(got.append)
        qtbot.waitUntil(lambda: second.poll() is not None, timeout=20_000)
    finally:
        if second.poll() is None:
            second.kill()
        _, err = second.communicate()
        lock.release()
    assert second.returncode == 0, err
    assert got == [{"mailto": None}]


def test_the_socket_name_skips_a_runtime_folder_this_user_cannot_use(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    profile = MailguiProfile(tmp_path / "c", tmp_path / "d", tmp_path / "s")
    tmp_path.chmod(0o700)  # as a runtime folder is
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path))
    monkeypatch.delenv("TMPDIR", raising=False)
    names = server_names(profile)
    assert names[0].startswith(str(tmp_path) + os.sep) and names[-1].startswith("/tmp/")
    monkeypatch.setenv("XDG_RUNTIME_DIR", "/proc")  # not private (0555): not one to use
    assert all(not n.startswith("/proc/") for n in server_names(profile))
    other = tmp_path / "other"
    other.mkdir(mode=0o700)
    if os.geteuid() == 0:
        os.chown(other, 65534, 65534)
    else:
        other.chmod(0o500)  # not writable: as unusable, for this user
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(other))  # another user's, inherited after su
    assert all(not n.startswith(str(other)) for n in server_names(profile))
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path / ("x" * 120)))  # too long for a socket
    assert all(len(os.fsencode(n)) <= 100 for n in server_names(profile))


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to act as another user")
def test_a_socket_owned_by_another_user_is_never_written_to() -> None:
    """Someone else listening at our name (the temporary folder is shared) gets nothing:
    not the request, not a mailto link with its body."""
    folder = tempfile.mkdtemp(prefix="mailgui-other-", dir="/tmp")  # reachable by nobody
    os.chmod(folder, 0o777)
    path = os.path.join(folder, "mailgui-0-12345678")
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the other user: listens, answers "ok", reports what it received
        report = b"E"
        try:
            os.setgid(65534)
            os.setuid(65534)
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as srv:
                srv.bind(path)
                srv.listen(1)
                os.write(write_end, b"L")
                srv.settimeout(10)
                conn, _ = srv.accept()
                conn.settimeout(2)
                try:
                    got = conn.recv(1024)
                except OSError:
                    got = b""
                report = b"R%d" % len(got)
                conn.sendall(b"ok\n")  # the client may have gone already
        finally:
            os.write(write_end, report)
            os._exit(0)
    try:
        assert select.select([read_end], [], [], 10)[0], "the other user's server did not start"
        assert os.read(read_end, 1) == b"L"
        assert send_to_running([path], {"mailto": "mailto:a@example.org?body=secret"}) is False
        assert select.select([read_end], [], [], 15)[0]
        assert os.read(read_end, 16) == b"R0"
    finally:
        os.waitpid(pid, 0)
        os.close(read_end)
        os.close(write_end)
        shutil.rmtree(folder, ignore_errors=True)
