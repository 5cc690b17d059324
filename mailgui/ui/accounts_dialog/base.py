"""What the parts of the accounts dialog share, declared once for the type checker.

``AccountsDialog`` is one QDialog made of a mixin per part (account list, server
form, passwords, connection test, discovery). Each mixin derives from ``DialogBase``
so it may use the widgets and methods of the others; at run time ``DialogBase`` is
``object`` and the mixins are plain classes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

__all__ = ["DialogBase"]

if TYPE_CHECKING:
    import builtins
    from collections.abc import Callable
    from typing import Any

    from PySide6.QtCore import Signal
    from PySide6.QtWidgets import (
        QComboBox,
        QDialog,
        QFormLayout,
        QHBoxLayout,
        QLabel,
        QLineEdit,
        QListWidget,
        QPushButton,
        QScrollArea,
        QSpinBox,
        QTabWidget,
        QWidget,
    )

    from mailgui.core.accounts import Account
    from mailgui.core.credentials import Login
    from mailgui.ui.accounts_dialog.identities import IdentitiesPage
    from mailgui.ui.accounts_dialog.keys import KeysPage
    from mailgui.ui.accounts_dialog.result_panel import ResultPanel
    from mailgui.ui.connection_test import ConnectionTester
    from mailgui.ui.context import AppContext
    from mailgui.ui.imap_check import ImapChecker
    from mailgui.ui.settings_finder import SettingsFinder
    from mailgui.ui.sign_in_worker import SignInRunner

    class DialogBase(QDialog):
        accountsChanged = Signal()
        signedIn = Signal(str)
        # state (dialog.py)
        _ctx: AppContext
        _current: Account | None
        _loaded: tuple[Any, ...]
        _loading: bool
        _port_follows: bool
        _default_name: str | None
        _store_kind: str | None
        _keyring_jobs: dict[int, Callable[[Any, Any], object]]
        _source_token: int
        _tester: ConnectionTester
        _imap_checker: ImapChecker
        last_imap_result: dict[str, Any] | None
        _imap_port_follows: bool
        _folder_follows: bool
        _imap_mode: str
        _finder: SettingsFinder
        _signer: SignInRunner
        _sign_in_url: str
        _status_token: int
        _sign_in_pending: int
        last_test_result: dict[str, Any] | None
        last_discovery: dict[str, Any] | None
        # widgets
        list: QListWidget
        add_button: QPushButton
        remove_button: QPushButton
        default_button: QPushButton
        title: QLabel
        keyring_warning: QLabel
        form: QFormLayout
        name_edit: QLineEdit
        display_name_edit: QLineEdit
        email_edit: QLineEdit
        delivery_combo: QComboBox
        direct_warning: QLabel
        host_edit: QLineEdit
        port_spin: QSpinBox
        security_combo: QComboBox
        security_warning: QLabel
        username_edit: QLineEdit
        password_edit: QLineEdit
        auth_combo: QComboBox
        issuer_edit: QLineEdit
        command_edit: QLineEdit
        client_id_edit: QLineEdit
        client_id_hint: QLabel
        client_id_steps: QLabel
        client_secret_edit: QLineEdit
        sign_in_status: QLabel
        sign_in_button: QPushButton
        sign_out_button: QPushButton
        cancel_sign_in_button: QPushButton
        sign_in_link: QLabel
        copy_link_button: QPushButton
        _sign_in_row: QWidget
        _sign_in_link_row: QWidget
        ca_edit: QLineEdit
        ca_browse: QPushButton
        _ca_row: QHBoxLayout
        limit_spins: builtins.list[QSpinBox]  # "list" is the account list here
        timeout_spin: QSpinBox
        test_button: QPushButton
        cancel_test_button: QPushButton
        find_button: QPushButton
        message: QLabel
        result_panel: ResultPanel
        identities_page: IdentitiesPage
        keys_page: KeysPage
        _keys_scroll: QScrollArea
        # the incoming server (incoming.py)
        _incoming_heading: QLabel
        _incoming_intro: QLabel
        imap_host_edit: QLineEdit
        imap_security_combo: QComboBox
        imap_port_spin: QSpinBox
        sent_folder_combo: QComboBox
        load_folders_button: QPushButton
        _folder_row: QHBoxLayout
        sent_note: QLabel
        imap_test_button: QPushButton
        imap_busy_label: QLabel
        imap_cancel_button: QPushButton
        _imap_test_row: QHBoxLayout
        imap_result: QLabel
        pages: QTabWidget
        _scroll: QScrollArea
        _identities_scroll: QScrollArea

        # methods one part calls on another
        def _show_message(self, text: str, *, error: bool = False) -> None: ...
        def _clear_message(self) -> None: ...
        def _reload(self, select: str | None) -> None: ...
        def _load(self, account: Account | None) -> None: ...
        def _update_buttons(self) -> None: ...
        def _may_discard(self) -> bool:
            raise NotImplementedError

        def _snapshot(self) -> tuple[Any, ...]:
            raise NotImplementedError

        def _apply_snapshot(self, values: tuple[Any, ...]) -> None: ...
        def is_dirty(self) -> bool:
            raise NotImplementedError

        def is_direct(self) -> bool:
            raise NotImplementedError

        def _security(self) -> str:
            raise NotImplementedError

        def _account_from_form(self, *, for_test: bool = False) -> Account:
            raise NotImplementedError

        def _update_security_ui(self) -> None: ...
        def _connection_settings_changed(self) -> None: ...
        def _update_keyring_warning(self) -> None: ...
        def _update_password_placeholder(self) -> None: ...
        def _forget_password(self, name: str, *, then: Callable[[], object]) -> None: ...
        def _password_lookup(self, name: str) -> Callable[[], str | None]:
            raise NotImplementedError

        def _login_lookup(self, account: Account) -> Callable[[], Login | None]:
            raise NotImplementedError

        def _run_keyring(self, job: Callable[[], Any], then: Callable[[Any], object]) -> int:
            raise NotImplementedError

        def save(self) -> bool:
            raise NotImplementedError

        def find_settings(self) -> None: ...
        # the incoming server (incoming.py)
        def _add_incoming_rows(self, form: QFormLayout) -> None: ...
        def _load_incoming(self, account: Account) -> None: ...
        def _incoming_values(self) -> tuple[Any, ...]:
            raise NotImplementedError

        def _apply_incoming_values(self, values: tuple[Any, ...]) -> None: ...
        def _incoming_fields(self, *, direct: bool) -> dict[str, Any]:
            raise NotImplementedError

        def _update_incoming_ui(self) -> None: ...
        def _fill_incoming(self, result: dict[str, Any], smtp_host: str) -> str:
            raise NotImplementedError

        # the sign-in part (sign_in.py)
        def _add_auth_choice_rows(self, form: QFormLayout) -> None: ...
        def _add_oauth2_rows(self, form: QFormLayout) -> None: ...
        def _load_sign_in(self, account: Account) -> None: ...
        def _sign_in_values(self) -> tuple[Any, ...]:
            raise NotImplementedError

        def _apply_sign_in_values(self, values: tuple[Any, ...]) -> None: ...
        def _sign_in_fields(self, base: Account) -> dict[str, Any]:
            raise NotImplementedError

        def sign_in_choice(self) -> str:
            raise NotImplementedError

        def _update_sign_in_ui(self) -> None: ...
        def _update_sign_in_status(self) -> None: ...
        def _save_sign_in_secrets(self, original: Account | None, account: Account) -> None: ...
        def _forget_client_secret(self, name: str) -> None: ...
        def _propose_sign_in(self, host: str) -> str:
            raise NotImplementedError

        def _sign_in_requested(self) -> None: ...
        def cancel_sign_in(self) -> None: ...

else:
    DialogBase = object
