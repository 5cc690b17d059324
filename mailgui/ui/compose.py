"""The compose window: one message, from the person's hands to the outbox.

Addresses are checked with the core parser as the person leaves a field and again
before sending; a problem is shown under the field, in the parser's own words,
and blocks Send until it is fixed. Sending hands a ``Draft`` to the outbox
handle, which builds and stores it in its own thread (attachments are read there,
never here); the window waits for the handle's answer for its token, then closes.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QEvent, QFileInfo, QLocale, QObject, Qt, Signal, Slot
from PySide6.QtGui import (
    QAction,
    QCloseEvent,
    QDragEnterEvent,
    QDragMoveEvent,
    QDropEvent,
    QFont,
    QIcon,
    QKeySequence,
    QShortcut,
)
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QFileDialog,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QMainWindow,
    QMessageBox,
    QPlainTextEdit,
    QPushButton,
    QSizePolicy,
    QStyle,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from mailgui.core.addresses import Mailbox, check_text, parse_recipients
from mailgui.core.errors import InputError, MailguiError
from mailgui.core.message import Draft
from mailgui.ui.context import AppContext

if TYPE_CHECKING:
    from mailgui.ui.outbox_service import OutboxHandle

__all__ = ["ComposeWindow"]

ERROR_COLOR = "#c62828"
# Light tints that read on light and dark palettes alike.
_BAR_STYLES = {
    "info": "background: rgba(25, 118, 210, 0.12); border: 1px solid rgba(25, 118, 210, 0.45);",
    "warning": "background: rgba(245, 166, 35, 0.18); border: 1px solid rgba(245, 166, 35, 0.7);",
    "error": f"background: rgba(198, 40, 40, 0.10); border: 1px solid {ERROR_COLOR};",
}
_ATTACHMENT_ROWS = 4  # the list grows up to this many rows, then scrolls


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

    key: str  # "to", "cc", "bcc"
    what: str  # how the parser names it in errors: "To address"
    label: QLabel
    edit: QLineEdit
    error: QLabel
    error_text: str = ""


class ComposeWindow(QMainWindow):
    """Write one plain-text message and queue it.

    Signals:
        sent(int id): the message is durably in the outbox under this id; the window
            closes right after.
    """

    sent = Signal(int)

    def __init__(
        self, ctx: AppContext, outbox: OutboxHandle, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self._ctx = ctx
        self._outbox = outbox
        self._token: str | None = None  # the queue request we are waiting for
        self._done = False  # queued: close without asking
        self._subject_waived = False  # "Send anyway" was chosen for an empty subject
        self._attachments: list[Path] = []
        self._replaces: int | None = None  # a failed message this one fixes (Edit)

        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.setAcceptDrops(True)
        self.resize(720, 560)

        self._build_actions()
        self._build_form()
        self._load_accounts()
        self._update_title()

        outbox.queued.connect(self._on_queued)
        outbox.failed.connect(self._on_failed)

    # --- construction -----------------------------------------------------------------

    def _build_actions(self) -> None:
        # Theme icons where the desktop has them; otherwise clean text-only buttons.
        self.send_action = QAction(QIcon.fromTheme("mail-send"), self.tr("Send"), self)
        self.send_action.setShortcuts([QKeySequence("Ctrl+Return"), QKeySequence("Ctrl+Enter")])
        self.send_action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        self.send_action.setToolTip(self.tr("Send the message (Ctrl+Return)"))
        self.send_action.triggered.connect(lambda: self.send())

        self.attach_action = QAction(QIcon.fromTheme("mail-attachment"), self.tr("Attach…"), self)
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

        for action in (self.send_action, self.attach_action):
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
        buttons.addWidget(self._button(self.attach_action))
        buttons.addStretch(1)
        outer.addLayout(buttons)

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
            grid.addWidget(label, row, 0)
            if key == "cc":  # the Bcc toggle sits where people look for it
                grid.addWidget(edit, row, 1)
                self.bcc_button = QToolButton(self.editor)
                self.bcc_button.setDefaultAction(self.bcc_action)
                self.bcc_button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
                grid.addWidget(self.bcc_button, row, 2)
            else:
                grid.addWidget(edit, row, 1, 1, 2)
            grid.addWidget(error, row + 1, 1, 1, 2)
            row += 2
            field = _AddressField(key, what, label, edit, error)
            self.fields[key] = field
            edit.editingFinished.connect(lambda f=field: self._check_field(f))
            edit.textChanged.connect(lambda _t, f=field: self._on_address_edited(f))
        self.to_edit = self.fields["to"].edit
        self.cc_edit = self.fields["cc"].edit
        self.bcc_edit = self.fields["bcc"].edit
        self._set_bcc_visible(False)

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

        self.subject_bar = _Bar("warning", self.editor)
        self.subject_bar.label.setText(self.tr("This message has no subject."))
        self.send_anyway_button = self.subject_bar.add_button(self.tr("Send anyway"))
        self.send_anyway_button.clicked.connect(self._send_anyway)
        add_subject = self.subject_bar.add_button(self.tr("Add a subject"))
        add_subject.clicked.connect(self._focus_subject)
        grid.addWidget(self.subject_bar, row, 1, 1, 2)
        row += 1

        self.body_edit = QPlainTextEdit(self.editor)
        self.body_edit.setObjectName("body_edit")
        self.body_edit.setPlaceholderText(self.tr("Write your message here."))
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
            self.subject_edit,
            self.attachment_list.viewport(),
        ):
            widget.installEventFilter(self)

        self.setTabOrder(self.from_combo, self.to_edit)
        self.setTabOrder(self.to_edit, self.cc_edit)
        self.setTabOrder(self.cc_edit, self.bcc_edit)
        self.setTabOrder(self.bcc_edit, self.subject_edit)
        self.setTabOrder(self.subject_edit, self.body_edit)
        self.setTabOrder(self.body_edit, self.attachment_list)

        self.subject_edit.textChanged.connect(self._update_title)
        self.to_edit.setFocus()

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
            shown = account.email
            if account.display_name:
                try:
                    shown = Mailbox(account.display_name, account.email).formatted()
                except InputError:
                    shown = f"{account.display_name} <{account.email}>"
            self.from_combo.addItem(f"{shown} — {account.name}", account.name)
            self.from_combo.setItemData(
                self.from_combo.count() - 1, account.server, Qt.ItemDataRole.ToolTipRole
            )
            if account.name == default:
                self.from_combo.setCurrentIndex(self.from_combo.count() - 1)
        self._accounts = {a.name: a for a in accounts}
        if not accounts and not self.error_bar.isVisible():
            self._show_error(
                self.tr("No account is set up yet; add one under Accounts, then write again.")
            )
        self._update_send_enabled()

    # --- public -----------------------------------------------------------------------

    def prefill(self, account: str, draft: Draft, *, replaces: int | None = None) -> None:
        """Fill the window from ``draft`` (Edit of a failed message). Once the new one
        is queued, the message it replaces is deleted, so only the fixed copy stays.
        The text is edited as plain text (an HTML body keeps its plain alternative)."""
        index = self.from_combo.findData(account)
        if index >= 0:
            self.from_combo.setCurrentIndex(index)
        for key, boxes in (("to", draft.to), ("cc", draft.cc), ("bcc", draft.bcc)):
            self.fields[key].edit.setText(", ".join(m.formatted() for m in boxes))
        if draft.bcc:
            self._set_bcc_visible(True)
        self.subject_edit.setText(draft.subject)
        self.body_edit.setPlainText(draft.text or "")
        self.add_attachments(list(draft.attachments))
        self._replaces = replaces
        self._update_title()
        self._update_send_enabled()

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
        if problems:
            self._show_error(" ".join(problems))
        self._refresh_attachments()

    @property
    def attachments(self) -> list[Path]:
        return list(self._attachments)

    def is_modified(self) -> bool:
        """Something was typed or attached (closing then asks before discarding)."""
        return bool(
            any(f.edit.text().strip() for f in self.fields.values())
            or self.subject_edit.text().strip()
            or self.body_edit.toPlainText().strip()
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
        self._refresh_attachments()

    def send(self, *, allow_empty_subject: bool = False) -> bool:
        """Check everything and hand the draft to the outbox; False if something blocks it.

        An empty subject asks once, inline ("Send anyway")."""
        if self._token is not None:
            return False
        self.error_bar.hide()
        draft = self._make_draft()
        if draft is None:
            return False
        if not draft.subject and not (allow_empty_subject or self._subject_waived):
            self.subject_bar.show()
            self.send_anyway_button.setFocus()
            return False
        self.subject_bar.hide()
        account = self.from_combo.currentData()
        self._token = uuid.uuid4().hex
        self._set_busy(True)
        self._outbox.queue_draft(self._token, str(account), draft, None)
        return True

    # --- validation -------------------------------------------------------------------

    def _parse_field(self, field: _AddressField) -> list[Mailbox]:
        return parse_recipients([field.edit.text()], what=field.what)

    def _check_field(self, field: _AddressField) -> bool:
        try:
            self._parse_field(field)
        except InputError as exc:
            self._set_field_error(field, str(exc))
            return False
        self._set_field_error(field, "")
        return True

    def _on_address_edited(self, field: _AddressField) -> None:
        # While an error shows, re-check on every keystroke so fixing it clears it at
        # once; a new error appears only when the person leaves the field or sends.
        if field.error_text:
            self._check_field(field)
        if field.key == "bcc":
            self._update_bcc_toggle()

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
        self._update_send_enabled()

    def _make_draft(self) -> Draft | None:
        """The draft, or None after showing every problem inline."""
        parsed: dict[str, list[Mailbox]] = {}
        first_bad: QWidget | None = None
        for field in self.fields.values():
            try:
                parsed[field.key] = self._parse_field(field)
                self._set_field_error(field, "")
            except InputError as exc:
                self._set_field_error(field, str(exc))
                first_bad = first_bad or field.edit
        if first_bad is None and not any(parsed.values()):
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
            subject=subject.strip(),
            text=self.body_edit.toPlainText(),
            attachments=list(self._attachments),
        )

    def _sender_mailbox(self) -> Mailbox | None:
        account = self._accounts.get(str(self.from_combo.currentData()))
        if account is None:
            self._show_error(self.tr("Choose an account to send from (From)."))
            return None
        try:
            return Mailbox(account.display_name, account.email)
        except InputError as exc:
            self._show_error(str(exc))
            return None

    # --- reactions --------------------------------------------------------------------

    def _on_subject_edited(self, text: str) -> None:
        if text.strip():
            self.subject_bar.hide()
        if self.subject_error.isVisible():
            try:
                check_text("subject", text)
                self.subject_error.hide()
            except InputError as exc:
                self.subject_error.setText(str(exc))

    @Slot()
    def _on_escape(self) -> None:
        """Esc first dismisses the empty-subject question, then closes the window."""
        if self.subject_bar.isVisible():
            self._focus_subject()
        else:
            self.close()

    @Slot()
    def _send_anyway(self) -> None:
        self._subject_waived = True
        self.send(allow_empty_subject=True)

    @Slot()
    def _focus_subject(self) -> None:
        self.subject_bar.hide()
        self.subject_edit.setFocus()

    @Slot(bool)
    def _set_bcc_visible(self, visible: bool) -> None:
        field = self.fields["bcc"]
        for widget in (field.label, field.edit):
            widget.setVisible(visible)
        field.error.setVisible(visible and bool(field.error_text))
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
        blocked = any(f.error_text for f in self.fields.values())
        ready = self.from_combo.count() > 0 and self._token is None and not blocked
        self.send_action.setEnabled(ready)
        if blocked:
            self.send_action.setToolTip(self.tr("Fix the addresses marked in red to send."))
        else:
            self.send_action.setToolTip(self.tr("Send the message (Ctrl+Return)"))

    def _show_error(self, text: str) -> None:
        self.error_bar.show_text(text)

    def _set_busy(self, busy: bool) -> None:
        self.editor.setEnabled(not busy)
        for action in (self.attach_action, self.bcc_action):
            action.setEnabled(not busy)
        if busy:
            self.status_bar.show_text(self.tr("Queuing…"))
        else:
            self.status_bar.hide()
            self._update_bcc_toggle()
        self._update_send_enabled()

    @Slot(str, int)
    def _on_queued(self, token: str, msg_id: int) -> None:
        if token != self._token:
            return
        self._token = None
        self._done = True
        if self._replaces is not None:
            self._outbox.delete([self._replaces])
        self.sent.emit(msg_id)
        self.close()

    @Slot(str, str)
    def _on_failed(self, token: str, message: str) -> None:
        if token != self._token:
            return
        self._token = None
        self._set_busy(False)
        self._show_error(message)

    # --- attachments ------------------------------------------------------------------

    @Slot()
    def _choose_attachments(self) -> None:
        paths, _ = QFileDialog.getOpenFileNames(self, self.tr("Attach files"))
        if paths:
            self.add_attachments(paths)

    def _refresh_attachments(self) -> None:
        self.attachment_list.clear()
        locale = QLocale()
        for path in self._attachments:
            size = QFileInfo(str(path)).size()
            shown = locale.formattedDataSize(
                size, 1, QLocale.DataSizeFormat.DataSizeTraditionalFormat
            )
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
                    locale.formattedDataSize(
                        total, 1, QLocale.DataSizeFormat.DataSizeTraditionalFormat
                    ),
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
        if self._done or not self.is_modified() or self._confirm_discard():
            event.accept()
        else:
            event.ignore()

    def _confirm_discard(self) -> bool:
        box = QMessageBox(self)
        box.setIcon(QMessageBox.Icon.Question)
        box.setWindowTitle(self.tr("Discard message?"))
        box.setText(self.tr("Discard this message? What you wrote will be lost."))
        discard = box.addButton(self.tr("Discard"), QMessageBox.ButtonRole.DestructiveRole)
        keep = box.addButton(self.tr("Keep writing"), QMessageBox.ButtonRole.RejectRole)
        box.setDefaultButton(keep)
        box.setEscapeButton(keep)
        box.exec()
        return box.clickedButton() is discard
