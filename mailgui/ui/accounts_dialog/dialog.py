"""The accounts dialog: list, add, edit, remove, choose the default, test a server.

Three tabs: "Account" (who, how mail leaves: a relay server, or direct delivery, which
the form says plainly is weaker; and the incoming server that keeps the Sent copy),
"Identities" (the account's own Reply-To and signature, and more identities: other
names or addresses sending through the same account) and "Signing & encryption" (the
OpenPGP key or the S/MIME certificate and key). Every identity field is checked as it
is typed, the reason shown under it.

Settings go to ``accounts.toml`` through ``AccountStore``; passwords only to the
keyring or, when there is none and the person agrees, to memory until mailgui quits
(``passwords``: every keyring call runs off the GUI thread). A stored password is
never shown back.

The dialog is made of a few parts, one module each: the account list, the server
form, the incoming server (``incoming``), passwords, Test connection (``testing``),
Find settings (``discovery``), the Identities tab, the keys tab (``keys``) and the
result panel.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtGui import QFont, QKeySequence
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFrame,
    QHBoxLayout,
    QLabel,
    QScrollArea,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from mailgui.core.errors import ConfigError, MailguiError
from mailgui.ui.accounts_dialog.account_list import AccountListMixin
from mailgui.ui.accounts_dialog.discovery import DiscoveryMixin
from mailgui.ui.accounts_dialog.identities import IdentitiesPage
from mailgui.ui.accounts_dialog.incoming import IncomingServerMixin
from mailgui.ui.accounts_dialog.keys import KeysPage
from mailgui.ui.accounts_dialog.passwords import PasswordsMixin
from mailgui.ui.accounts_dialog.result_panel import ResultPanel
from mailgui.ui.accounts_dialog.server_form import ServerFormMixin
from mailgui.ui.accounts_dialog.sign_in import SignInMixin
from mailgui.ui.accounts_dialog.testing import ConnectionTestMixin
from mailgui.ui.accounts_dialog.widgets import AMBER, GREEN, RED, plain_label, styled
from mailgui.ui.connection_test import ConnectionTester
from mailgui.ui.context import AppContext
from mailgui.ui.error_words import error_text
from mailgui.ui.imap_check import ImapChecker
from mailgui.ui.settings_finder import SettingsFinder
from mailgui.ui.sign_in_worker import Opener, SignInRunner

__all__ = ["AccountsDialog"]


def _scrolled(layout_or_widget: QVBoxLayout | QWidget) -> QScrollArea:
    """A tab's content in a scroll area: each tab scrolls when the window is small."""
    if isinstance(layout_or_widget, QWidget):
        content = layout_or_widget
    else:
        content = QWidget()
        content.setLayout(layout_or_widget)
    # Never narrower than its rows need (the limits row), or they would overlap.
    content.setMinimumWidth(max(520, content.minimumSizeHint().width()))
    scroll = QScrollArea()
    scroll.setWidget(content)
    scroll.setWidgetResizable(True)
    scroll.setFrameShape(QFrame.Shape.NoFrame)
    scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    scroll.setMinimumWidth(content.minimumWidth() + scroll.verticalScrollBar().sizeHint().width())
    return scroll


