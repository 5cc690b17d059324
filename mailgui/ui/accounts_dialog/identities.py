"""The "Identities" tab: the account's own Reply-To and signature, and more identities
(other names or addresses sending through the same account), each field checked as
it is typed."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtGui import QFontMetrics
from PySide6.QtWidgets import (
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QLineEdit,
    QListWidget,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from mailgui.core.accounts import Account, Identity
from mailgui.core.addresses import check_text, parse_mailbox, parse_mailbox_list
from mailgui.core.errors import MailguiError
from mailgui.ui.accounts_dialog.widgets import (
    GREY,
    CheckedLine,
    form_layout,
    heading,
    plain_label,
    signature_edit,
    styled,
    tidy_signature,
)
from mailgui.ui.error_words import error_text

__all__ = ["IdentitiesPage"]


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

        def form() -> QFormLayout:
            return form_layout(Qt.AlignmentFlag.AlignTop)

        layout = QVBoxLayout(self)
        layout.addWidget(heading(self.tr("Your identity")))
        self.own_label = styled(plain_label(), GREY)
        layout.addWidget(self.own_label)
        own = form()
        self.reply_to_edit = QLineEdit()
        self.reply_to_edit.setPlaceholderText(
            self.tr("optional: where replies should go, if not to you")
        )
        self.reply_to = CheckedLine(self.reply_to_edit, self._check_reply_to)
        self.signature_edit = signature_edit(
            self.tr("optional: added below your messages (after a “-- ” line)")
        )
        own.addRow(self.tr("Re&ply-To:"), self.reply_to_edit)
        own.addRow("", self.reply_to.error)
        own.addRow(self.tr("Si&gnature:"), self.signature_edit)
        layout.addLayout(own)

        layout.addWidget(heading(self.tr("More identities")))
        layout.addWidget(
            styled(
                plain_label(
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
        self.name = CheckedLine(self.name_edit, self._check_name)
        self.email_edit = QLineEdit()
        self.email_edit.setPlaceholderText(self.tr("e.g. support@example.org"))
        self.email = CheckedLine(self.email_edit, self._check_email)
        self.id_reply_to_edit = QLineEdit()
        self.id_reply_to_edit.setPlaceholderText(self.tr("optional"))
        self.id_reply_to = CheckedLine(self.id_reply_to_edit, self._check_reply_to)
        self.id_signature_edit = signature_edit(self.tr("optional"))
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
            tidy_signature(self.signature_edit.toPlainText()),
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
            return error_text(exc)
        return ""

    def _check_name(self, text: str) -> str:
        try:
            check_text("name", text.strip())
        except MailguiError as exc:
            return error_text(exc)
        return ""

    def _check_email(self, text: str, *, row: int | None = None) -> str:
        if not text.strip():
            return self.tr("Type the address this identity sends from, like name@example.org.")
        try:
            mailbox = parse_mailbox(text, what="address")
        except MailguiError as exc:
            return error_text(exc)
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
            signature=tidy_signature(self.id_signature_edit.toPlainText()),
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
