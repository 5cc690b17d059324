"""The compose window's actions and layout: the buttons row, the inline bars (send
later, pre-flight, status, errors), then the form (From, the addresses, Subject, the
format bar, the text, the attachments)."""

from __future__ import annotations

from PySide6.QtCore import QSettings, Qt
from PySide6.QtGui import QAction, QFont, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QComboBox,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from mailgui.ui.compose.bars import ERROR_COLOR, Bar
from mailgui.ui.compose.base import ComposeBase
from mailgui.ui.compose.format_bar import FormatBar
from mailgui.ui.compose.options import OptionsButton
from mailgui.ui.compose.preflight_panel import PreflightPanel
from mailgui.ui.compose.schedule_bar import ScheduleBar, ScheduledNote
from mailgui.ui.icons import action_icon
from mailgui.ui.rich_text import BodyEdit
from mailgui.ui.spelling import SpellHighlighter, available, language_for

__all__ = ["RICH_KEY", "FormMixin"]

RICH_KEY = "compose/rich_text"  # the last choice sticks, in compose.ini


class FormMixin(ComposeBase):
    """Builds the window (``_build_actions``, then ``_build_form``)."""

    def _settings(self) -> QSettings:
        return QSettings(
            str(self._ctx.profile.config_dir / "compose.ini"), QSettings.Format.IniFormat
        )

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
        self._build_protection_actions()

        escape = QShortcut(QKeySequence(Qt.Key.Key_Escape), self)
        escape.activated.connect(self._on_escape)

    def _build_form(self) -> None:
        central = QWidget(self)
        outer = QVBoxLayout(central)
        outer.setContentsMargins(10, 8, 10, 10)
        outer.setSpacing(6)
        outer.addLayout(self._build_buttons())
        self._build_bars(central, outer)

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

        row = self._build_address_rows(grid, row)
        row = self._build_key_row(grid, row)

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

        self._build_body()
        editor_layout.addWidget(self.format_bar)
        editor_layout.addWidget(self.body_edit, 1)
        self._build_attachment_list(editor_layout)

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

    def _build_buttons(self) -> QHBoxLayout:
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
        self.sign_button = self._button(self.sign_action)
        buttons.addWidget(self.sign_button)
        self.encrypt_button = self._button(self.encrypt_action)
        buttons.addWidget(self.encrypt_button)
        buttons.addStretch(1)
        self.options_button = OptionsButton(self)
        self.options_button.changed.connect(self._mark_dirty)
        buttons.addWidget(self.options_button)
        return buttons

    def _build_bars(self, central: QWidget, outer: QVBoxLayout) -> None:
        self.schedule_bar = ScheduleBar(central)
        self.schedule_bar.chosen.connect(self._schedule_chosen)
        self.schedule_edit = self.schedule_bar.edit
        self.schedule_button = self.schedule_bar.button
        outer.addWidget(self.schedule_bar)

        # A draft that keeps a send time (a scheduled message opened to edit) says so.
        self.scheduled_note = ScheduledNote(central)
        self.change_time_button = self.scheduled_note.change_button
        self.change_time_button.clicked.connect(self.show_schedule)
        self.clear_time_button = self.scheduled_note.clear_button
        self.clear_time_button.clicked.connect(lambda: self.set_scheduled(None))
        outer.addWidget(self.scheduled_note)

        # Pre-flight: everything worth a second look before sending, in one place.
        self.preflight = PreflightPanel(central)
        self.preflight.sendAnyway.connect(self._send_anyway)
        self.preflight.keepEditing.connect(self._dismiss_preflight)
        self.preflight.dismissed.connect(self.dismiss_finding)
        self.findings = []
        self._send_at = None  # the time of the send the panel holds back
        outer.addWidget(self.preflight)

        # Messages about the whole window: "Queuing…", a failure, no account.
        self.status_bar = Bar("info", central)
        self.error_bar = Bar("error", central)
        self.error_bar.add_close_button(self.tr("Dismiss"))
        outer.addWidget(self.status_bar)
        outer.addWidget(self.error_bar)

    def _build_body(self) -> None:
        self.body_edit = BodyEdit(self.editor)
        self.body_edit.setObjectName("body_edit")
        self.body_edit.setPlaceholderText(self.tr("Write your message here."))
        self.body_edit.textChanged.connect(self._recheck)
        self.body_edit.filesPasted.connect(self._on_files_pasted)
        self.body_edit.imagePasted.connect(self._on_image_pasted)
        self.speller = None
        if available():
            self.speller = SpellHighlighter(self.body_edit.document(), language_for())
            self.body_edit.speller = self.speller
            self.options_button.spelling_action.toggled.connect(self.speller.set_enabled)
        self.format_bar = FormatBar(self.body_edit, self.editor)
        self.rich_action = self.format_bar.rich_action
        self.rich_action.toggled.connect(self.set_rich_text)
        self.addAction(self.rich_action)
        self.format_bar.image_action.triggered.connect(self._choose_images)
        rich = str(self._settings().value(RICH_KEY, "false")).lower() == "true"
        self.rich_action.setChecked(rich)
        self.set_rich_text(rich, remember=False)

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
