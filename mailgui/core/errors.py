"""One error tree for the whole engine.

The core raises these; the CLI turns each into one sentence and an exit code
(``exit_code``), the GUI into a status line or dialog. Every message is a full
sentence saying what happened and what to do, and never contains a password.
Errors that come from a server carry its reply (``code``, ``enhanced``, ``reply``).
An error whose fix is a setting or a command is given as ``hints.Said`` (what happened,
and the fix as data): ``said`` keeps it, for a face that words the fix its own way.
"""

from __future__ import annotations

import os

from mailgui.core.hints import Said

# sysexits.h, as fixed by DESIGN.md
EX_OK = 0
EX_USAGE = 64
EX_DATAERR = 65
EX_UNAVAILABLE = 69
EX_SOFTWARE = 70
EX_TEMPFAIL = 75
EX_NOPERM = 77
EX_CONFIG = 78


class MailguiError(Exception):
    """Base of every error mailgui reports to a person."""

    exit_code = EX_SOFTWARE

    def __init__(self, message: str | Said) -> None:
        self.said = message if isinstance(message, Said) else None
        text = message.cli() if isinstance(message, Said) else message
        super().__init__(text)
        self.message = text

    def __str__(self) -> str:
        return self.message


class UsageError(MailguiError):
    """The command was used wrongly (unknown id, missing option...)."""

    exit_code = EX_USAGE


class InputError(MailguiError, ValueError):
    """Bad input data: an address, a header, an unreadable attachment."""

    exit_code = EX_DATAERR


class ConfigError(MailguiError):
    """The profile or an account is not usable as configured."""

    exit_code = EX_CONFIG


class KeyringUnavailableError(ConfigError):
    """No usable password store; the password was not written anywhere."""


class OutboxDamagedError(ConfigError):
    """The outbox file is not a readable SQLite database; mailgui leaves it untouched."""


class StorageError(MailguiError):
    """The outbox could not be written for now (disk full, locked by another program);
    the change was not saved, so trying again later can work."""

    exit_code = EX_TEMPFAIL


class OutboxReplacedError(StorageError):
    """A file of the outbox was deleted or replaced while this process had it open (see
    ``core.outbox_files``): this process writes nothing more to the outbox, since what it
    wrote could land where no other mailgui reads it. A restart opens the real files."""


class DeliveryError(MailguiError):
    """Something went wrong talking to a server.

    ``code`` and ``enhanced`` are the reply's basic and RFC 3463 codes when the
    server answered; ``reply`` is the server's text (already decoded).
    """

    exit_code = EX_TEMPFAIL
    permanent = False

    def __init__(
        self,
        message: str | Said,
        *,
        code: int | None = None,
        enhanced: str | None = None,
        reply: str | None = None,
        connection_lost: bool = False,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.enhanced = enhanced
        self.reply = reply
        # The session cannot be used for another message after this error.
        self.connection_lost = connection_lost

    @property
    def server_words(self) -> str | None:
        """The reply as the server said it, e.g. ``550 5.1.1 No such user``."""
        if self.code is None:
            return None
        parts = [str(self.code)]
        if self.enhanced:
            parts.append(self.enhanced)
        if self.reply:
            parts.append(self.reply)
        return " ".join(parts)


class TransientError(DeliveryError, ConnectionError):
    """Try again later: 4xx replies, timeouts, refused connections, DNS failures."""

    exit_code = EX_TEMPFAIL


class ServerTimeoutError(TransientError, TimeoutError):
    """The server did not answer within the timeout."""


class PermanentError(DeliveryError):
    """The server refused this message for good (5xx)."""

    exit_code = EX_UNAVAILABLE
    permanent = True


class AuthError(DeliveryError):
    """The server refused the user name or password."""

    exit_code = EX_NOPERM


class SecurityError(DeliveryError):
    """TLS could not be set up as the account demands; nothing was sent."""

    exit_code = EX_CONFIG


def describe_os_error(exc: OSError) -> str:
    """A short human text for a socket-level error, without Python's decoration."""
    if exc.strerror:
        return exc.strerror[0].lower() + exc.strerror[1:]
    if exc.errno:
        return os.strerror(exc.errno).lower()
    return str(exc) or type(exc).__name__
