"""Action icons: the desktop theme's where it has them, else mailgui's own drawings."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtGui import QColor, QGuiApplication, QIcon, QPalette

from mailgui.ui.icons import action_icon

ROOT = Path(__file__).resolve().parents[2]
ACTIONS = ROOT / "mailgui" / "resources" / "actions"
NAMES = sorted(p.stem for p in ACTIONS.glob("*.svg"))


def test_the_windows_use_the_drawings_and_each_has_a_dark_twin() -> None:
    ui = ROOT / "mailgui" / "ui"
    compose = "".join(p.read_text() for p in sorted((ui / "compose").glob("*.py")))
    for window, text, at_least in (
        ("main_window.py", (ui / "main_window.py").read_text(), 7),
        ("compose", compose, 11),
    ):
        assert sum(f'"{name}"' in text for name in NAMES) >= at_least, window
    assert sorted(p.stem for p in (ACTIONS / "dark").glob("*.svg")) == NAMES


def test_without_a_theme_the_bundled_drawing_is_used(qapp: Any) -> None:
    QIcon.setThemeName("")  # bare X: no icon theme at all
    for name in NAMES:
        icon = action_icon(name)
        assert not icon.isNull(), name
        assert not icon.pixmap(24, 24).toImage().isNull(), name


def test_a_dark_palette_gets_the_light_ink(qapp: Any) -> None:
    QIcon.setThemeName("")
    before = QGuiApplication.palette()
    dark = QPalette(before)
    dark.setColor(QPalette.ColorRole.Window, QColor("#2b2b2b"))
    QGuiApplication.setPalette(dark)
    try:
        light_ink = action_icon("format-text-bold").pixmap(24, 24).toImage()
    finally:
        QGuiApplication.setPalette(before)
    dark_ink = action_icon("format-text-bold").pixmap(24, 24).toImage()
    lightest = max(
        QColor(light_ink.pixel(x, y)).lightness()
        for x in range(24)
        for y in range(24)
        if QColor.fromRgba(light_ink.pixel(x, y)).alpha() > 200
    )
    darkest = min(
        QColor(dark_ink.pixel(x, y)).lightness()
        for x in range(24)
        for y in range(24)
        if QColor.fromRgba(dark_ink.pixel(x, y)).alpha() > 200
    )
    assert lightest > 180 and darkest < 100
