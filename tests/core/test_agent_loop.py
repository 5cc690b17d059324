"""The headless agent's loop (core/agent.py) and the profile's sender lock, in process.

The CLI tests (tests/cli/test_agent.py) run the real ``mailgui agent``; these cover what a
process cannot easily be made to see: the network going away and coming back.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from smtp_servers import SmtpServerFactory
from waiting import until

from mailgui.core.accounts import Account, AccountStore
from mailgui.core.addresses import Mailbox
from mailgui.core.agent import Agent, network_up
from mailgui.core.message import Draft, build
from mailgui.core.outbox import MessageRow, Outbox, new_claimer
from mailgui.core.paths import Profile
from mailgui.core.sender_lock import SenderLock


def make_profile(tmp_path: Path) -> Profile:
    root = tmp_path / "home"
    profile = Profile(root / "config", root / "data", root / "state")
    profile.ensure()
    return profile


def test_network_return_sends_deferred_messages_at_once(
    tmp_path: Path, smtp_server: SmtpServerFactory
) -> None:
    server = smtp_server("none")
    profile = make_profile(tmp_path)
    AccountStore(profile.accounts_file).save(
        Account(
            name="work",
            email="me@example.org",
            host="127.0.0.1",
            port=server.port,
            security="none",
            timeout=5.0,
        )
    )
    draft = Draft(
        sender=Mailbox("", "me@example.org"), to=[Mailbox("", "bob@example.org")],
        subject="s", text="t\n",
    )  # fmt: skip
    with Outbox(profile.outbox_file) as outbox:
        msg_id = outbox.add("work", build(draft))
        claimer = new_claimer()
        row = outbox.claim_next(claimer, "work")
        assert isinstance(row, MessageRow)
        # as if the network had gone: back-off for an hour
        later = time.time() + 3600
        outbox.finish(msg_id, claimer, "deferred", note="offline", next_attempt_at=later)

    online = [False]
    asked: list[bool] = []  # once per round of the agent's loop

    def network() -> bool:
        asked.append(online[0])
        return online[0]

    agent = Agent(profile, poll=0.05, network=network)
    thread = threading.Thread(target=agent.run)
    thread.start()
    try:
        until(lambda: len(asked) >= 4, what="four rounds of the loop")
        assert agent.flushes == 0, "nothing is flushed while offline (core.flush_schedule)"
        assert server.messages == [], "deferred messages wait while offline"
        online[0] = True
        server.wait_for(1)
    finally:
        agent.stop()
        thread.join(10)
    assert not thread.is_alive()
    with Outbox(profile.outbox_file) as outbox:
        assert outbox.get(msg_id).state == "sent"


def test_agent_waits_for_the_lock_and_stops_while_waiting(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    profile = make_profile(tmp_path)
    with SenderLock.for_profile(profile) as lock:
        assert lock.acquire()
        tries: list[bool] = []
        acquire = SenderLock.acquire

        def counted(self: SenderLock) -> bool:
            tries.append(acquire(self))
            return tries[-1]

        monkeypatch.setattr(SenderLock, "acquire", counted)
        agent = Agent(profile, poll=0.05)
        thread = threading.Thread(target=agent.run)
        thread.start()
        until(lambda: len(tries) >= 3, what="the agent to try the lock three times")
        assert not any(tries)
        assert agent.flushes == 0, "no flush without the lock"
        agent.stop()
        thread.join(5)
        assert not thread.is_alive()


def test_lock_is_exclusive_between_processes_and_freed_by_death(tmp_path: Path) -> None:
    path = tmp_path / "state" / "sender.lock"
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import sys, time; from pathlib import Path; "
         "from mailgui.core.sender_lock import SenderLock; "
         f"assert SenderLock(Path({str(path)!r})).acquire(); print('ok', flush=True); "
         "time.sleep(60)"],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "ok"
        lock = SenderLock(path)
        assert not lock.acquire()
        assert lock.holder() == holder.pid
    finally:
        holder.kill()
        holder.wait()
    assert lock.acquire(), "the kernel frees the lock of a dead process"
    lock.release()


def test_network_up_answers_on_linux() -> None:
    assert network_up() in (True, False, None)


@pytest.mark.expect_error_log("was deleted while mailgui had it open")  # and it stops
def test_the_agent_stops_when_its_outbox_files_are_replaced(tmp_path: Path) -> None:
    """A deleted or replaced outbox file (core/outbox_files.py) stops the agent with the
    sentence (exit 75 from the command; systemd restarts it) instead of a loop of
    logged errors, and the sender lock is let go."""
    import os

    import pytest

    from mailgui.core import outbox_files
    from mailgui.core.errors import OutboxReplacedError

    profile = make_profile(tmp_path)
    Outbox(profile.outbox_file).close()
    real = os.path.realpath(profile.outbox_file)
    outbox_files._poisoned[real] = f"{real}-wal was deleted while mailgui had it open"
    try:
        with pytest.raises(OutboxReplacedError, match="start it again"):
            Agent(profile, poll=0.05, network=lambda: True).run()
    finally:
        del outbox_files._poisoned[real]
    lock = SenderLock.for_profile(profile)
    assert lock.acquire()
    lock.release()
