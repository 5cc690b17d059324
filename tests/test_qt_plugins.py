"""Every Qt plugin mailgui needs finds its system libraries (scripts/qt_system_libs.py).

A missing library shows only when Qt loads the plugin, on the user's screen ("could not
load the Qt platform plugin xcb"), so it is checked here, with ldd, on every run.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).parent.parent / "scripts" / "qt_system_libs.py"


def test_qt_plugins_resolve_their_libraries() -> None:
    r = subprocess.run(
        [sys.executable, str(SCRIPT), "check"], capture_output=True, text=True, timeout=120
    )
    assert r.returncode == 0, r.stderr
