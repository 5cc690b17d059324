"""Importing the OAuth2 package is cheap and Qt-free: ``mailgui sendmail`` imports the
core, and must not pay for authlib, requests, keyring or the flows' http.server."""

from __future__ import annotations

import subprocess
import sys


def test_import_loads_no_qt_and_no_http_client() -> None:
    code = (
        "import sys, mailgui.core.oauth2 as o; "
        "heavy = ('PySide6', 'authlib', 'requests', 'keyring', 'http.server', 'webbrowser'); "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in heavy or m in heavy)); "
        "o.sign_in; print('webbrowser' in sys.modules, 'PySide6' in sys.modules)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.splitlines() == ["[]", "True False"]
