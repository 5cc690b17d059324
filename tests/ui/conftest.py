"""Fixtures for the GUI tests: an offscreen Qt and an AppContext on a fresh profile."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

# Before any QApplication exists (pytest-qt creates it lazily, in the first test).
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest

from mailgui.core.paths import Profile as CoreProfile
from mailgui.ui.context import AppContext

if TYPE_CHECKING:
    from mailgui.ui.compose import ComposeWindow
    from mailgui.ui.main_window import MainWindow
    from mailgui.ui.outbox_service import OutboxHandle


BACKGROUND_WAIT_MS = 10_000  # every job is bounded on its own (DNS: 1.5 s): a backstop


@pytest.fixture(autouse=True)
def background_jobs_end(request: pytest.FixtureRequest) -> Iterator[None]:
    """After each test (its windows closed by then: this fixture is set up first, so
    torn down last), wait for every background pool, delete the closed windows and
    hand out what the jobs finished, so no job of one test ends in the next one."""
    yield
    from PySide6.QtCore import QCoreApplication, QEvent

    from mailgui.ui import background

    if QCoreApplication.instance() is None:
        return
    ended = background.wait(BACKGROUND_WAIT_MS)
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)  # closed windows
    background.deliver()  # what is left (results for windows just deleted are dropped)
    QCoreApplication.processEvents()
    assert ended, f"background jobs of {request.node.name} still ran after {BACKGROUND_WAIT_MS} ms"


@pytest.fixture
def ctx(profile: object) -> AppContext:
    """An AppContext on an isolated profile (MAILGUI_HOME, plaintext keyring and XDG
    dirs under tmp, set by the top-level ``profile`` fixture)."""
    home = profile.home  # type: ignore[attr-defined]
    core = CoreProfile(home / "config", home / "data", home / "state")
    core.ensure()
    return AppContext(core)


@pytest.fixture
def windows(qtbot: object) -> Iterator[list[ComposeWindow]]:
    """Compose windows a test opens (append them); closed without a save prompt after."""
    from shiboken6 import isValid

    made: list[ComposeWindow] = []
    yield made
    for window in made:
        if isValid(window):
            window._done = True
            window.close()


@pytest.fixture
def handle(ctx: AppContext) -> Iterator[OutboxHandle]:
    """A running OutboxHandle on ``ctx``, stopped after the test."""
    from mailgui.ui.outbox_service import OutboxHandle

    real = OutboxHandle(ctx)
    real.start()
    yield real
    assert real.shutdown()


@pytest.fixture
def window(qtbot: Any, ctx: AppContext) -> Iterator[Callable[[], MainWindow]]:
    """Make main windows on ``ctx`` (no network watch); after the test their compose
    windows close without the save prompt and their threads are stopped."""
    from mailgui.ui.main_window import MainWindow

    windows: list[MainWindow] = []

    def make() -> MainWindow:
        w = MainWindow(ctx, watch_network=False)
        qtbot.addWidget(w)
        windows.append(w)
        return w

    yield make
    for w in windows:
        for editor in list(w.editors):
            editor._done = True  # close without the save prompt
            editor.close()
        assert w.shutdown()
