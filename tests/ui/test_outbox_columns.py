"""The outbox table's columns fit its view (ui/outbox_model.FitColumns): no horizontal
scroll bar at 1100 px nor beside the demo panel, Next try and Last error in sight."""

from __future__ import annotations

from typing import Any

import pytest
from PySide6.QtWidgets import QTableView

from mailgui.ui.outbox_model import COL_ERROR, COL_TO, COL_WHEN, OutboxModel, apply_default_layout


@pytest.mark.parametrize("width", [1100, 800, 700])  # 700: a 1100 px window beside the demo panel
def test_columns_fill_the_view_without_a_scroll_bar(qtbot: Any, width: int) -> None:
    view = QTableView()
    qtbot.addWidget(view)
    view.setModel(OutboxModel())
    apply_default_layout(view)
    view.resize(width, 300)
    view.show()
    qtbot.waitExposed(view)
    header = view.horizontalHeader()
    shown = sum(header.sectionSize(c) for c in range(header.count()))
    assert shown == view.viewport().width()
    assert not view.horizontalScrollBar().isVisible()
    words = view.fontMetrics()
    assert header.sectionSize(COL_WHEN) >= words.horizontalAdvance("next try 2026-12-01 09:30")
    assert header.sectionSize(COL_ERROR) >= words.horizontalAdvance("Connection r")


def test_a_column_resized_by_hand_keeps_its_width(qtbot: Any) -> None:
    view = QTableView()
    qtbot.addWidget(view)
    view.setModel(OutboxModel())
    apply_default_layout(view)
    view.resize(1100, 300)
    view.show()
    qtbot.waitExposed(view)
    view.horizontalHeader().resizeSection(COL_TO, 321)  # as a drag of the header does
    view.resize(1000, 300)
    qtbot.wait(10)
    assert view.horizontalHeader().sectionSize(COL_TO) == 321
