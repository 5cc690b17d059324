"""The one schedule of the app's sender and the agent, with a fake clock."""

from __future__ import annotations

from pathlib import Path

from mailgui.core.flush_schedule import Flush, Memory, Seen, flushed, remember, sleep_for, step

T0 = 1_000_000.0


def seen(now: float = T0, **changes: object) -> Seen:
    base = Seen(now=now, due_at=None, online=True, settings=1.0, version=7, queued=lambda: 0)
    return base._replace(**changes)


def after_start(at: float = T0) -> Memory:
    flush, memory, _, _ = step(remember(seen(at)), seen(at))
    assert flush == Flush("start", False)
    return flushed(memory, version=7, now=at)


def test_a_new_sender_flushes_once_then_waits() -> None:
    memory = after_start()
    flush, memory, waiting, _ = step(memory, seen(T0 + 2))
    assert (flush, waiting) == (None, None)


def test_a_due_message_is_flushed_at_its_time_not_before() -> None:
    memory = after_start()
    assert step(memory, seen(T0 + 29, due_at=T0 + 30)).flush is None
    assert step(memory, seen(T0 + 30, due_at=T0 + 30)).flush == Flush("a message is due", False)


def test_another_process_queueing_is_flushed_but_other_writes_are_not() -> None:
    memory = after_start()
    assert step(memory, seen(T0 + 2, version=8)).flush is None  # a delete, a finished send
    queued = seen(T0 + 2, version=8, queued=lambda: 1)
    assert step(memory, queued).flush == Flush("a message was queued", False)


def test_the_count_is_asked_only_when_the_outbox_moved() -> None:
    asked: list[int] = []

    def count() -> int:
        asked.append(1)
        return 1

    memory = after_start()
    step(memory, seen(T0 + 2, queued=count))
    assert asked == []


def test_changed_settings_and_a_network_back_include_deferred_messages() -> None:
    memory = after_start()
    flush = step(memory, seen(T0 + 2, settings=2.0)).flush
    assert flush == Flush("the account settings changed", True)
    _, memory, waiting, _ = step(memory, seen(T0 + 2, online=False))
    assert waiting == "offline"
    assert step(memory, seen(T0 + 4)).flush == Flush("the network is back", True)


def test_nothing_goes_while_offline_even_when_due() -> None:
    memory = after_start()
    flush, memory, waiting, _ = step(memory, seen(T0 + 100, online=False, due_at=T0))
    assert (flush, waiting) == (None, "offline")


def test_a_platform_that_cannot_tell_is_online() -> None:
    memory = after_start()
    _, memory, _, _ = step(memory, seen(T0 + 1, online=None))
    assert memory.online is True
    assert step(memory, seen(T0 + 61, online=None)).flush == Flush("periodic check", False)


def test_only_the_holder_of_the_sender_lock_flushes_and_takes_over_at_once() -> None:
    memory = after_start()
    flush, memory, waiting, _ = step(memory, seen(T0 + 2, sender=False, due_at=T0))
    assert (flush, waiting) == (None, "other-sender")
    flush, memory, _, _ = step(memory, seen(T0 + 4))
    assert flush == Flush("the other sender stopped", False)


def test_a_flush_this_process_asked_for_goes_now() -> None:
    memory = after_start()
    assert step(memory, seen(T0 + 1, asked=True)).flush == Flush("a message was queued here", False)


def test_a_periodic_look_at_most_max_sleep_apart() -> None:
    memory = after_start()
    assert step(memory, seen(T0 + 59), max_sleep=60).flush is None
    assert step(memory, seen(T0 + 60), max_sleep=60).flush == Flush("periodic check", False)
    memory = flushed(memory, version=7, now=T0 + 60)
    assert step(memory, seen(T0 + 61), max_sleep=60).flush is None


def test_sleep_until_the_next_message_but_never_long() -> None:
    assert sleep_for(seen(due_at=T0 + 5)) == 5
    assert sleep_for(seen(due_at=T0 - 5)) == 0
    assert sleep_for(seen(due_at=T0 + 500), max_sleep=60) == 60
    assert sleep_for(seen()) == 60


def test_a_held_flush_says_what_it_waits_for() -> None:
    memory = after_start()
    held = step(memory, seen(T0 + 2, version=8, queued=lambda: 1, online=False))
    assert (held.flush, held.waiting) == (None, "offline")
    assert held.held == Flush("a message was queued", False)


def test_a_sign_in_counts_as_a_settings_change(tmp_path: Path) -> None:
    """``account login`` and the app's Sign in touch the credentials stamp: the senders'
    settings stamp moves, so they flush with the deferred messages (back-off moot)."""
    import os

    from mailgui.core.flush_schedule import credentials_changed, settings_stamp
    from mailgui.core.paths import Profile

    profile = Profile(tmp_path / "config", tmp_path / "data", tmp_path / "state")
    assert settings_stamp(profile) is None
    profile.config_dir.mkdir()
    profile.accounts_file.write_text("")
    os.utime(profile.accounts_file, (1_000, 1_000))
    assert settings_stamp(profile) == 1_000
    credentials_changed(profile)
    moved = settings_stamp(profile)
    assert moved is not None and moved > 1_000
    seen = Seen(now=0.0, due_at=None, online=True, settings=moved, version=1, queued=lambda: 0)
    memory = Memory(True, 1_000.0, 1, True, 0.0)
    assert step(memory, seen).flush == Flush("the account settings changed", True)
