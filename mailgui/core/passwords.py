"""Passwords live only in the OS keyring (service ``mailgui``, user = account name).

A backend that cannot store anything (keyring's ``fail`` and ``null`` backends)
is refused with a clear error; the password is then written nowhere else. So is a
keyrings.alt backend that keyring picked by itself: installing keyrings.alt (a test
tool) silently makes its plain or weakly encrypted file the default where no desktop
keyring runs. It is used only when chosen on purpose, with ``PYTHON_KEYRING_BACKEND``
or keyring's own ``keyringrc.cfg``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mailgui.core.errors import KeyringUnavailableError

if TYPE_CHECKING:
    import keyring.backend

# keyring is imported on first use: importing it costs tens of milliseconds (its
# plug-in machinery), which every command and the GUI's first window would pay.

SERVICE = "mailgui"

_NO_BACKEND = (
    "No password store (keyring) is available, so the password was not saved anywhere; "
    "start a desktop keyring such as GNOME Keyring or KWallet, or choose a backend "
    "with PYTHON_KEYRING_BACKEND."
)


def _backend() -> keyring.backend.KeyringBackend:
    import keyring

    backend = keyring.get_keyring()
    module = type(backend).__module__
    if module in ("keyring.backends.fail", "keyring.backends.null"):
        raise KeyringUnavailableError(_NO_BACKEND)
    if module.startswith("keyrings.alt.") and not _chosen_on_purpose():
        raise KeyringUnavailableError(_NOT_CHOSEN)
    return backend


_NOT_CHOSEN = (
    "The only password store found keeps passwords in a file (keyrings.alt, a test tool), "
    "so mailgui saved nothing; start a desktop keyring such as GNOME Keyring or KWallet, "
    "or choose that file store on purpose with PYTHON_KEYRING_BACKEND."
)


def _chosen_on_purpose() -> bool:
    """True when the person named the backend: the variable, or keyringrc.cfg."""
    import os

    if os.environ.get("PYTHON_KEYRING_BACKEND"):
        return True
    try:
        import keyring.core

        return keyring.core.load_config() is not None
    except Exception:  # an unreadable or wrong config file names nothing usable
        return False


def backend_name() -> str:
    import keyring

    backend = keyring.get_keyring()
    return f"{type(backend).__module__}.{type(backend).__name__}"


def is_plaintext() -> bool:
    """True for backends that keep passwords unencrypted on disk (keyrings.alt files)."""
    name = backend_name()
    return name.startswith("keyrings.alt.file.") and "Plaintext" in name


def store_kind() -> str:
    """What saving a password would do: "none" (refused: no usable store), "plaintext"
    (a file anyone who reads your files can read) or "secure" (a real keyring)."""
    try:
        _backend()
    except Exception:  # refused (KeyringUnavailableError), or a backend that fails to load
        return "none"
    return "plaintext" if is_plaintext() else "secure"


def store(account: str, password: str) -> None:
    try:
        _backend().set_password(SERVICE, account, password)
    except KeyringUnavailableError:
        raise
    except Exception as exc:  # backends raise anything: D-Bus errors, OSError, ...
        raise KeyringUnavailableError(
            f"The password store refused to save the password ({type(exc).__name__}); "
            "unlock your keyring and try again."
        ) from None


def load(account: str) -> str | None:
    try:
        value = _backend().get_password(SERVICE, account)
    except KeyringUnavailableError:
        raise
    except Exception as exc:  # backends raise anything: D-Bus errors, OSError, ...
        raise KeyringUnavailableError(
            f"The password store could not be read ({type(exc).__name__}); "
            "unlock your keyring and try again."
        ) from None
    return value if isinstance(value, str) else None


def forget(account: str) -> None:
    """Remove a stored password; a missing one or an absent keyring is fine."""
    try:
        _backend().delete_password(SERVICE, account)
    except Exception:  # includes KeyringUnavailableError and whatever a backend raises
        pass
