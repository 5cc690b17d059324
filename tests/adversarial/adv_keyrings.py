"""Keyring backends that misbehave, for PYTHON_KEYRING_BACKEND=adv_keyrings.<Name>
(the adversarial tests put this folder on PYTHONPATH)."""

from __future__ import annotations

from keyring.backend import KeyringBackend


class DBusGone(Exception):
    """Like secretstorage's and jeepney's errors: not a keyring.errors.KeyringError."""


class RaisingKeyring(KeyringBackend):
    """Every call raises what a broken Secret Service connection raises."""

    priority = 1  # type: ignore[assignment]

    def get_password(self, service: str, username: str) -> str | None:
        raise DBusGone("org.freedesktop.DBus.Error.ServiceUnknown")

    def set_password(self, service: str, username: str, password: str) -> None:
        raise DBusGone("org.freedesktop.DBus.Error.ServiceUnknown")

    def delete_password(self, service: str, username: str) -> None:
        raise DBusGone("org.freedesktop.DBus.Error.ServiceUnknown")


class OSErrorKeyring(RaisingKeyring):
    """A file backend whose file cannot be read."""

    def get_password(self, service: str, username: str) -> str | None:
        raise PermissionError(13, "Permission denied")

    def set_password(self, service: str, username: str, password: str) -> None:
        raise PermissionError(13, "Permission denied")
