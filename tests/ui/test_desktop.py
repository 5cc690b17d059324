"""Desktop integration: icons from the package, the About box, Help > Open log, and the
desktop entry and AppStream metainfo in packaging/."""

from __future__ import annotations

import configparser
import platform
import shutil
import subprocess
from pathlib import Path

import pytest

from mailgui import __version__
from mailgui.ui.icons import STATES, app_icon, state_icon
from mailgui.ui.main_window import MainWindow

PACKAGING = Path(__file__).resolve().parents[2] / "packaging"
APP_ID = "io.github.mailgui.mailgui"


def test_icons_load_from_the_package(qapp) -> None:
    icon = app_icon()
    assert not icon.isNull()
    assert not icon.pixmap(48, 48).isNull()
    for state in STATES:
        assert not state_icon(state).isNull(), state


def test_about_names_versions_keyring_and_profile(qtbot, ctx) -> None:
    w = MainWindow(ctx, watch_network=False)
    qtbot.addWidget(w)
    try:
        text = w.about_text()
        assert __version__ in text
        assert platform.python_version() in text
        assert "PySide6" in text and "Qt" in text
        assert "keyrings.alt.file.PlaintextKeyring" in text
        assert str(ctx.profile.outbox_file) in text and str(ctx.profile.log_file) in text
        menus = w.menuBar().actions()  # held: PySide6 6.8 drops a temporary list's menus
        help_menu = next(a.menu() for a in menus if "Help" in a.text())
        assert [a.text() for a in help_menu.actions() if a.text()] == [
            "Open &log",
            "&About mailgui",
        ]
    finally:
        assert w.shutdown()


def test_desktop_entry() -> None:
    entry = configparser.ConfigParser(interpolation=None)
    entry.optionxform = str  # type: ignore[assignment,method-assign]
    entry.read(PACKAGING / f"{APP_ID}.desktop")
    main = entry["Desktop Entry"]
    assert main["MimeType"] == "x-scheme-handler/mailto;"
    assert main["Exec"] == "mailgui %u"
    assert main["Icon"] == "mailgui"
    assert "new-message" in main["Actions"]
    assert entry["Desktop Action new-message"]["Name"] == "New Message"
    assert entry["Desktop Action new-message"]["Exec"] == "mailgui mailto:"
    if shutil.which("desktop-file-validate"):
        r = subprocess.run(
            ["desktop-file-validate", str(PACKAGING / f"{APP_ID}.desktop")],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        assert r.returncode == 0, r.stdout + r.stderr


@pytest.mark.skipif(not shutil.which("appstreamcli"), reason="appstreamcli is not installed")
def test_metainfo_validates() -> None:
    r = subprocess.run(
        ["appstreamcli", "validate", "--no-net", str(PACKAGING / f"{APP_ID}.metainfo.xml")],
        capture_output=True, text=True, check=False, timeout=60,
    )  # fmt: skip
    assert r.returncode == 0, r.stdout + r.stderr
