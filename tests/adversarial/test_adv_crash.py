"""SIGKILL at random points of a long flush, many times: no message is lost, and each kill
costs at most one duplicate (the message in flight, RFC 1047), counted by Message-ID on
the server. Default 8 kills over 150 messages; MAILGUI_ADV_FULL=1: 30 kills over 400."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import time
from collections import Counter
from typing import Any

from adv_helpers import FULL, build_message
from processes import started
from smtp_servers import HostileFactory
from waiting import until

from mailgui.core.outbox import Outbox
from mailgui.core.paths import Profile as Paths

KILLS = 30 if FULL else 8
MESSAGES = 400 if FULL else 150


def test_sigkill_at_random_points_of_a_flush(profile: Any, hostile: HostileFactory) -> None:
    seed = int(os.environ.get("MAILGUI_ADV_SEED", random.randrange(10**6) if FULL else 1234))
    print(f"seed {seed}")
    rng = random.Random(seed)
    server = hostile(data_delay=0.003, keep_bodies=False, record_bytes=False)
    r = profile.run(
        "account", "add", "work", "--email", "me@example.org", "--host", server.host,
        "--port", str(server.port), "--security", "none", "--timeout", "5",
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    path = Paths.from_env(profile.env).outbox_file
    path.parent.mkdir(parents=True, exist_ok=True)
    with Outbox(path) as box:
        box.db.execute("PRAGMA synchronous=OFF")  # this connection only: fast set-up
        ids = {box.add("work", build_message(i)): None for i in range(MESSAGES)}
        expected = {box.get(i).message_id for i in ids}

    kills = 0
    points: list[str] = []
    for _ in range(KILLS):
        before = sum(server.received_ids.values())
        with started(profile, "outbox", "flush", "--json", stdout=subprocess.DEVNULL) as proc:
            if rng.random() < 0.3:  # anywhere: start-up, opening the outbox, connecting
                time.sleep(rng.uniform(0.0, 0.6))
                where = "time"
            else:  # mid-flush, after a random number of messages, plus a few ms
                target = before + rng.randint(1, 25)

                def sent_or_done(target: int = target) -> bool:
                    return sum(server.received_ids.values()) >= target or proc.poll() is not None

                until(sent_or_done, what="the flush to send", interval=0.0005)
                time.sleep(rng.uniform(0.0, 0.004))
                where = "messages"
            finished = proc.poll() is not None  # everything sent before the kill
            if not finished:
                proc.send_signal(signal.SIGKILL)
                proc.wait(timeout=10)
                kills += 1
                points.append(f"{where}:{sum(server.received_ids.values()) - before}")
            _, err = proc.communicate(timeout=10)
        assert "Traceback" not in err, err
        if finished:
            break

    # One last, undisturbed flush finishes the work.
    r = profile.run("outbox", "flush", "--json", timeout=120)
    assert r.returncode == 0, r.stderr
    r = profile.run("outbox", "list", "--json")
    states = Counter(d["state"] for d in json.loads(r.stdout))
    assert states == Counter({"sent": MESSAGES}), states

    got = server.accepted_ids
    assert set(got) == expected  # nothing lost
    duplicates = sum(n - 1 for n in got.values())
    print(f"{kills} kills at {points}; {duplicates} duplicate(s)")
    assert duplicates <= kills  # at most the message in flight, once per kill
    assert max(got.values()) <= 1 + kills
