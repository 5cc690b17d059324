"""Load: thousands of queued messages flushed against a server that randomly answers 421
or 451 and drops the line at every stage. Every message ends ``sent`` (exactly once on
the server, which counts a message only when it answered 250 to its final dot) or
``failed`` with a reason (the recipients the server refuses for good), and memory stays
flat.

Default 400 messages; MAILGUI_ADV_FULL=1 (or MAILGUI_ADV_LOAD=N) for the issue's 5 000
(with -o faulthandler_timeout=0: pyproject.toml ends a test after 300 s).
"""

from __future__ import annotations

import logging
import os
import random
import resource
import threading
import time
from collections import Counter
from pathlib import Path

import pytest
from adv_helpers import FULL, build_message, engine
from smtp_servers import HostileFactory

from mailgui.core.events import DeliveryEvent, Finished
from mailgui.core.outbox import Outbox

MESSAGES = int(os.environ.get("MAILGUI_ADV_LOAD", "5000" if FULL else "400"))
REFUSED_EVERY = 97  # every 97th message goes to an address refused for good (550)

# Per stage: probability of each fault (the rest: normal behaviour).
FAULTS = {
    "connect": {"421": 0.02, "drop": 0.01},
    "EHLO": {"421": 0.01, "drop": 0.005},
    "MAIL": {"451": 0.02, "421": 0.005, "drop": 0.005},
    "RCPT": {"451": 0.02, "drop": 0.005},
    "DATA": {"451": 0.01, "drop": 0.005},
    "body": {"drop": 0.01},
    "dot": {"451": 0.02, "421": 0.01, "drop": 0.01},
}


def rss_kb() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


class RandomFaults:
    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.lock = threading.Lock()
        self.injected: Counter[str] = Counter()

    def __call__(self, stage: str, line: str) -> str | None:
        if stage == "RCPT" and "refused-" in line:
            return "550"
        with self.lock:
            roll = self.rng.random()
        for fault, p in FAULTS.get(stage, {}).items():
            if roll < p:
                with self.lock:
                    self.injected[f"{stage}:{fault}"] += 1
                return fault
            roll -= p
        return None


@pytest.mark.slow
@pytest.mark.timeout(900 if MESSAGES > 1000 else 60)
def test_thousands_of_messages_against_a_flaky_server(
    tmp_path: Path, hostile: HostileFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    # pytest keeps every log record of a test for its report: tens of thousands of
    # "deferred" warnings would be the memory growth measured. Log to nowhere instead.
    logger = logging.getLogger("mailgui")
    monkeypatch.setattr(logger, "propagate", False)
    monkeypatch.setattr(logger, "handlers", [logging.NullHandler()])
    seed = int(os.environ.get("MAILGUI_ADV_SEED", "4321"))
    faults = RandomFaults(seed)
    server = hostile(fault=faults, keep_bodies=False, record_bytes=False)
    setup = Outbox(tmp_path / "outbox.sqlite3")
    setup.db.execute("PRAGMA synchronous=OFF")  # this connection only: fast set-up
    refused: set[str] = set()
    for i in range(MESSAGES):
        to = f"refused-{i}@example.org" if i % REFUSED_EVERY == 0 else f"rcpt{i}@example.org"
        out = build_message(i, to=to)
        setup.add("work", out)
        if to.startswith("refused-"):
            refused.add(out.message_id)
    setup.close()

    outbox, _, delivery = engine(tmp_path, server, timeout=5.0, data_timeout=5.0)
    samples: dict[int, int] = {}
    done = 0

    def listener(event: DeliveryEvent) -> None:
        nonlocal done
        if isinstance(event, Finished):
            done += 1
            if done in (MESSAGES // 10, MESSAGES // 2) or done % 1000 == 0:
                samples[done] = rss_kb()

    delivery.listener = listener
    start_rss = rss_kb()
    started = time.monotonic()
    rounds = 0
    while rounds < 60:
        rounds += 1
        report = delivery.flush(include_deferred=True)  # what `outbox flush` does
        if not report.outcomes:
            break
    elapsed = time.monotonic() - started
    end_rss = rss_kb()

    states = Counter(r.state for r in outbox.list_messages())
    assert set(states) <= {"sent", "failed"}, states
    for row in outbox.list_messages(state="failed"):
        assert row.last_error and "refused" in row.last_error, row.last_error
        assert row.message_id in refused
    sent_ids = {r.message_id for r in outbox.list_messages(state="sent")}
    assert states["failed"] == len(refused)
    got = server.accepted_ids
    assert set(got) == sent_ids  # every sent one arrived, no failed one did
    assert max(got.values()) == 1, got.most_common(3)  # exactly once
    baseline = samples.get(MESSAGES // 10, start_rss)
    print(
        f"\n{MESSAGES} messages, {rounds} flush rounds, {elapsed:.1f} s "
        f"({MESSAGES / elapsed:.0f} msg/s), {server.connections} connections; "
        f"faults {dict(faults.injected)}; RSS start {start_rss} kB, at 10% {baseline} kB, "
        f"end {end_rss} kB, samples {samples}"
    )
    assert sum(faults.injected.values()) > MESSAGES // 20  # the server really was flaky
    assert end_rss - baseline < 30_000  # flat: no growth with the number of messages
    outbox.close()
