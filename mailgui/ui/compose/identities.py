"""From: every identity of every account. Choosing one swaps its signature in the body
(``signature``) and the Reply-To it brings, and redoes the recipient checks for the
new account."""

from __future__ import annotations

from PySide6.QtCore import Qt, Slot
from PySide6.QtGui import QTextCursor

from mailgui.core.accounts import Account, Identity
from mailgui.core.addresses import Mailbox
from mailgui.core.errors import InputError, MailguiError
from mailgui.ui.compose.base import ComposeBase
from mailgui.ui.signature import swap_signature

__all__ = ["IDENTITY_ROLE", "IdentitiesMixin"]

IDENTITY_ROLE = Qt.ItemDataRole.UserRole + 1  # From items: index in all_identities()


class IdentitiesMixin(ComposeBase):
    """The window's From list and what an identity brings along."""

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

    def _sender_mailbox(self) -> Mailbox | None:
        """From as a mailbox, or None after saying what is wrong."""
        identity = self.current_identity()
        if identity is None:
            self._show_error(self.tr("Choose an account to send from (From)."))
            return None
        try:
            return Mailbox(identity.name, identity.email)
        except InputError as exc:
            self._show_error(str(exc))
            return None
