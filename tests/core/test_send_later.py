"""Send-later presets (core/send_later.py) with fixed clocks."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from mailgui.core.send_later import presets

ZONE = timezone(timedelta(hours=1))


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=ZONE)


def test_a_wednesday_afternoon() -> None:
    found = {p.key: p.when for p in presets(at("2026-12-09T14:07:30"))}
    assert found == {
        "hour": at("2026-12-09T15:10"),  # an hour, up to the next 5 minutes
        "tomorrow": at("2026-12-10T08:00"),
        "monday": at("2026-12-14T08:00"),
    }


def test_on_a_round_time_an_hour_is_an_hour() -> None:
    assert presets(at("2026-12-09T14:05"))[0].when == at("2026-12-09T15:05")


def test_late_evening_crosses_midnight() -> None:
    found = {p.key: p.when for p in presets(at("2026-12-09T23:30"))}
    assert found["hour"] == at("2026-12-10T00:30")
    assert found["tomorrow"] == at("2026-12-10T08:00")


def test_on_sunday_monday_is_tomorrow_so_it_is_offered_once() -> None:
    assert [p.key for p in presets(at("2026-12-13T10:00"))] == ["hour", "tomorrow"]


def test_on_monday_it_is_next_weeks_monday() -> None:
    found = {p.key: p.when for p in presets(at("2026-12-14T09:00"))}
    assert found["monday"] == at("2026-12-21T08:00")


def test_results_are_in_the_given_zone() -> None:
    now = datetime(2026, 12, 9, 12, 0, tzinfo=UTC)
    assert all(p.when.tzinfo is UTC for p in presets(now))
