"""The accounts dialog: list, add, edit, remove, choose the default, test a server.

Two tabs: "Account" (who, how mail leaves: a relay server, or direct delivery, which
the form says plainly is weaker) and "Identities" (the account's own Reply-To and
signature, and more identities: other names or addresses sending through the same
account). Every identity field is checked as it is typed, the reason shown under it.

Settings go to ``accounts.toml`` through ``AccountStore``; passwords only to the
keyring (``AppContext.store_password``) or, when there is none and the person
agrees, to memory until mailgui quits. A stored password is never shown back.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QSize, Qt, QTimer, Signal, Slot
from PySide6.QtGui import QColor, QFont, QFontMetrics, QKeySequence, QPainter, QPalette
from PySide6.QtWidgets import (
    QApplication,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QMessageBox,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QSpinBox,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from mailgui.core import passwords
from mailgui.core.accounts import DEFAULT_PORTS, Account, Identity, RateLimits
from mailgui.core.addresses import check_text, parse_mailbox, parse_mailbox_list
from mailgui.core.errors import ConfigError, InputError, KeyringUnavailableError, MailguiError
from mailgui.ui.connection_test import ConnectionTester, gui_wording
from mailgui.ui.context import AppContext
from mailgui.ui.settings_finder import SettingsFinder

SECURITY_CHOICES = ("starttls", "tls", "none")
DELIVERY_CHOICES = ("relay", "direct")

# Colours that read on light and dark backgrounds alike.
GREEN = "#2e7d32"
RED = "#c62828"
AMBER = "#a15c00"
GREY = "#757575"

_NAME_ROLE = Qt.ItemDataRole.UserRole
_EMAIL_ROLE = Qt.ItemDataRole.UserRole + 1


def _styled(label: QLabel, colour: str, *, bold: bool = False) -> QLabel:
    weight = "font-weight: 600;" if bold else ""
    label.setStyleSheet(f"color: {colour}; {weight}")
    return label


def _plain_label(text: str = "") -> QLabel:
    """A word-wrapped label that never interprets its text as HTML (server text!)."""
    label = QLabel(text)
    label.setTextFormat(Qt.TextFormat.PlainText)
    label.setWordWrap(True)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    return label


class _AccountDelegate(QStyledItemDelegate):
    """Two lines per account: the name (bold for the default) and, quieter, the address."""

    PAD = 5

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: Any) -> None:
        opt = QStyleOptionViewItem(option)
        self.initStyleOption(opt, index)
        name, opt.text = opt.text, ""
        style = opt.widget.style() if opt.widget is not None else QApplication.style()
        style.drawControl(QStyle.ControlElement.CE_ItemViewItem, opt, painter, opt.widget)
        selected = bool(opt.state & QStyle.StateFlag.State_Selected)
        role = QPalette.ColorRole.HighlightedText if selected else QPalette.ColorRole.Text
        colour = opt.palette.color(role)
        muted = QColor(colour)
        muted.setAlphaF(0.75)
        rect = opt.rect.adjusted(self.PAD + 2, self.PAD, -self.PAD, -self.PAD)
        painter.save()
        first = QFontMetrics(opt.font)
        painter.setFont(opt.font)
        painter.setPen(colour)
        elide = Qt.TextElideMode.ElideRight
        painter.drawText(
            rect.x(), rect.y() + first.ascent(), first.elidedText(name, elide, rect.width())
        )
        small = QFont(opt.font)
        small.setBold(False)
        second = QFontMetrics(small)
        painter.setFont(small)
        painter.setPen(muted)
        email = str(index.data(_EMAIL_ROLE) or "")
        painter.drawText(
            rect.x(),
            rect.y() + first.height() + 2 + second.ascent(),
            second.elidedText(email, elide, rect.width()),
        )
        painter.restore()

    def sizeHint(self, option: QStyleOptionViewItem, index: Any) -> QSize:
        height = QFontMetrics(option.font).height() * 2 + 2 + 2 * self.PAD
        return QSize(180, height)


class ResultPanel(QFrame):
    """Shows a connection test: a tick or a cross, a headline, what was learnt, the error."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("resultPanel")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(10, 8, 10, 8)
        self.icon = QLabel()
        self.icon.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignHCenter)
        font = self.icon.font()
        font.setPointSizeF(font.pointSizeF() * 1.6)
        font.setBold(True)
        self.icon.setFont(font)
        self.icon.setMinimumWidth(24)
        layout.addWidget(self.icon)
        text = QVBoxLayout()
        text.setSpacing(3)
        self.headline = _plain_label()
        self.details = _plain_label()
        self.error = _plain_label()
        for label in (self.headline, self.details, self.error):
            text.addWidget(label)
        layout.addLayout(text, 1)
        self._stale_headline = ""
        self.hide()

    def _tint(self, colour: str) -> None:
        self.setStyleSheet(
            f"#resultPanel {{ border: 1px solid {colour}; border-left: 4px solid {colour};"
            " border-radius: 3px; }"
        )

    def mark_stale(self) -> None:
        """The settings changed after the test: keep the advice, but say it may be old."""
        if self.isHidden() or self.icon.text() == "…":
            return
        self.headline.setText(self._stale_headline)
        grey = GREY
        _styled(self.icon, grey)
        _styled(self.headline, grey, bold=True)
        self._tint(grey)

    def show_busy(self, where: str) -> None:
        self.icon.setText("…")
        _styled(self.icon, AMBER)
        self.headline.setText(self.tr("Testing {0}…").format(where))
        _styled(self.headline, AMBER, bold=True)
        self.details.setText(
            self.tr("Connecting, checking the encryption and logging in; nothing is sent.")
        )
        self.error.hide()
        self._tint(AMBER)
        self.show()

    def show_result(self, result: dict[str, Any]) -> None:
        ok = bool(result.get("ok"))
        cancelled = bool(result.get("cancelled"))
        colour = GREEN if ok else GREY if cancelled else RED
        self.icon.setText("✔" if ok else "–" if cancelled else "✘")
        _styled(self.icon, colour)
        if ok:
            headline = self.tr("The connection works.")
            self._stale_headline = self.tr("Before your last changes, the connection worked.")
        elif cancelled:
            headline = self.tr("The test was cancelled.")
            self._stale_headline = headline
        else:
            headline = self.tr("The test failed.")
            self._stale_headline = self.tr("Before your last changes, the test failed.")
        self.headline.setText(headline)
        _styled(self.headline, colour, bold=True)
        lines = [str(line) for line in result.get("lines", [])]
        self.details.setText("\n".join(f"• {line}" for line in lines))
        self.details.setVisible(bool(lines))
        error = "" if cancelled else str(result.get("error") or "")
        self.error.setText(error)
        _styled(self.error, RED)
        self.error.setVisible(bool(error))
        self._tint(colour)
        self.show()


