"""The password store missing or raising, and the clock jumping forward (sleep/resume)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest
from adv_helpers import (
    PASSWORD,
    SUBJECT,
    add_account,
    build_message,
    engine,
    files_containing,
    one_sentence,
    outbox_list,
    secret_forms,
    send,
)
from clock import DAY, Clock
from smtp_servers import HostileFactory

HERE = Path(__file__).parent


def with_backend(profile: Any, backend: str) -> Any:
    env = dict(profile.env)
    env["PYTHON_KEYRING_BACKEND"] = backend
    env["PYTHONPATH"] = str(HERE) + (":" + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return dataclasses.replace(profile, env=env)


BACKENDS = [
    ("keyring.backends.fail.Keyring", "no password store"),
    ("keyring.backends.null.Keyring", "no password store"),
    ("adv_keyrings.RaisingKeyring", "password store"),
    ("adv_keyrings.OSErrorKeyring", "password store"),
]


@pytest.mark.parametrize(("backend", "words"), BACKENDS)
def test_adding_a_password_without_a_usable_keyring(
    profile: Any, hostile: HostileFactory, ca_file: str, backend: str, words: str
) -> None:
    server = hostile(tls="starttls")
    broken = with_backend(profile, backend)
    r = broken.run(
        "account", "add", "work", "--email", "me@example.org", "--host", server.host,
        "--port", str(server.port), "--username", "me-user", "--password-stdin",
        "--ca-file", ca_file, input=PASSWORD + "\n",
    )  # fmt: skip
    assert r.returncode == 78, r.stderr
    assert words in one_sentence(r.stderr).lower()
    assert not files_containing(profile.home, secret_forms())
    assert not files_containing(profile.home.parent, secret_forms())  # nowhere at all
    r = broken.run("account", "list", "--json")
    assert r.returncode == 0 and json.loads(r.stdout) == []  # no account without its password


@pytest.mark.parametrize(("backend", "words"), [BACKENDS[0], BACKENDS[2]])
def test_sending_when_the_keyring_goes_away(
    profile: Any, hostile: HostileFactory, ca_file: str, backend: str, words: str
) -> None:
    server = hostile(tls="starttls")
    add_account(profile, server, security="starttls", ca_file=ca_file)  # plaintext keyring
    broken = with_backend(profile, backend)
    r = send(broken)
    assert r.returncode == 78, r.stderr
    assert words in one_sentence(r.stderr).lower()
    (doc,) = outbox_list(profile)
    assert doc["state"] == "deferred" and doc["subject"] == SUBJECT
    assert server.connections == 0  # no password, no connection
    r = broken.run("account", "show", "work", "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["has_password"] in (None, False)
    r = broken.run("outbox", "flush")
    assert r.returncode == 78 and "Traceback" not in r.stderr
    # The keyring is back: the message goes out, once.
    r = profile.run("outbox", "flush", "--json")
    assert r.returncode == 0, r.stderr
    assert sum(server.accepted_ids.values()) == 1


# --- the clock jumps forward ----------------------------------------------------------------


def test_overdue_scheduled_messages_go_out_once_after_resume(
    tmp_path: Path, hostile: HostileFactory
) -> None:
    server = hostile()
    clock = Clock()
    t0 = clock.now
    outbox, store, delivery = engine(tmp_path, server, clock=clock)
    due = [t0 + 3600, t0 + 2 * 3600, t0 + DAY, t0 + 3 * DAY]
    ids = [outbox.add("work", build_message(i), send_at=at) for i, at in enumerate(due)]
    later = outbox.add("work", build_message(9), send_at=t0 + 30 * DAY)
    assert {outbox.get(i).state for i in ids} == {"scheduled"}
    assert delivery.flush().outcomes == []  # nothing due yet

    clock.now = t0 + 6 * DAY  # the laptop slept for six days (past the 5-day give-up)
    report = delivery.flush()  # what the GUI sender and the agent do: back-off respected
    assert sorted(o.id for o in report.outcomes if o.state == "sent") == ids
    assert delivery.flush().outcomes == []
    assert delivery.flush(include_deferred=True).outcomes == []  # nor a manual flush
    # A second sender (CLI next to the GUI) finds nothing either.
    from mailgui.core.credentials import Passwords
    from mailgui.core.delivery import Delivery

    other = Delivery(outbox, store, clock=clock, credentials=Passwords(lambda name: None))
    assert other.flush(include_deferred=True).outcomes == []
    assert sorted(server.accepted_ids.values()) == [1, 1, 1, 1]
    assert outbox.get(later).state == "scheduled"


def test_a_failed_first_try_after_resume_is_not_a_give_up(
    tmp_path: Path, hostile: HostileFactory
) -> None:
    """Six days asleep, and the network is not up yet at the first try: that is one
    failed try, not "gave up after 5 days of trying"."""
    from smtp_servers import reserve_closed_port

    clock = Clock()
    t0 = clock.now
    closed = reserve_closed_port()
    try:
        dead = type("Dead", (), {"host": "127.0.0.1", "port": closed.getsockname()[1]})()
        outbox, store, delivery = engine(tmp_path, dead, clock=clock)
        msg_id = outbox.add("work", build_message(), send_at=t0 + 3600)
        clock.now = t0 + 6 * DAY
        (outcome,) = delivery.flush().outcomes
    finally:
        closed.close()
    assert outcome.state == "deferred", outcome
    row = outbox.get(msg_id)
    assert row.state == "deferred" and "Gave up" not in (row.last_error or "")
    # The network is back a minute later: it goes out, once.
    server = hostile()
    from mailgui.core.accounts import Account

    store.save(Account("work", "me@example.org", host=server.host, port=server.port,
                       security="none", timeout=2, data_timeout=2))  # fmt: skip
    clock.now += 61
    (outcome,) = delivery.flush().outcomes
    assert outcome.state == "sent"
    assert sum(server.accepted_ids.values()) == 1
