"""Sizes for people, written one way everywhere: decimal units (1 kB = 1000 bytes), as
servers state their SIZE limits. The outbox table, the compose window's pre-flight check
and a server's refusal then show the same number for the same message."""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["UNITS", "human_size"]

UNITS = ("{0} B", "{0} kB", "{0} MB", "{0} GB")


def human_size(size: int, units: Sequence[str] = UNITS) -> str:
    """``812 B``, ``1.2 kB``, ``14 kB``, ``3.4 MB``, ``1.2 GB``; ``units`` for translated
    texts."""
    if size < 1000:
        return units[0].format(size)
    if size < 9_950:
        return units[1].format(f"{size / 1000:.1f}")
    if size < 999_500:
        return units[1].format(round(size / 1000))
    if size < 999_950_000:
        return units[2].format(f"{size / 1_000_000:.1f}")
    return units[3].format(f"{size / 1_000_000_000:.1f}")
