"""The "Signing & encryption" tab: the account's OpenPGP key (one of the secret keys of
the user's GnuPG) or its S/MIME certificate and key files, with what each says about
itself: user id, fingerprint and expiry; subject, issuer, fingerprint and validity.

GnuPG is asked (when the tab is first shown), and the certificate files read, in a
background pool (``ui.background``): gpg can take its time (a slow agent, a big
keyring) and files can sit on a slow disk. The keys are the account's, for every
identity of it: the core keeps one key per account (``--pgp-key``, ``--smime-cert``,
``--smime-key``)."""

from __future__ import annotations

import html
from pathlib import Path

from PySide6.QtCore import Qt, QTimer, Signal, Slot
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from mailgui.core.accounts import Account
from mailgui.core.errors import InputError, MailguiError
from mailgui.core.own_keys import CertificateFacts, SecretKey, group_fingerprint
from mailgui.ui import background
from mailgui.ui.accounts_dialog.widgets import (
    AMBER,
    GREY,
    RED,
    form_layout,
    heading,
    plain_label,
    styled,
)
from mailgui.ui.error_words import error_text

__all__ = ["KEYS_POOL", "KeysPage"]

KEYS_POOL = "own-keys"  # background.pool(KEYS_POOL, 1): gpg and file reads, in order


def _list_keys() -> list[SecretKey] | str:
    """In the pool: the secret keys, or the error's sentence."""
    from mailgui.core.own_keys import secret_keys

    try:
        return secret_keys()
    except MailguiError as exc:
        return error_text(exc)
    except Exception as exc:  # a bug must not leave the list saying "looking"
        return f"GnuPG could not be asked for your keys ({type(exc).__name__}: {exc})."


def _read(cert: str, key: str, addr: str) -> CertificateFacts:
    from mailgui.core.own_keys import read_certificate

    try:
        return read_certificate(cert, key, addr)
    except Exception as exc:  # read_certificate words what it knows; this is a bug
        return CertificateFacts(error=f"The certificate could not be read ({exc}).")


def table(rows: list[tuple[str, str]], *, fixed: tuple[str, ...] = ()) -> str:
    """Rows of (label, value) as a small rich-text table; every value is escaped (a
    certificate's subject is anybody's text). Values whose label is in ``fixed`` are set
    in a fixed-width font, line breaks kept (fingerprints)."""
    cells = []
    for label, value in rows:
        text = html.escape(value).replace("\n", "<br>")
        if label in fixed:
            text = f'<span style="font-family: monospace; white-space: pre">{text}</span>'
        cells.append(
            f'<tr><td style="padding-right: 10px">{html.escape(label)}</td><td>{text}</td></tr>'
        )
    return "<table cellspacing=0 cellpadding=1>" + "".join(cells) + "</table>"


def _path(text: str) -> str:
    text = text.strip()
    return str(Path(text).expanduser().resolve()) if text else ""


