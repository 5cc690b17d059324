"""The waiting count drawn on the tray icon."""

from __future__ import annotations

from PySide6.QtGui import QColor

from mailgui.ui.main_window import app_icon
from mailgui.ui.tray_badge import badged


def test_no_badge_when_nothing_waits(qapp) -> None:
    icon = app_icon()
    assert badged(icon, 0) is icon


def test_the_count_sits_in_a_red_disc_at_the_lower_right(qapp) -> None:
    for count in (3, 42, 1000):
        image = badged(app_icon(), count).pixmap(32, 32).toImage()
        corner = QColor(image.pixel(26, 26))
        assert corner.red() > 150 and corner.green() < 120, (count, corner.name())
        assert QColor(image.pixel(4, 4)) != corner  # the icon itself is still there
