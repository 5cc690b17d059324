"""The "Account" tab's form: who sends, and how mail leaves (a relay server, or direct
delivery, which the form says plainly is weaker); the form as values and back."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, Slot
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSizePolicy,
    QSpinBox,
)

from mailgui.core.accounts import DEFAULT_PORTS, Account, RateLimits
from mailgui.core.addresses import check_text, parse_mailbox
from mailgui.core.errors import InputError
from mailgui.ui.accounts_dialog.base import DialogBase
from mailgui.ui.accounts_dialog.widgets import AMBER, form_layout, heading, plain_label, styled

__all__ = ["DELIVERY_CHOICES", "SECURITY_CHOICES", "ServerFormMixin"]

SECURITY_CHOICES = ("starttls", "tls", "none")
DELIVERY_CHOICES = ("relay", "direct")


class ServerFormMixin(DialogBase):
    """The dialog's account form."""

    def _build_server_form(self) -> QFormLayout:
        form = form_layout()
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
        self.direct_warning = styled(plain_label(), AMBER)
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
        self.security_warning = styled(QLabel(), AMBER)
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
            form.addRow(heading(text))

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
        self._add_auth_choice_rows(form)
        form.addRow(self.tr("&User name:"), self.username_edit)
        form.addRow(self.tr("&Password:"), self.password_edit)
        self._add_oauth2_rows(form)
        form.addRow(self.tr("CA f&ile:"), ca_row)
        self._add_incoming_rows(form)
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
        return form

    # --- the form as values ---------------------------------------------------------

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
            self._load_sign_in(shown)
            self._load_incoming(shown)
            self.identities_page.load(shown)
            self.keys_page.load(shown)
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
        self._update_sign_in_status()
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
            *self._incoming_values(),
            *self.keys_page.values(),
            *self._sign_in_values(),
        )

    def _apply_snapshot(self, values: tuple[Any, ...]) -> None:
        name, display, email, host, security, port, user, ca, *rest = values
        self.delivery_combo.setCurrentIndex(self.delivery_combo.findData(rest[4]))
        self.identities_page.set_values(*rest[5:8])
        self._apply_incoming_values(tuple(rest[8:13]))
        self.keys_page.set_values(*rest[13:18])
        self._apply_sign_in_values(tuple(rest[18:]))
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
        """Unsaved edits in the form (a typed password or client secret counts)."""
        return (
            self._snapshot() != self._loaded
            or bool(self.password_edit.text())
            or bool(self.client_secret_edit.text())
        )

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
        imap = self._incoming_fields(direct=direct)
        keys: dict[str, Any] = {}
        if not for_test:  # a test needs no keys: half an S/MIME pair must not stop it
            try:
                keys = self.keys_page.fields()
            except InputError:
                self.pages.setCurrentWidget(self._keys_scroll)
                raise
        reply_to, signature, identities = self.identities_page.values()
        base = self._current or Account(name=name, email=mailbox.addr)
        sign_in = self._sign_in_fields(base)
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
            **imap,
            **keys,
            **sign_in,
        )
        if direct:  # what the command line writes for a direct account
            account = account._replace(port=DEFAULT_PORTS["starttls"], security="starttls")
        return account.validate()

    # --- reactions --------------------------------------------------------------------

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
        self._update_incoming_ui()
        direct = self.is_direct()
        # Direct delivery has no server of its own: no server fields, nothing to test.
        self.form.setRowVisible(self.direct_warning, direct)
        for field in (self.host_edit, self.security_combo, self.port_spin, self.username_edit):
            self.form.setRowVisible(field, not direct)
        self.form.setRowVisible(self._ca_row, not direct)
        self._update_sign_in_ui()  # the password row and the OAuth2 rows
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