class KeysPage(QWidget):
    """The account's keys for signing and encryption.

    Signals:
        changed(): the person chose another key or file.
    """

    changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._address = ""
        self._keys: list[SecretKey] | None = None  # None: not listed yet
        self._keys_error = ""
        self._list_request = 0
        self._cert_request = 0
        self._facts: CertificateFacts | None = None

        def note(colour: str) -> QLabel:
            label = styled(plain_label(), colour)
            label.setMinimumWidth(360)
            label.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
            return label

        layout = QVBoxLayout(self)
        layout.addWidget(
            styled(
                plain_label(
                    self.tr(
                        "The key this account signs with. Encrypted mail is encrypted to "
                        "it too, so you can read your own copy later. Turn signing and "
                        "encryption on for each message in the message window, or for "
                        "every message below."
                    )
                ),
                GREY,
            )
        )
        # one form for both parts, so their fields line up
        pgp = smime = form_layout()
        pgp.addRow(heading(self.tr("OpenPGP")))
        self.pgp_combo = QComboBox()
        self.pgp_combo.setAccessibleName(self.tr("OpenPGP key"))
        self.pgp_combo.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon
        )
        self.pgp_combo.setMinimumContentsLength(30)
        self.pgp_combo.activated.connect(self._pgp_chosen)
        self.reload_button = QPushButton(self.tr("&Reload"))
        self.reload_button.setAutoDefault(False)
        self.reload_button.setToolTip(self.tr("Ask GnuPG again (after making or importing a key)."))
        self.reload_button.clicked.connect(self.reload_keys)
        pgp_row = QHBoxLayout()
        pgp_row.addWidget(self.pgp_combo, 1)
        pgp_row.addWidget(self.reload_button)
        self.pgp_details = note(GREY)
        self.pgp_details.setTextFormat(Qt.TextFormat.RichText)  # table() escapes
        self.pgp_details.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.pgp_warning = note(AMBER)
        pgp.addRow(self.tr("&Key:"), pgp_row)
        pgp.addRow("", self.pgp_details)
        pgp.addRow("", self.pgp_warning)
        label = pgp.labelForField(pgp_row)
        if isinstance(label, QLabel):
            label.setBuddy(self.pgp_combo)
        smime.addRow(heading(self.tr("S/MIME")))
        self.cert_edit = QLineEdit()
        self.cert_edit.setPlaceholderText(self.tr("your certificate (PEM or DER file)"))
        self.key_edit = QLineEdit()
        self.key_edit.setPlaceholderText(self.tr("its private key (PEM file)"))
        self.cert_browse = QPushButton(self.tr("Bro&wse…"))
        self.key_browse = QPushButton(self.tr("Brow&se…"))
        rows = []
        for edit, browse in ((self.cert_edit, self.cert_browse), (self.key_edit, self.key_browse)):
            browse.setAutoDefault(False)
            edit.textEdited.connect(self._files_edited)
            edit.editingFinished.connect(self._check_files)
            row = QHBoxLayout()
            row.addWidget(edit, 1)
            row.addWidget(browse)
            rows.append(row)
        self.cert_browse.clicked.connect(self._browse_cert)
        self.key_browse.clicked.connect(self._browse_key)
        self.cert_details = note(GREY)
        self.cert_details.setTextFormat(Qt.TextFormat.RichText)  # table() escapes
        self.cert_details.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.cert_warning = note(AMBER)
        smime.addRow(self.tr("&Certificate:"), rows[0])
        smime.addRow(self.tr("Private ke&y:"), rows[1])
        smime.addRow("", self.cert_details)
        smime.addRow("", self.cert_warning)
        for buddy, row in ((self.cert_edit, rows[0]), (self.key_edit, rows[1])):
            label = smime.labelForField(row)
            if isinstance(label, QLabel):
                label.setBuddy(buddy)
        layout.addLayout(smime)
        self.both_note = note(GREY)
        self.both_note.setText(
            self.tr("With both an OpenPGP key and an S/MIME certificate, mail uses OpenPGP.")
        )
        layout.addWidget(self.both_note)
        layout.addWidget(heading(self.tr("For every message")))
        self.always_sign_check = QCheckBox(self.tr("Si&gn every message"))
        self.encrypt_check = QCheckBox(
            self.tr("E&ncrypt when every recipient has a key (otherwise send it unencrypted)")
        )
        self.encrypt_check.setToolTip(
            self.tr(
                "The message window turns Encrypt on by itself while every recipient has a "
                "key; you can still turn it on or off for one message."
            )
        )
        for check in (self.always_sign_check, self.encrypt_check):
            check.toggled.connect(self.changed)
            layout.addWidget(check)
        layout.addStretch(1)

        self._recheck = QTimer(self)  # the address changed: check the certificate again
        self._recheck.setSingleShot(True)
        self._recheck.setInterval(500)
        self._recheck.timeout.connect(self._check_files)
        self._set_pgp_items("")
        self._show_facts()

    def showEvent(self, event: QShowEvent) -> None:
        """GnuPG is asked the first time the tab is shown, not each time the dialog
        opens (it may start gpg-agent)."""
        super().showEvent(event)
        if self._keys is None and not self._list_request:
            self.reload_keys()

    # --- the values -----------------------------------------------------------------------

    def load(self, account: Account) -> None:
        self._address = account.email
        self.set_values(
            account.pgp_key,
            account.smime_cert,
            account.smime_key,
            account.always_sign,
            account.encrypt_when_possible,
        )

    def values(self) -> tuple[str, str, str, bool, bool]:
        return (
            str(self.pgp_combo.currentData() or ""),
            self.cert_edit.text(),
            self.key_edit.text(),
            self.always_sign_check.isChecked(),
            self.encrypt_check.isChecked(),
        )

    def set_values(
        self, pgp_key: str, cert: str, key: str, always_sign: bool, encrypt: bool
    ) -> None:
        self._set_pgp_items(pgp_key)
        self.cert_edit.setText(cert)
        self.key_edit.setText(key)
        self.always_sign_check.setChecked(always_sign)
        self.encrypt_check.setChecked(encrypt)
        self._check_files()

    def fields(self) -> dict[str, str | bool]:
        """The account fields; raises InputError when only half of S/MIME is given. The
        defaults count only with a key (without one there is nothing to sign with)."""
        pgp_key, cert, key, always_sign, encrypt = self.values()
        if bool(cert.strip()) != bool(key.strip()):
            missing = self.tr("the private key") if cert.strip() else self.tr("the certificate")
            raise InputError(
                self.tr(
                    "S/MIME needs the certificate and its private key: choose {0} too, "
                    "or clear both (Signing & encryption tab)."
                ).format(missing)
            )
        keyed = bool(pgp_key or key.strip())
        return {
            "pgp_key": pgp_key,
            "smime_cert": _path(cert),
            "smime_key": _path(key),
            "always_sign": always_sign and keyed,
            "encrypt_when_possible": encrypt and keyed,
        }

    def set_address(self, address: str) -> None:
        """The account's address as typed: the keys are checked against it."""
        address = address.strip()
        if address == self._address:
            return
        self._address = address
        self._show_pgp()
        if self.cert_edit.text().strip():
            self._recheck.start()

    # --- OpenPGP --------------------------------------------------------------------------

    @Slot()
    def reload_keys(self) -> None:
        """List the secret keys again, in the background."""
        self.reload_button.setEnabled(False)
        if self._keys is None:
            self.pgp_details.setText(self.tr("Looking up your GnuPG keys…"))
        self._list_request = background.run(
            _list_keys, self._keys_listed, background.pool(KEYS_POOL, 1)
        )

    def _keys_listed(self, request: int, result: list[SecretKey] | str) -> None:
        if request != self._list_request:
            return
        self.reload_button.setEnabled(True)
        if isinstance(result, str):
            self._keys, self._keys_error = [], result
        else:
            self._keys, self._keys_error = result, ""
        self._set_pgp_items(str(self.pgp_combo.currentData() or ""))

    def _key_for(self, value: str) -> SecretKey | None:
        wanted = "".join(value.split()).upper()
        if not wanted or not self._keys:
            return None
        return next((k for k in self._keys if k.fingerprint.endswith(wanted)), None)

    def _set_pgp_items(self, value: str) -> None:
        combo = self.pgp_combo
        combo.clear()
        combo.addItem(self.tr("None — no OpenPGP"), "")
        matched = self._key_for(value)
        for key in self._keys or []:
            uid = key.uids[0] if key.uids else self.tr("(no user id)")
            short = group_fingerprint(key.fingerprint[-16:])
            text = f"{uid}  [{short}]"
            if key.problem():
                text += "  — " + self.tr("not usable")
            # the stored spelling of the chosen key, so loading it is no edit
            combo.addItem(text, value if key is matched else key.fingerprint)
        if value and matched is None:
            combo.addItem(
                self.tr("{0} (not among your secret keys)").format(group_fingerprint(value)), value
            )
        combo.setCurrentIndex(max(combo.findData(value), 0))
        self._show_pgp()

    @Slot(int)
    def _pgp_chosen(self, _index: int) -> None:
        self._show_pgp()
        self._update_both()
        self.changed.emit()

    def _show_pgp(self) -> None:
        value = str(self.pgp_combo.currentData() or "")
        key = self._key_for(value)
        details, warning, colour = "", "", AMBER
        if self._keys is None:
            details = html.escape(self.tr("Looking up your GnuPG keys…"))
        elif self._keys_error:
            warning, colour = self._keys_error, RED
        elif not self._keys and not value:
            details = html.escape(
                self.tr(
                    "GnuPG has no secret key for you yet. Make one (gpg --quick-gen-key "
                    "'Your Name <{0}>'), then Reload."
                ).format(self._address or "you@example.org")
            )
        if key is not None:
            rows = [(self.tr("Fingerprint:"), key.grouped)]
            if len(key.uids) > 1:
                rows.insert(0, (self.tr("User IDs:"), "\n".join(key.uids)))
            rows.append(
                (
                    self.tr("Expires:"),
                    key.expiry or self.tr("never"),
                )
            )
            details = table(rows, fixed=(self.tr("Fingerprint:"),))
            problem = key.problem(self._address)
            if problem:
                warning = "⚠ " + self.tr("Mail cannot be signed with it: {0}.").format(problem)
        elif value and self._keys is not None and not self._keys_error:
            warning = "⚠ " + self.tr(
                "GnuPG has no secret key {0}, so mail cannot be signed with it; import it, or "
                "choose another key."
            ).format(group_fingerprint(value))
        self.pgp_details.setText(details)
        self.pgp_details.setVisible(bool(details))
        self.pgp_warning.setText(warning)
        styled(self.pgp_warning, colour)
        self.pgp_warning.setVisible(bool(warning))
        self._update_both()

    # --- S/MIME ---------------------------------------------------------------------------

    @Slot()
    def _files_edited(self) -> None:
        self.changed.emit()

    @Slot()
    def _check_files(self) -> None:
        """Read the certificate (and key) in the background and show what they say."""
        self._recheck.stop()
        cert, key = self.cert_edit.text().strip(), self.key_edit.text().strip()
        self._cert_request = 0
        self._facts = None
        if not cert:
            self._show_facts()
            return
        self.cert_details.setText(html.escape(self.tr("Reading the certificate…")))
        self.cert_details.show()
        self.cert_warning.hide()
        address = self._address
        cert_path = str(Path(cert).expanduser())
        key_path = str(Path(key).expanduser()) if key else ""
        self._cert_request = background.run(
            lambda: _read(cert_path, key_path, address),
            self._facts_read,
            background.pool(KEYS_POOL, 1),
        )

    def _facts_read(self, request: int, facts: CertificateFacts) -> None:
        if request != self._cert_request:
            return  # the files changed since
        self._facts = facts
        self._show_facts()

    def _show_facts(self) -> None:
        facts = self._facts
        cert, key = self.cert_edit.text().strip(), self.key_edit.text().strip()
        details, warnings, colour = "", [], AMBER
        if not cert and key:
            warnings.append(self.tr("Choose the certificate that belongs to this key too."))
        elif facts is not None and facts.error:
            warnings, colour = [facts.error], RED
        elif facts is not None:
            half = len(facts.fingerprint) // 2 + 1  # 16 bytes a line
            valid = self.tr("{0} to {1}").format(facts.not_before, facts.not_after)
            if facts.expired:
                valid += self.tr(" (expired)")
            rows = [
                (self.tr("Subject:"), facts.subject),
                (self.tr("Issued by:"), facts.issuer),
                (self.tr("For:"), ", ".join(facts.addresses) or self.tr("no address")),
                (self.tr("Valid:"), valid),
                (
                    self.tr("SHA-256:"),
                    facts.fingerprint[:half].rstrip(":") + "\n" + facts.fingerprint[half:],
                ),
            ]
            if facts.key_matches:
                rows.append((self.tr("Key:"), self.tr("the private key belongs to it")))
            details = table(rows, fixed=(self.tr("SHA-256:"),))
            warnings = [f"⚠ {w}" for w in facts.warnings]
            if cert and not key:
                warnings.append(self.tr("Choose its private key too."))
            if facts.expired or facts.key_matches is False:
                colour = RED
        self.cert_details.setText(details)
        self.cert_details.setVisible(bool(details))
        self.cert_warning.setText("\n".join(warnings))
        styled(self.cert_warning, colour)
        self.cert_warning.setVisible(bool(warnings))
        self._update_both()

    def _update_both(self) -> None:
        both = bool(self.pgp_combo.currentData()) and bool(self.cert_edit.text().strip())
        self.both_note.setVisible(both)

    def facts(self) -> CertificateFacts | None:
        """What the certificate said (None: not read yet, or no certificate)."""
        return self._facts

    def _browse(self, edit: QLineEdit, title: str, filters: str) -> None:
        start = edit.text() or str(Path.home())
        path, _filter = QFileDialog.getOpenFileName(self, title, start, filters)
        if path:
            edit.setText(path)
            self.changed.emit()
            self._check_files()

    @Slot()
    def _browse_cert(self) -> None:
        self._browse(
            self.cert_edit,
            self.tr("Choose your S/MIME certificate"),
            self.tr("Certificates (*.pem *.crt *.cer *.der);;All files (*)"),
        )

    @Slot()
    def _browse_key(self) -> None:
        self._browse(
            self.key_edit,
            self.tr("Choose the private key of your certificate"),
            self.tr("Private keys (*.pem *.key);;All files (*)"),
        )

    def is_busy(self) -> bool:
        return self._keys is None or (self._facts is None and bool(self.cert_edit.text().strip()))
