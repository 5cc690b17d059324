"""The app's own icons: from the package's folder when it is one (a source tree, a wheel
installed as files, a PyInstaller build, which bundles ``mailgui/resources``), else read
with importlib.resources (a zipped package)."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtGui import QGuiApplication, QIcon, QPixmap

if TYPE_CHECKING:
    from importlib.resources.abc import Traversable

SIZES = (16, 24, 32, 48, 64, 128, 256, 512)
STATES = ("queued", "sending", "deferred", "scheduled", "sent", "failed")


@cache
def _resources() -> Traversable:
    """``mailgui/resources``. A plain folder needs no importlib.resources (its import
    and first ``files()`` are ~2–6 ms of the window's start)."""
    folder = Path(__file__).resolve().parent.parent / "resources"
    if folder.is_dir():
        return folder
    from importlib.resources import files

    return files("mailgui").joinpath("resources")


def _read(*parts: str) -> bytes:
    return _resources().joinpath(*parts).read_bytes()


def _pixmap(data: bytes, fmt: str) -> QPixmap:
    pixmap = QPixmap()
    pixmap.loadFromData(data, fmt)
    return pixmap


@cache
def app_icon() -> QIcon:
    """The application icon: the SVG (any size), else PNGs (builds without QtSvg, or a
    zipped package). Made once: the app and the main window both ask for it, and decoding
    the eight PNGs cost ~10 ms of every start although the SVG engine never uses them."""
    icon = QIcon()
    svg = _resources().joinpath("mailgui.svg")
    if isinstance(svg, Path) and svg.is_file():  # not inside a zip: Qt reads it lazily
        icon.addFile(str(svg))
        if not icon.isNull():  # QtSvg's icon engine took it
            return icon
    for size in SIZES:
        try:
            icon.addPixmap(_pixmap(_read("icons", f"mailgui-{size}.png"), "PNG"))
        except OSError:
            continue
    return icon


def state_icon(state: str) -> QIcon:
    """The badge of an outbox state (resources/states/STATE.svg)."""
    if state not in STATES:
        raise ValueError(f"unknown state {state!r}")
    icon = QIcon()
    loaded = _pixmap(_read("states", f"{state}.svg"), "SVG")
    if not loaded.isNull():
        for size in (16, 32):
            icon.addPixmap(loaded.scaled(size, size))
    return icon


def action_icon(name: str) -> QIcon:
    """The desktop theme's icon ``name`` (a freedesktop name: mail-send, edit-delete...),
    else mailgui's own drawing of it (resources/actions, made by scripts/action_icons.py),
    in its light-ink variant on a dark palette. Lazy: nothing is drawn before a paint."""
    if QIcon.hasThemeIcon(name):
        return QIcon.fromTheme(name)
    dark = QGuiApplication.palette().window().color().lightness() < 128
    parts = ("actions", "dark", f"{name}.svg") if dark else ("actions", f"{name}.svg")
    node = _resources().joinpath(*parts)
    if isinstance(node, Path):
        return QIcon(str(node))
    icon = QIcon()  # inside a zip: no file for Qt to read lazily
    icon.addPixmap(_pixmap(node.read_bytes(), "SVG"))
    return icon
