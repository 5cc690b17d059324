"""The compose window: one message, from the person's hands to the outbox.

Addresses are checked with the core parser as the person leaves a field and again
before sending; a problem is shown under the field, in the parser's own words,
and blocks Send until it is fixed. Softer problems (no subject, an attachment
mentioned but missing, no recipients, a message bigger than the server takes) are
listed in one inline pre-flight panel, each with a fix; the dismissable ones can be
waived with "Send anyway". Sending hands a ``Draft`` to the outbox handle, which
builds and stores it in its own thread (attachments are read there, never here);
the window waits for the handle's answer for its token, then closes.

Send queues the message ``scheduled`` for now + the undo delay (default 10 s), so
the main window can offer Undo (``undoable``); "Send later…" schedules it for a
chosen time.

From lists every identity of every account; choosing one swaps its signature in the
body (``signature``) and its Reply-To. Recipient domains are checked in the background
as addresses are entered (``recipient_warnings``), and inline images are read and
decoded in the thread pool (``inline_images``).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import (
    QDateTime,
    QEvent,
    QFileInfo,
    QLocale,
    QObject,
    QSettings,
    QStringListModel,
    Qt,
    QTimer,
    QTimeZone,
    QUrl,
    Signal,
    Slot,
)
from PySide6.QtGui import (
    QAction,
    QActionGroup,
    QCloseEvent,
    QDesktopServices,
    QDragEnterEvent,
    QDragMoveEvent,
    QDropEvent,
    QFont,
    QImage,
    QKeySequence,
    QShortcut,
    QTextBlockFormat,
    QTextCharFormat,
    QTextCursor,
    QTextFormat,
    QTextList,
    QTextListFormat,
)
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QCompleter,
    QDateTimeEdit,
    QFileDialog,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QMainWindow,
    QMenu,
    QMessageBox,
    QPushButton,
    QSizePolicy,
    QStyle,
    QToolBar,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from mailgui.core.accounts import Account, Identity
from mailgui.core.address_book import AddressBook
from mailgui.core.addresses import Mailbox, check_text, parse_mailbox_list, parse_recipients
from mailgui.core.drafts import DraftStore, SavedDraft
from mailgui.core.errors import InputError, MailguiError
from mailgui.core.log import get_logger
from mailgui.core.message import Draft, InlineImage
from mailgui.core.preflight import encoded_size, mentioned_attachment
from mailgui.core.recipient_checks import domains_of
from mailgui.core.send_later import presets
from mailgui.core.server_limits import ServerLimits
from mailgui.core.sizes import human_size
from mailgui.ui.context import AppContext
from mailgui.ui.drafts_view import let_go, pasted_folder
from mailgui.ui.icons import action_icon
from mailgui.ui.inline_images import (
    ImageLoader,
    LoadedImage,
    forget_image,
    insert_image,
    is_image_file,
    keep_picture,
    show_image,
    show_placeholder,
)
from mailgui.ui.recipient_warnings import FIX_SCHEME, DomainChecker, describe
from mailgui.ui.rich_text import BodyEdit, is_quote
from mailgui.ui.signature import strip_signature, swap_signature
from mailgui.ui.spelling import SpellHighlighter, available, language_for
from mailgui.ui.undo_send import undo_seconds as configured_undo_seconds

if TYPE_CHECKING:
    from mailgui.ui.outbox_service import OutboxHandle

__all__ = ["ComposeWindow"]

log = get_logger(__name__)

ERROR_COLOR = "#c62828"
WARNING_COLOR = "#9a5b00"  # dark amber: readable on light backgrounds, not an error
IDENTITY_ROLE = Qt.ItemDataRole.UserRole + 1  # From items: index in all_identities()
# Light tints that read on light and dark palettes alike.
_BAR_STYLES = {
    "info": "background: rgba(25, 118, 210, 0.12); border: 1px solid rgba(25, 118, 210, 0.45);",
    "warning": "background: rgba(245, 166, 35, 0.18); border: 1px solid rgba(245, 166, 35, 0.7);",
    "error": f"background: rgba(198, 40, 40, 0.10); border: 1px solid {ERROR_COLOR};",
}
_ATTACHMENT_ROWS = 4  # the list grows up to this many rows, then scrolls
_FONT_SIZES = (8, 9, 10, 11, 12, 14, 16, 18, 20, 24, 28, 36)
_RICH_KEY = "compose/rich_text"  # the last choice sticks, in compose.ini
AUTOSAVE_MS = 5000  # a crash loses at most these few seconds of writing


class _Bar(QFrame):
    """A one-line inline message with optional buttons (never a pop-up)."""

    def __init__(self, kind: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("bar")
        self.setStyleSheet(f"QFrame#bar {{ {_BAR_STYLES[kind]} border-radius: 4px; }}")
        self.label = QLabel(self)
        self.label.setWordWrap(True)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.label.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        self._layout = QHBoxLayout(self)
        self._layout.setContentsMargins(8, 4, 4, 4)
        self._layout.addWidget(self.label, 1)
        self.hide()

    def add_button(self, text: str) -> QPushButton:
        button = QPushButton(text, self)
        button.setAutoDefault(True)  # Return on the focused button presses it
        self._layout.addWidget(button)
        return button

    def add_close_button(self, tooltip: str) -> QToolButton:
        button = QToolButton(self)
        button.setText("✕")
        button.setAutoRaise(True)
        button.setToolTip(tooltip)
        button.clicked.connect(self.hide)
        self._layout.addWidget(button)
        return button

    def show_text(self, text: str) -> None:
        self.label.setText(text)
        self.show()


@dataclass
class _AddressField:
    """One address row: its label, line edit, the error under it, and its last result."""

    key: str  # "to", "cc", "bcc", "reply_to"
    what: str  # how the parser names it in errors: "To address"
    label: QLabel
    edit: QLineEdit
    error: QLabel
    warning: QLabel  # recipient-domain findings (no such domain, typo, null MX)
    error_text: str = ""
    blocked: bool = False  # a domain finding blocks sending (null MX)


@dataclass
class _Finding:
    """One pre-flight finding: its text, a fix, and whether "Send anyway" may waive it."""

    key: str  # "recipients", "subject", "attachment", "size"
    text: str
    fix_text: str
    fix: Callable[[], None]
    dismissable: bool = True


class ComposeWindow(QMainWindow):
    """Write one plain-text message and queue it (now, with undo, or later).

    Signals:
        sent(int id): the message is durably in the outbox under this id; the window
            closes right after.
        undoable(int id, str account, Draft draft, int seconds): the message waits
            ``seconds`` before it may leave; Undo can take it back (main window).
    """

    sent = Signal(int)
    undoable = Signal(int, str, object, int)

    def __init__(
        self,
        ctx: AppContext,
        outbox: OutboxHandle,
        parent: QWidget | None = None,
        *,
        undo_seconds: int | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(parent)
        self._ctx = ctx
        self._outbox = outbox
        self._clock = clock
        self.undo_seconds = (
            configured_undo_seconds(ctx) if undo_seconds is None else max(0, undo_seconds)
        )
        self._token: str | None = None  # the queue request we are waiting for
        self._pending: tuple[str, Draft, int] | None = None  # account, draft, undo seconds
        self._done = False  # queued: close without asking
        self._waived: set[str] = set()  # pre-flight findings "Send anyway" waived
        self._attachments: list[Path] = []
        self._scheduled_at: float | None = None  # the draft's send time: Send keeps it
        self.size_limit: int | None = None  # the server's SIZE, when known
        self.drafts = DraftStore(ctx.profile.data_dir / "drafts")
        self._saved = SavedDraft()  # this window's draft file (written once modified)
        self._dirty = False  # changed since the last save
        self._identity: Identity | None = None  # the From identity in effect
        self._auto_reply_to = ""  # the Reply-To the identity filled in (not typed)
        self._inline: dict[str, LoadedImage | InlineImage] = {}  # cid → image
        self.checker = DomainChecker(self)
        self.checker.checked.connect(self._on_domain_checked)
        self.image_loader = ImageLoader(self)
        self.image_loader.loaded.connect(self._on_image_loaded)
        self.image_loader.failed.connect(self._on_image_failed)
        self._image_targets: dict[int, QTextCursor] = {}  # where each load goes
        # A reopened draft's images, shown as placeholders until the pool decoded them:
        self._reopening: dict[int, str] = {}  # request → content id
        self._unread: dict[str, dict[str, str]] = {}  # cid → entry, bytes not read yet

        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.setAcceptDrops(True)
        self.resize(720, 560)

        self._build_actions()
        self._build_form()
        self._load_accounts()
        self._apply_identity()
        self._update_title()

        outbox.queued.connect(self._on_queued)
        outbox.failed.connect(self._on_failed)

        for field in self.fields.values():
            field.edit.textChanged.connect(self._mark_dirty)
        self.subject_edit.textChanged.connect(self._mark_dirty)
        self.body_edit.textChanged.connect(self._mark_dirty)
        self.reply_to_edit.textChanged.connect(self._mark_dirty)
        self.from_combo.currentIndexChanged.connect(self._mark_dirty)
        self.from_combo.currentIndexChanged.connect(self._load_size_limit)
        self.from_combo.currentIndexChanged.connect(self._apply_identity)
        self._load_size_limit()
        self.autosave_timer = QTimer(self)
        self.autosave_timer.setInterval(AUTOSAVE_MS)
        self.autosave_timer.timeout.connect(self.autosave)
        self.autosave_timer.start()
        self._dirty = False

    # --- construction -----------------------------------------------------------------

    def _build_actions(self) -> None:
        # The desktop theme's icons where it has them, else mailgui's own (ui/icons.py).
        self.send_action = QAction(action_icon("mail-send"), self.tr("Send"), self)
        self.send_action.setShortcuts([QKeySequence("Ctrl+Return"), QKeySequence("Ctrl+Enter")])
        self.send_action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        self.send_action.setToolTip(self.tr("Send the message (Ctrl+Return)"))
        self.send_action.triggered.connect(lambda: self.send())

        self.send_later_action = QAction(
            action_icon("appointment-new"), self.tr("Send later…"), self
        )
        self.send_later_action.setIconText(self.tr("Send later…"))
        self.send_later_action.setShortcut(QKeySequence("Ctrl+Shift+Return"))
        self.send_later_action.setToolTip(
            self.tr("Choose when the message goes out (Ctrl+Shift+Return)")
        )
        self.send_later_action.triggered.connect(self.show_schedule)

        self.attach_action = QAction(action_icon("mail-attachment"), self.tr("Attach…"), self)
        self.attach_action.setIconText(self.tr("Attach…"))  # buttons drop the "…" otherwise
        self.attach_action.setShortcut(QKeySequence("Ctrl+Shift+A"))
        self.attach_action.setToolTip(
            self.tr("Attach files (Ctrl+Shift+A), or drop them onto this window")
        )
        self.attach_action.triggered.connect(self._choose_attachments)

        self.bcc_action = QAction(self.tr("Bcc"), self)
        self.bcc_action.setCheckable(True)
        self.bcc_action.setToolTip(self.tr("Show the Bcc field (hidden copies)"))
        self.bcc_action.toggled.connect(self._set_bcc_visible)

        self.reply_to_action = QAction(self.tr("Reply-To"), self)
        self.reply_to_action.setCheckable(True)
        self.reply_to_action.setToolTip(self.tr("Show the Reply-To field (where replies go)"))
        self.reply_to_action.toggled.connect(self._set_reply_to_visible)

        self.save_action = QAction(self.tr("Save draft"), self)
        self.save_action.setShortcut(QKeySequence(QKeySequence.StandardKey.Save))
        self.save_action.setToolTip(self.tr("Save the draft now (Ctrl+S); it also saves by itself"))
        self.save_action.triggered.connect(self.save_draft)

        for action in (
            self.send_action,
            self.send_later_action,
            self.attach_action,
            self.save_action,
        ):
            self.addAction(action)  # their shortcuts work wherever the focus is

        escape = QShortcut(QKeySequence(Qt.Key.Key_Escape), self)
        escape.activated.connect(self._on_escape)

    def _build_form(self) -> None:
        central = QWidget(self)
        outer = QVBoxLayout(central)
        outer.setContentsMargins(10, 8, 10, 10)
        outer.setSpacing(6)

        buttons = QHBoxLayout()
        buttons.setSpacing(6)
        self.send_button = self._button(self.send_action)
        font = QFont(self.send_button.font())
        font.setBold(True)
        self.send_button.setFont(font)
        self.send_button.setMinimumWidth(90)
        buttons.addWidget(self.send_button)
        self.send_later_button = self._button(self.send_later_action)
        buttons.addWidget(self.send_later_button)
        buttons.addWidget(self._button(self.attach_action))
        buttons.addStretch(1)
        buttons.addWidget(self._build_options())
        outer.addLayout(buttons)

        # "Send later": an inline date-time picker, not a dialog.
        self.schedule_bar = _Bar("info", central)
        self.schedule_bar.label.setText(self.tr("Send at:"))
        self.schedule_bar.label.setSizePolicy(
            QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Preferred
        )
        self.schedule_edit = QDateTimeEdit(self.schedule_bar)
        self.schedule_edit.setObjectName("schedule_edit")
        self.schedule_edit.setCalendarPopup(True)
        self.schedule_edit.setDisplayFormat("ddd d MMM yyyy  HH:mm")  # unambiguous anywhere
        self.schedule_bar.label.setBuddy(self.schedule_edit)
        self.schedule_bar._layout.addWidget(self.schedule_edit)
        self.schedule_zone = QLabel(self.schedule_bar)  # "CET (UTC+01:00)": whose 09:30
        self.schedule_zone.setObjectName("schedule_zone")
        self.schedule_bar._layout.addWidget(self.schedule_zone)
        self.schedule_bar._layout.addSpacing(8)
        self.schedule_presets: dict[str, QPushButton] = {}
        self._presets: dict[str, float] = {}  # key -> epoch seconds, made when it opens
        for key, text in (
            ("hour", self.tr("In an hour")),
            ("tomorrow", self.tr("Tomorrow morning")),
            ("monday", self.tr("Monday morning")),
        ):
            preset = QPushButton(text, self.schedule_bar)
            preset.setObjectName(f"preset_{key}")
            preset.setAutoDefault(True)
            preset.clicked.connect(lambda _c=False, k=key: self._use_preset(k))
            self.schedule_bar._layout.addWidget(preset)
            self.schedule_presets[key] = preset
        self.schedule_bar._layout.addStretch(1)
        self.schedule_button = self.schedule_bar.add_button(self.tr("Schedule"))
        self.schedule_button.setDefault(True)
        self.schedule_button.clicked.connect(self._schedule_chosen)
        for key in (Qt.Key.Key_Return, Qt.Key.Key_Enter):  # Enter in the time accepts it
            accept = QShortcut(QKeySequence(key), self.schedule_edit)
            accept.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            accept.activated.connect(self._schedule_chosen)
        self.schedule_bar.add_close_button(self.tr("Cancel (send later)"))
        outer.addWidget(self.schedule_bar)

        # A draft that keeps a send time (a scheduled message opened to edit) says so.
        self.scheduled_note = _Bar("info", central)
        self.scheduled_note.setObjectName("scheduled_note")
        self.change_time_button = self.scheduled_note.add_button(self.tr("Change time…"))
        self.change_time_button.setToolTip(self.tr("Choose another time and schedule it"))
        self.change_time_button.clicked.connect(self.show_schedule)
        self.clear_time_button = self.scheduled_note.add_button(self.tr("Don't schedule"))
        self.clear_time_button.setToolTip(self.tr("Send it when you click Send"))
        self.clear_time_button.clicked.connect(lambda: self.set_scheduled(None))
        outer.addWidget(self.scheduled_note)

        # Pre-flight: everything worth a second look before sending, in one place.
        self.preflight = _Bar("warning", central)
        self.preflight.label.setText(self.tr("Before this message goes out:"))
        font = QFont(self.preflight.label.font())
        font.setBold(True)
        self.preflight.label.setFont(font)
        self._preflight_rows = QVBoxLayout()
        self._preflight_rows.setSpacing(2)
        self._preflight_rows.setContentsMargins(0, 0, 0, 0)
        pf_layout = QVBoxLayout()
        pf_layout.setSpacing(4)
        pf_layout.setContentsMargins(0, 0, 0, 0)
        self.preflight._layout.removeWidget(self.preflight.label)
        pf_layout.addWidget(self.preflight.label)
        pf_layout.addLayout(self._preflight_rows)
        self.preflight._layout.addLayout(pf_layout, 1)
        pf_buttons = QVBoxLayout()
        pf_buttons.setSpacing(4)
        self.send_anyway_button = QPushButton(self.tr("Send anyway"), self.preflight)
        self.send_anyway_button.setAutoDefault(True)
        self.send_anyway_button.clicked.connect(self._send_anyway)
        self.keep_editing_button = QPushButton(self.tr("Keep editing"), self.preflight)
        self.keep_editing_button.setAutoDefault(True)
        self.keep_editing_button.clicked.connect(self._dismiss_preflight)
        # Keep editing first and the one Enter presses: sending past a warning is a choice.
        pf_buttons.addWidget(self.keep_editing_button)
        pf_buttons.addWidget(self.send_anyway_button)
        QWidget.setTabOrder(self.keep_editing_button, self.send_anyway_button)
        pf_buttons.addStretch(1)
        self.preflight._layout.addLayout(pf_buttons)
        self.preflight._layout.setAlignment(pf_buttons, Qt.AlignmentFlag.AlignTop)
        self.findings: list[_Finding] = []
        self._send_at: float | None = None  # the time of the send the panel holds back
        outer.addWidget(self.preflight)

        # Messages about the whole window: "Queuing…", a failure, no account.
        self.status_bar = _Bar("info", central)
        self.error_bar = _Bar("error", central)
        self.error_bar.add_close_button(self.tr("Dismiss"))
        outer.addWidget(self.status_bar)
        outer.addWidget(self.error_bar)

        # Everything the person edits; disabled as a whole while queuing.
        self.editor = QWidget(central)
        editor_layout = QVBoxLayout(self.editor)
        editor_layout.setContentsMargins(0, 0, 0, 0)
        editor_layout.setSpacing(6)
        outer.addWidget(self.editor, 1)

        grid = QGridLayout()
        grid.setHorizontalSpacing(8)
        grid.setVerticalSpacing(4)
        grid.setColumnStretch(1, 1)
        editor_layout.addLayout(grid)
        row = 0

        self.from_combo = QComboBox(self.editor)
        self.from_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        from_label = self._label(self.tr("&From:"), self.from_combo)
        grid.addWidget(from_label, row, 0)
        from_row = QHBoxLayout()
        from_row.addWidget(self.from_combo)
        from_row.addStretch(1)
        grid.addLayout(from_row, row, 1)
        row += 1

        example = self.tr("name@example.org, Other Name <other@example.org>")
        self.fields: dict[str, _AddressField] = {}
        for key, text, what in (
            ("to", self.tr("&To:"), "To address"),
            ("cc", self.tr("&Cc:"), "Cc address"),
            ("bcc", self.tr("&Bcc:"), "Bcc address"),
            ("reply_to", self.tr("&Reply-To:"), "Reply-To address"),
        ):
            edit = QLineEdit(self.editor)
            edit.setObjectName(f"{key}_edit")
            edit.setPlaceholderText(example if key == "to" else "")
            edit.setClearButtonEnabled(True)
            label = self._label(text, edit)
            error = QLabel(self.editor)
            error.setObjectName(f"{key}_error")
            error.setWordWrap(True)
            error.setStyleSheet(f"color: {ERROR_COLOR};")
            error.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            error.hide()
            warning = QLabel(self.editor)
            warning.setObjectName(f"{key}_warning")
            warning.setWordWrap(True)
            warning.setTextFormat(Qt.TextFormat.RichText)
            warning.setTextInteractionFlags(Qt.TextInteractionFlag.TextBrowserInteraction)
            warning.setOpenExternalLinks(False)
            warning.hide()
            grid.addWidget(label, row, 0)
            if key == "cc":  # the Bcc and Reply-To toggles sit where people look for them
                grid.addWidget(edit, row, 1)
                toggles = QHBoxLayout()
                toggles.setSpacing(2)
                self.bcc_button = QToolButton(self.editor)
                self.bcc_button.setDefaultAction(self.bcc_action)
                self.bcc_button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
                toggles.addWidget(self.bcc_button)
                self.reply_to_button = QToolButton(self.editor)
                self.reply_to_button.setDefaultAction(self.reply_to_action)
                self.reply_to_button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
                toggles.addWidget(self.reply_to_button)
                grid.addLayout(toggles, row, 2)
            else:
                grid.addWidget(edit, row, 1, 1, 2)
            notes = QVBoxLayout()
            notes.setSpacing(0)
            notes.addWidget(error)
            notes.addWidget(warning)
            grid.addLayout(notes, row + 1, 1, 1, 2)
            row += 2
            field = _AddressField(key, what, label, edit, error, warning)
            warning.linkActivated.connect(lambda link, f=field: self._on_warning_link(f, link))
            self.fields[key] = field
            edit.editingFinished.connect(lambda f=field: self._check_field(f))
            edit.textChanged.connect(lambda _t, f=field: self._on_address_edited(f))
        self.reply_to_field = self.fields.pop("reply_to")  # not a recipient
        self.reply_to_edit = self.reply_to_field.edit
        self.reply_to_edit.setPlaceholderText(self.tr("where replies should go, if not to From"))
        self.to_edit = self.fields["to"].edit
        self._build_completion()
        self.cc_edit = self.fields["cc"].edit
        self.bcc_edit = self.fields["bcc"].edit
        self._set_bcc_visible(False)
        self._set_reply_to_visible(False)

        self.subject_edit = QLineEdit(self.editor)
        self.subject_edit.setObjectName("subject_edit")
        self.subject_edit.textChanged.connect(self._on_subject_edited)
        grid.addWidget(self._label(self.tr("&Subject:"), self.subject_edit), row, 0)
        grid.addWidget(self.subject_edit, row, 1, 1, 2)
        row += 1
        self.subject_error = QLabel(self.editor)
        self.subject_error.setWordWrap(True)
        self.subject_error.setStyleSheet(f"color: {ERROR_COLOR};")
        self.subject_error.hide()
        grid.addWidget(self.subject_error, row, 1, 1, 2)
        row += 1

        self.body_edit = BodyEdit(self.editor)
        self.body_edit.setObjectName("body_edit")
        self.body_edit.setPlaceholderText(self.tr("Write your message here."))
        self.body_edit.textChanged.connect(self._recheck)
        self.body_edit.filesPasted.connect(self._on_files_pasted)
        self.body_edit.imagePasted.connect(self._on_image_pasted)
        self.speller: SpellHighlighter | None = None
        if available():
            self.speller = SpellHighlighter(self.body_edit.document(), language_for())
            self.body_edit.speller = self.speller
            self.spelling_action.toggled.connect(self.speller.set_enabled)
        self._build_format_bar()
        editor_layout.addWidget(self.format_bar)
        editor_layout.addWidget(self.body_edit, 1)

        self.attachments_label = QLabel(self.tr("Attachments:"), self.editor)
        self.attachment_list = QListWidget(self.editor)
        self.attachment_list.setObjectName("attachment_list")
        self.attachment_list.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.attachment_list.setContextMenuPolicy(Qt.ContextMenuPolicy.ActionsContextMenu)
        self.attachment_list.setToolTip(self.tr("Delete removes the selected attachments."))
        self.remove_attachment_action = QAction(self.tr("Remove"), self.attachment_list)
        self.remove_attachment_action.setShortcut(QKeySequence(QKeySequence.StandardKey.Delete))
        self.remove_attachment_action.setShortcutContext(Qt.ShortcutContext.WidgetShortcut)
        self.remove_attachment_action.triggered.connect(self.remove_selected_attachments)
        self.attachment_list.addAction(self.remove_attachment_action)
        editor_layout.addWidget(self.attachments_label)
        editor_layout.addWidget(self.attachment_list)
        self._refresh_attachments()

        self.setCentralWidget(central)

        # File drops anywhere in the window attach, even over widgets that take text.
        for widget in (
            self.body_edit.viewport(),
            self.to_edit,
            self.cc_edit,
            self.bcc_edit,
            self.reply_to_edit,
            self.subject_edit,
            self.attachment_list.viewport(),
        ):
            widget.installEventFilter(self)

        self.setTabOrder(self.from_combo, self.to_edit)
        self.setTabOrder(self.to_edit, self.cc_edit)
        self.setTabOrder(self.cc_edit, self.bcc_edit)
        self.setTabOrder(self.bcc_edit, self.reply_to_edit)
        self.setTabOrder(self.reply_to_edit, self.subject_edit)
        self.setTabOrder(self.subject_edit, self.body_edit)  # the format bar is click-only
        self.setTabOrder(self.body_edit, self.attachment_list)

        self.subject_edit.textChanged.connect(self._update_title)
        self.to_edit.setFocus()

    def _build_completion(self) -> None:
        """Addresses used before complete the part being typed, after the last comma."""
        self.address_book = AddressBook(self._ctx.profile.data_dir / "addresses.json")
        self._completion_model = QStringListModel(self)
        self.completer = QCompleter(self._completion_model, self)
        self.completer.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        self.completer.setCompletionMode(QCompleter.CompletionMode.UnfilteredPopupCompletion)
        self.completer.activated[str].connect(self._complete_address)  # type: ignore[index]
        for field in [*self.fields.values(), self.reply_to_field]:
            field.edit.textEdited.connect(lambda _t, f=field: self._suggest_addresses(f))

    def _segment(self, edit: QLineEdit) -> tuple[int, int]:
        """Where the address being typed starts and ends (the cursor) in ``edit``."""
        cursor = edit.cursorPosition()
        return edit.text().rfind(",", 0, cursor) + 1, cursor

    def _suggest_addresses(self, field: _AddressField) -> None:
        edit = field.edit
        start, end = self._segment(edit)
        typed = edit.text()[start:end].strip()
        popup = self.completer.popup()
        assert popup is not None
        if not typed:
            popup.hide()
            return
        elsewhere = (edit.text()[:start] + edit.text()[end:]).lower()  # already there
        matches = [m for m in self.address_book.matching(typed) if m.lower() not in elsewhere]
        if not matches:
            popup.hide()
            return
        self._completion_model.setStringList(matches)
        self.completer.setWidget(edit)
        self.completer.complete()

    @Slot(str)
    def _complete_address(self, address: str) -> None:
        edit = self.completer.widget()
        if not isinstance(edit, QLineEdit):
            return
        start, end = self._segment(edit)
        head = edit.text()[:start].rstrip()
        head = head + " " if head else ""
        tail = edit.text()[end:].lstrip()
        edit.setText(f"{head}{address}, {tail}")
        edit.setCursorPosition(len(head) + len(address) + 2)

    def _build_options(self) -> QToolButton:
        """Priority and read receipt: rarely changed, so in a menu, shown when set."""
        menu = QMenu(self)
        menu.setToolTipsVisible(True)
        group = QActionGroup(self)
        self.priority_actions: dict[str, QAction] = {}
        for key, text in (
            ("high", self.tr("High priority")),
            ("normal", self.tr("Normal priority")),
            ("low", self.tr("Low priority")),
        ):
            act = menu.addAction(text)
            act.setCheckable(True)
            act.setChecked(key == "normal")
            group.addAction(act)
            act.toggled.connect(self._update_options_button)
            self.priority_actions[key] = act
        menu.addSeparator()
        self.receipt_action = menu.addAction(self.tr("Request a read receipt"))
        self.receipt_action.setCheckable(True)
        self.receipt_action.setToolTip(
            self.tr("Ask the recipient's mail program to confirm it was read (they may decline).")
        )
        self.receipt_action.toggled.connect(self._update_options_button)
        menu.addSeparator()
        self.spelling_action = menu.addAction(self.tr("Check spelling"))
        self.spelling_action.setCheckable(True)
        self.spelling_action.setChecked(available())
        self.spelling_action.setEnabled(available())
        if not available():
            self.spelling_action.setToolTip(self.tr("Install pyspellchecker for spell check."))
        self.options_button = QToolButton(self)
        self.options_button.setText(self.tr("Options"))
        self.options_button.setMenu(menu)
        self.options_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.options_button.setMinimumHeight(30)
        return self.options_button

    @property
    def priority(self) -> str:
        return next(k for k, a in self.priority_actions.items() if a.isChecked())

    def set_options(self, priority: str, read_receipt: bool) -> None:
        self.priority_actions.get(priority, self.priority_actions["normal"]).setChecked(True)
        self.receipt_action.setChecked(read_receipt)

    @Slot()
    def _update_options_button(self) -> None:
        """The button says what is set, so nobody sends "High priority" unknowingly."""
        shown = []
        if self.priority != "normal":
            shown.append(self.priority_actions[self.priority].text())
        if self.receipt_action.isChecked():
            shown.append(self.tr("Read receipt"))
        self.options_button.setText(
            self.tr("Options: {0}").format(", ".join(shown)) if shown else self.tr("Options")
        )
        self._dirty = True

    def _build_format_bar(self) -> None:
        """Rich text switch and the formats it offers (bold, lists, quote, link, size)."""
        bar = QToolBar(self.editor)
        bar.setObjectName("format_bar")
        bar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonIconOnly)
        bar.setContentsMargins(0, 0, 0, 0)
        self.format_bar = bar
        body = self.body_edit

        def action(text: str, tip: str, shortcut: str | None, slot: object, icon: str) -> QAction:
            act = QAction(action_icon(icon), text, self)
            act.setToolTip(tip)
            if shortcut:
                act.setShortcut(QKeySequence(shortcut))
                act.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
                body.addAction(act)  # Ctrl+B in the body, not in the address fields
            act.triggered.connect(slot)
            bar.addAction(act)
            return act

        self.rich_action = QAction(self.tr("Rich text"), self)
        self.rich_action.setCheckable(True)
        self.rich_action.setToolTip(
            self.tr("Rich text is sent as HTML with a plain-text copy; plain text as text only.")
        )
        self.rich_action.setShortcut(QKeySequence("Ctrl+Shift+T"))
        self.rich_action.toggled.connect(self.set_rich_text)
        self.addAction(self.rich_action)
        # A check box says "switch" better than a flat toolbar button.
        self.rich_check = QCheckBox(self.tr("Rich text"), bar)
        self.rich_check.setToolTip(self.rich_action.toolTip() + " (Ctrl+Shift+T)")
        self.rich_check.setFocusPolicy(Qt.FocusPolicy.ClickFocus)
        self.rich_check.toggled.connect(self.rich_action.setChecked)
        self.rich_action.toggled.connect(self.rich_check.setChecked)
        bar.addWidget(self.rich_check)
        bar.addSeparator()
        self.bold_action = action(
            self.tr("Bold"), self.tr("Bold (Ctrl+B)"), "Ctrl+B", self._toggle_bold,
            "format-text-bold",
        )  # fmt: skip
        self.italic_action = action(
            self.tr("Italic"), self.tr("Italic (Ctrl+I)"), "Ctrl+I", self._toggle_italic,
            "format-text-italic",
        )  # fmt: skip
        self.underline_action = action(
            self.tr("Underline"), self.tr("Underline (Ctrl+U)"), "Ctrl+U",
            self._toggle_underline, "format-text-underline",
        )  # fmt: skip
        for act in (self.bold_action, self.italic_action, self.underline_action):
            act.setCheckable(True)
        bar.addSeparator()
        self.bullets_action = action(
            self.tr("Bulleted list"), self.tr("Bulleted list"), None,
            lambda: self._toggle_list(False), "format-list-unordered",
        )  # fmt: skip
        self.numbers_action = action(
            self.tr("Numbered list"), self.tr("Numbered list"), None,
            lambda: self._toggle_list(True), "format-list-ordered",
        )  # fmt: skip
        self.quote_action = action(
            self.tr("Quote"), self.tr("Quote the paragraph"), None, self._toggle_quote,
            "format-text-blockquote",
        )  # fmt: skip
        self.link_action = action(
            self.tr("Link…"), self.tr("Link the selection (Ctrl+K)"), "Ctrl+K",
            self._insert_link, "insert-link",
        )  # fmt: skip
        self.image_action = action(
            self.tr("Image…"),
            self.tr("Insert a picture into the text (or paste or drop one)"),
            None,
            self._choose_images,
            "insert-image",
        )
        for act in (self.bullets_action, self.numbers_action, self.quote_action):
            act.setCheckable(True)
        bar.addSeparator()
        self.size_combo = QComboBox(bar)
        self.size_combo.setToolTip(self.tr("Font size"))
        self.size_combo.setFocusPolicy(Qt.FocusPolicy.ClickFocus)
        for size in _FONT_SIZES:
            self.size_combo.addItem(self.tr("{0} pt").format(size), size)
        self.size_combo.activated.connect(self._set_font_size)
        self._size_action = bar.addWidget(self.size_combo)
        self._format_actions = [
            self.bold_action,
            self.italic_action,
            self.underline_action,
            self.bullets_action,
            self.numbers_action,
            self.quote_action,
            self.link_action,
            self.image_action,
        ]
        body.currentCharFormatChanged.connect(lambda _f: self._sync_format_bar())
        body.cursorPositionChanged.connect(self._sync_format_bar)
        settings = QSettings(
            str(self._ctx.profile.config_dir / "compose.ini"), QSettings.Format.IniFormat
        )
        rich = str(settings.value(_RICH_KEY, "false")).lower() == "true"
        self.rich_action.setChecked(rich)
        self.set_rich_text(rich, remember=False)

    @Slot(bool)
    def set_rich_text(self, rich: bool, *, remember: bool = True) -> None:
        """Switch the body between rich and plain text (plain drops the formats)."""
        if self.rich_action.isChecked() != rich:
            self.rich_action.setChecked(rich)  # comes back here through toggled
            return
        if not rich and self._unread:  # they would be lost: they are not read yet
            self.rich_action.setChecked(True)
            self.status_bar.show_text(
                self.tr("The pictures are still loading; switch to plain text in a moment.")
            )
            QTimer.singleShot(4000, self, self._hide_saved_note)
            return
        if not rich:
            self._images_to_attachments()
        self.body_edit.set_rich(rich)
        for act in self._format_actions:
            act.setEnabled(rich)
            act.setVisible(rich)
        self._size_action.setVisible(rich)
        for act in self.format_bar.actions():
            if act.isSeparator():
                act.setVisible(rich)
        if remember:
            settings = QSettings(
                str(self._ctx.profile.config_dir / "compose.ini"), QSettings.Format.IniFormat
            )
            settings.setValue(_RICH_KEY, rich)
        self._sync_format_bar()

    def _merge(self, fmt: QTextCharFormat) -> None:
        self.body_edit.mergeCurrentCharFormat(fmt)
        self.body_edit.setFocus()

    @Slot()
    def _toggle_bold(self) -> None:
        fmt = QTextCharFormat()
        fmt.setFontWeight(
            QFont.Weight.Bold if self.bold_action.isChecked() else QFont.Weight.Normal
        )
        self._merge(fmt)

    @Slot()
    def _toggle_italic(self) -> None:
        fmt = QTextCharFormat()
        fmt.setFontItalic(self.italic_action.isChecked())
        self._merge(fmt)

    @Slot()
    def _toggle_underline(self) -> None:
        fmt = QTextCharFormat()
        fmt.setFontUnderline(self.underline_action.isChecked())
        self._merge(fmt)

    def _toggle_list(self, numbered: bool) -> None:
        cursor = self.body_edit.textCursor()
        style = QTextListFormat.Style.ListDecimal if numbered else QTextListFormat.Style.ListDisc
        current: QTextList | None = cursor.currentList()
        if current is not None and current.format().style() == style:
            block = cursor.block()
            current.remove(block)
            block_format = block.blockFormat()
            block_format.setIndent(0)
            cursor.setBlockFormat(block_format)
        elif current is not None:
            list_format = current.format()
            list_format.setStyle(style)
            current.setFormat(list_format)
        else:
            cursor.createList(style)
        self.body_edit.setFocus()
        self._sync_format_bar()

    @Slot()
    def _toggle_quote(self) -> None:
        cursor = self.body_edit.textCursor()
        quoted = is_quote(cursor.block())
        fmt = QTextBlockFormat()
        fmt.setProperty(QTextFormat.Property.BlockQuoteLevel, 0 if quoted else 1)
        fmt.setLeftMargin(0 if quoted else 24)
        cursor.mergeBlockFormat(fmt)
        self.body_edit.setFocus()
        self._sync_format_bar()

    @Slot()
    def _insert_link(self) -> None:
        url, ok = QInputDialog.getText(
            self, self.tr("Link"), self.tr("Address (https://… or mailto:…):")
        )
        url = url.strip()
        if not ok or not url:
            return
        self.insert_link(url)

    def insert_link(self, url: str) -> None:
        """Link the selection to ``url`` (or insert ``url`` as a link)."""
        cursor = self.body_edit.textCursor()
        fmt = QTextCharFormat()
        fmt.setAnchor(True)
        fmt.setAnchorHref(url)
        fmt.setFontUnderline(True)
        fmt.setForeground(self.palette().link())
        if cursor.hasSelection():
            cursor.mergeCharFormat(fmt)
        else:
            cursor.insertText(url, fmt)
            cursor.setCharFormat(QTextCharFormat())
            self.body_edit.setCurrentCharFormat(QTextCharFormat())
        self.body_edit.setFocus()

    @Slot(int)
    def _set_font_size(self, index: int) -> None:
        fmt = QTextCharFormat()
        fmt.setFontPointSize(float(self.size_combo.itemData(index)))
        self._merge(fmt)

    @Slot()
    def _sync_format_bar(self) -> None:
        body = self.body_edit
        fmt = body.currentCharFormat()
        self.bold_action.setChecked(fmt.fontWeight() >= QFont.Weight.DemiBold)
        self.italic_action.setChecked(fmt.fontItalic())
        self.underline_action.setChecked(fmt.fontUnderline() and not fmt.isAnchor())
        current = body.textCursor().currentList()
        style = current.format().style() if current is not None else None
        self.bullets_action.setChecked(style == QTextListFormat.Style.ListDisc)
        self.numbers_action.setChecked(style == QTextListFormat.Style.ListDecimal)
        self.quote_action.setChecked(is_quote(body.textCursor().block()))
        size = fmt.fontPointSize() or body.document().defaultFont().pointSizeF()
        index = self.size_combo.findData(round(size))
        self.size_combo.setCurrentIndex(index)

    def _button(self, action: QAction) -> QToolButton:
        button = QToolButton(self)
        button.setDefaultAction(action)
        button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        button.setMinimumHeight(30)
        return button

    def _label(self, text: str, buddy: QWidget) -> QLabel:
        label = QLabel(text, self.editor)
        label.setBuddy(buddy)
        label.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return label

    def _load_accounts(self) -> None:
        try:
            accounts = self._ctx.accounts.all()
            default = self._ctx.accounts.default_name()
        except MailguiError as exc:
            self._show_error(str(exc))
            accounts, default = [], None
        for account in accounts:
            for number, identity in enumerate(account.all_identities()):
                shown = identity.email
                if identity.name:
                    try:
                        shown = Mailbox(identity.name, identity.email).formatted()
                    except InputError:
                        shown = f"{identity.name} <{identity.email}>"
                index = self.from_combo.count()
                self.from_combo.addItem(f"{shown} — {account.name}", account.name)
                self.from_combo.setItemData(index, number, IDENTITY_ROLE)
                self.from_combo.setItemData(
                    index,
                    self.tr("Sent through {0} ({1})").format(account.name, account.server),
                    Qt.ItemDataRole.ToolTipRole,
                )
                if account.name == default and number == 0:
                    self.from_combo.setCurrentIndex(index)
        self._accounts = {a.name: a for a in accounts}
        if not accounts and not self.error_bar.isVisible():
            self._show_error(
                self.tr("No account is set up yet; add one under Accounts, then write again.")
            )
        self._update_send_enabled()

    # --- public -----------------------------------------------------------------------

    def prefill(self, account: str, draft: Draft, *, keep: bool = False) -> None:
        """Fill the window from ``draft`` (undo send, a mailto: link). An HTML body opens
        as rich text, a plain one as plain text. ``keep`` saves it as a draft at once (an
        undone message is nowhere else: it must not wait for the first autosave)."""
        self.select_identity(account, draft.sender.addr)
        for key, boxes in (("to", draft.to), ("cc", draft.cc), ("bcc", draft.bcc)):
            self.fields[key].edit.setText(", ".join(m.formatted() for m in boxes))
        if draft.bcc:
            self._set_bcc_visible(True)
        self.reply_to_edit.setText(", ".join(m.formatted() for m in draft.reply_to))
        self._set_reply_to_visible(bool(draft.reply_to), focus=False)
        self.subject_edit.setText(draft.subject)
        if draft.html is not None:
            self.set_rich_text(True, remember=False)
            for image in draft.inline_images:  # bytes in memory: only decoding waits
                self._inline[image.cid] = image
                self._reopen_image(image.cid, image.filename, image, self._saved.id)
            self.body_edit.setHtml(draft.html)
        else:
            self.set_rich_text(False, remember=False)
            self.body_edit.setPlainText(draft.text or "")
        self.add_attachments(list(draft.attachments))
        self.set_options(draft.priority, draft.read_receipt)
        self._update_title()
        self._check_all_domains()
        self._update_send_enabled()
        if keep:
            self._write_draft(open_=True)

    @property
    def draft_id(self) -> str:
        return self._saved.id

    def open_saved_draft(self, saved: SavedDraft) -> None:
        """Go on writing a saved (or recovered) draft; this window now owns its file."""
        self.select_identity(saved.account, saved.identity)
        for key in ("to", "cc", "bcc"):
            self.fields[key].edit.setText(getattr(saved, key))
        if saved.bcc.strip():
            self._set_bcc_visible(True)
        self.reply_to_edit.setText(saved.reply_to)
        self._set_reply_to_visible(bool(saved.reply_to.strip()), focus=False)
        self.subject_edit.setText(saved.subject)
        if saved.html is not None:
            self.set_rich_text(True, remember=False)
            for item in saved.inline_images:  # read and decoded in the pool
                self._unread[item["cid"]] = item
                reader = partial(self.drafts.load_image, saved, item)
                self._reopen_image(item["cid"], item.get("filename", ""), reader, saved.id)
            self.body_edit.setHtml(saved.html)
        else:
            self.set_rich_text(False, remember=False)
            self.body_edit.setPlainText(saved.text)
        self.add_attachments(saved.attachments)
        self.set_options(saved.priority, saved.read_receipt)
        self.set_scheduled(saved.send_at)
        self._saved = saved
        self._write_draft(open_=True)
        self._update_title()
        self._check_all_domains()
        self._update_send_enabled()

    def _current_draft(self, *, open_: bool) -> SavedDraft:
        rich = self.body_edit.rich
        return SavedDraft(
            id=self._saved.id,
            account=str(self.from_combo.currentData() or ""),
            identity=self._identity.email if self._identity is not None else "",
            to=self.to_edit.text(),
            cc=self.cc_edit.text(),
            bcc=self.bcc_edit.text(),
            reply_to=self.reply_to_edit.text(),
            subject=self.subject_edit.text(),
            text=self.body_edit.toPlainText(),
            html=self.body_edit.html() if rich else None,
            attachments=[str(p) for p in self._attachments],
            priority=self.priority,
            read_receipt=self.receipt_action.isChecked(),
            send_at=self._scheduled_at,
            taken_from_id=self._saved.taken_from_id,
            taken_from=self._saved.taken_from,
            open=open_,
        )

    def _write_draft(self, *, open_: bool) -> bool:
        try:
            draft = self._current_draft(open_=open_)
            images = self.inline_images() if draft.html is not None else []
            # Pictures still being read stay saved as they are (their bytes are not here).
            self.drafts.save_images(draft, images, kept=list(self._unread.values()))
            self.drafts.save(draft)
        except OSError as exc:
            self._show_error(
                self.tr("The draft could not be saved ({0}); check the disk.").format(
                    exc.strerror or exc
                )
            )
            return False
        self._dirty = False
        return True

    @Slot()
    def _load_size_limit(self) -> None:
        """The SIZE the From account's server announced at its last EHLO (the sender
        records it), for the pre-flight check; None when never seen."""
        limits = ServerLimits.of(self._ctx.profile)
        self.size_limit = limits.size_limit(str(self.from_combo.currentData()))
        self._recheck()

    @Slot()
    def _mark_dirty(self) -> None:
        self._dirty = True

    @Slot()
    def autosave(self) -> None:
        """Every few seconds: keep what changed (an emptied window keeps no draft)."""
        if not self._dirty or self._done or self._token is not None:
            return
        if self.is_modified():
            self._write_draft(open_=True)
        else:
            self._drop_draft()
            self._dirty = False

    @Slot()
    def save_draft(self) -> bool:
        """Ctrl+S: save now and say so."""
        if self._token is not None or not self._write_draft(open_=True):
            return False
        self.status_bar.show_text(
            self.tr("Draft saved at {0}.").format(
                QLocale().toString(
                    QDateTime.currentDateTime().time(), QLocale.FormatType.ShortFormat
                )
            )
        )
        QTimer.singleShot(2500, self, self._hide_saved_note)
        return True

    def _hide_saved_note(self) -> None:
        if self._token is None:
            self.status_bar.hide()

    def add_attachments(self, paths: list[str] | list[Path]) -> None:
        """Attach files (from the dialog or a drop); folders and unreadable files are
        refused with a sentence in the window, duplicates are skipped."""
        problems: list[str] = []
        for raw in paths:
            path = Path(raw)
            info = QFileInfo(str(path))
            if info.isDir():
                problems.append(
                    self.tr("'{0}' is a folder; only files can be attached.").format(path.name)
                )
            elif not info.exists():
                problems.append(self.tr("'{0}' does not exist.").format(path.name))
            elif not info.isReadable():
                problems.append(
                    self.tr("'{0}' cannot be read; check its permissions.").format(path.name)
                )
            elif path.absolute() not in [p.absolute() for p in self._attachments]:
                self._attachments.append(path)
                self._dirty = True
        if problems:
            self._show_error(" ".join(problems))
        self._refresh_attachments()
        self._recheck()

    @property
    def attachments(self) -> list[Path]:
        return list(self._attachments)

    def is_modified(self) -> bool:
        """Something was typed or attached (closing then asks before discarding)."""
        signature = self._identity.signature if self._identity is not None else ""
        body = strip_signature(self.body_edit.toPlainText(), signature)
        return bool(
            any(f.edit.text().strip() for f in self.fields.values())
            or self.reply_to_edit.text().strip() not in ("", self._auto_reply_to.strip())
            or self.subject_edit.text().strip()
            or body.strip()
            or self._attachments
        )

    @Slot()
    def remove_selected_attachments(self) -> None:
        rows = sorted(
            (self.attachment_list.row(item) for item in self.attachment_list.selectedItems()),
            reverse=True,
        )
        for row in rows:
            del self._attachments[row]
            self._dirty = True
        self._refresh_attachments()
        self._recheck()

    def send(self, *, send_at: float | None = None, force: bool = False) -> bool:
        """Check everything and hand the draft to the outbox; False if something blocks it.

        ``send_at`` (epoch seconds) schedules it; otherwise the draft's own send time
        does (``set_scheduled``), or it waits the undo delay. Pre-flight findings show
        in the inline panel; ``force`` waives the dismissable ones ("Send anyway")."""
        if self._token is not None:
            return False
        self.error_bar.hide()
        if self._unread:
            self._show_error(self._still_loading_text())
            return False
        if send_at is None and self._scheduled_at is not None:
            if self._scheduled_at <= self._clock():
                self.set_scheduled(self._scheduled_at)  # says it passed; Send again sends now
                return False
            send_at = self._scheduled_at
        self._send_at = send_at
        if force:
            self._waived.update(f.key for f in self._findings() if f.dismissable)
        findings = [f for f in self._findings() if f.key not in self._waived]
        draft = self._make_draft(check_recipients=False)
        if draft is None:
            self._show_findings(findings, focus=False)
            return False
        if findings:
            self._show_findings(findings, focus=True)
            return False
        self.preflight.hide()
        self.schedule_bar.hide()
        account = str(self.from_combo.currentData())
        delay = 0
        if send_at is None and self.undo_seconds > 0:
            delay = self.undo_seconds
            send_at = self._clock() + delay
        self._pending = (account, draft, delay)
        self._token = uuid.uuid4().hex
        self._set_busy(True, scheduled=self._send_at is not None)
        self._outbox.queue_draft(self._token, account, draft, send_at)
        return True

    @Slot()
    def show_schedule(self) -> None:
        """Open the inline "Send at" picker, an hour from now on the quarter hour."""
        if self._token is not None:
            return
        start = self._clock() + 3600
        start = start - start % 900 + 900
        if self._scheduled_at is not None and self._scheduled_at > self._clock():
            start = self._scheduled_at  # changing the draft's time: start from it
        self.schedule_edit.setMinimumDateTime(QDateTime.fromSecsSinceEpoch(int(self._clock())))
        self.schedule_edit.setDateTime(QDateTime.fromSecsSinceEpoch(int(start)))
        now = QDateTime.fromSecsSinceEpoch(int(self._clock()))
        utc = now.timeZone().displayName(now, QTimeZone.NameType.OffsetName)  # "UTC+01:00"
        zone = now.timeZoneAbbreviation()  # "CET", or "" where the system has no name
        self.schedule_zone.setText(zone if zone and not (zone == "UTC" and now.offsetFromUtc())
                                   else utc)  # fmt: skip
        self.schedule_zone.setToolTip(self.tr("Times are in your computer's time zone ({0}).")
                                      .format(utc))  # fmt: skip
        self._presets = {p.key: p.when.timestamp() for p in presets(self._local_now())}
        for key, button in self.schedule_presets.items():
            button.setVisible(key in self._presets)
            if key in self._presets:
                button.setToolTip(self._when_text(self._presets[key]))
        self.preflight.hide()  # scheduling checks again
        self.schedule_bar.show()
        self.schedule_edit.setFocus()

    def _local_now(self) -> datetime:
        return datetime.fromtimestamp(self._clock()).astimezone()

    def _use_preset(self, key: str) -> None:
        """Put the preset's time in the picker; Schedule (or Enter) sends it then."""
        self.schedule_edit.setDateTime(QDateTime.fromSecsSinceEpoch(int(self._presets[key])))
        self.schedule_button.setFocus()

    @Slot()
    def _schedule_chosen(self) -> None:
        when = float(self.schedule_edit.dateTime().toSecsSinceEpoch())
        if when <= self._clock():
            self._show_error(self.tr("Choose a time in the future to send later."))
            self.schedule_edit.setFocus()
            return
        self.send(send_at=when)

    def set_scheduled(self, when: float | None) -> None:
        """Keep ``when`` (epoch seconds) as the time Send schedules the message for, and
        say so above the form; None: Send sends it now. A time already past is dropped,
        with a sentence saying so."""
        previous = self._scheduled_at
        self._scheduled_at = None
        if when is None:
            self.scheduled_note.hide()
        elif when <= self._clock():
            self.change_time_button.setText(self.tr("Send later…"))
            self.clear_time_button.hide()
            self.scheduled_note.show_text(
                self.tr(
                    "This message was scheduled for {0}, which has passed: Send sends it now."
                ).format(self._when_text(when))
            )
        else:
            self._scheduled_at = when
            self.change_time_button.setText(self.tr("Change time…"))
            self.clear_time_button.show()
            self.scheduled_note.show_text(
                self.tr("Scheduled for {0}: Send keeps this time.").format(self._when_text(when))
            )
        if self._scheduled_at != previous:
            self._dirty = True
            if previous is not None and self._send_at == previous:
                self._send_at = self._scheduled_at  # "Send anyway" follows the change
        self._update_send_enabled()

    @staticmethod
    def _when_text(when: float) -> str:
        """Like "Tue 1 Dec 09:30", in the person's language (the year when not this one)."""
        moment = QDateTime.fromSecsSinceEpoch(int(when))
        same_year = moment.date().year() == QDateTime.currentDateTime().date().year()
        return QLocale().toString(moment, "ddd d MMM" + ("" if same_year else " yyyy") + " HH:mm")

    # --- pre-flight -------------------------------------------------------------------

    def _findings(self) -> list[_Finding]:
        """What deserves a second look, in the order the panel lists it."""
        found: list[_Finding] = []
        if not any(f.edit.text().strip() for f in self.fields.values()):
            found.append(
                _Finding(
                    "recipients",
                    self.tr("There is no recipient: add at least one in To, Cc or Bcc."),
                    self.tr("Add recipients"),
                    self.to_edit.setFocus,
                    dismissable=False,
                )
            )
        if not self.subject_edit.text().strip():
            found.append(
                _Finding(
                    "subject",
                    self.tr("The subject is empty."),
                    self.tr("Add a subject"),
                    self.subject_edit.setFocus,
                )
            )
        word = mentioned_attachment(self.body_edit.toPlainText()) or mentioned_attachment(
            self.subject_edit.text()
        )
        if word and not self._attachments:
            found.append(
                _Finding(
                    "attachment",
                    self.tr("The message says “{0}”, but no file is attached.").format(word),
                    self.tr("Attach…"),
                    self._choose_attachments,
                )
            )
        if self.size_limit and (self._attachments or self.body_edit.images):
            size = self._encoded_size()
            if size > self.size_limit:
                found.append(
                    _Finding(
                        "size",
                        self.tr(
                            "It is about {0} once encoded; the server takes at most {1}."
                        ).format(human_size(size), human_size(self.size_limit)),
                        self.tr("Show attachments"),
                        self.attachment_list.setFocus,
                    )
                )
        return found

    def _encoded_size(self) -> int:
        text = self.body_edit.toPlainText().encode("utf-8", "replace")
        html = self.body_edit.html().encode("utf-8", "replace") if self.body_edit.rich else b""
        sizes = [QFileInfo(str(p)).size() for p in self._attachments]
        if self.body_edit.rich:
            sizes += [len(image.data) for image in self.inline_images()]
        return encoded_size(len(text), len(html), sizes)

    def _show_findings(self, findings: list[_Finding], *, focus: bool) -> None:
        self.findings = findings
        while self._preflight_rows.count():
            item = self._preflight_rows.takeAt(0)
            widget = item.widget() if item is not None else None
            if widget is not None:
                widget.hide()
                widget.deleteLater()
        if not findings:
            self.preflight.hide()
            return
        fixes: list[QPushButton] = []
        for finding in findings:
            row = QWidget(self.preflight)
            row.setObjectName(f"finding_{finding.key}")
            layout = QHBoxLayout(row)
            layout.setContentsMargins(0, 0, 0, 0)
            layout.setSpacing(6)
            text = QLabel("• " + finding.text, row)
            text.setWordWrap(True)
            if finding.key == "size":
                text.setToolTip(self.tr("Attachments grow by a third when encoded (base64)."))
            text.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
            layout.addWidget(text, 1)
            fix = QPushButton(finding.fix_text, row)
            fix.setObjectName(f"fix_{finding.key}")
            fix.setAutoDefault(True)
            fix.clicked.connect(lambda _c=False, f=finding: self._fix(f))
            layout.addWidget(fix)
            fixes.append(fix)
            # Says what it closes: this one finding, not the panel.
            dismiss = QToolButton(row)
            dismiss.setObjectName(f"dismiss_{finding.key}")
            dismiss.setText(self.tr("Ignore"))
            dismiss.setToolTip(self.tr("Send without fixing this one"))
            dismiss.clicked.connect(lambda _c=False, f=finding: self.dismiss_finding(f.key))
            layout.addWidget(dismiss)
            if not finding.dismissable:  # kept as room, so the fix buttons line up
                policy = dismiss.sizePolicy()
                policy.setRetainSizeWhenHidden(True)
                dismiss.setSizePolicy(policy)
                dismiss.hide()
            self._preflight_rows.addWidget(row)
        widest = max(b.sizeHint().width() for b in fixes)
        for fix in fixes:  # one column of fix buttons, whatever their words
            fix.setMinimumWidth(widest)
        blocking = any(not f.dismissable for f in findings)
        self.send_anyway_button.setEnabled(not blocking)
        self.send_anyway_button.setToolTip(
            self.tr("Fix what cannot be waived first.") if blocking else ""
        )
        self.preflight.show()
        if focus:
            if blocking:
                self.fix_button(findings[0].key).setFocus()
            else:
                self.keep_editing_button.setFocus()  # Enter goes back to the text

    def fix_button(self, key: str) -> QPushButton:
        button = self.preflight.findChild(QPushButton, f"fix_{key}")
        assert button is not None
        return button

    def dismiss_finding(self, key: str) -> None:
        """Waive one finding; the panel closes when nothing is left."""
        self._waived.add(key)
        self._show_findings([f for f in self._findings() if f.key not in self._waived], focus=False)

    def _fix(self, finding: _Finding) -> None:
        self.preflight.hide()
        finding.fix()

    @Slot()
    def _recheck(self) -> None:
        """While the panel shows, fixing something takes it off the list at once."""
        if self.preflight.isVisible():
            self._show_findings(
                [f for f in self._findings() if f.key not in self._waived], focus=False
            )

    # --- validation -------------------------------------------------------------------

    def _parse_field(self, field: _AddressField) -> list[Mailbox]:
        return parse_recipients([field.edit.text()], what=field.what)

    def _check_field(self, field: _AddressField) -> bool:
        try:
            self._parse_field(field)
        except InputError as exc:
            self._set_field_error(field, str(exc))
            self._show_domain_findings(field)
            return False
        self._set_field_error(field, "")
        self._check_domains(field)
        return True

    def _on_address_edited(self, field: _AddressField) -> None:
        # While an error shows, re-check on every keystroke so fixing it clears it at
        # once; a new error appears only when the person leaves the field or sends.
        if field.error_text:
            self._check_field(field)
        else:
            self._show_domain_findings(field)  # a removed address takes its warning along
        if field.key == "bcc":
            self._update_bcc_toggle()
        elif field.key == "reply_to":
            self._update_reply_to_toggle()

    def _set_field_error(self, field: _AddressField, text: str) -> None:
        field.error_text = text
        field.error.setText(text)
        field.error.setVisible(bool(text) and field.edit.isVisibleTo(self))
        field.edit.setStyleSheet(
            f"QLineEdit {{ border: 1px solid {ERROR_COLOR}; border-radius: 3px; padding: 2px; }}"
            if text
            else ""
        )
        field.edit.setToolTip(text)
        if text:
            field.warning.hide()
        self._update_send_enabled()

    def _make_draft(self, *, check_recipients: bool = True) -> Draft | None:
        """The draft, or None after showing every problem inline."""
        parsed: dict[str, list[Mailbox]] = {}
        first_bad: QWidget | None = None
        for field in [*self.fields.values(), self.reply_to_field]:
            try:
                parsed[field.key] = self._parse_field(field)
                self._set_field_error(field, "")
            except InputError as exc:
                self._set_field_error(field, str(exc))
                first_bad = first_bad or field.edit
            if field.blocked:  # a domain that takes no mail (null MX)
                first_bad = first_bad or field.edit
        reply_to = parsed.pop("reply_to", [])
        self._check_all_domains()  # anything not checked yet starts now; nobody waits
        if check_recipients and first_bad is None and not any(parsed.values()):
            self._set_field_error(
                self.fields["to"],
                self.tr("Add at least one recipient in To, Cc or Bcc."),
            )
            first_bad = self.to_edit
        subject = self.subject_edit.text()
        try:
            check_text("subject", subject)
            self.subject_error.hide()
        except InputError as exc:
            self.subject_error.setText(str(exc))
            self.subject_error.show()
            first_bad = first_bad or self.subject_edit
        sender = self._sender_mailbox()
        if sender is None:
            return None
        if first_bad is not None:
            first_bad.setFocus()
            return None
        return Draft(
            sender=sender,
            to=parsed["to"],
            cc=parsed["cc"],
            bcc=parsed["bcc"],
            reply_to=reply_to,
            subject=subject.strip(),
            text=None if self.body_edit.rich else self.body_edit.toPlainText(),
            html=self.body_edit.html() if self.body_edit.rich else None,
            attachments=list(self._attachments),
            inline_images=self.inline_images() if self.body_edit.rich else [],
            priority=self.priority,
            read_receipt=self.receipt_action.isChecked(),
        )

    def _sender_mailbox(self) -> Mailbox | None:
        identity = self.current_identity()
        if identity is None:
            self._show_error(self.tr("Choose an account to send from (From)."))
            return None
        try:
            return Mailbox(identity.name, identity.email)
        except InputError as exc:
            self._show_error(str(exc))
            return None

    # --- reactions --------------------------------------------------------------------

    def _on_subject_edited(self, text: str) -> None:
        self._recheck()
        if self.subject_error.isVisible():
            try:
                check_text("subject", text)
                self.subject_error.hide()
            except InputError as exc:
                self.subject_error.setText(str(exc))

    @Slot()
    def _on_escape(self) -> None:
        """Esc first closes an open panel (pre-flight, send later), then the window."""
        if self.preflight.isVisible():
            self._dismiss_preflight()
        elif self.schedule_bar.isVisible():
            self.schedule_bar.hide()
            self.body_edit.setFocus()
        else:
            self.close()

    @Slot()
    def _send_anyway(self) -> None:
        self.send(send_at=self._send_at, force=True)

    @Slot()
    def _dismiss_preflight(self) -> None:
        """Keep editing: close the panel and go to the first field it named."""
        first = self.findings[0].key if self.findings else ""
        self.preflight.hide()
        focus = {"recipients": self.to_edit, "subject": self.subject_edit}.get(first)
        (focus or self.body_edit).setFocus()

    @Slot(bool)
    def _set_bcc_visible(self, visible: bool) -> None:
        field = self.fields["bcc"]
        for widget in (field.label, field.edit):
            widget.setVisible(visible)
        field.error.setVisible(visible and bool(field.error_text))
        field.warning.setVisible(visible and bool(field.warning.text()))
        if visible and self.isVisible():
            field.edit.setFocus()
        self._update_bcc_toggle()

    def _update_bcc_toggle(self) -> None:
        # Never hide addresses that will receive the message.
        has_text = bool(self.bcc_edit.text().strip())
        self.bcc_action.setEnabled(not (has_text and self.bcc_action.isChecked()))
        self.bcc_action.setToolTip(
            self.tr("Clear the Bcc field to hide it.")
            if has_text
            else self.tr("Show the Bcc field (hidden copies)")
        )

    def _update_title(self) -> None:
        subject = " ".join(self.subject_edit.text().split())
        self.setWindowTitle(subject or self.tr("New message"))

    def _update_send_enabled(self) -> None:
        fields = [*self.fields.values(), self.reply_to_field]
        blocked = any(f.error_text or f.blocked for f in fields)
        ready = self.from_combo.count() > 0 and self._token is None and not blocked
        self.send_action.setEnabled(ready)
        self.send_later_action.setEnabled(ready)
        self.change_time_button.setEnabled(ready)
        self.clear_time_button.setEnabled(ready)
        if blocked:
            self.send_action.setToolTip(self.tr("Fix the addresses marked in red to send."))
        elif self._scheduled_at is not None:
            self.send_action.setToolTip(
                self.tr("Schedule the message for {0} (Ctrl+Return)").format(
                    self._when_text(self._scheduled_at)
                )
            )
        else:
            self.send_action.setToolTip(self.tr("Send the message (Ctrl+Return)"))

    def _show_error(self, text: str) -> None:
        self.error_bar.show_text(text)

    def _set_busy(self, busy: bool, *, scheduled: bool = False) -> None:
        self.editor.setEnabled(not busy)
        for action in (self.attach_action, self.bcc_action, self.reply_to_action):
            action.setEnabled(not busy)
        if busy:
            self.status_bar.show_text(self.tr("Scheduling…") if scheduled else self.tr("Queuing…"))
        else:
            self.status_bar.hide()
            self._update_bcc_toggle()
            self._update_reply_to_toggle()
        self._update_send_enabled()

    @Slot(str, int)
    def _on_queued(self, token: str, msg_id: int) -> None:
        if token != self._token:
            return
        self._token = None
        self._done = True
        # It is in the outbox now, bytes and all (build read the files); with Undo, the
        # main window's notice keeps the Draft and lets go of its files when Undo is over.
        self._drop_draft(keep_files=self._pending is not None and self._pending[2] > 0)
        if self._pending is not None:
            draft = self._pending[1]
            try:
                self.address_book.remember([*draft.to, *draft.cc, *draft.bcc])
            except OSError as exc:  # completion is a convenience: never block sending
                log.warning("addresses were not remembered: %s", exc)
        self.sent.emit(msg_id)
        if self._pending is not None and self._pending[2] > 0:
            account, draft, seconds = self._pending
            self.undoable.emit(msg_id, account, draft, seconds)
        self._pending = None
        self.close()

    @Slot(str, str)
    def _on_failed(self, token: str, message: str) -> None:
        if token != self._token:
            return
        self._token = None
        self._set_busy(False)
        self._show_error(message)

    # --- identities, signature, Reply-To ------------------------------------------------

    def _account(self) -> Account | None:
        return self._accounts.get(str(self.from_combo.currentData()))

    def current_identity(self) -> Identity | None:
        account = self._account()
        if account is None:
            return None
        identities = account.all_identities()
        number = self.from_combo.currentData(IDENTITY_ROLE)
        if not isinstance(number, int) or not 0 <= number < len(identities):
            number = 0
        return identities[number]

    def select_identity(self, account: str, email: str = "") -> None:
        """Choose ``account``'s identity with address ``email`` (else its first)."""
        first = -1
        for index in range(self.from_combo.count()):
            if self.from_combo.itemData(index) != account:
                continue
            first = index if first < 0 else first
            number = self.from_combo.itemData(index, IDENTITY_ROLE)
            identity = self._accounts[account].all_identities()[number]
            if email and identity.email.lower() == email.lower():
                self.from_combo.setCurrentIndex(index)
                return
        if first >= 0:
            self.from_combo.setCurrentIndex(first)

    @Slot()
    def _apply_identity(self) -> None:
        """From changed: swap the signature and the Reply-To the identity brings, and
        redo the recipient checks for the new account (or drop them)."""
        new = self.current_identity()
        old = self._identity
        self._identity = new
        body = self.body_edit
        was_empty = not body.toPlainText()
        if (
            swap_signature(
                body.document(),
                old.signature if old is not None else "",
                new.signature if new is not None else "",
            )
            and was_empty
        ):
            cursor = body.textCursor()
            cursor.movePosition(QTextCursor.MoveOperation.Start)
            body.setTextCursor(cursor)  # write above the signature
        reply_to = new.reply_to if new is not None else ""
        typed = self.reply_to_edit.text().strip()
        if typed in ("", self._auto_reply_to.strip()):
            self._auto_reply_to = reply_to
            self.reply_to_edit.setText(reply_to)
            if reply_to:
                self._set_reply_to_visible(True, focus=False)
        self._check_all_domains()

    @Slot(bool)
    def _set_reply_to_visible(self, visible: bool, *, focus: bool = True) -> None:
        field = self.reply_to_field
        if self.reply_to_action.isChecked() != visible:
            self.reply_to_action.blockSignals(True)
            self.reply_to_action.setChecked(visible)
            self.reply_to_action.blockSignals(False)
        for widget in (field.label, field.edit):
            widget.setVisible(visible)
        field.error.setVisible(visible and bool(field.error_text))
        if visible and focus and self.isVisible():
            field.edit.setFocus()
        self._update_reply_to_toggle()

    def _update_reply_to_toggle(self) -> None:
        # Never hide where replies will go.
        has_text = bool(self.reply_to_edit.text().strip())
        self.reply_to_action.setEnabled(not (has_text and self.reply_to_action.isChecked()))
        self.reply_to_action.setToolTip(
            self.tr("Clear the Reply-To field to hide it.")
            if has_text
            else self.tr("Show the Reply-To field (where replies go)")
        )

    def _reply_to(self) -> list[Mailbox]:
        text = self.reply_to_edit.text()
        return parse_mailbox_list(text, what=self.reply_to_field.what) if text.strip() else []

    # --- inline images ------------------------------------------------------------------

    @Slot()
    def _choose_images(self) -> None:
        paths, _ = QFileDialog.getOpenFileNames(
            self,
            self.tr("Insert pictures"),
            "",
            self.tr("Pictures (*.png *.jpg *.jpeg *.gif *.bmp *.webp)"),
        )
        if paths:
            self.insert_images(paths)

    def insert_images(self, paths: list[str] | list[Path], at: QTextCursor | None = None) -> None:
        """Read the pictures in the background and put them at ``at`` (the text cursor)
        when they are ready; typing goes on meanwhile."""
        if not self.body_edit.rich:
            self.add_attachments(paths)
            return
        for path in paths:
            request = self.image_loader.load_file(path)
            self._image_targets[request] = QTextCursor(at or self.body_edit.textCursor())
        self._show_image_progress()

    @Slot(QImage)
    def _on_image_pasted(self, picture: QImage) -> None:
        request = self.image_loader.load_image(picture)
        self._image_targets[request] = QTextCursor(self.body_edit.textCursor())
        self._show_image_progress()

    def _show_image_progress(self) -> None:
        if self._token is None and self.image_loader.pending:
            self.status_bar.show_text(self.tr("Adding the picture…"))

    @Slot(int, object)
    def _on_image_loaded(self, request: int, loaded: LoadedImage) -> None:
        cid = self._reopening.pop(request, None)
        if cid is not None:  # a reopened draft's picture: in place of its placeholder
            self._unread.pop(cid, None)
            self._inline[cid] = loaded.image
            show_image(self.body_edit, loaded)
            self._after_image()
            return
        at = self._image_targets.pop(request, None)
        if not self.body_edit.rich:
            if loaded.path is not None:
                self.add_attachments([loaded.path])
            self._after_image()
            return
        self._inline[loaded.image.cid] = loaded
        insert_image(self.body_edit, loaded, at)
        self._dirty = True
        self._after_image()

    @Slot(int, str, str)
    def _on_image_failed(self, request: int, path: str, message: str) -> None:
        cid = self._reopening.pop(request, None)
        if cid is not None:  # unreadable now: left out, as the window says
            self._unread.pop(cid, None)
            self._inline.pop(cid, None)
            forget_image(self.body_edit, cid)
        self._image_targets.pop(request, None)
        if path and Path(path).is_file():
            self.add_attachments([path])  # it can still travel as a file
        self._show_error(message)
        self._after_image()

    def _after_image(self) -> None:
        if self._token is None and not self.image_loader.pending:
            self.status_bar.hide()
        if not self._unread and self.error_bar.label.text() == self._still_loading_text():
            self.error_bar.hide()  # they are all here now: Send works
        self._recheck()

    def _still_loading_text(self) -> str:
        return self.tr("The pictures of this draft are still loading; send again in a moment.")

    def _reopen_image(
        self,
        cid: str,
        filename: str,
        source: InlineImage | Callable[[], InlineImage | None],
        draft_id: str,
    ) -> None:
        """Before the HTML is set: a placeholder now (the text is editable at once),
        the picture when the pool has decoded it (``_on_image_loaded``)."""
        show_placeholder(self.body_edit, cid, filename)
        keep_in = pasted_folder(self._ctx, draft_id)  # if it cannot be shown
        self._reopening[self.image_loader.load_known(source, keep_in)] = cid

    def inline_images(self) -> list[InlineImage]:
        """The inline images still in the text, in order."""
        found = []
        for cid in self.body_edit.used_images():
            entry = self._inline.get(cid)
            if isinstance(entry, LoadedImage):
                found.append(entry.image)
            elif entry is not None:
                found.append(entry)
        return found

    def _images_to_attachments(self) -> None:
        """Going to plain text: pictures cannot stay in the text, so they become
        attachments (a pasted one is saved in the profile first) and the window says so."""
        images = self.inline_images() if self.body_edit.rich else []
        if not images:
            return
        folder = pasted_folder(self._ctx, self._saved.id)
        paths: list[Path] = []
        for image in images:
            entry = self._inline.get(image.cid)
            source = entry.path if isinstance(entry, LoadedImage) else None
            if source is not None and source.is_file():
                paths.append(source)
                continue
            try:
                target = keep_picture(image, folder, ".png")
            except OSError as exc:
                self._show_error(
                    self.tr("A picture could not be kept ({0}); check the disk.").format(
                        exc.strerror or exc
                    )
                )
                continue
            paths.append(target)
        self.add_attachments(paths)
        self.status_bar.show_text(
            self.tr(
                "Plain text cannot show pictures: %n picture(s) became attachments.", "", len(paths)
            )
        )
        QTimer.singleShot(5000, self, self._hide_saved_note)

    @Slot(list)
    def _on_files_pasted(self, files: list[str]) -> None:
        """Pictures pasted into rich text go into the text; other files are attached."""
        if self.body_edit.rich and files and all(is_image_file(f) for f in files):
            self.insert_images(files)
        else:
            self.add_attachments(files)

    # --- recipient domains --------------------------------------------------------------

    def _checks_enabled(self) -> bool:
        account = self._account()
        return account is not None and account.check_recipients

    def _check_domains(self, field: _AddressField) -> None:
        """Start background checks of the field's domains (parsed addresses only)."""
        if field.key == "reply_to" or not self._checks_enabled() or field.error_text:
            self._show_domain_findings(field)
            return
        try:
            boxes = self._parse_field(field)
        except InputError:
            return
        self.checker.request(domains_of(m.addr for m in boxes))
        self._show_domain_findings(field)

    def _check_all_domains(self) -> None:
        for field in self.fields.values():
            self._check_domains(field)

    @Slot(str, list)
    def _on_domain_checked(self, _domain: str, _findings: list[object]) -> None:
        for field in self.fields.values():
            self._show_domain_findings(field)

    def _field_domains(self, field: _AddressField) -> list[str]:
        try:
            boxes = self._parse_field(field)
        except InputError:
            return []
        return domains_of(m.addr for m in boxes)

    def _show_domain_findings(self, field: _AddressField) -> None:
        """The findings known for the domains now in the field, under it."""
        findings = []
        if self._checks_enabled() and field.key != "reply_to" and not field.error_text:
            for domain in self._field_domains(field):
                findings += self.checker.findings(domain)
        text, blocked = describe(findings, block_color=ERROR_COLOR, warn_color=WARNING_COLOR)
        changed = blocked != field.blocked
        field.blocked = blocked
        field.warning.setText(text)
        field.warning.setVisible(bool(text) and field.edit.isVisibleTo(self))
        field.warning.setToolTip(
            self.tr("Checked in DNS: the domain's mail servers (MX records).") if text else ""
        )
        if changed:
            self._update_send_enabled()

    def _on_warning_link(self, field: _AddressField, link: str) -> None:
        """ "Did you mean gmail.com?": clicking the domain fixes every address using it."""
        if not link.startswith(FIX_SCHEME):
            QDesktopServices.openUrl(QUrl(link))
            return
        wrong, _, right = link[len(FIX_SCHEME) :].partition(":")
        if not wrong or not right:
            return
        text = field.edit.text()
        fixed = _replace_domain(text, wrong, right)
        if fixed != text:
            field.edit.setText(fixed)
            self._check_field(field)
        field.edit.setFocus()

    # --- attachments ------------------------------------------------------------------

    @Slot()
    def _choose_attachments(self) -> None:
        paths, _ = QFileDialog.getOpenFileNames(self, self.tr("Attach files"))
        if paths:
            self.add_attachments(paths)

    def _refresh_attachments(self) -> None:
        self.attachment_list.clear()
        for path in self._attachments:
            shown = human_size(QFileInfo(str(path)).size())
            item = QListWidgetItem(
                self.style().standardIcon(QStyle.StandardPixmap.SP_FileIcon),
                f"{path.name}  ({shown})",
            )
            item.setToolTip(str(path))
            self.attachment_list.addItem(item)
        count = len(self._attachments)
        self.attachments_label.setVisible(count > 0)
        self.attachment_list.setVisible(count > 0)
        if count:
            row = self.attachment_list.sizeHintForRow(0)
            frame = 2 * self.attachment_list.frameWidth()
            self.attachment_list.setFixedHeight(row * min(count, _ATTACHMENT_ROWS) + frame + 4)
            total = sum(QFileInfo(str(p)).size() for p in self._attachments)
            self.attachments_label.setText(
                self.tr("Attachments ({0}, {1}):").format(
                    count,
                    human_size(total),
                )
            )

    @staticmethod
    def _dropped_files(event: QDropEvent | QDragEnterEvent | QDragMoveEvent) -> list[str]:
        mime = event.mimeData()
        if mime is None or not mime.hasUrls():
            return []
        return [url.toLocalFile() for url in mime.urls() if url.isLocalFile()]

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if self._token is None and self._dropped_files(event):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dragMoveEvent(self, event: QDragMoveEvent) -> None:
        if self._token is None and self._dropped_files(event):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dropEvent(self, event: QDropEvent) -> None:
        files = self._dropped_files(event)
        if self._token is None and files:
            event.acceptProposedAction()
            self.add_attachments(files)
        else:
            event.ignore()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        # DragEnter and DragMove events are QDropEvents too.
        if isinstance(event, QDropEvent) and self._dropped_files(event):
            if event.type() == QEvent.Type.Drop:
                files = self._dropped_files(event)
                if (
                    watched is self.body_edit.viewport()
                    and self.body_edit.rich
                    and self._token is None
                    and all(is_image_file(f) for f in files)
                ):
                    # Pictures dropped into rich text go where they were dropped.
                    event.acceptProposedAction()
                    at = self.body_edit.cursorForPosition(event.position().toPoint())
                    self.insert_images(files, at)
                    return True
                self.dropEvent(event)
                return True
            if isinstance(event, QDragMoveEvent):
                self.dragMoveEvent(event)
                return True
        return super().eventFilter(watched, event)

    # --- closing ----------------------------------------------------------------------

    def closeEvent(self, event: QCloseEvent) -> None:
        if self._token is not None:
            # The outbox is storing it right now; it answers in a moment.
            event.ignore()
            return
        if self._done:
            event.accept()
            return
        if not self.is_modified():
            self._drop_draft()
            event.accept()
            return
        answer = self._ask_on_close()
        if answer == "save" and self._write_draft(open_=False):
            self.autosave_timer.stop()
            event.accept()
        elif answer == "discard":
            self.autosave_timer.stop()
            self._drop_draft()
            event.accept()
        else:
            event.ignore()

    def _drop_draft(self, *, keep_files: bool = False) -> None:
        """Delete this window's draft file and, unless ``keep_files``, the files mailgui
        wrote for it (a taken-out message's attachments, pictures kept as files) once
        no saved draft points at them."""
        self.drafts.delete(self._saved.id)
        if not keep_files:
            let_go(self._ctx, self._attachments)

    def _ask_on_close(self) -> str:
        """The answer: "save" (keep it in Drafts), "discard", or "keep" (go on writing)."""
        box = QMessageBox(self)
        box.setIcon(QMessageBox.Icon.Question)
        box.setWindowTitle(self.tr("Save this draft?"))
        box.setText(self.tr("Keep this message in Drafts to finish it later?"))
        save = box.addButton(self.tr("Save draft"), QMessageBox.ButtonRole.AcceptRole)
        discard = box.addButton(self.tr("Discard"), QMessageBox.ButtonRole.DestructiveRole)
        keep = box.addButton(self.tr("Keep writing"), QMessageBox.ButtonRole.RejectRole)
        box.setDefaultButton(save)
        box.setEscapeButton(keep)
        box.exec()
        clicked = box.clickedButton()
        return "save" if clicked is save else "discard" if clicked is discard else "keep"


def _replace_domain(text: str, wrong: str, right: str) -> str:
    """``text`` with every address at ``@wrong`` moved to ``@right`` (case-insensitive)."""
    import re

    return re.sub(rf"@{re.escape(wrong)}(?=$|[\s>,;])", "@" + right, text, flags=re.IGNORECASE)
