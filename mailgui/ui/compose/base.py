"""What the parts of the compose window share, declared once for the type checker.

``ComposeWindow`` is one QMainWindow made of a mixin per feature (form, recipients,
identities, attachments, images, drafts, schedule). Each mixin derives from
``ComposeBase`` so it may use the widgets and methods of the others; at run time
``ComposeBase`` is ``object`` and the mixins are plain classes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

__all__ = ["ComposeBase"]

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from PySide6.QtCore import QSettings, QTimer
    from PySide6.QtGui import QAction, QImage, QTextCursor
    from PySide6.QtWidgets import (
        QComboBox,
        QGridLayout,
        QLabel,
        QLineEdit,
        QListWidget,
        QMainWindow,
        QVBoxLayout,
        QWidget,
    )

    from mailgui.core.accounts import Account, Identity
    from mailgui.core.drafts import DraftStore, SavedDraft
    from mailgui.core.message import InlineImage
    from mailgui.ui.compose.address_fields import AddressCompleter, AddressField
    from mailgui.ui.compose.bars import Bar
    from mailgui.ui.compose.format_bar import FormatBar
    from mailgui.ui.compose.keys import KeyChecker
    from mailgui.ui.compose.options import OptionsButton
    from mailgui.ui.compose.preflight_panel import Finding, PreflightPanel
    from mailgui.ui.compose.schedule_bar import ScheduleBar, ScheduledNote
    from mailgui.ui.context import AppContext
    from mailgui.ui.inline_images import ImageLoader, LoadedImage
    from mailgui.ui.recipient_warnings import DomainChecker
    from mailgui.ui.rich_text import BodyEdit
    from mailgui.ui.spelling import SpellHighlighter

    class ComposeBase(QMainWindow):
        # state (window.py)
        _ctx: AppContext
        _clock: Callable[[], float]
        _token: str | None
        _done: bool
        _dirty: bool
        _attachments: list[Path]
        _scheduled_at: float | None
        _send_at: float | None
        _saved: SavedDraft
        _identity: Identity | None
        _auto_reply_to: str
        _accounts: dict[str, Account]
        _inline: dict[str, LoadedImage | InlineImage]
        _image_targets: dict[int, QTextCursor]
        _reopening: dict[int, str]
        _unread: dict[str, dict[str, str]]
        drafts: DraftStore
        checker: DomainChecker
        image_loader: ImageLoader
        autosave_timer: QTimer
        findings: list[Finding]
        _waived: set[str]
        size_limit: int | None
        # widgets (form.py, recipients.py, attachments.py)
        editor: QWidget
        from_combo: QComboBox
        fields: dict[str, AddressField]
        reply_to_field: AddressField
        to_edit: QLineEdit
        cc_edit: QLineEdit
        bcc_edit: QLineEdit
        reply_to_edit: QLineEdit
        completion: AddressCompleter
        subject_edit: QLineEdit
        subject_error: QLabel
        body_edit: BodyEdit
        speller: SpellHighlighter | None
        format_bar: FormatBar
        rich_action: QAction
        options_button: OptionsButton
        attachment_list: QListWidget
        send_action: QAction
        send_later_action: QAction
        attach_action: QAction
        bcc_action: QAction
        reply_to_action: QAction
        schedule_bar: ScheduleBar
        scheduled_note: ScheduledNote
        preflight: PreflightPanel
        status_bar: Bar
        error_bar: Bar
        # signing and encryption (protection.py)
        sign_action: QAction
        encrypt_action: QAction
        keys: KeyChecker
        key_states: QLabel

        # methods one part calls on another
        def send(self, *, send_at: float | None = None, force: bool = False) -> bool:
            raise NotImplementedError

        def set_rich_text(self, rich: bool, *, remember: bool = True) -> None: ...
        def set_options(self, priority: str, read_receipt: bool) -> None: ...
        def set_protection(self, sign: bool, encrypt: bool) -> None: ...
        @property
        def priority(self) -> str:
            raise NotImplementedError

        def _settings(self) -> QSettings:
            raise NotImplementedError

        def _label(self, text: str, buddy: QWidget) -> QLabel:
            raise NotImplementedError

        def _recheck(self) -> None: ...
        def _build_protection_actions(self) -> None: ...
        def _build_key_row(self, grid: QGridLayout, row: int) -> int:
            raise NotImplementedError

        def _protection_findings(self) -> list[Finding]:
            raise NotImplementedError

        def _show_error(self, text: str) -> None: ...
        def _update_send_enabled(self) -> None: ...
        def _update_title(self) -> None: ...
        def _on_subject_edited(self, text: str) -> None: ...
        def _on_escape(self) -> None: ...
        def _send_anyway(self) -> None: ...
        def _dismiss_preflight(self) -> None: ...
        def dismiss_finding(self, key: str) -> None: ...
        def _build_address_rows(self, grid: QGridLayout, row: int) -> int:
            raise NotImplementedError

        def _set_bcc_visible(self, visible: bool) -> None: ...
        def _set_reply_to_visible(self, visible: bool, *, focus: bool = True) -> None: ...
        def _check_all_domains(self) -> None: ...
        def _account(self) -> Account | None:
            raise NotImplementedError

        def select_identity(self, account: str, email: str = "") -> None: ...
        def _build_attachment_list(self, layout: QVBoxLayout) -> None: ...
        def add_attachments(self, paths: list[str] | list[Path]) -> None: ...
        def _choose_attachments(self) -> None: ...
        def insert_images(
            self, paths: list[str] | list[Path], at: QTextCursor | None = None
        ) -> None: ...
        def inline_images(self) -> list[InlineImage]:
            raise NotImplementedError

        def _choose_images(self) -> None: ...
        def _images_to_attachments(self) -> None: ...
        def _still_loading_text(self) -> str:
            raise NotImplementedError

        def _reopen_image(
            self,
            cid: str,
            filename: str,
            source: InlineImage | Callable[[], InlineImage | None],
            draft_id: str,
        ) -> None: ...
        def _on_files_pasted(self, files: list[str]) -> None: ...
        def _on_image_pasted(self, picture: QImage) -> None: ...
        def _mark_dirty(self) -> None: ...
        def _hide_saved_note(self) -> None: ...
        def _drop_draft(self, *, keep_files: bool = False) -> None: ...
        def save_draft(self) -> bool:
            raise NotImplementedError

        def show_schedule(self) -> None: ...
        def set_scheduled(self, when: float | None) -> None: ...
        def _schedule_chosen(self) -> None: ...

else:
    ComposeBase = object
