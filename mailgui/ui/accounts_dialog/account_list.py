"""The list of accounts (left of the dialog) and what is done to an account as a
whole: add, remove (settings and password), make it the default."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QSize, Qt, Slot
from PySide6.QtGui import QColor, QFont, QFontMetrics, QPainter, QPalette
from PySide6.QtWidgets import (
    QApplication,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMessageBox,
    QPushButton,
    QSizePolicy,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QVBoxLayout,
)

from mailgui.core.accounts import Account
from mailgui.core.errors import MailguiError
from mailgui.ui.accounts_dialog.base import DialogBase
from mailgui.ui.error_words import error_text

__all__ = ["EMAIL_ROLE", "NAME_ROLE", "AccountDelegate", "AccountListMixin"]

NAME_ROLE = Qt.ItemDataRole.UserRole
EMAIL_ROLE = Qt.ItemDataRole.UserRole + 1


class AccountDelegate(QStyledItemDelegate):
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
        email = str(index.data(EMAIL_ROLE) or "")
        painter.drawText(
            rect.x(),
            rect.y() + first.height() + 2 + second.ascent(),
            second.elidedText(email, elide, rect.width()),
        )
        painter.restore()

    def sizeHint(self, option: QStyleOptionViewItem, index: Any) -> QSize:
        height = QFontMetrics(option.font).height() * 2 + 2 + 2 * self.PAD
        return QSize(180, height)


class AccountListMixin(DialogBase):
    """The dialog's account list."""

    def _build_account_list(self) -> QVBoxLayout:
        """The left column: the accounts and what can be done to them as a whole."""
        left = QVBoxLayout()
        heading = QLabel(self.tr("Accounts"))
        heading.setStyleSheet("font-weight: 600;")
        left.addWidget(heading)
        self.list = QListWidget()
        self.list.setMinimumWidth(200)
        self.list.setItemDelegate(AccountDelegate(self.list))
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
        return left

    def _reload(self, select: str | None) -> None:
        """Re-read the store (the CLI may have changed it) and select ``select``."""
        store = self._ctx.accounts
        problem = ""
        try:
            accounts = store.all()
            default = store.default_name()
        except MailguiError as exc:
            accounts, default = [], None
            problem = error_text(exc)
        self.list.blockSignals(True)
        self.list.clear()
        chosen: QListWidgetItem | None = None
        for account in accounts:
            is_default = account.name == default
            text = account.name
            if is_default:
                text = self.tr("{0} (default)").format(account.name)
            item = QListWidgetItem(text)
            item.setData(NAME_ROLE, account.name)
            item.setData(EMAIL_ROLE, account.email)
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
            self._load(self._find(accounts, chosen.data(NAME_ROLE)))
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
        name = current.data(NAME_ROLE)
        try:
            account = self._ctx.accounts.get(name)
        except MailguiError as exc:
            self._show_message(error_text(exc), error=True)
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
            self._show_message(error_text(exc), error=True)
            return
        # accountsChanged once the keyring has forgotten the password too.
        self._forget_password(account.name, then=self.accountsChanged.emit)
        self._current = None
        self._loaded = ()
        self._reload(select=None)
        self._show_message(self.tr("The account “{0}” was removed.").format(account.name))

    @Slot()
    def set_default(self) -> None:
        account = self._current
        if account is None:
            return
        try:
            store = self._ctx.accounts
            store.save(store.get(account.name), make_default=True)
        except MailguiError as exc:
            self._show_message(error_text(exc), error=True)
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

    def _update_buttons(self) -> None:
        current = self._current
        self.remove_button.setEnabled(current is not None)
        self.default_button.setEnabled(current is not None and current.name != self._default_name)
