"""Sign and Encrypt: two toggles, and each recipient's key shown before Send.

The toggles work when the From account has an OpenPGP key, or an S/MIME certificate and
key (OpenPGP when it has both, as the core decides); otherwise they are off and say how
to add one. With Encrypt on, the recipients' keys are looked up in the background
(``keys.KeyChecker``) a moment after the typing stops, and one line under the address
rows lists every recipient with its state ("key found", "no key", "expired"...): one
line for the whole message, because the message is encrypted only if *every* recipient
has a key, and it reads as that checklist without crowding the domain warnings under
each field. A recipient without a usable key blocks Send through the pre-flight panel,
naming them; the only way to send in clear is to turn Encrypt off. The core checks
again when the message is queued (a key may expire in between): its refusal shows as
an error and the message stays in the window.
"""

from __future__ import annotations

import html

from PySide6.QtCore import Qt, QTimer, Slot
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QGridLayout, QLabel

from mailgui.core.addresses import Mailbox
from mailgui.core.crypto import OPENPGP, SMIME, problems
from mailgui.core.engine import Protect
from mailgui.core.errors import InputError
from mailgui.ui.compose.bars import ERROR_COLOR, WARNING_COLOR
from mailgui.ui.compose.base import ComposeBase
from mailgui.ui.compose.keys import FOUND, UNKNOWN, KeyChecker, KeyState
from mailgui.ui.compose.preflight_panel import Finding
from mailgui.ui.icons import action_icon

__all__ = ["FOUND_COLOR", "KEY_LOOKUP_DELAY_MS", "ProtectionMixin"]

KEY_LOOKUP_DELAY_MS = 400  # after the last keystroke in an address field
FOUND_COLOR = "#2e7d32"


