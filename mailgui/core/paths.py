"""Where the profile lives: everything under MAILGUI_HOME, else platformdirs."""

from __future__ import annotations

import os
from pathlib import Path
from typing import NamedTuple

APP = "mailgui"


class Profile(NamedTuple):
    """The folders of one profile. ``MAILGUI_HOME`` puts all of them under one root.

    A named tuple, not a dataclass: the command line's start has no time for
    ``dataclasses`` (see ``mailgui.cli``)."""

    config_dir: Path
    data_dir: Path
    state_dir: Path

    @classmethod
    def from_env(cls, environ: os._Environ[str] | dict[str, str] | None = None) -> Profile:
        env = os.environ if environ is None else environ
        home = env.get("MAILGUI_HOME")
        if home:
            root = Path(home).expanduser()
            return cls(root / "config", root / "data", root / "state")
        import platformdirs  # only here: with MAILGUI_HOME it is not needed (~7 ms)

        return cls(
            Path(platformdirs.user_config_dir(APP)),
            Path(platformdirs.user_data_dir(APP)),
            Path(platformdirs.user_state_dir(APP)),
        )

    @property
    def accounts_file(self) -> Path:
        return self.config_dir / "accounts.toml"

    @property
    def outbox_file(self) -> Path:
        return self.data_dir / "outbox.sqlite3"

    @property
    def credentials_stamp(self) -> Path:
        """Touched when someone signs in or stores a password (see flush_schedule)."""
        return self.state_dir / "credentials-changed"

    @property
    def log_file(self) -> Path:
        return self.state_dir / "mailgui.log"

    def ensure(self) -> None:
        """Create the folders, private (0700) whatever the umask or their old mode."""
        for d in (self.config_dir, self.data_dir, self.state_dir):
            d.mkdir(parents=True, exist_ok=True, mode=0o700)
            if d.stat().st_mode & 0o077:
                d.chmod(0o700)
