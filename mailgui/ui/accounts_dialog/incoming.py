"""The "Incoming server (for the Sent copy)" part of the Account tab: the IMAP server
where a copy of each sent message is filed, its Sent folder ("Automatic", "None" or one
of the server's folders), and Test / Load folders, which log in off the GUI thread
(``ui.imap_check``) with the same credentials as the outgoing server.

How the folder is stored (``Account.sent_folder``, as ``account add --sent-folder``
writes it): empty while the person has not chosen (the default: the ``\\Sent`` folder,
or none for providers that file submitted mail themselves), else ``auto``, ``none`` or
the folder's name.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import Qt, Slot
from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSizePolicy,
    QSpinBox,
)

from mailgui.core.accounts import IMAP_PORTS, IMAP_SECURITIES, Account
from mailgui.core.addresses import check_text
from mailgui.core.credentials import Login
from mailgui.core.errors import InputError, MailguiError
from mailgui.core.providers import PROVIDERS
from mailgui.ui.accounts_dialog.base import DialogBase
from mailgui.ui.accounts_dialog.widgets import (
    AMBER,
    GREEN,
    GREY,
    RED,
    heading,
    plain_label,
    styled,
)
from mailgui.ui.error_words import error_text

__all__ = ["AUTO", "NONE", "IncomingServerMixin", "filing_provider"]

AUTO = "auto"
NONE = "none"


def filing_provider(smtp_host: str) -> str | None:
    """The name of the provider behind ``smtp_host`` when it files submitted mail in
    Sent itself (Gmail, Outlook.com, Microsoft 365), else None."""
    host = smtp_host.strip().lower().rstrip(".")
    for provider in PROVIDERS:
        if provider.files_sent and any(host == server[0] for server in provider.servers):
            return provider.name
    return None


class IncomingServerMixin(DialogBase):
    """The dialog's incoming-server rows, their values and their Test."""

    # --- building ---------------------------------------------------------------------

    def _add_incoming_rows(self, form: QFormLayout) -> None:
        self._incoming_heading = heading(self.tr("Incoming server (for the Sent copy)"))
        self._incoming_intro = styled(
            plain_label(
                self.tr(
                    "After a message is sent, a copy goes to your Sent folder on this IMAP "
                    "server, so you find it on your phone and in webmail too. It logs in "
                    "like the outgoing server. Leave the server empty for no copy."
                )
            ),
            GREY,
        )
        self._incoming_intro.setMinimumWidth(420)
        self.imap_host_edit = QLineEdit()
        self.imap_host_edit.setPlaceholderText(self.tr("e.g. imap.example.org"))
        self.imap_security_combo = QComboBox()
        for key, text in zip(
            IMAP_SECURITIES,
            (self.tr("SSL/TLS (port 993)"), self.tr("STARTTLS (port 143)")),
            strict=True,
        ):
            self.imap_security_combo.addItem(text, key)
        self.imap_port_spin = QSpinBox()
        self.imap_port_spin.setRange(1, 65535)
        self.imap_port_spin.setValue(IMAP_PORTS["tls"])
        self.sent_folder_combo = QComboBox()
        self.sent_folder_combo.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon
        )
        self.sent_folder_combo.setMinimumContentsLength(28)
        self._reset_folder_items([])
        self.load_folders_button = QPushButton(self.tr("Lo&ad folders"))
        self.load_folders_button.setAutoDefault(False)
        self.load_folders_button.setToolTip(
            self.tr("Log in to the incoming server and list its folders to choose from.")
        )
        folder_row = self._folder_row = QHBoxLayout()
        folder_row.addWidget(self.sent_folder_combo, 1)
        folder_row.addWidget(self.load_folders_button)
        self.sent_note = plain_label()
        self.sent_note.setMinimumWidth(420)
        self.sent_note.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        self.sent_note.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        self.sent_note.hide()

        self.imap_test_button = QPushButton(self.tr("Test incomin&g server"))
        self.imap_test_button.setAutoDefault(False)
        self.imap_busy_label = styled(QLabel(self.tr("Logging in…")), AMBER)
        self.imap_cancel_button = QPushButton(self.tr("Cancel"))
        self.imap_cancel_button.setAutoDefault(False)
        self.imap_busy_label.hide()
        self.imap_cancel_button.hide()
        test_row = self._imap_test_row = QHBoxLayout()
        test_row.addWidget(self.imap_test_button)
        test_row.addWidget(self.imap_busy_label)
        test_row.addWidget(self.imap_cancel_button)
        test_row.addStretch(1)
        self.imap_result = plain_label()
        self.imap_result.setObjectName("imapResult")
        # A floor for the width, and the text at the top: QFormLayout reserves the
        # height of a narrower wrap than it shows.
        self.imap_result.setMinimumWidth(420)
        self.imap_result.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        self.imap_result.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        self.imap_result.hide()

        form.addRow(self._incoming_heading)
        form.addRow(self._incoming_intro)
        form.addRow(self.tr("IMAP se&rver:"), self.imap_host_edit)
        form.addRow(self.tr("Security:"), self.imap_security_combo)
        form.addRow(self.tr("Port:"), self.imap_port_spin)
        form.addRow(self.tr("Sent fol&der:"), folder_row)
        form.addRow("", self.sent_note)
        form.addRow("", test_row)
        form.addRow("", self.imap_result)
        label = form.labelForField(folder_row)
        if isinstance(label, QLabel):
            label.setBuddy(self.sent_folder_combo)

        self._imap_port_follows = True
        self._folder_follows = True  # no choice made: the default (the stored "")
        self._imap_mode = "test"
        self.imap_security_combo.currentIndexChanged.connect(self._imap_security_changed)
        self.imap_port_spin.valueChanged.connect(self._imap_port_edited)
        self.imap_host_edit.textChanged.connect(self._imap_settings_changed)
        self.imap_port_spin.valueChanged.connect(self._imap_settings_changed)
        self.imap_security_combo.currentIndexChanged.connect(self._imap_settings_changed)
        self.sent_folder_combo.activated.connect(self._folder_chosen)
        self.host_edit.textChanged.connect(self._smtp_host_changed)
        self.load_folders_button.clicked.connect(self.load_folders)
        self.imap_test_button.clicked.connect(self.test_incoming)
        self.imap_cancel_button.clicked.connect(self._imap_checker.cancel)
        self._imap_checker.finished.connect(self._imap_checked)

    # --- the folder choice -------------------------------------------------------------

    def _reset_folder_items(self, folders: list[str], sent: str | None = None) -> None:
        """ "Automatic" and "None", then the server's folders (kept choice if any)."""
        combo = self.sent_folder_combo
        current = combo.currentData() if combo.count() else None
        combo.blockSignals(True)
        try:
            combo.clear()
            auto = self.tr("Automatic (the folder the server marks as Sent)")
            if sent:
                auto = self.tr("Automatic (“{0}” on this server)").format(sent)
            combo.addItem(auto, AUTO)
            combo.addItem(self.tr("None — keep no copy"), NONE)
            if folders:
                combo.insertSeparator(combo.count())
            for name in folders:
                combo.addItem(name, name)
            if current is not None:
                self._select_folder(str(current))
        finally:
            combo.blockSignals(False)

    def _select_folder(self, choice: str) -> None:
        combo = self.sent_folder_combo
        index = combo.findData(choice)
        if index < 0:  # a stored name the list does not have (yet)
            combo.addItem(choice, choice)
            index = combo.count() - 1
        combo.setCurrentIndex(index)

    def _default_folder(self) -> str:
        return NONE if filing_provider(self.host_edit.text()) else AUTO

    def _folder_choice(self) -> str:
        data = self.sent_folder_combo.currentData()
        return str(data) if data else AUTO

    @Slot(int)
    def _folder_chosen(self, _index: int) -> None:
        self._folder_follows = False  # the person chose: stored as chosen
        self._update_sent_note()

    @Slot()
    def _smtp_host_changed(self) -> None:
        if self._folder_follows and not self._loading:
            self._select_folder(self._default_folder())
        self._update_sent_note()

    def _update_sent_note(self) -> None:
        provider = filing_provider(self.host_edit.text())
        choice = self._folder_choice()
        text, colour = "", GREY
        if provider and choice == NONE:
            text = self.tr(
                "None, because {0} puts what you send in its Sent folder itself: a copy "
                "from mailgui would appear there twice."
            ).format(provider)
        elif provider:
            text = self.tr(
                "⚠ {0} puts what you send in its Sent folder itself: with a copy from "
                "mailgui too, each message appears there twice. Choose None."
            ).format(provider)
            colour = AMBER
        styled(self.sent_note, colour)
        self.sent_note.setText(text)
        self.form.setRowVisible(self.sent_note, bool(text) and not self.is_direct())

    # --- the form as values ------------------------------------------------------------

    def _load_incoming(self, account: Account) -> None:
        """Show the account's incoming server (called while the form is loading)."""
        self._imap_checker.cancel()
        self._reset_folder_items([])
        self.imap_host_edit.setText(account.imap_host)
        security = account.imap_security if account.imap_security in IMAP_PORTS else "tls"
        self.imap_security_combo.setCurrentIndex(self.imap_security_combo.findData(security))
        self.imap_port_spin.setValue(account.imap_port or IMAP_PORTS[security])
        self._imap_port_follows = self.imap_port_spin.value() == IMAP_PORTS[security]
        self._folder_follows = not account.sent_folder
        if account.sent_folder:
            self._select_folder(account.sent_folder)
        else:
            self._select_folder(NONE if filing_provider(account.host) else AUTO)
        self.imap_result.hide()
        self.imap_result.clear()

    def _incoming_values(self) -> tuple[Any, ...]:
        return (
            self.imap_host_edit.text(),
            self.imap_security_combo.currentData(),
            self.imap_port_spin.value(),
            self._folder_choice(),
            self._folder_follows,
        )

    def _apply_incoming_values(self, values: tuple[Any, ...]) -> None:
        host, security, port, folder, follows = values
        self.imap_host_edit.setText(host)
        self.imap_security_combo.setCurrentIndex(
            max(self.imap_security_combo.findData(security), 0)
        )
        self.imap_port_spin.setValue(port)
        self._select_folder(folder)
        self._folder_follows = follows
        self._update_sent_note()

    def _incoming_fields(self, *, direct: bool) -> dict[str, Any]:
        """The account fields of the incoming server; raises InputError with one sentence."""
        host = "" if direct else self.imap_host_edit.text().strip()
        if host:
            check_text("IMAP server name", host)
            if any(ch.isspace() for ch in host) or "/" in host or ":" in host:
                raise InputError(
                    self.tr(
                        "The IMAP server name {0!r} is not valid; write only the host name, "
                        "like imap.example.org, and the port in “Port”."
                    ).format(host)
                )
        security = str(self.imap_security_combo.currentData())
        port = self.imap_port_spin.value()
        choice = self._folder_choice()
        if not host:  # no server, no copy: nothing else is kept
            folder = NONE if choice == NONE and not self._folder_follows else ""
            return {
                "imap_host": "",
                "imap_port": 0,
                "imap_security": security,
                "sent_folder": folder,
            }
        return {
            "imap_host": host,
            "imap_port": 0 if port == IMAP_PORTS[security] else port,  # as --imap-port left out
            "imap_security": security,
            "sent_folder": "" if self._folder_follows else choice,
        }

    # --- reactions ---------------------------------------------------------------------

    @Slot(int)
    def _imap_security_changed(self, _index: int) -> None:
        if not self._loading and self._imap_port_follows:
            security = str(self.imap_security_combo.currentData())
            self._loading = True
            try:
                self.imap_port_spin.setValue(IMAP_PORTS[security])
            finally:
                self._loading = False

    @Slot(int)
    def _imap_port_edited(self, value: int) -> None:
        if not self._loading:
            security = str(self.imap_security_combo.currentData())
            self._imap_port_follows = value == IMAP_PORTS[security]

    @Slot()
    def _imap_settings_changed(self) -> None:
        self._update_incoming_ui()
        if not self._loading and not self._imap_checker.is_running() and self.imap_result.text():
            styled(self.imap_result, GREY)  # the result may no longer hold

    def _update_incoming_ui(self) -> None:
        """Hidden for direct delivery (no server of its own); the folder rows need a server."""
        visible = not self.is_direct()
        self.form.setRowVisible(self._incoming_heading, visible)
        self.form.setRowVisible(self._incoming_intro, visible)
        for field in (self.imap_host_edit, self.imap_security_combo, self.imap_port_spin):
            self.form.setRowVisible(field, visible)
        self.form.setRowVisible(self._folder_row, visible)
        self.form.setRowVisible(self._imap_test_row, visible)
        self.form.setRowVisible(self.imap_result, visible and bool(self.imap_result.text()))
        has_host = bool(self.imap_host_edit.text().strip())
        checking = self._imap_checker.is_running()
        # setRowVisible shows every widget of the row: the busy ones only while checking
        self.imap_busy_label.setVisible(visible and checking)
        self.imap_cancel_button.setVisible(visible and checking)
        for widget in (self.imap_security_combo, self.imap_port_spin, self.sent_folder_combo):
            widget.setEnabled(has_host)
        self.load_folders_button.setEnabled(has_host and not checking)
        self.imap_test_button.setEnabled(has_host and not checking)
        self._update_sent_note()

    # --- Test and Load folders ----------------------------------------------------------

    @Slot()
    def test_incoming(self) -> None:
        """Log in to the incoming server with the form's (unsaved) values, in the
        background; the folder list fills when it works."""
        self._start_imap_check("test")

    @Slot()
    def load_folders(self) -> None:
        """Fill the Sent folder list from the server (logs in, in the background)."""
        self._start_imap_check("folders")

    def _start_imap_check(self, mode: str) -> None:
        if self.is_direct() or self._imap_checker.is_running():
            return
        try:
            account = self._account_from_form(for_test=True)
        except MailguiError as exc:
            self._show_imap_result(error_text(exc), RED)
            return
        if not account.imap_host:
            self._show_imap_result(self.tr("✘ Fill in the IMAP server first."), RED)
            self.imap_host_edit.setFocus()
            return
        typed = self.password_edit.text() if account.auth == "password" else ""
        lookup: Callable[[], str | Login | None] | None = None
        saved = self._current
        if account.auth == "oauth2":
            lookup = self._login_lookup(account)  # a fresh token, in the check's thread
        elif not typed and saved is not None and account.username:
            lookup = self._password_lookup(saved.name)  # the keyring, not here
        self._imap_mode = mode
        where = f"{account.imap_host}:{account.imap_port or IMAP_PORTS[account.imap_security]}"
        self.imap_busy_label.setText(self.tr("Logging in to {0}…").format(where))
        self._imap_checker.start(account, typed or None, lookup)
        self._set_imap_checking(True)

    def _set_imap_checking(self, running: bool) -> None:
        had_focus = self.imap_cancel_button.hasFocus()  # hiding it moves the focus on
        self._update_incoming_ui()  # the busy label and Cancel, the buttons
        if running:
            self.imap_result.hide()
            self.imap_cancel_button.setFocus()
        elif had_focus or self.focusWidget() is None:
            self.imap_test_button.setFocus()

    def _show_imap_result(self, text: str, colour: str) -> None:
        self.imap_result.setText(text)
        styled(self.imap_result, colour)
        self.form.setRowVisible(self.imap_result, bool(text))

    @Slot(dict)
    def _imap_checked(self, result: dict[str, Any]) -> None:
        self._set_imap_checking(False)
        self.last_imap_result = result
        lines = "".join(f"\n• {line}" for line in result.get("lines", []))
        if result.get("cancelled"):
            self._show_imap_result(self.tr("– The test was cancelled."), GREY)
            return
        if not result.get("ok"):
            error = str(result.get("error") or "")
            headline = self.tr("✘ The incoming server test failed.")
            self._show_imap_result(headline + lines + "\n" + error, RED)
            return
        folders = [str(name) for name in result.get("folders", [])]
        sent = result.get("sent")
        self._reset_folder_items(folders, str(sent) if sent else None)
        if self._imap_mode == "folders":
            headline = self.tr("✔ {0} folders loaded: choose where the copies go.").format(
                len(folders)
            )
        else:
            headline = self.tr("✔ The incoming server works.")
        self._show_imap_result(headline + lines, GREEN)
        self._scroll.ensureWidgetVisible(self.imap_result, 0, 0)

    # --- Find settings -----------------------------------------------------------------

    def _fill_incoming(self, result: dict[str, Any], smtp_host: str) -> str:
        """Fill the incoming server from a discovery result; the words to add to its note."""
        found = result.get("imap_suggested")
        if not found:
            if self.imap_host_edit.text().strip():
                return ""
            return self.tr("No incoming server was found; fill it in for a copy in Sent.")
        security = str(found["security"])
        if security not in IMAP_PORTS:
            return ""
        self.imap_host_edit.setText(str(found["host"]))
        self.imap_security_combo.setCurrentIndex(self.imap_security_combo.findData(security))
        self.imap_port_spin.setValue(int(found["port"]))
        self._imap_port_follows = int(found["port"]) == IMAP_PORTS[security]
        self._folder_follows = True
        provider = filing_provider(smtp_host)
        self._select_folder(NONE if provider else AUTO)
        self._update_sent_note()
        where = f"{found['host']}:{found['port']}"
        if provider:
            return self.tr(
                "Incoming server {0}, with no Sent copy: {1} puts what you send in Sent itself."
            ).format(where, provider)
        return self.tr("Incoming server {0}: a copy goes to its Sent folder.").format(where)
