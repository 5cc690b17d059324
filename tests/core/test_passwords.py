"""Which password stores mailgui accepts (core/passwords.py), with keyring's real backends."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import keyring
import pytest
from keyrings.alt.file import PlaintextKeyring

from mailgui.core import passwords
from mailgui.core.errors import KeyringUnavailableError


@pytest.fixture
def auto_chosen_file_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """keyring falling back to keyrings.alt by itself, as it does where keyrings.alt is
    installed and no desktop keyring runs: no variable, no keyringrc.cfg."""
    monkeypatch.delenv("PYTHON_KEYRING_BACKEND", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    keyring.set_keyring(PlaintextKeyring())  # undone by conftest's keyring_backend_restored
    yield tmp_path


def test_a_file_store_keyring_picked_by_itself_is_refused(auto_chosen_file_store: Path) -> None:
    with pytest.raises(KeyringUnavailableError, match=r"keyrings\.alt"):
        passwords.store("work", "s3cret-pw")
    with pytest.raises(KeyringUnavailableError):
        passwords.load("work")
    files = [p for p in auto_chosen_file_store.rglob("*") if p.is_file()]
    assert not [p for p in files if b"s3cret" in p.read_bytes()]


def test_a_file_store_chosen_on_purpose_is_used(
    auto_chosen_file_store: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = auto_chosen_file_store / "config" / "python_keyring" / "keyringrc.cfg"
    config.parent.mkdir(parents=True)
    config.write_text("[backend]\ndefault-keyring = keyrings.alt.file.PlaintextKeyring\n")
    passwords.store("work", "pw")
    assert passwords.load("work") == "pw"
    config.unlink()
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyrings.alt.file.PlaintextKeyring")
    assert passwords.load("work") == "pw"
