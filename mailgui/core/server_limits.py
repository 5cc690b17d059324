"""What each account's server said about itself at its last EHLO: its SIZE limit.

The compose window warns before queueing a message the server would refuse for its
size; the sender writes this small file after each connection, the window reads it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

from mailgui.core.events import Connected
from mailgui.core.files import read_json_object, write_private
from mailgui.core.log import get_logger

if TYPE_CHECKING:
    from mailgui.core.events import DeliveryEvent
    from mailgui.core.paths import Profile

__all__ = ["ServerLimits"]

log = get_logger(__name__)


class ServerLimits:
    def __init__(self, path: Path) -> None:
        self.path = path

    @classmethod
    def of(cls, profile: Profile) -> ServerLimits:
        return cls(profile.data_dir / "server_limits.json")

    def on_delivery_event(self, event: DeliveryEvent) -> None:
        """A ``Delivery`` listener: keep the SIZE each server announces when connected,
        whoever sends (the GUI, ``mailgui send``, the agent)."""
        if not isinstance(event, Connected):
            return
        try:
            self.remember(event.account, event.size_limit)
        except OSError as exc:
            log.warning("the size limit of %s was not recorded: %s", event.account, exc)

    def _read(self) -> dict[str, int]:
        data = read_json_object(self.path)
        return {str(k): v for k, v in data.items() if isinstance(v, int) and v > 0}

    def size_limit(self, account: str) -> int | None:
        """The SIZE the account's server last announced (None: unknown or no limit)."""
        return self._read().get(account)

    def remember(self, account: str, size_limit: int | None) -> None:
        """Record the limit seen at EHLO; writes only when it changed."""
        limits = self._read()
        if limits.get(account) == size_limit or (size_limit is None and account not in limits):
            return
        if size_limit is None:
            del limits[account]
        else:
            limits[account] = int(size_limit)
        write_private(self.path, json.dumps(limits, sort_keys=True))
