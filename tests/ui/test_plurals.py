"""English plurals for Qt's numerus strings (ui/plurals.py)."""

from __future__ import annotations

from typing import Any

import pytest
from PySide6.QtCore import QCoreApplication

from mailgui.ui import plurals


@pytest.mark.parametrize(
    ("source", "n", "shown"),
    [
        ("%n message(s) sent.", 1, "%n message sent."),
        ("%n message(s) sent.", 3, "%n messages sent."),
        ("%n message(s) sent.", 0, "%n messages sent."),
        ("%n message(s) are still waiting.", 1, "%n message is still waiting."),
        ("%n message(s) are still waiting.", 2, "%n messages are still waiting."),
        ("Message {0}, %n recipient(s) waiting", 1, "Message {0}, %n recipient waiting"),
        ("%n picture(s) were attached", 1, "%n picture was attached"),
    ],
)  # fmt: skip
def test_english_forms(source: str, n: int, shown: str) -> None:
    assert plurals.english(source, n) == shown


def test_the_app_speaks_english_plurals(qapp: Any) -> None:
    """What the windows show: Qt's numerus string (no translation file), in English."""

    def tr(source: str, n: int = -1) -> str:
        return plurals.english(QCoreApplication.translate("MainWindow", source, "", n), n)

    assert tr("%n message(s) sent.", 1) == "1 message sent."
    assert tr("%n message(s) sent.", 12) == "12 messages sent."
    assert tr("Retry all") == "Retry all"  # everything else untouched
