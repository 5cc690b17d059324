"""The tray icon with the number of waiting messages drawn on it, like a mail app's
dock badge: the count is visible without hovering for the tool tip."""

from __future__ import annotations

from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QFont, QIcon, QPainter, QPixmap

SIZES = (16, 22, 24, 32, 48, 64)


def badged(icon: QIcon, count: int) -> QIcon:
    """``icon`` with ``count`` in a red disc at its lower right; ``icon`` itself for 0.
    Counts over 99 show as "99+"."""
    if count <= 0:
        return icon
    text = str(count) if count < 100 else "99+"
    out = QIcon()
    for size in SIZES:
        pixmap = icon.pixmap(size, size)
        if pixmap.isNull():
            pixmap = QPixmap(size, size)
            pixmap.fill(Qt.GlobalColor.transparent)
        painter = QPainter(pixmap)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        side = size * (0.62 if len(text) == 1 else 0.72)
        disc = QRectF(size - side, size - side, side, side)
        if len(text) > 1:  # a pill for two or three digits
            disc.setLeft(max(0.0, size - side * (1.0 + 0.35 * (len(text) - 1))))
        painter.setPen(QColor("#ffffff"))
        painter.setBrush(QColor("#c62828"))
        painter.drawRoundedRect(disc, side / 2, side / 2)
        font = QFont()
        font.setBold(True)
        font.setPixelSize(max(6, round(side * 0.62)))
        painter.setFont(font)
        painter.drawText(disc, Qt.AlignmentFlag.AlignCenter, text)
        painter.end()
        out.addPixmap(pixmap)
    return out