class ProtectionMixin(ComposeBase):
    """The window's Sign and Encrypt toggles and the recipients' key states."""

    # --- building ---------------------------------------------------------------------

    def _build_protection_actions(self) -> None:
        self.sign_action = QAction(action_icon("document-sign"), self.tr("Sign"), self)
        self.sign_action.setObjectName("sign_action")
        self.sign_action.setCheckable(True)
        self.encrypt_action = QAction(action_icon("document-encrypt"), self.tr("Encrypt"), self)
        self.encrypt_action.setObjectName("encrypt_action")
        self.encrypt_action.setCheckable(True)
        self.encrypt_action.toggled.connect(self._on_encrypt_toggled)
        # The account's "encrypt when possible", until the person turns Encrypt on or
        # off: the toggle then follows the recipients' keys (on when all have one).
        self._encrypt_auto = False
        self._auto_setting = False  # the toggle is being set by the rule above
        self.keys = KeyChecker(self._ctx.profile, self)
        self.keys.checked.connect(self._on_keys_checked)
        self.key_timer = QTimer(self)
        self.key_timer.setSingleShot(True)
        self.key_timer.setInterval(KEY_LOOKUP_DELAY_MS)
        self.key_timer.timeout.connect(self._look_up_keys)
        self._send_waiting: tuple[float | None, bool] | None = None  # Send, once keys are in
        self._keys_fresh = False  # the states were just looked up again for Send

    def _build_key_row(self, grid: QGridLayout, row: int) -> int:
        """The line of recipients' key states, under the address rows; the next row."""
        self.key_states = QLabel(self.editor)
        self.key_states.setObjectName("key_states")
        self.key_states.setWordWrap(True)
        self.key_states.setTextFormat(Qt.TextFormat.RichText)
        self.key_states.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.key_states_label = self._label(self.tr("Keys:"), self.key_states)
        grid.addWidget(self.key_states_label, row, 0, Qt.AlignmentFlag.AlignTop)
        grid.addWidget(self.key_states, row, 1, 1, 2)
        self.key_states.hide()
        self.key_states_label.hide()
        return row + 1

    # --- what the account can do --------------------------------------------------------

    def technology(self) -> str | None:
        """What the From account signs and encrypts with ("openpgp", "smime"), or None
        when it has no key (the core's choice: OpenPGP when there are both)."""
        account = self._account()
        if account is None:
            return None
        if account.pgp_key:
            return OPENPGP
        if account.smime_cert and account.smime_key:
            return SMIME
        return None

    def protection(self) -> Protect | None:
        """What Send asks the core for (None: neither signed nor encrypted)."""
        if self.technology() is None:
            return None
        sign, encrypt = self.sign_action.isChecked(), self.encrypt_action.isChecked()
        if not (sign or encrypt):
            return None
        # chosen by the rule: if a key goes bad before queueing, sent as the rule would
        return Protect(sign=sign, encrypt=encrypt, opportunistic=encrypt and self._encrypt_auto)

    def set_protection(self, sign: bool, encrypt: bool) -> None:
        """Turn the toggles on or off (only on where the account has a key): a draft
        reopened keeps what it had, whatever the account's defaults."""
        usable = self.technology() is not None
        self._encrypt_auto = False
        self.sign_action.setChecked(sign and usable)
        self.encrypt_action.setChecked(encrypt and usable)

    @Slot()
    def _apply_protection_identity(self) -> None:
        """From changed: the toggles follow the new account's keys and its defaults
        (sign always; encrypt when every recipient has a key), looked up afresh."""
        account = self._account()
        usable = self.technology() is not None and account is not None
        self.sign_action.setChecked(usable and bool(account and account.always_sign))
        self._encrypt_auto = usable and bool(account and account.encrypt_when_possible)
        if not usable or not self._encrypt_auto:
            self._set_encrypt(False)
        self._cancel_waiting_send()
        self._update_protection_actions()
        self.keys.forget()
        self._schedule_key_lookup(at_once=True)

    def _update_protection_actions(self) -> None:
        technology = self.technology()
        busy = self._token is not None
        for action in (self.sign_action, self.encrypt_action):
            action.setEnabled(technology is not None and not busy)
        if technology is None:
            account = self._account()
            name = account.name if account is not None else self.tr("the account")
            how = self.tr(
                "{0} has no OpenPGP key or S/MIME certificate. Add one under Accounts "
                "(the account's keys), or with: mailgui account add NAME … --pgp-key FINGERPRINT"
            ).format(name)
            self.sign_action.setToolTip(self.tr("Signing needs a key. ") + how)
            self.encrypt_action.setToolTip(self.tr("Encryption needs a key. ") + how)
            return
        kind = self.tr("OpenPGP") if technology == OPENPGP else self.tr("S/MIME")
        self.sign_action.setToolTip(
            self.tr(
                "Sign the message with your {0} key, so recipients can check it is from you"
            ).format(kind)
        )
        encrypt_tip = self.tr(
            "Encrypt the message with {0} to every recipient and to you; each recipient needs a key"
        ).format(kind)
        if self._encrypt_auto:
            encrypt_tip += self.tr(
                ". This account encrypts when it can: on by itself while every recipient "
                "has a key, else sent unencrypted; click to decide yourself"
            )
        self.encrypt_action.setToolTip(encrypt_tip)

    # --- recipients' keys ---------------------------------------------------------------

    def _recipient_addresses(self) -> list[str]:
        """The addresses in To, Cc and Bcc that parse (the others show their own error)."""
        seen: dict[str, str] = {}
        for field in self.fields.values():
            try:
                boxes: list[Mailbox] = field.parse()
            except InputError:
                continue
            for box in boxes:
                seen.setdefault(box.addr.lower(), box.addr)
        return list(seen.values())

    def _set_encrypt(self, on: bool) -> None:
        """Set the toggle for the rule (not the person's choice)."""
        self._auto_setting = True
        try:
            self.encrypt_action.setChecked(on)
        finally:
            self._auto_setting = False

    def _looking_up(self) -> bool:
        """Whether the recipients' keys matter now: Encrypt on, or the rule's to apply."""
        return (self.encrypt_action.isChecked() or self._encrypt_auto) and (
            self.technology() is not None
        )

    def _apply_encrypt_rule(self) -> None:
        """Encrypt when possible: on once every recipient's key is found, off when one
        has none (sent in clear then: encryption was not asked for)."""
        if not self._encrypt_auto:
            return
        states = self._key_states()
        if any(state is None for _addr, state in states):
            return  # some still being looked up
        self._set_encrypt(bool(states) and all(state.usable for _a, state in states if state))

    @Slot(bool)
    def _on_encrypt_toggled(self, on: bool) -> None:
        if self._auto_setting:  # the rule: a Send waiting for the keys goes on
            self._show_key_states()
            self._recheck()
            return
        if self._encrypt_auto:  # the person's choice wins over the account's rule
            self._encrypt_auto = False
            self._update_protection_actions()
        self._cancel_waiting_send()
        if on:
            self.keys.forget()  # a key imported since is found now
        self._schedule_key_lookup(at_once=True)
        self._recheck()

    @Slot()
    def _schedule_key_lookup(self, at_once: bool = False) -> None:
        """Look the recipients' keys up once the typing has paused (Encrypt on only)."""
        if self._looking_up():
            if at_once:
                self.key_timer.stop()
                self._look_up_keys()
            else:
                self.key_timer.start()
        self._show_key_states()

    @Slot()
    def _look_up_keys(self) -> None:
        technology = self.technology()
        if technology is None or not self._looking_up():
            return
        self.keys.request(technology, self._recipient_addresses())
        self._apply_encrypt_rule()  # answers already known come at once
        self._show_key_states()

    def _key_states(self) -> list[tuple[str, KeyState | None]]:
        """Each recipient with its state (None: being looked up)."""
        technology = self.technology()
        if technology is None:
            return []
        return [(a, self.keys.state(technology, a)) for a in self._recipient_addresses()]

    def _state_words(self, state: KeyState | None) -> str:
        smime = self.technology() == SMIME
        if state is None:
            return self.tr("checking…")
        words = {
            FOUND: self.tr("certificate found") if smime else self.tr("key found"),
            problems.MISSING: self.tr("no certificate") if smime else self.tr("no key"),
            problems.EXPIRED: self.tr("expired"),
            problems.REVOKED: self.tr("revoked"),
            problems.UNTRUSTED: self.tr("untrusted"),
            problems.UNUSABLE: self.tr("unusable"),
        }
        return words.get(state.reason, self.tr("not checked"))

    def _state_advice(self, addr: str, state: KeyState) -> str:
        """What to do about one recipient's key, for the tooltip."""
        smime = self.technology() == SMIME
        if state.reason == problems.MISSING:
            if smime:
                return self.tr(
                    "{0}: no S/MIME certificate is imported for this address; import "
                    "theirs (mailgui cert import FILE)."
                ).format(addr)
            return self.tr(
                "{0}: your GnuPG keyring has no key for this address; import theirs "
                "(gpg --import FILE)."
            ).format(addr)
        if state.reason == problems.UNTRUSTED:
            return self.tr(
                "{0}: the key is not verified; check its fingerprint with them, then sign "
                "it (gpg --lsign-key)."
            ).format(addr)
        if state.reason == UNKNOWN:
            return self.tr("{0}: the key could not be looked up ({1})").format(addr, state.detail)
        return self.tr("{0}: the key is {1}; get a current one from them.").format(
            addr, self._state_words(state)
        )

    def _show_key_states(self) -> None:
        states = self._key_states() if self.encrypt_action.isChecked() else []
        visible = bool(states)
        self.key_states.setVisible(visible)
        self.key_states_label.setVisible(visible)
        if not visible:
            self.key_states.clear()
            self.key_states.setToolTip("")
            return
        items, advice = [], []
        for addr, state in states:
            if state is None:
                mark, color = "…", WARNING_COLOR
            elif state.usable:
                mark, color = "✓", FOUND_COLOR
            elif state.reason == UNKNOWN:
                mark, color = "⚠", WARNING_COLOR
            else:
                mark, color = "✕", ERROR_COLOR
            item = f"{mark} {addr}: {self._state_words(state)}"
            nbsp = html.escape(item).replace(" ", "&nbsp;")  # wrap between recipients only
            items.append(f'<span style="color:{color}">{nbsp}</span>')
            if state is not None and not state.usable:
                advice.append(self._state_advice(addr, state))
        self.key_states.setText("&nbsp;&nbsp; ".join(items))
        self.key_states.setToolTip("\n".join(advice))

    def _unencryptable(self) -> list[tuple[str, KeyState]]:
        """Recipients whose key the core refused (a failed look-up is left to the core,
        which says what is wrong with the tool when the message is queued)."""
        return [
            (a, s)
            for a, s in self._key_states()
            if s is not None and not s.usable and s.reason != UNKNOWN
        ]

    def _protection_findings(self) -> list[Finding]:
        """A recipient without a usable key blocks Send: never sent in clear instead."""
        if not self.encrypt_action.isChecked() or self.technology() is None:
            return []
        refused = self._unencryptable()
        if not refused:
            return []
        named = [f"{addr} ({self._state_words(state)})" for addr, state in refused]
        who = named[0] if len(named) == 1 else ", ".join(named[:-1]) + self.tr(" and ") + named[-1]
        text = self.tr(
            "The message cannot be encrypted to {0}. Import their key or take them off the "
            "message; to send it unencrypted, turn Encrypt off."
        ).format(who)
        return [
            Finding(
                "encryption",
                text,
                self.tr("Turn Encrypt off"),
                lambda: self.encrypt_action.setChecked(False),
                dismissable=False,
            )
        ]

    def _waiting_for_keys(self, send_at: float | None, force: bool) -> bool:
        """Send with Encrypt on: look again at the keys not found (one may have been
        imported since), and at any not known yet; True while that runs (Send then
        goes on by itself when the answers are in)."""
        technology = self.technology()
        if not self._looking_up() or technology is None:
            return False
        addresses = self._recipient_addresses()
        if not self._keys_fresh:
            self.keys.forget([a for a, _s in self._unencryptable()])
        self._keys_fresh = False
        self.keys.request(technology, addresses)
        if not any(self.keys.is_running(technology, a) for a in addresses):
            return False
        self._send_waiting = (send_at, force)
        self._show_key_states()
        self.status_bar.show_text(self.tr("Looking up the recipients' keys…"))
        return True

    def _cancel_waiting_send(self) -> None:
        """What Send was waiting for changed (Encrypt, From): the person sends again."""
        if self._send_waiting is not None:
            self._send_waiting = None
            self.status_bar.hide()

    @Slot()
    def _on_keys_checked(self) -> None:
        self._apply_encrypt_rule()
        self._show_key_states()
        self._recheck()
        technology = self.technology()
        if self._send_waiting is None or technology is None:
            return
        if any(self.keys.is_running(technology, a) for a in self._recipient_addresses()):
            return
        send_at, force = self._send_waiting
        self._send_waiting = None
        self.status_bar.hide()
        self._keys_fresh = True
        self.send(send_at=send_at, force=force)

    def _keys_after_failure(self) -> None:
        """Queueing failed (a key may have expired meanwhile): look again."""
        if self._looking_up():
            self.keys.forget()
            self._schedule_key_lookup(at_once=True)
