"""The address rows: built, checked as the person leaves a field (the problem shown
under it, in the parser's words), and their recipient domains checked in the
background (``recipient_warnings``); the Bcc and Reply-To rows show on demand."""

from __future__ import annotations

import re

from PySide6.QtCore import Qt, QUrl, Slot
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import QGridLayout, QHBoxLayout, QLabel, QLineEdit, QToolButton, QVBoxLayout

from mailgui.core.errors import InputError
from mailgui.core.recipient_checks import domains_of
from mailgui.ui.compose.address_fields import AddressCompleter, AddressField
from mailgui.ui.compose.bars import ERROR_COLOR, WARNING_COLOR
from mailgui.ui.compose.base import ComposeBase
from mailgui.ui.recipient_warnings import FIX_SCHEME, describe

__all__ = ["RecipientsMixin", "replace_domain"]


def replace_domain(text: str, wrong: str, right: str) -> str:
    """``text`` with every address at ``@wrong`` moved to ``@right`` (case-insensitive)."""
    return re.sub(rf"@{re.escape(wrong)}(?=$|[\s>,;])", "@" + right, text, flags=re.IGNORECASE)


class RecipientsMixin(ComposeBase):
    """The window's address rows (To, Cc, Bcc, Reply-To)."""

    def _build_address_rows(self, grid: QGridLayout, row: int) -> int:
        """Add the rows to ``grid`` from ``row`` on; the next free row."""
        example = self.tr("name@example.org, Other Name <other@example.org>")
        self.fields = {}
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
            field = AddressField(key, what, label, edit, error, warning)
            warning.linkActivated.connect(lambda link, f=field: self._on_warning_link(f, link))
            self.fields[key] = field
            edit.editingFinished.connect(lambda f=field: self._check_field(f))
            edit.textChanged.connect(lambda _t, f=field: self._on_address_edited(f))
        self.reply_to_field = self.fields.pop("reply_to")  # not a recipient
        self.reply_to_edit = self.reply_to_field.edit
        self.reply_to_edit.setPlaceholderText(self.tr("where replies should go, if not to From"))
        self.to_edit = self.fields["to"].edit
        self.cc_edit = self.fields["cc"].edit
        self.bcc_edit = self.fields["bcc"].edit
        self.completion = AddressCompleter(self._ctx.profile.data_dir / "addresses.json", self)
        self.completion.watch([*self.fields.values(), self.reply_to_field])
        self._set_bcc_visible(False)
        self._set_reply_to_visible(False)
        return row

    # --- checking the addresses -------------------------------------------------------

    def _check_field(self, field: AddressField) -> bool:
        try:
            field.parse()
        except InputError as exc:
            self._set_field_error(field, str(exc))
            self._show_domain_findings(field)
            return False
        self._set_field_error(field, "")
        self._check_domains(field)
        return True

    def _on_address_edited(self, field: AddressField) -> None:
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

    def _set_field_error(self, field: AddressField, text: str) -> None:
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

    # --- recipient domains --------------------------------------------------------------

    def _checks_enabled(self) -> bool:
        account = self._account()
        return account is not None and account.check_recipients

    def _check_domains(self, field: AddressField) -> None:
        """Start background checks of the field's domains (parsed addresses only)."""
        if field.key == "reply_to" or not self._checks_enabled() or field.error_text:
            self._show_domain_findings(field)
            return
        try:
            boxes = field.parse()
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

    @staticmethod
    def _field_domains(field: AddressField) -> list[str]:
        try:
            boxes = field.parse()
        except InputError:
            return []
        return domains_of(m.addr for m in boxes)

    def _show_domain_findings(self, field: AddressField) -> None:
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

    def _on_warning_link(self, field: AddressField, link: str) -> None:
        """ "Did you mean gmail.com?": clicking the domain fixes every address using it."""
        if not link.startswith(FIX_SCHEME):
            QDesktopServices.openUrl(QUrl(link))
            return
        wrong, _, right = link[len(FIX_SCHEME) :].partition(":")
        if not wrong or not right:
            return
        text = field.edit.text()
        fixed = replace_domain(text, wrong, right)
        if fixed != text:
            field.edit.setText(fixed)
            self._check_field(field)
        field.edit.setFocus()

    # --- the rows shown on demand (Bcc, Reply-To) ---------------------------------------

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