class _CheckedLine:
    """A line edit checked as it is typed: a short pause in typing (or leaving the field)
    checks it, the reason shows under it in red, and fixing it clears that at once."""

    PAUSE_MS = 700

    def __init__(self, edit: QLineEdit, check: Callable[[str], str]) -> None:
        self.edit = edit
        self.check = check
        self.error = _styled(_plain_label(), RED)
        self.error.hide()
        # A floor for the width: QFormLayout would otherwise wrap it very narrowly.
        self.error.setMinimumWidth(300)
        self.error.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        self.error_text = ""
        self._timer = QTimer(edit)
        self._timer.setSingleShot(True)
        self._timer.setInterval(self.PAUSE_MS)
        self._timer.timeout.connect(self.validate)
        edit.textEdited.connect(self._edited)
        edit.editingFinished.connect(self.validate)

    def _edited(self, _text: str) -> None:
        if self.error_text:
            self.validate()  # fixing it clears the error at once
        else:
            self._timer.start()

    def validate(self) -> bool:
        self._timer.stop()
        self.show_error(self.check(self.edit.text()))
        return not self.error_text

    def show_error(self, text: str) -> None:
        self.error_text = text
        self.error.setText(text)
        self.error.setVisible(bool(text))
        self.edit.setStyleSheet(
            f"QLineEdit {{ border: 1px solid {RED}; border-radius: 3px; padding: 2px; }}"
            if text
            else ""
        )
        self.edit.setToolTip(text)


def _signature_edit(placeholder: str) -> QPlainTextEdit:
    edit = QPlainTextEdit()
    edit.setTabChangesFocus(True)  # Tab walks the form; Enter makes a new line
    edit.setPlaceholderText(placeholder)
    lines = QFontMetrics(edit.font()).lineSpacing()
    edit.setFixedHeight(lines * 4 + 14)
    return edit