class AccountsDialog(
    AccountListMixin,
    ServerFormMixin,
    IncomingServerMixin,
    SignInMixin,
    PasswordsMixin,
    ConnectionTestMixin,
    DiscoveryMixin,
    QDialog,
):
    """Add, edit, remove and test sending accounts, and sign them in with OAuth2.

    ``open_browser`` replaces the system browser for "Sign in…" (tests: a scripted
    one); None is Python's ``webbrowser``, which honours ``$BROWSER``.

    Signals:
        accountsChanged(): an account was saved, removed or made the default (for a
            save or a removal, once the keyring has stored or forgotten its password),
            or signed out.
        signedIn(str): the account of that name signed in (its grant is in the
            keyring): messages waiting for it can go.
    """

    accountsChanged = Signal()
    signedIn = Signal(str)

    def __init__(
        self,
        ctx: AppContext,
        parent: QWidget | None = None,
        *,
        open_browser: Opener | None = None,
    ) -> None:
        super().__init__(parent)
        self._ctx = ctx
        self._current = None  # the saved account being edited; None = new
        self._loaded: tuple[Any, ...] = ()
        self._loading = False
        self._port_follows = True
        self._default_name: str | None = None
        self._store_kind: str | None = None  # passwords.store_kind(), once it answers
        self._keyring_jobs: dict[int, Callable[[Any, Any], object]] = {}  # request → reaction
        self._source_token = 0  # the password lookup whose answer the form waits for
        self.last_test_result: dict[str, Any] | None = None
        self.last_discovery: dict[str, Any] | None = None
        self._tester = ConnectionTester(self)
        self._tester.finished.connect(self._test_finished)
        self._imap_checker = ImapChecker(self)  # the incoming server's Test
        self.last_imap_result: dict[str, Any] | None = None
        self._finder = SettingsFinder(self)
        self._finder.finished.connect(self._settings_found)
        self._signer = SignInRunner(self, open_browser=open_browser, profile=ctx.profile)
        self._signer.urlReady.connect(self._sign_in_url_ready)
        self._signer.finished.connect(self._sign_in_finished)
        self.setWindowTitle(self.tr("Accounts"))
        self._build()
        self.resize(900, 720)
        self._ask_store_kind()
        self._reload(select=None)

    def select_account(self, name: str, *, sign_in: bool = False) -> None:
        """Show account ``name`` in the form (an error's "Edit account" button); with
        ``sign_in``, start signing it in too (the error's "Sign in again"): the browser
        opens for an OAuth2 account, the Password field takes the focus otherwise."""
        self._reload(select=name)
        if sign_in and self._current is not None and self._current.name == name:
            self._sign_in_requested()

    # --- building --------------------------------------------------------------------

    def _build(self) -> None:
        outer = QHBoxLayout(self)
        outer.setSpacing(14)
        outer.addLayout(self._build_account_list())

        # Right: the form for one account, in two tabs (Account, Identities).
        right = QVBoxLayout()
        self.title = QLabel()
        title_font = QFont(self.title.font())
        title_font.setPointSizeF(title_font.pointSizeF() * 1.2)
        title_font.setBold(True)
        self.title.setFont(title_font)
        self.title.setTextFormat(Qt.TextFormat.PlainText)
        self.keyring_warning = styled(plain_label(), AMBER)
        self.keys_page = KeysPage()
        self.keys_page.changed.connect(self._clear_message_if_error)
        right.addLayout(self._build_server_form())

        self.message = plain_label()  # under the tabs: seen from both
        self.message.setObjectName("formMessage")
        self.message.hide()

        actions = QHBoxLayout()
        actions.addWidget(self._build_find_button())
        self._build_test_actions(actions)
        right.addStretch(1)
        self.result_panel = ResultPanel()  # under the tabs, beside the message: in view

        # Find settings and Test connection beside Save and Close, never scrolled away.
        bottom = QHBoxLayout()
        bottom.addLayout(actions)
        bottom.addStretch(1)
        self.buttons = QDialogButtonBox()
        self.save_button = self.buttons.addButton(
            self.tr("&Save"), QDialogButtonBox.ButtonRole.AcceptRole
        )
        self.close_button = self.buttons.addButton(QDialogButtonBox.StandardButton.Close)
        self.close_button.setAutoDefault(False)
        self.save_button.clicked.connect(self.save)
        self.close_button.clicked.connect(self.reject)
        bottom.addWidget(self.buttons)

        # Each tab scrolls when the window is small; the buttons always stay in view.
        self._scroll = _scrolled(right)
        self.identities_page = IdentitiesPage()
        self.identities_page.changed.connect(self._clear_message_if_error)
        self.pages = QTabWidget()
        self.pages.setDocumentMode(True)
        self.pages.addTab(self._scroll, self.tr("Account"))
        self._identities_scroll = _scrolled(self.identities_page)
        self.pages.addTab(self._identities_scroll, self.tr("Identities"))
        self._keys_scroll = _scrolled(self.keys_page)
        self.pages.addTab(self._keys_scroll, self.tr("Signing && encryption"))
        for edit in (self.display_name_edit, self.email_edit):
            edit.textChanged.connect(self._own_identity_changed)
        self.email_edit.textChanged.connect(self.keys_page.set_address)
        side = QVBoxLayout()
        side.addWidget(self.title)
        side.addWidget(self.keyring_warning)
        side.addWidget(self.pages, 1)
        side.addWidget(self.result_panel)
        side.addWidget(self.message)
        side.addLayout(bottom)
        outer.addLayout(side, 1)
        # Only now is the button inside the dialog, so the dialog records it as its
        # default (Enter in the form); earlier, Qt would pick the first button (Add).
        self.save_button.setDefault(True)
        self._set_tab_order()

        self.save_button.setShortcut(QKeySequence.StandardKey.Save)  # Ctrl+S as well
        for edit in (self.host_edit, self.username_edit, self.password_edit, self.ca_edit):
            edit.textChanged.connect(self._connection_settings_changed)
        self.port_spin.valueChanged.connect(self._connection_settings_changed)
        self.security_combo.currentIndexChanged.connect(self._connection_settings_changed)
        self._update_keyring_warning()

    def _set_tab_order(self) -> None:
        order: list[QWidget] = [
            self.list,
            self.add_button,
            self.remove_button,
            self.default_button,
            self.pages.tabBar(),
            self.name_edit,
            self.display_name_edit,
            self.email_edit,
            self.delivery_combo,
            self.host_edit,
            self.security_combo,
            self.port_spin,
            self.auth_combo,
            self.issuer_edit,
            self.command_edit,
            self.username_edit,
            self.password_edit,
            self.client_id_edit,
            self.client_secret_edit,
            self.cancel_sign_in_button,
            self.sign_in_button,
            self.sign_out_button,
            self.copy_link_button,
            self.ca_edit,
            self.ca_browse,
            self.imap_host_edit,
            self.imap_security_combo,
            self.imap_port_spin,
            self.sent_folder_combo,
            self.load_folders_button,
            self.imap_test_button,
            self.imap_cancel_button,
            *self.limit_spins,
            self.timeout_spin,
            self.test_button,
            self.cancel_test_button,
            # the Identities tab (only one tab's fields are visible, so no overlap)
            self.identities_page.reply_to_edit,
            self.identities_page.signature_edit,
            self.identities_page.list,
            self.identities_page.add_button,
            self.identities_page.remove_button,
            self.identities_page.name_edit,
            self.identities_page.email_edit,
            self.identities_page.id_reply_to_edit,
            self.identities_page.id_signature_edit,
            # the Signing & encryption tab
            self.keys_page.pgp_combo,
            self.keys_page.reload_button,
            self.keys_page.cert_edit,
            self.keys_page.cert_browse,
            self.keys_page.key_edit,
            self.keys_page.key_browse,
            self.keys_page.always_sign_check,
            self.keys_page.encrypt_check,
            self.save_button,
            self.close_button,
        ]
        for first, second in itertools.pairwise(order):
            QWidget.setTabOrder(first, second)

    # --- saving ----------------------------------------------------------------------

    @Slot()
    def save(self) -> bool:
        """Validate and save the form; True when saved. Errors show under the form.
        The password follows in the keyring thread; accountsChanged once it is stored."""
        self._clear_message()
        try:
            account = self._account_from_form()
        except MailguiError as exc:
            self._show_message(error_text(exc), error=True)
            return False
        original = self._current
        renamed = original is not None and original.name != account.name
        store = self._ctx.accounts
        try:
            existing = {a.name for a in store.all()}
            if (original is None or renamed) and account.name in existing:
                raise ConfigError(
                    self.tr("An account named “{0}” already exists; choose another name.").format(
                        account.name
                    )
                )
            was_default = original is not None and store.default_name() == original.name
            store.save(account, make_default=was_default)
            if original is not None and renamed:
                self._move_password(original.name, account.name)
                store.remove(original.name)
        except MailguiError as exc:
            self._show_message(error_text(exc), error=True)
            return False

        # In the keyring thread, in this order: a slot that no longer fits is emptied,
        # then the typed password stored, before the reload looks them up.
        self._save_sign_in_secrets(original, account)
        self._store_typed_password(account)
        self._reload(select=account.name)
        self._show_message(self.tr("Saved."))
        return True

    # --- the message under the form ----------------------------------------------------

    def _show_message(self, text: str, *, error: bool = False) -> None:
        """The one place form errors appear: a line under the form, no pop-ups."""
        self.message.setText(("✘ " if error else "✔ ") + text)
        styled(self.message, RED if error else GREEN)
        self.message.setVisible(bool(text))

    def _clear_message(self) -> None:
        self.message.clear()
        self.message.hide()

    @Slot()
    def _clear_message_if_error(self) -> None:
        if self.message.isVisibleTo(self) and self.message.text().startswith("✘ "):
            self._clear_message()

    # --- closing -------------------------------------------------------------------------

    def reject(self) -> None:
        if not self._may_discard():
            return
        self._tester.cancel()
        self._imap_checker.cancel()
        self.cancel_sign_in()
        super().reject()

    def done(self, result: int) -> None:
        self._tester.cancel()
        self._imap_checker.cancel()
        self._finder.cancel()
        self.cancel_sign_in()  # the flow sees it within 0.2 s; nothing is stored
        super().done(result)
