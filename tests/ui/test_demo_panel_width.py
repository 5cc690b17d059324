"""The demo panel keeps its width when its first message arrives (issue 17): a long
Message-ID used to widen it and squeeze the outbox beside it."""
# pytest-qt's QtBot methods are not annotated:
# mypy: disable-error-code="no-untyped-call"

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pytestqt.qtbot import QtBot
from test_demo_view import send

from mailgui.demo_server import DemoServer
from mailgui.ui.context import AppContext
from mailgui.ui.main_window import MainWindow


@pytest.fixture
def server() -> Iterator[DemoServer]:
    demo = DemoServer().start()
    yield demo
    demo.stop()


def test_the_first_message_does_not_widen_the_panel(
    qtbot: QtBot, ctx: AppContext, server: DemoServer
) -> None:
    w = MainWindow(ctx, demo_server=server, watch_network=False)
    qtbot.addWidget(w)
    try:
        w.resize(1100, 640)
        w.show()
        qtbot.waitExposed(w)
        qtbot.wait(100)
        dock, table = w.demo_dock.width(), w.table.width()
        assert 380 <= dock <= 420
        send(
            server,
            subject="A subject long enough to wrap in a narrow panel, and then some more words",
            body="Hello\n",
            to="Someone With A Long Name <someone.with.a.long.address@demo.mailgui>",
        )
        view = w.demo_dock.widget()
        qtbot.waitUntil(lambda: view.current_details() is not None, timeout=5000)  # type: ignore[attr-defined]
        qtbot.wait(100)
        assert w.grab().save("/tmp/demo_panel_width.png")
        assert w.demo_dock.width() == dock
        assert w.table.width() == table
    finally:
        assert w.shutdown()