class IdentitiesPage(QWidget):
    """The "Identities" tab: the account's own Reply-To and signature, and its extra
    identities (name, address, Reply-To, signature), each field checked as typed.

    Signals:
        changed(): something on the page was edited.
    """

    changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._identities: list[Identity] = []
        self._own_address = ""
        self._default_name = ""
        self._showing = False  # filling the editor from the list: not an edit

        def heading(text: str) -> QLabel:
            label = QLabel(text)
            label.setStyleSheet("font-weight: 600; margin-top: 6px;")
            return label

        def form() -> QFormLayout:
            f = QFormLayout()
            f.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.ExpandingFieldsGrow)
            f.setLabelAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignTop)
            return f

        layout = QVBoxLayout(self)
        layout.addWidget(heading(self.tr("Your identity")))
        self.own_label = _styled(_plain_label(), GREY)
        layout.addWidget(self.own_label)
        own = form()
        self.reply_to_edit = QLineEdit()
        self.reply_to_edit.setPlaceholderText(
            self.tr("optional: where replies should go, if not to you")
        )
        self.reply_to = _CheckedLine(self.reply_to_edit, self._check_reply_to)
        self.signature_edit = _signature_edit(
            self.tr("optional: added below your messages (after a “-- ” line)")
        )
        own.addRow(self.tr("Re&ply-To:"), self.reply_to_edit)
        own.addRow("", self.reply_to.error)
        own.addRow(self.tr("Si&gnature:"), self.signature_edit)
        layout.addLayout(own)

        layout.addWidget(heading(self.tr("More identities")))
        layout.addWidget(
            _styled(
                _plain_label(
                    self.tr(
                        "Other names or addresses that send through this account, such as a "
                        "role address or a shared mailbox; choose one under From when you "
                        "write. The server must allow sending from them."
                    )
                ),
                GREY,
            )
        )
        row = QHBoxLayout()
        self.list = QListWidget()
        self.list.setAccessibleName(self.tr("More identities"))
        rows = QFontMetrics(self.list.font()).lineSpacing() + 6
        self.list.setFixedHeight(rows * 4 + 6)
        self.list.currentRowChanged.connect(self._show_identity)
        row.addWidget(self.list, 1)
        buttons = QVBoxLayout()
        self.add_button = QPushButton(self.tr("Add &identity"))
        self.add_button.setAutoDefault(False)
        self.add_button.clicked.connect(self.add_identity)
        self.remove_button = QPushButton(self.tr("Remo&ve"))
        self.remove_button.setAutoDefault(False)
        self.remove_button.clicked.connect(self.remove_identity)
        buttons.addWidget(self.add_button)
        buttons.addWidget(self.remove_button)
        buttons.addStretch(1)
        row.addLayout(buttons)
        layout.addLayout(row)

        self.editor = QFrame()
        self.editor.setObjectName("identityEditor")
        self.editor.setFrameShape(QFrame.Shape.StyledPanel)
        editor = form()
        self.editor.setLayout(editor)
        self.name_edit = QLineEdit()
        self.name_edit.setPlaceholderText(self.tr("shown to recipients, e.g. Ada (Support)"))
        self.name = _CheckedLine(self.name_edit, self._check_name)
        self.email_edit = QLineEdit()
        self.email_edit.setPlaceholderText(self.tr("e.g. support@example.org"))
        self.email = _CheckedLine(self.email_edit, self._check_email)
        self.id_reply_to_edit = QLineEdit()
        self.id_reply_to_edit.setPlaceholderText(self.tr("optional"))
        self.id_reply_to = _CheckedLine(self.id_reply_to_edit, self._check_reply_to)
        self.id_signature_edit = _signature_edit(self.tr("optional"))
        editor.addRow(self.tr("Na&me:"), self.name_edit)
        editor.addRow("", self.name.error)
        editor.addRow(self.tr("Addre&ss:"), self.email_edit)
        editor.addRow("", self.email.error)
        editor.addRow(self.tr("Repl&y-To:"), self.id_reply_to_edit)
        editor.addRow("", self.id_reply_to.error)
        editor.addRow(self.tr("Signat&ure:"), self.id_signature_edit)
        layout.addWidget(self.editor)
        layout.addStretch(1)

        self.reply_to_edit.textChanged.connect(self.changed)
        self.signature_edit.textChanged.connect(self.changed)
        for edit in (self.name_edit, self.email_edit, self.id_reply_to_edit):
            edit.textChanged.connect(self._identity_edited)
        self.id_signature_edit.textChanged.connect(self._identity_edited)
        self._show_identity(-1)

    # --- the page as values ---------------------------------------------------------

    def load(self, account: Account) -> None:
        self.reply_to_edit.setText(account.reply_to)
        self.signature_edit.setPlainText(account.signature)
        self.set_identities(list(account.identities))
        for checked in (self.reply_to, self.name, self.email, self.id_reply_to):
            checked.show_error("")

    def values(self) -> tuple[str, str, tuple[Identity, ...]]:
        """Reply-To, signature and extra identities, as typed (tidied, not checked)."""
        return (
            self.reply_to_edit.text().strip(),
            _tidy_signature(self.signature_edit.toPlainText()),
            tuple(self._identities),
        )

    def set_values(self, reply_to: str, signature: str, identities: tuple[Identity, ...]) -> None:
        self.reply_to_edit.setText(reply_to)
        self.signature_edit.setPlainText(signature)
        self.set_identities(list(identities))

    def set_identities(self, identities: list[Identity]) -> None:
        self._identities = list(identities)
        self.list.blockSignals(True)
        self.list.clear()
        for identity in self._identities:
            self.list.addItem(self._item_text(identity))
        self.list.blockSignals(False)
        self.list.setCurrentRow(0 if self._identities else -1)
        self._show_identity(self.list.currentRow())

    def set_own(self, name: str, address: str) -> None:
        """The account's own name and address (typed on the Account tab)."""
        self._own_address = address.strip()
        self._default_name = name.strip()
        shown = f"{name.strip()} <{address.strip()}>" if name.strip() else address.strip()
        self.own_label.setText(
            self.tr("Sent as {0}; the name and address are on the Account tab.").format(shown)
            if shown
            else self.tr("Type the name and address on the Account tab first.")
        )

    # --- checks ---------------------------------------------------------------------

    def _check_reply_to(self, text: str) -> str:
        if not text.strip():
            return ""
        try:
            parse_mailbox_list(text, what="Reply-To address")
        except MailguiError as exc:
            return gui_wording(exc.message)
        return ""

    def _check_name(self, text: str) -> str:
        try:
            check_text("name", text.strip())
        except MailguiError as exc:
            return gui_wording(exc.message)
        return ""

    def _check_email(self, text: str, *, row: int | None = None) -> str:
        if not text.strip():
            return self.tr("Type the address this identity sends from, like name@example.org.")
        try:
            mailbox = parse_mailbox(text, what="address")
        except MailguiError as exc:
            return gui_wording(exc.message)
        if mailbox.name:
            return self.tr(
                "Put only the address here (like name@example.org); the name goes in “Name”."
            )
        row = self.list.currentRow() if row is None else row
        taken = [self._own_address] + [
            i.email.strip() for n, i in enumerate(self._identities) if n != row
        ]
        if mailbox.addr.lower() in (t.lower() for t in taken if t):
            return self.tr("{0} is already an identity of this account.").format(mailbox.addr)
        return ""

    def first_problem(self) -> tuple[QWidget, str] | None:
        """Check the whole page, showing each reason inline; the first field with a
        problem (the identity selected) and its sentence, or None."""
        if not self.reply_to.validate():
            return self.reply_to_edit, self.reply_to.error_text
        for row, identity in enumerate(self._identities):
            problems = [
                (self.name_edit, self._check_name(identity.name)),
                (self.email_edit, self._check_email(identity.email, row=row)),
                (self.id_reply_to_edit, self._check_reply_to(identity.reply_to)),
            ]
            bad = [(w, text) for w, text in problems if text]
            if bad:
                self.list.setCurrentRow(row)
                for checked in (self.name, self.email, self.id_reply_to):
                    checked.validate()
                return bad[0]
        return None

    # --- the list and the editor ------------------------------------------------------

    def _item_text(self, identity: Identity) -> str:
        name, email = identity.name.strip(), identity.email.strip()
        if name and email:
            return f"{name} <{email}>"
        return email or name or self.tr("(new identity)")

    @Slot(int)
    def _show_identity(self, row: int) -> None:
        has = 0 <= row < len(self._identities)
        identity = self._identities[row] if has else Identity()
        self._showing = True
        try:
            self.name_edit.setText(identity.name)
            self.email_edit.setText(identity.email)
            self.id_reply_to_edit.setText(identity.reply_to)
            self.id_signature_edit.setPlainText(identity.signature)
        finally:
            self._showing = False
        for checked in (self.name, self.email, self.id_reply_to):
            checked.show_error("")
            if has and identity.email:  # a stored or half-typed one: say what is wrong
                checked.validate()
        self.editor.setEnabled(has)
        self.editor.setVisible(has)
        self.remove_button.setEnabled(has)

    @Slot()
    def _identity_edited(self) -> None:
        row = self.list.currentRow()
        if self._showing or not 0 <= row < len(self._identities):
            return
        identity = Identity(
            name=self.name_edit.text().strip(),
            email=self.email_edit.text().strip(),
            reply_to=self.id_reply_to_edit.text().strip(),
            signature=_tidy_signature(self.id_signature_edit.toPlainText()),
        )
        self._identities[row] = identity
        item = self.list.item(row)
        if item is not None:
            item.setText(self._item_text(identity))
        self.changed.emit()

    @Slot()
    def add_identity(self) -> None:
        self._identities.append(Identity(name=self._default_name))
        self.list.addItem(self._item_text(self._identities[-1]))
        self.list.setCurrentRow(len(self._identities) - 1)
        self.email_edit.setFocus()
        self.changed.emit()

    @Slot()
    def remove_identity(self) -> None:
        row = self.list.currentRow()
        if not 0 <= row < len(self._identities):
            return
        del self._identities[row]
        self.list.blockSignals(True)
        self.list.takeItem(row)
        self.list.setCurrentRow(min(row, len(self._identities) - 1))
        self.list.blockSignals(False)
        self._show_identity(self.list.currentRow())
        self.changed.emit()


def _tidy_signature(text: str) -> str:
    """Trailing spaces and blank lines go; compose adds the "-- " line itself."""
    lines = [line.rstrip() for line in text.replace("\r\n", "\n").split("\n")]
    return "\n".join(lines).strip("\n")


