"""The accounts dialog (``AccountsDialog``), one module per part: see ``dialog``."""

from mailgui.ui.accounts_dialog.dialog import AccountsDialog
from mailgui.ui.accounts_dialog.identities import IdentitiesPage
from mailgui.ui.accounts_dialog.result_panel import ResultPanel

__all__ = ["AccountsDialog", "IdentitiesPage", "ResultPanel"]
