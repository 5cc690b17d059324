"""Fixtures for the GUI tests: an offscreen Qt and an AppContext on a fresh profile."""

from __future__ import annotations

import os

# Before any QApplication exists (pytest-qt creates it lazily, in the first test).
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest

from mailgui.core.paths import Profile as CoreProfile
from mailgui.ui.context import AppContext


@pytest.fixture
def ctx(profile: object) -> AppContext:
    """An AppContext on an isolated profile (MAILGUI_HOME, plaintext keyring and XDG
    dirs under tmp, set by the top-level ``profile`` fixture)."""
    home = profile.home  # type: ignore[attr-defined]
    core = CoreProfile(home / "config", home / "data", home / "state")
    core.ensure()
    return AppContext(core)
