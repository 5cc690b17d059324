"""The compose window (``ComposeWindow``), one module per feature: see ``window``."""

from mailgui.ui.compose.window import ComposeWindow

__all__ = ["ComposeWindow"]
