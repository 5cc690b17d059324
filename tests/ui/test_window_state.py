"""The main window remembers its size, the column layout and the details splitter."""

from __future__ import annotations

from mailgui.ui.context import AppContext
from mailgui.ui.main_window import MainWindow
from mailgui.ui.outbox_model import COL_SUBJECT


def test_geometry_and_columns_survive_a_restart(qtbot, ctx: AppContext) -> None:
    first = MainWindow(ctx, watch_network=False)
    qtbot.addWidget(first)
    first.show()
    qtbot.waitExposed(first)
    first.resize(700, 450)  # inside the offscreen screen (800x600): restoring clamps to it
    qtbot.waitUntil(lambda: first.width() == 700)
    header = first.table.horizontalHeader()
    header.resizeSection(COL_SUBJECT, 333)
    header.moveSection(COL_SUBJECT, 0)  # dragged to the front
    sizes = [300, 200]
    first.splitter.setSizes(sizes)
    sizes = first.splitter.sizes()
    assert first.shutdown()  # what quitting does: saves, then stops the threads

    second = MainWindow(ctx, watch_network=False)
    qtbot.addWidget(second)
    second.show()
    qtbot.waitExposed(second)
    try:
        assert (second.width(), second.height()) == (700, 450)
        again = second.table.horizontalHeader()
        assert again.sectionSize(COL_SUBJECT) == 333
        assert again.visualIndex(COL_SUBJECT) == 0
        assert second.splitter.sizes() == sizes
        assert (ctx.profile.config_dir / "window.ini").is_file()
    finally:
        assert second.shutdown()