class AccountsDialog(QDialog):
    """Add, edit, remove and test sending accounts.

    Signals:
        accountsChanged(): an account was saved, removed or made the default.
    """

    accountsChanged = Signal()

    def __init__(self, ctx: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._ctx = ctx
        self._current: Account | None = None  # the saved account being edited; None = new
        self._loaded: tuple[Any, ...] = ()
        self._loading = False
        self._port_follows = True
        self._default_name: str | None = None
        self.last_test_result: dict[str, Any] | None = None
        self.last_discovery: dict[str, Any] | None = None
        self._tester = ConnectionTester(self)
        self._tester.finished.connect(self._test_finished)
        self._finder = SettingsFinder(self)
        self._finder.finished.connect(self._settings_found)
        self.setWindowTitle(self.tr("Accounts"))
        self._build()
        self.resize(900, 720)
        self._reload(select=None)

    # --- building --------------------------------------------------------------------

    def _build(self) -> None:
        outer = QHBoxLayout(self)
        outer.setSpacing(14)

        # Left: the accounts and what can be done to them as a whole.
        left = QVBoxLayout()
        heading = QLabel(self.tr("Accounts"))
        heading.setStyleSheet("font-weight: 600;")
        left.addWidget(heading)
        self.list = QListWidget()
        self.list.setMinimumWidth(200)
        self.list.setItemDelegate(_AccountDelegate(self.list))
        self.list.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Expanding)
        self.list.currentItemChanged.connect(self._selection_changed)
        heading.setBuddy(self.list)
        left.addWidget(self.list, 1)
        row = QHBoxLayout()
        self.add_button = QPushButton(self.tr("&Add"))
        self.add_button.clicked.connect(self.add_account)
        self.remove_button = QPushButton(self.tr("&Remove"))
        self.remove_button.clicked.connect(self.remove_account)
        row.addWidget(self.add_button)
        row.addWidget(self.remove_button)
        left.addLayout(row)
        self.default_button = QPushButton(self.tr("Set as &default"))
        self.default_button.clicked.connect(self.set_default)
        left.addWidget(self.default_button)
        outer.addLayout(left)

        # Right: the form for one account, in two tabs (Account, Identities).
        right = QVBoxLayout()
        self.title = QLabel()
        title_font = QFont(self.title.font())
        title_font.setPointSizeF(title_font.pointSizeF() * 1.2)
        title_font.setBold(True)
        self.title.setFont(title_font)
        self.title.setTextFormat(Qt.TextFormat.PlainText)

        self.keyring_warning = _styled(_plain_label(), AMBER)
        self._store_kind: str | None = None  # passwords.store_kind(), asked once

        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.ExpandingFieldsGrow)
        form.setLabelAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        self.form = form

        self.name_edit = QLineEdit()
        self.name_edit.setPlaceholderText(self.tr("e.g. Work"))
        self.display_name_edit = QLineEdit()
        self.display_name_edit.setPlaceholderText(self.tr("shown to recipients, e.g. Ada Lovelace"))
        self.email_edit = QLineEdit()
        self.email_edit.setPlaceholderText(self.tr("name@example.org"))
        self.delivery_combo = QComboBox()
        for key, text in zip(
            DELIVERY_CHOICES,
            (
                self.tr("Your provider's mail server (recommended)"),
                self.tr("Directly to each recipient's server (no relay)"),
            ),
            strict=True,
        ):
            self.delivery_combo.addItem(text, key)
        self.delivery_combo.currentIndexChanged.connect(self._delivery_changed)
        self.direct_warning = _styled(_plain_label(), AMBER)
        self.direct_warning.setText(
            self.tr(
                "⚠ Direct delivery is weaker than sending through your provider's server: "
                "encryption (STARTTLS) is used only when the recipient's server offers it, "
                "certificates are not checked, and mail sent straight from a home connection "
                "is often rejected as spam. Many networks and home providers also block "
                "outbound port 25, which direct delivery needs; if messages stay deferred, "
                "use your provider's server instead."
            )
        )
        self.direct_warning.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        self.direct_warning.setMinimumWidth(420)  # see security_warning below
        self.direct_warning.setSizePolicy(
            QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred
        )
        self.host_edit = QLineEdit()
        self.host_edit.setPlaceholderText(self.tr("e.g. smtp.example.org"))
        self.port_spin = QSpinBox()
        self.port_spin.setRange(1, 65535)
        self.port_spin.valueChanged.connect(self._port_edited)
        self.security_combo = QComboBox()
        for key, text in zip(
            SECURITY_CHOICES,
            (
                self.tr("STARTTLS (port 587)"),
                self.tr("SSL/TLS (port 465)"),
                self.tr("None — unencrypted"),
            ),
            strict=True,
        ):
            self.security_combo.addItem(text, key)
        self.security_combo.currentIndexChanged.connect(self._security_changed)
        self.security_warning = _styled(QLabel(), AMBER)
        self.security_warning.setWordWrap(True)
        self.security_warning.setTextFormat(Qt.TextFormat.RichText)  # our own text only
        self.security_warning.linkActivated.connect(self._clear_username)
        self.security_warning.setSizePolicy(
            QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred
        )
        self.security_warning.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        # A floor for the width keeps QFormLayout from reserving the height of a
        # very narrow wrap (blank space around the text).
        self.security_warning.setMinimumWidth(360)
        self.username_edit = QLineEdit()
        self.username_edit.textChanged.connect(self._update_security_ui)
        self.password_edit = QLineEdit()
        self.password_edit.setEchoMode(QLineEdit.EchoMode.Password)
        self.ca_edit = QLineEdit()
        self.ca_edit.setPlaceholderText(self.tr("optional: PEM file of a private CA"))
        self.ca_browse = QPushButton(self.tr("&Browse…"))
        self.ca_browse.setAutoDefault(False)
        self.ca_browse.clicked.connect(self._browse_ca)
        ca_row = self._ca_row = QHBoxLayout()
        ca_row.addWidget(self.ca_edit, 1)
        ca_row.addWidget(self.ca_browse)

        self.limit_spins: list[QSpinBox] = []
        limits_row = QHBoxLayout()
        limits_tip = self.tr(
            "The most messages this account may send per minute, hour and day, as your "
            "provider allows; the rest wait in the outbox. 0 means no limit."
        )
        for unit in (self.tr("per minute"), self.tr("per hour"), self.tr("per day")):
            spin = QSpinBox()
            spin.setRange(0, 1_000_000)
            spin.setSpecialValueText(self.tr("no limit"))
            spin.setAccessibleName(self.tr("Messages {0}").format(unit))
            spin.setMinimumWidth(84)
            spin.setToolTip(limits_tip)
            self.limit_spins.append(spin)
            limits_row.addWidget(spin)
            limits_row.addWidget(QLabel(unit))
            limits_row.addSpacing(6)
        limits_row.addStretch(1)
        self.timeout_spin = QSpinBox()
        self.timeout_spin.setRange(1, 600)
        self.timeout_spin.setSuffix(self.tr(" seconds"))
        self.timeout_spin.setToolTip(
            self.tr("How long to wait for the server at each step before giving up.")
        )

        def section(text: str) -> None:
            label = QLabel(text)
            label.setStyleSheet("font-weight: 600; margin-top: 6px;")
            form.addRow(label)

        section(self.tr("Sender"))  # "Identity" is the other tab's word
        form.addRow(self.tr("Account &name:"), self.name_edit)
        form.addRow(self.tr("&Your name:"), self.display_name_edit)
        form.addRow(self.tr("&Email address:"), self.email_edit)
        section(self.tr("Outgoing server (SMTP)"))
        form.addRow(self.tr("Send t&hrough:"), self.delivery_combo)
        form.addRow("", self.direct_warning)
        form.addRow(self.tr("Ser&ver:"), self.host_edit)
        form.addRow(self.tr("Se&curity:"), self.security_combo)
        form.addRow("", self.security_warning)
        form.addRow(self.tr("P&ort:"), self.port_spin)
        form.addRow(self.tr("&User name:"), self.username_edit)
        form.addRow(self.tr("&Password:"), self.password_edit)
        form.addRow(self.tr("CA f&ile:"), ca_row)
        section(self.tr("Sending"))
        form.addRow(self.tr("&Limits:"), limits_row)
        form.addRow(self.tr("Ti&meout:"), self.timeout_spin)
        buddies = {
            self.ca_edit: ca_row,
            self.limit_spins[0]: limits_row,
        }
        for buddy, field in buddies.items():
            label = form.labelForField(field)
            if isinstance(label, QLabel):
                label.setBuddy(buddy)
        right.addLayout(form)

        self.message = _plain_label()  # under the tabs: seen from both
        self.message.setObjectName("formMessage")
        self.message.hide()

        actions = QHBoxLayout()
        self.test_button = QPushButton(self.tr("&Test connection"))
        self.test_button.setAutoDefault(False)
        self.test_button.clicked.connect(self.test_connection)
        self.busy = QProgressBar()
        self.busy.setRange(0, 0)
        self.busy.setTextVisible(False)
        self.busy.setMaximumWidth(80)
        self.busy.setMaximumHeight(12)
        self.busy_label = QLabel(self.tr("Testing…"))
        self.cancel_test_button = QPushButton(self.tr("Cancel tes&t"))
        self.cancel_test_button.setAutoDefault(False)
        self.cancel_test_button.clicked.connect(self._tester.cancel)
        for widget in (self.busy, self.busy_label, self.cancel_test_button):
            widget.hide()
        self.find_button = QPushButton(self.tr("&Find settings"))
        self.find_button.setAutoDefault(False)
        self.find_button.setToolTip(
            self.tr("Look up the server for the email address (DNS, autoconfig, known providers).")
        )
        self.find_button.clicked.connect(self.find_settings)
        self.email_edit.editingFinished.connect(self._email_entered)
        actions.addWidget(self.find_button)
        actions.addWidget(self.test_button)
        actions.addWidget(self.busy_label)
        actions.addWidget(self.busy)
        actions.addWidget(self.cancel_test_button)
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
        def scrolled(layout_or_widget: QVBoxLayout | QWidget) -> QScrollArea:
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
            scroll.setMinimumWidth(
                content.minimumWidth() + scroll.verticalScrollBar().sizeHint().width()
            )
            return scroll

        self._scroll = scrolled(right)
        self.identities_page = IdentitiesPage()
        self.identities_page.changed.connect(self._clear_message_if_error)
        self.pages = QTabWidget()
        self.pages.setDocumentMode(True)
        self.pages.addTab(self._scroll, self.tr("Account"))
        self._identities_scroll = scrolled(self.identities_page)
        self.pages.addTab(self._identities_scroll, self.tr("Identities"))
        for edit in (self.display_name_edit, self.email_edit):
            edit.textChanged.connect(self._own_identity_changed)
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
            self.username_edit,
            self.password_edit,
            self.ca_edit,
            self.ca_browse,
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
            self.save_button,
            self.close_button,
        ]
        for first, second in itertools.pairwise(order):
            QWidget.setTabOrder(first, second)

        self.save_button.setShortcut(QKeySequence.StandardKey.Save)  # Ctrl+S as well
        for edit in (self.host_edit, self.username_edit, self.password_edit, self.ca_edit):
            edit.textChanged.connect(self._connection_settings_changed)
        self.port_spin.valueChanged.connect(self._connection_settings_changed)
        self.security_combo.currentIndexChanged.connect(self._connection_settings_changed)
        self._update_keyring_warning()

    # --- list ------------------------------------------------------------------------

    def _reload(self, select: str | None) -> None:
        """Re-read the store (the CLI may have changed it) and select ``select``."""
        store = self._ctx.accounts
        problem = ""
        try:
            accounts = store.all()
            default = store.default_name()
        except MailguiError as exc:
            accounts, default = [], None
            problem = gui_wording(exc.message)
        self.list.blockSignals(True)
        self.list.clear()
        chosen: QListWidgetItem | None = None
        for account in accounts:
            is_default = account.name == default
            text = account.name
            if is_default:
                text = self.tr("{0} (default)").format(account.name)
            item = QListWidgetItem(text)
            item.setData(_NAME_ROLE, account.name)
            item.setData(_EMAIL_ROLE, account.email)
            item.setToolTip(f"{account.email} — {account.server}")
            if is_default:
                font = item.font()
                font.setBold(True)
                item.setFont(font)
            self.list.addItem(item)
            if account.name == select:
                chosen = item
        self.list.blockSignals(False)
        self._default_name = default
        if chosen is None and select is None and self.list.count():
            chosen = self.list.item(0)
        if chosen is not None:
            self.list.blockSignals(True)
            self.list.setCurrentItem(chosen)
            self.list.blockSignals(False)
            self._load(self._find(accounts, chosen.data(_NAME_ROLE)))
        else:
            self._load(None)
        if problem:
            self._show_message(problem, error=True)

    @staticmethod
    def _find(accounts: list[Account], name: str) -> Account | None:
        return next((a for a in accounts if a.name == name), None)

    @Slot(QListWidgetItem, QListWidgetItem)
    def _selection_changed(
        self, current: QListWidgetItem | None, previous: QListWidgetItem | None
    ) -> None:
        if current is None:
            return
        if not self._may_discard():
            self.list.blockSignals(True)
            if previous is not None:
                self.list.setCurrentItem(previous)
            else:
                self.list.setCurrentRow(-1)
            self.list.blockSignals(False)
            return
        name = current.data(_NAME_ROLE)
        try:
            account = self._ctx.accounts.get(name)
        except MailguiError as exc:
            self._show_message(gui_wording(exc.message), error=True)
            return
        self._load(account)

    def _may_discard(self) -> bool:
        """True when there are no unsaved changes or the person lets them go."""
        if not self.is_dirty():
            return True
        answer = QMessageBox.question(
            self,
            self.tr("Unsaved changes"),
            self.tr("Discard the changes to this account?"),
            QMessageBox.StandardButton.Discard | QMessageBox.StandardButton.Cancel,
            QMessageBox.StandardButton.Cancel,
        )
        return answer == QMessageBox.StandardButton.Discard

    @Slot()
    def add_account(self) -> None:
        if not self._may_discard():
            return
        self.list.blockSignals(True)
        self.list.setCurrentRow(-1)
        self.list.clearSelection()
        self.list.blockSignals(False)
        self._load(None)
        self.name_edit.setFocus()

    @Slot()
    def remove_account(self) -> None:
        account = self._current
        if account is None:
            return
        answer = QMessageBox.question(
            self,
            self.tr("Remove account"),
            self.tr(
                "Remove the account “{0}”? Its settings and its stored password are "
                "deleted. Messages already in the outbox are not deleted."
            ).format(account.name),
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
            QMessageBox.StandardButton.No,
        )
        if answer != QMessageBox.StandardButton.Yes:
            return
        try:
            self._ctx.accounts.remove(account.name)
        except MailguiError as exc:
            self._show_message(gui_wording(exc.message), error=True)
            return
        passwords.forget(account.name)
        self._ctx.forget_session_password(account.name)
        self._current = None
        self._loaded = ()
        self._reload(select=None)
        self._show_message(self.tr("The account “{0}” was removed.").format(account.name))
        self.accountsChanged.emit()

    @Slot()
    def set_default(self) -> None:
        account = self._current
        if account is None:
            return
        try:
            store = self._ctx.accounts
            store.save(store.get(account.name), make_default=True)
        except MailguiError as exc:
            self._show_message(gui_wording(exc.message), error=True)
            return
        dirty = self.is_dirty()
        if not dirty:
            self._reload(select=account.name)
        else:  # keep the person's unsaved edits in the form
            self._refresh_list_only(account.name)
        self._show_message(self.tr("“{0}” is now the default account.").format(account.name))
        self.accountsChanged.emit()

    def _refresh_list_only(self, select: str) -> None:
        form_state = self._snapshot()
        loaded, current = self._loaded, self._current
        password = self.password_edit.text()
        self._loading = True
        try:
            self._reload(select=select)
            self._apply_snapshot(form_state)
            self.password_edit.setText(password)
        finally:
            self._loading = False
        self._loaded, self._current = loaded, current
        self._update_buttons()

    # --- the form ----------------------------------------------------------------------

    def _load(self, account: Account | None) -> None:
        """Show ``account`` in the form (None: a blank new account)."""
        self._current = account
        shown = account or Account(name="", email="")
        self._loading = True
        try:
            self.name_edit.setText(shown.name)
            self.display_name_edit.setText(shown.display_name)
            self.email_edit.setText(shown.email)
            self.delivery_combo.setCurrentIndex(
                self.delivery_combo.findData("direct" if shown.direct else "relay")
            )
            self.host_edit.setText(shown.host)
            self.security_combo.setCurrentIndex(
                max(self.security_combo.findData(shown.security), 0)
            )
            self.port_spin.setValue(shown.port)
            self.username_edit.setText(shown.username)
            self.password_edit.clear()
            self.ca_edit.setText(shown.ca_file)
            for spin, value in zip(
                self.limit_spins,
                (shown.limits.per_minute, shown.limits.per_hour, shown.limits.per_day),
                strict=True,
            ):
                spin.setValue(value)
            self.timeout_spin.setValue(max(1, round(shown.timeout)))
            self.identities_page.load(shown)
        finally:
            self._loading = False
        self._port_follows = shown.port == DEFAULT_PORTS.get(shown.security)
        if account is None:
            self.title.setText(self.tr("New account"))
        else:
            self.title.setText(self.tr("Account “{0}”").format(account.name))
        self._update_password_placeholder()
        self._update_security_ui()
        self._loaded = self._snapshot()
        self.result_panel.hide()
        self._clear_message()
        self._update_buttons()

    def _snapshot(self) -> tuple[Any, ...]:
        return (
            self.name_edit.text(),
            self.display_name_edit.text(),
            self.email_edit.text(),
            self.host_edit.text(),
            self.security_combo.currentData(),
            self.port_spin.value(),
            self.username_edit.text(),
            self.ca_edit.text(),
            *(spin.value() for spin in self.limit_spins),
            self.timeout_spin.value(),
            self.delivery_combo.currentData(),
            *self.identities_page.values(),
        )

    def _apply_snapshot(self, values: tuple[Any, ...]) -> None:
        name, display, email, host, security, port, user, ca, *rest = values
        self.delivery_combo.setCurrentIndex(self.delivery_combo.findData(rest[4]))
        self.identities_page.set_values(*rest[5:8])
        self.name_edit.setText(name)
        self.display_name_edit.setText(display)
        self.email_edit.setText(email)
        self.host_edit.setText(host)
        self.security_combo.setCurrentIndex(max(self.security_combo.findData(security), 0))
        self.port_spin.setValue(port)
        self.username_edit.setText(user)
        self.ca_edit.setText(ca)
        for spin, value in zip(self.limit_spins, rest[:3], strict=True):
            spin.setValue(value)
        self.timeout_spin.setValue(rest[3])

    def is_dirty(self) -> bool:
        """Unsaved edits in the form (a typed password counts)."""
        return self._snapshot() != self._loaded or bool(self.password_edit.text())

    def _security(self) -> str:
        return str(self.security_combo.currentData())

    def is_direct(self) -> bool:
        return bool(self.delivery_combo.currentData() == "direct")

    @Slot(int)
    def _delivery_changed(self, _index: int) -> None:
        self._update_security_ui()
        self._connection_settings_changed()

    @Slot()
    def _own_identity_changed(self) -> None:
        self.identities_page.set_own(self.display_name_edit.text(), self.email_edit.text())

    @Slot()
    def _clear_message_if_error(self) -> None:
        if self.message.isVisibleTo(self) and self.message.text().startswith("✘ "):
            self._clear_message()

    @Slot(int)
    def _port_edited(self, value: int) -> None:
        if not self._loading:
            # Typing the standard port again lets it follow the security choice again.
            self._port_follows = value == DEFAULT_PORTS.get(self._security())

    @Slot(int)
    def _security_changed(self, _index: int) -> None:
        if not self._loading and self._port_follows:
            self._loading = True
            try:
                self.port_spin.setValue(DEFAULT_PORTS[self._security()])
            finally:
                self._loading = False
        self._update_security_ui()

    @Slot()
    def _update_security_ui(self) -> None:
        self._update_keyring_warning()
        direct = self.is_direct()
        # Direct delivery has no server of its own: no server fields, nothing to test.
        self.form.setRowVisible(self.direct_warning, direct)
        for field in (self.host_edit, self.security_combo, self.port_spin, self.username_edit):
            self.form.setRowVisible(field, not direct)
        self.form.setRowVisible(self.password_edit, not direct)
        self.form.setRowVisible(self._ca_row, not direct)
        self.test_button.setVisible(not direct)
        if direct:
            self.form.setRowVisible(self.security_warning, False)
            return
        unencrypted = self._security() == "none"
        self.username_edit.setEnabled(not unencrypted)
        self.password_edit.setEnabled(not unencrypted)
        if unencrypted:
            text = self.tr(
                "⚠ Unencrypted: anyone on the network path can read your mail, and mailgui "
                "never sends a user name or password this way. Use it only for a relay on "
                "your own network that needs no login."
            )
            if self.username_edit.text():
                text += " " + self.tr('<a href="clear">Remove the user name</a>')
            self.security_warning.setText(text)
        self.form.setRowVisible(self.security_warning, unencrypted)

    @Slot()
    def _connection_settings_changed(self) -> None:
        if not self._loading and not self._tester.is_running():
            self.result_panel.mark_stale()

    @Slot(str)
    def _clear_username(self, _link: str) -> None:
        self.username_edit.clear()
        self.password_edit.clear()

    def _update_password_placeholder(self) -> None:
        source = self._password_source(self._current.name) if self._current else None
        if source == "keyring":
            text = self.tr("stored in the keyring — type to replace")
        elif source == "session":
            text = self.tr("kept in memory until mailgui quits — type to replace")
        elif self._current is not None and self._current.username:
            text = self.tr("not stored — type it here")
        else:
            text = ""
        self.password_edit.setPlaceholderText(text)

    def _password_source(self, name: str) -> str | None:
        """Where this account's password is: "keyring", "session" or None. Never the text."""
        try:
            if passwords.load(name) is not None:
                return "keyring"
        except KeyringUnavailableError:
            pass
        try:
            return "session" if self._ctx.password(name) is not None else None
        except KeyringUnavailableError:
            return None

    def _update_keyring_warning(self) -> None:
        """Said only where it is true: for an account that logs in with a password."""
        if self._store_kind is None:
            self._store_kind = passwords.store_kind()
        if self._store_kind == "none":
            text = self.tr(
                "⚠ No password store (keyring) is available: a password can only be kept in "
                "memory until mailgui quits."
            )
        elif self._store_kind == "plaintext":
            text = self.tr(
                "⚠ Passwords are stored in a plain text file (keyrings.alt), not an encrypted "
                "keyring: anyone who can read your files can read them."
            )
        else:
            text = ""
        self.keyring_warning.setText(text)
        uses_password = not self.is_direct() and bool(self.username_edit.text().strip())
        self.keyring_warning.setVisible(bool(text) and uses_password)

    def _update_buttons(self) -> None:
        current = self._current
        self.remove_button.setEnabled(current is not None)
        self.default_button.setEnabled(current is not None and current.name != self._default_name)

    @Slot()
    def _browse_ca(self) -> None:
        start = self.ca_edit.text() or str(Path.home())
        path, _filter = QFileDialog.getOpenFileName(
            self,
            self.tr("Choose the CA certificate"),
            start,
            self.tr("PEM certificates (*.pem *.crt *.cer);;All files (*)"),
        )
        if path:
            self.ca_edit.setText(path)

    def _show_message(self, text: str, *, error: bool = False) -> None:
        """The one place form errors appear: a line under the form, no pop-ups."""
        self.message.setText(("✘ " if error else "✔ ") + text)
        _styled(self.message, RED if error else GREEN)
        self.message.setVisible(bool(text))

    def _clear_message(self) -> None:
        self.message.clear()
        self.message.hide()

    def _account_from_form(self, *, for_test: bool = False) -> Account:
        """The form as a validated Account; raises MailguiError with one sentence."""
        name = self.name_edit.text().strip()
        if for_test and not name:
            name = "test"
        display_name = check_text("name", self.display_name_edit.text().strip())
        mailbox = parse_mailbox(self.email_edit.text(), what="email address")
        if mailbox.name:
            raise InputError(
                self.tr(
                    "Put only the address in “Email address” (like name@example.org); "
                    "your name goes in “Your name”."
                )
            )
        direct = self.is_direct()
        host = "" if direct else check_text("server name", self.host_edit.text().strip())
        if any(ch.isspace() for ch in host) or "/" in host:
            raise InputError(
                self.tr(
                    "The server name {0!r} is not valid; write only the host name, "
                    "like smtp.example.org."
                ).format(host)
            )
        username = "" if direct else check_text("user name", self.username_edit.text().strip())
        ca_file = "" if direct else self.ca_edit.text().strip()
        if not for_test:
            problem = self.identities_page.first_problem()
            if problem is not None:
                widget, text = problem
                self.pages.setCurrentWidget(self._identities_scroll)
                widget.setFocus()
                raise InputError(text)
        reply_to, signature, identities = self.identities_page.values()
        base = self._current or Account(name=name, email=mailbox.addr)
        account = base._replace(
            name=name,
            email=mailbox.addr,
            display_name=display_name,
            host=host,
            port=self.port_spin.value(),
            security=self._security(),
            username=username,
            ca_file=str(Path(ca_file).expanduser()) if ca_file else "",
            timeout=float(self.timeout_spin.value()),
            limits=RateLimits(*(spin.value() for spin in self.limit_spins)),
            direct=direct,
            reply_to=reply_to,
            signature=signature,
            identities=identities,
        )
        if direct:  # what the command line writes for a direct account
            account = account._replace(port=DEFAULT_PORTS["starttls"], security="starttls")
        return account.validate()

    # --- saving --------------------------------------------------------------------------

    @Slot()
    def save(self) -> bool:
        """Validate and save the form; True when saved. Errors show under the form."""
        self._clear_message()
        try:
            account = self._account_from_form()
        except MailguiError as exc:
            self._show_message(gui_wording(exc.message), error=True)
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
            self._show_message(gui_wording(exc.message), error=True)
            return False

        note = self._store_typed_password(account)
        self._reload(select=account.name)
        self._show_message(note or self.tr("Saved."))
        self.accountsChanged.emit()
        return True

    def _store_typed_password(self, account: Account) -> str:
        """Keyring, or memory if the person agrees; returns a note for the form, or ""."""
        password = self.password_edit.text()
        self.password_edit.clear()
        if not password or not account.username:
            return ""
        if self._ctx.store_password(account.name, password):
            return ""
        answer = QMessageBox.question(
            self,
            self.tr("No password store"),
            self.tr(
                "No password store (keyring) is available, so mailgui cannot save the "
                "password. Keep it in memory until mailgui quits?"
            ),
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
            QMessageBox.StandardButton.Yes,
        )
        if answer == QMessageBox.StandardButton.Yes:
            self._ctx.keep_password_for_session(account.name, password)
            return self.tr("Saved; the password is kept in memory until mailgui quits.")
        return self.tr(
            "Saved without the password: sending will fail until you type it again and save."
        )

    def _move_password(self, old: str, new: str) -> None:
        """A renamed account keeps its password (unless a new one was typed)."""
        if self.password_edit.text():
            passwords.forget(old)
            return
        try:
            password = self._ctx.password(old)
        except KeyringUnavailableError:
            password = None
        if password is not None and not self._ctx.store_password(new, password):
            self._ctx.keep_password_for_session(new, password)
        passwords.forget(old)

    # --- testing -------------------------------------------------------------------------

    @Slot()
    def test_connection(self) -> None:
        """Test the form's current (unsaved) values in the background."""
        self._clear_message()
        if self.is_direct():
            self._show_message(
                self.tr(
                    "A direct account has no server of its own to test; each message goes to "
                    "its recipients' servers on port 25."
                )
            )
            return
        try:
            account = self._account_from_form(for_test=True)
        except MailguiError as exc:
            self._show_message(gui_wording(exc.message), error=True)
            return
        typed = self.password_edit.text() if account.security != "none" else ""
        lookup = None
        saved = self._current
        if not typed and saved is not None and account.username:
            ctx, name = self._ctx, saved.name

            def lookup() -> str | None:  # runs in the tester thread: keyrings can block
                return ctx.password(name)

        self._set_testing(True)
        self.result_panel.show_busy(account.server)
        self._tester.start(account, typed or None, lookup)

    def _set_testing(self, running: bool) -> None:
        self.test_button.setEnabled(not running)
        for widget in (self.busy, self.busy_label, self.cancel_test_button):
            widget.setVisible(running)
        if running:
            self.cancel_test_button.setFocus()
        elif self.cancel_test_button.hasFocus() or self.focusWidget() is None:
            self.test_button.setFocus()

    @Slot(dict)
    def _test_finished(self, result: dict[str, Any]) -> None:
        self._set_testing(False)
        self.result_panel.show_result(result)
        # After the layout has made room for it, bring the whole panel into view.
        QTimer.singleShot(0, self, self._reveal_result)
        self.last_test_result = result

    @Slot()
    def _reveal_result(self) -> None:
        self._scroll.ensureWidgetVisible(self.result_panel, 0, 0)

    def is_testing(self) -> bool:
        return self._tester.is_running()

    # --- finding settings ----------------------------------------------------------------

    @Slot()
    def _email_entered(self) -> None:
        """A new account's address, with no server yet: look its settings up."""
        typed = self.email_edit.text()
        if (
            self._current is None
            and not self.is_direct()
            and not self.host_edit.text().strip()
            and "@" in typed
        ):
            self.find_settings()

    @Slot()
    def find_settings(self) -> None:
        """Discover the server for the typed address in the background."""
        address = self.email_edit.text().strip()
        if "@" not in address:
            self._show_message(self.tr("Type the email address first."), error=True)
            return
        if self._finder.is_running():
            return
        self.find_button.setEnabled(False)
        self._show_message(self.tr("Looking for the settings of {0}…").format(address))
        self._finder.start(address)

    @Slot(dict)
    def _settings_found(self, result: dict[str, Any]) -> None:
        self.find_button.setEnabled(True)
        self.last_discovery = result
        if result.get("error"):
            self._show_message(gui_wording(str(result["error"])), error=True)
            return
        best = result.get("suggested")
        steps = [str(step["text"]) for step in result.get("steps", [])]
        if not best:
            error = self.tr("No server was found; ask your provider for the SMTP settings.")
            self.result_panel.show_result(
                {"ok": False, "lines": steps, "error": error, "cancelled": False}
            )
            self._clear_message()
            return
        self.delivery_combo.setCurrentIndex(self.delivery_combo.findData("relay"))
        index = self.security_combo.findData(best["security"])
        if index >= 0:
            self.security_combo.setCurrentIndex(index)
        self.host_edit.setText(best["host"])
        self.port_spin.setValue(int(best["port"]))
        if not self.username_edit.text() and best["security"] != "none":
            self.username_edit.setText(self.email_edit.text().strip())
        note = self.tr("Filled in {0}:{1} (found by {2}).").format(
            best["host"], best["port"], best["source"]
        )
        if best.get("probed") and not best.get("probe_ok"):
            note += " " + self.tr("It could not be reached from here just now.")
        self._show_message(note)

    # --- closing -------------------------------------------------------------------------

    def reject(self) -> None:
        if not self._may_discard():
            return
        self._tester.cancel()
        super().reject()

    def done(self, result: int) -> None:
        self._tester.cancel()
        self._finder.cancel()
        super().done(result)
