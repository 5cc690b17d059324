"""Render mailgui/resources/mailgui.svg to the PNG sizes desktops and frozen builds use.

    QT_QPA_PLATFORM=offscreen .venv/bin/python scripts/render_icons.py

Writes mailgui/resources/icons/mailgui-SIZE.png (16 ... 512); commit the result.
"""

from __future__ import annotations

import sys
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication, QImage, QPainter
from PySide6.QtSvg import QSvgRenderer

SIZES = (16, 24, 32, 48, 64, 128, 256, 512)
RESOURCES = Path(__file__).resolve().parent.parent / "mailgui" / "resources"


def main() -> int:
    app = QGuiApplication(sys.argv[:1])  # noqa: F841 (QPainter needs it)
    renderer = QSvgRenderer(str(RESOURCES / "mailgui.svg"))
    if not renderer.isValid():
        print("mailgui.svg could not be read", file=sys.stderr)
        return 1
    out = RESOURCES / "icons"
    out.mkdir(exist_ok=True)
    for size in SIZES:
        image = QImage(size, size, QImage.Format.Format_ARGB32_Premultiplied)
        image.fill(Qt.GlobalColor.transparent)
        painter = QPainter(image)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        renderer.render(painter)
        painter.end()
        path = out / f"mailgui-{size}.png"
        image.save(str(path))
        print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
