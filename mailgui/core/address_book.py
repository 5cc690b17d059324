"""Addresses used before, for completion in the compose window's To/Cc/Bcc fields.

One small JSON file in the profile's data folder: each address once (by lower-cased
address), with how it was last written ("Bob Builder <bob@example.org>"), how often
and when it was last used. Completion ranks by use, then by recency.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from mailgui.core.addresses import Mailbox
from mailgui.core.files import read_json_object, write_private

__all__ = ["AddressBook"]

MAX_ENTRIES = 2000  # the least used go first beyond this


class AddressBook:
    def __init__(self, path: Path, *, clock: Any = time.time) -> None:
        self.path = path
        self.clock = clock
        self._cache: dict[str, dict[str, Any]] | None = None  # read once, then kept

    def _read(self) -> dict[str, dict[str, Any]]:
        if self._cache is None:
            self._cache = self._load()
        return self._cache

    def _load(self) -> dict[str, dict[str, Any]]:
        return read_json_object(self.path)

    def remember(self, boxes: Iterable[Mailbox]) -> None:
        """Count a message's recipients as used now."""
        entries = dict(self._load())  # what other windows added meanwhile
        now = self.clock()
        for box in boxes:
            key = box.addr.lower()
            entry = entries.get(key) or {"count": 0}
            entry["shown"] = box.formatted()
            entry["count"] = int(entry.get("count", 0)) + 1
            entry["last"] = now
            entries[key] = entry
        if len(entries) > MAX_ENTRIES:
            ranked = sorted(entries.items(), key=lambda kv: (kv[1]["count"], kv[1]["last"]))
            entries = dict(ranked[-MAX_ENTRIES:])
        write_private(self.path, json.dumps(entries, ensure_ascii=False))
        self._cache = entries

    def matching(self, prefix: str, limit: int = 8) -> list[str]:
        """Addresses where a word of the name, or the address, starts with ``prefix``."""
        needle = prefix.strip().lower()
        if not needle:
            return []
        found = []
        for key, entry in self._read().items():
            shown = str(entry.get("shown", key))
            words = [key, *shown.lower().replace("<", " ").replace('"', " ").split()]
            if any(w.startswith(needle) for w in words):
                found.append((-int(entry.get("count", 0)), -float(entry.get("last", 0)), shown))
        return [shown for *_rank, shown in sorted(found)[:limit]]
