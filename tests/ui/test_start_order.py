"""At the app's start the sender thread waits for the window's first paint."""

from __future__ import annotations

from mailgui.ui.context import AppContext
from mailgui.ui.main_window import MainWindow, _FirstPaint


def test_the_sender_starts_after_the_first_paint(qtbot, ctx: AppContext) -> None:
    w = MainWindow(ctx, watch_network=False, sender_after_first_paint=True)
    qtbot.addWidget(w)
    try:
        assert not w.sender.is_running()  # the window has not painted yet
        w.show()
        qtbot.waitUntil(w.sender.is_running, timeout=_FirstPaint.FALLBACK_MS // 2)
    finally:
        assert w.shutdown()


def test_quitting_before_the_first_paint_never_starts_the_sender(qtbot, ctx: AppContext) -> None:
    w = MainWindow(ctx, watch_network=False, sender_after_first_paint=True)
    qtbot.addWidget(w)
    assert w.shutdown()
    qtbot.wait(_FirstPaint.FALLBACK_MS + 200)  # past the fallback for a window never painted
    assert not w.sender.is_running()
