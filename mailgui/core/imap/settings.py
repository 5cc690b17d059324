"""Where the Sent copy goes: one IMAP server and folder, declared once.

Kept apart from the SMTP ``Account`` so the IMAP code depends on nothing else of it; the
caller maps an account onto it (``--imap-host``, ``--imap-port``, ``--imap-security``,
``--sent-folder``). ``--sent-folder none`` never gets here: there is nothing to file.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from mailgui.core.errors import ConfigError

Security = Literal["starttls", "tls"]
DEFAULT_PORTS: dict[str, int] = {"starttls": 143, "tls": 993}
AUTO = "auto"


@dataclass(frozen=True)
class ImapSettings:
    """``folder``: ``"auto"`` (SPECIAL-USE ``\\Sent``, else a known name) or a folder name
    as people read it (Unicode, with the server's hierarchy delimiter: ``INBOX.Sent``).
    ``ca_file``: a PEM file that replaces the system's CA store. ``port`` 0: the default
    of ``security``."""

    host: str
    port: int = 0
    security: Security = "tls"
    ca_file: str | None = None
    timeout: float = 30.0
    folder: str = AUTO

    def __post_init__(self) -> None:
        if self.security not in DEFAULT_PORTS:
            raise ConfigError(
                f"The IMAP security setting {self.security!r} is unknown; use starttls "
                "(port 143) or tls (port 993)."
            )
        if not self.host:
            raise ConfigError("The IMAP server has no host name; give one with --imap-host.")
        if not 0 <= self.port <= 65535:
            raise ConfigError(f"The IMAP port {self.port} is not a port number (1-65535).")
        if self.timeout <= 0:
            raise ConfigError("The IMAP timeout must be positive.")
        if not self.folder or not self.folder.strip():
            raise ConfigError("The Sent folder has no name; give a name, auto or none.")
        if self.port == 0:
            object.__setattr__(self, "port", DEFAULT_PORTS[self.security])

    @property
    def where(self) -> str:
        return f"{self.host}:{self.port}"
