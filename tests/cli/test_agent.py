"""End-to-end tests of ``mailgui agent``: the headless sender (real processes, real servers).

It sends scheduled messages at their time, follows the retry schedule, survives a server
outage, picks up what other processes queue, stops cleanly on SIGTERM without losing the
message on the wire, and shares the profile's sender lock with other senders.
"""

from __future__ import annotations

import json
import signal
import subprocess
import time
import tomllib
from contextlib import AbstractContextManager
from datetime import datetime, timedelta
from typing import Any

import pytest
import tomli_w
from helpers import add_account, outbox_list, queue, send, show
from processes import sender_lock_held, started
from smtp_servers import FakeServerFactory, SmtpServerFactory
from waiting import WAIT, until


def agent(profile: Any, *args: str) -> AbstractContextManager[subprocess.Popen[str]]:
    """``mailgui agent`` in the background; killed if still alive at the end."""
    return started(profile, "agent", *args)


def ready(profile: Any, proc: subprocess.Popen[str]) -> None:
    """Wait until the agent holds the sender lock (its signal handlers are set by then)."""
    sender_lock_held(profile, proc, "agent")


def stop(proc: subprocess.Popen[str], timeout: float = WAIT) -> tuple[int, float, str]:
    """SIGTERM; the exit code, the seconds it took, and stderr."""
    started = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=timeout)
    return proc.returncode, time.monotonic() - started, err


def set_retry(profile: Any, name: str = "work", **policy: float) -> None:
    """Edit the account's retry policy in accounts.toml (there is no CLI flag for it)."""
    path = profile.home / "config" / "accounts.toml"
    data = tomllib.loads(path.read_text())
    data["accounts"][name]["retry"] = policy
    path.write_text(tomli_w.dumps(data))


def test_scheduled_message_goes_out_at_its_time(
    profile: Any, smtp_server: SmtpServerFactory
) -> None:
    server = smtp_server("none")
    add_account(profile, server)
    with agent(profile) as proc:
        at = (datetime.now().astimezone() + timedelta(seconds=3)).replace(microsecond=0)
        r = send(profile, "--at", at.isoformat(), "--json")
        assert r.returncode == 0, r.stderr
        doc = json.loads(r.stdout)
        assert doc["state"] == "scheduled"
        time.sleep(1.0)
        assert server.messages == [], "sent before its time"
        (got,) = server.wait_for(1, timeout=15)
        received_at = time.time()
        assert received_at >= at.timestamp() - 0.2
        assert received_at < at.timestamp() + 8, "the agent slept past the send time"
        row = until(lambda: (d := show(profile, doc["id"]))["state"] == "sent" and d, what="sent")
        assert got.rcpt_tos == ["bob@example.org"]
        assert row["attempts"] == 1
        code, took, err = stop(proc)
    assert code == 0, err
    assert took < 5
    assert "Traceback" not in err
    assert "sending message" in err  # it says what it does


def test_server_outage_then_recovery(
    profile: Any, smtp_server: SmtpServerFactory, closed_port: int
) -> None:
    class Down:
        host, port = "127.0.0.1", closed_port

    add_account(profile, Down())
    with agent(profile) as proc:
        (doc,) = queue(profile)  # queued by another process: the agent notices it
        row = until(lambda: (d := show(profile, doc["id"]))["state"] == "deferred" and d)
        assert row["attempts"] == 1 and "refused" in row["last_error"]
        time.sleep(1)
        assert proc.poll() is None, "the agent survives the outage"
        server = smtp_server("none")
        add_account(profile, server)  # the server is back, at a new address
        server.wait_for(1, timeout=10)
        row = until(lambda: (d := show(profile, doc["id"]))["state"] == "sent" and d)
        assert row["attempts"] == 2
        code, _, err = stop(proc)
    assert code == 0, err
    assert "deferred" in err and "Traceback" not in err


def test_follows_the_retry_schedule(profile: Any, fake_server: FakeServerFactory) -> None:
    server = fake_server(replies={"RCPT": ["451 4.3.0 Try again later"]})  # then 250
    add_account(profile, server)
    set_retry(profile, first_delay=2.0, max_delay=2.0)
    (doc,) = queue(profile)
    with agent(profile) as proc:
        until(lambda: show(profile, doc["id"])["attempts"] == 1, what="first try")
        started = time.monotonic()
        row = until(lambda: (d := show(profile, doc["id"]))["state"] == "sent" and d)
        assert time.monotonic() - started >= 1.0, "the back-off was not waited"
        assert row["attempts"] == 2
        assert len(server.messages) == 1
        code, _, err = stop(proc)
    assert code == 0, err


def test_sigterm_during_a_flush_loses_nothing(
    profile: Any, fake_server: FakeServerFactory, smtp_server: SmtpServerFactory
) -> None:
    hanging = fake_server(hang_on=".")  # takes the message, never answers the final dot
    add_account(profile, hanging, "--timeout", "30")
    docs = queue(profile, 2)
    with agent(profile, "--stop-timeout", "1") as proc:
        until(lambda: hanging.messages, what="the message on the wire")
        code, took, err = stop(proc)
    assert code == 0, err
    assert took < 6, f"the agent took {took:.1f}s to stop"
    assert "Traceback" not in err
    rows = {r["id"]: r for r in outbox_list(profile)}
    assert [rows[d["id"]]["state"] for d in docs] == ["deferred", "queued"]
    assert rows[docs[0]["id"]]["attempts"] == 1
    assert rows[docs[1]["id"]]["attempts"] == 0, "nothing new starts after SIGTERM"
    good = smtp_server("none")
    add_account(profile, good)
    r = profile.run("outbox", "flush")
    assert r.returncode == 0, r.stderr
    assert len(good.wait_for(2)) == 2


def test_sigterm_when_idle_exits_at_once(profile: Any, smtp_server: SmtpServerFactory) -> None:
    add_account(profile, smtp_server("none"))
    with agent(profile) as proc:
        ready(profile, proc)
        code, took, err = stop(proc)
    assert code == 0, err
    assert took < 3


def test_one_sender_per_profile(profile: Any, smtp_server: SmtpServerFactory) -> None:
    server = smtp_server("none")
    add_account(profile, server)
    with agent(profile) as first:
        ready(profile, first)
        with agent(profile) as second:
            time.sleep(1.5)
            assert first.poll() is None and second.poll() is None
            code, _, err = stop(first)
            assert code == 0, err
            (doc,) = queue(profile)  # only the second agent is left to send it
            server.wait_for(1, timeout=10)
            until(lambda: show(profile, doc["id"])["state"] == "sent")
            code, _, err = stop(second)
    assert code == 0, err
    assert "waiting until it stops" in err


@pytest.mark.parametrize("signum", [signal.SIGINT])
def test_sigint_stops_like_sigterm(
    profile: Any, smtp_server: SmtpServerFactory, signum: int
) -> None:
    add_account(profile, smtp_server("none"))
    with agent(profile) as proc:
        ready(profile, proc)
        proc.send_signal(signum)
        _, err = proc.communicate(timeout=WAIT)
    assert proc.returncode == 0, err
    assert "Traceback" not in err
