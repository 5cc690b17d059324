"""Why a message could not be signed or encrypted, as errors that carry the details.

A recipient's key or certificate is input (exit 65: the message cannot go out as asked
to that address); the sender's own key or a missing tool is configuration (exit 78).
"""

from __future__ import annotations

from mailgui.core.errors import ConfigError, InputError

# What ``RecipientKeyError.reason`` says (the compose window shows it per recipient).
MISSING = "missing"
EXPIRED = "expired"
REVOKED = "revoked"
UNTRUSTED = "untrusted"
UNUSABLE = "unusable"  # no encryption subkey, disabled, not yet valid, wrong key type


class RecipientKeyError(InputError):
    """A recipient has no usable key or certificate; nothing was produced."""

    def __init__(self, message: str, *, recipient: str, reason: str, technology: str) -> None:
        super().__init__(message)
        self.recipient = recipient
        self.reason = reason
        self.technology = technology  # "openpgp" or "smime"


class SenderKeyError(ConfigError):
    """The sender's own key or certificate cannot sign or be encrypted to."""


class CryptoToolError(ConfigError):
    """GnuPG or a Python package needed for signing or encryption is not there or failed."""
