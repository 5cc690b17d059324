"""Passwords live only in the OS keyring (service ``mailgui``, user = account name).

A backend that cannot store anything (keyring's ``fail`` and ``null`` backends)
is refused with a clear error; the password is then written nowhere else.
"""

from __future__ import annotations

import keyring
import keyring.errors

from mailgui.core.errors import KeyringUnavailableError

SERVICE = "mailgui"

_NO_BACKEND = (
    "No password store (keyring) is available, so the password was not saved anywhere; "
    "start a desktop keyring such as GNOME Keyring or KWallet, or choose a backend "
    "with PYTHON_KEYRING_BACKEND."
)


def _backend() -> keyring.backend.KeyringBackend:
    backend = keyring.get_keyring()
    module = type(backend).__module__
    if module in ("keyring.backends.fail", "keyring.backends.null"):
        raise KeyringUnavailableError(_NO_BACKEND)
    return backend


def backend_name() -> str:
    backend = keyring.get_keyring()
    return f"{type(backend).__module__}.{type(backend).__name__}"


def is_plaintext() -> bool:
    """True for backends that keep passwords unencrypted on disk (keyrings.alt files)."""
    name = backend_name()
    return name.startswith("keyrings.alt.file.") and "Plaintext" in name


def store(account: str, password: str) -> None:
    try:
        _backend().set_password(SERVICE, account, password)
    except (keyring.errors.KeyringError, RuntimeError) as exc:
        raise KeyringUnavailableError(
            f"The password store refused to save the password ({type(exc).__name__}); "
            "unlock your keyring and try again."
        ) from None


def load(account: str) -> str | None:
    try:
        value = _backend().get_password(SERVICE, account)
    except (keyring.errors.KeyringError, RuntimeError) as exc:
        raise KeyringUnavailableError(
            f"The password store could not be read ({type(exc).__name__}); "
            "unlock your keyring and try again."
        ) from None
    return value if isinstance(value, str) else None


def forget(account: str) -> None:
    """Remove a stored password; a missing one or an absent keyring is fine."""
    try:
        _backend().delete_password(SERVICE, account)
    except (keyring.errors.KeyringError, RuntimeError, KeyringUnavailableError):
        pass
