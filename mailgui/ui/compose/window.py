"""The compose window: one message, from the person's hands to the outbox.

Addresses are checked with the core parser as the person leaves a field and again
before sending; a problem is shown under the field, in the parser's own words,
and blocks Send until it is fixed. Softer problems (no subject, an attachment
mentioned but missing, no recipients, a message bigger than the server takes) are
found by the rules in ``mailgui.core.preflight`` and listed in one inline pre-flight
panel, each with a fix; the dismissable ones can be waived with "Send anyway".
Sending hands a ``Draft`` to the outbox handle, which builds and stores it in its own
thread (attachments are read there, never here); the window waits for the handle's
answer for its token, then closes.

Send queues the message ``scheduled`` for now + the undo delay (default 10 s), so
the main window can offer Undo (``undoable``); "Send later…" schedules it for a
chosen time.

The window is one QMainWindow made of a mixin per feature, one module each (typed
against ``base.ComposeBase``): the layout (``form``), the address rows
(``recipients``), From and its identities (``identities``), ``attachments``, inline
``images``, the draft file (``drafts``), send later (``schedule``), ``preflight`` and
Sign / Encrypt with the recipients' keys (``protection``, looked up by ``keys``).
Its widgets with behaviour of their own are classes: ``FormatBar``, ``OptionsButton``,
``PreflightPanel``, ``ScheduleBar`` and ``ScheduledNote``, ``AddressCompleter``.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, QTimer, Signal, Slot
from PySide6.QtGui import QTextCursor
from PySide6.QtWidgets import QMainWindow, QWidget

from mailgui.core.accounts import Identity
from mailgui.core.addresses import Mailbox, check_text
from mailgui.core.drafts import DraftStore, SavedDraft
from mailgui.core.errors import InputError
from mailgui.core.log import get_logger
from mailgui.core.message import Draft, InlineImage
from mailgui.ui.compose.attachments import AttachmentsMixin
from mailgui.ui.compose.drafts import AUTOSAVE_MS, DraftsMixin
from mailgui.ui.compose.form import RICH_KEY, FormMixin
from mailgui.ui.compose.identities import IdentitiesMixin
from mailgui.ui.compose.images import ImagesMixin
from mailgui.ui.compose.preflight import PreflightMixin
from mailgui.ui.compose.protection import ProtectionMixin
from mailgui.ui.compose.recipients import RecipientsMixin
from mailgui.ui.compose.schedule import ScheduleMixin
from mailgui.ui.context import AppContext
from mailgui.ui.inline_images import ImageLoader, LoadedImage
from mailgui.ui.recipient_warnings import DomainChecker
from mailgui.ui.undo_send import undo_seconds as configured_undo_seconds

if TYPE_CHECKING:
    from mailgui.ui.outbox_service import OutboxHandle

__all__ = ["ComposeWindow"]

log = get_logger(__name__)


class ComposeWindow(
    FormMixin,
    RecipientsMixin,
    IdentitiesMixin,
    AttachmentsMixin,
    ImagesMixin,
    DraftsMixin,
    ScheduleMixin,
    PreflightMixin,
    ProtectionMixin,
    QMainWindow,
):
    """Write one message and queue it (now, with undo, or later).

    Signals:
        sent(int id): the message is durably in the outbox under this id; the window
            closes right after.
        undoable(int id, str account, Draft draft, int seconds): the message waits
            ``seconds`` before it may leave; Undo can take it back (main window).
    """

    sent = Signal(int)
    undoable = Signal(int, str, object, int)

    def __init__(
        self,
        ctx: AppContext,
        outbox: OutboxHandle,
        parent: QWidget | None = None,
        *,
        undo_seconds: int | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(parent)
        self._ctx = ctx
        self._outbox = outbox
        self._clock = clock
        self.undo_seconds = (
            configured_undo_seconds(ctx) if undo_seconds is None else max(0, undo_seconds)
        )
        self._token: str | None = None  # the queue request we are waiting for
        self._pending: tuple[str, Draft, int] | None = None  # account, draft, undo seconds
        self._done = False  # queued: close without asking
        self._waived: set[str] = set()  # pre-flight findings "Send anyway" waived
        self._attachments: list[Path] = []
        self._scheduled_at: float | None = None  # the draft's send time: Send keeps it
        self.size_limit: int | None = None  # the server's SIZE, when known
        self.drafts = DraftStore(ctx.profile.data_dir / "drafts")
        self._saved = SavedDraft()  # this window's draft file (written once modified)
        self._dirty = False  # changed since the last save
        self._identity: Identity | None = None  # the From identity in effect
        self._auto_reply_to = ""  # the Reply-To the identity filled in (not typed)
        self._inline: dict[str, LoadedImage | InlineImage] = {}  # cid → image
        self.checker = DomainChecker(self)
        self.checker.checked.connect(self._on_domain_checked)
        self.image_loader = ImageLoader(self)
        self.image_loader.loaded.connect(self._on_image_loaded)
        self.image_loader.failed.connect(self._on_image_failed)
        self._image_targets: dict[int, QTextCursor] = {}  # where each load goes
        # A reopened draft's images, shown as placeholders until the pool decoded them:
        self._reopening: dict[int, str] = {}  # request → content id
        self._unread: dict[str, dict[str, str]] = {}  # cid → entry, bytes not read yet

        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.setAcceptDrops(True)
        self.resize(720, 560)

        self._build_actions()
        self._build_form()
        self._load_accounts()
        self._apply_identity()
        self._apply_protection_identity()
        self._update_title()

        outbox.queued.connect(self._on_queued)
        outbox.failed.connect(self._on_failed)

        for field in self.fields.values():
            field.edit.textChanged.connect(self._mark_dirty)
        self.subject_edit.textChanged.connect(self._mark_dirty)
        self.body_edit.textChanged.connect(self._mark_dirty)
        self.reply_to_edit.textChanged.connect(self._mark_dirty)
        self.from_combo.currentIndexChanged.connect(self._mark_dirty)
        self.from_combo.currentIndexChanged.connect(self._load_size_limit)
        self.from_combo.currentIndexChanged.connect(self._apply_identity)
        self.from_combo.currentIndexChanged.connect(self._apply_protection_identity)
        for field in self.fields.values():
            field.edit.textChanged.connect(lambda _t: self._schedule_key_lookup())
        self._load_size_limit()
        self.autosave_timer = QTimer(self)
        self.autosave_timer.setInterval(AUTOSAVE_MS)
        self.autosave_timer.timeout.connect(self.autosave)
        self.autosave_timer.start()
        self._dirty = False

    # --- rich text and options --------------------------------------------------------

    @Slot(bool)
    def set_rich_text(self, rich: bool, *, remember: bool = True) -> None:
        """Switch the body between rich and plain text (plain drops the formats)."""
        if self.rich_action.isChecked() != rich:
            self.rich_action.setChecked(rich)  # comes back here through toggled
            return
        if not rich and self._unread:  # they would be lost: they are not read yet
            self.rich_action.setChecked(True)
            self.status_bar.show_text(
                self.tr("The pictures are still loading; switch to plain text in a moment.")
            )
            QTimer.singleShot(4000, self, self._hide_saved_note)
            return
        if not rich:
            self._images_to_attachments()
        self.body_edit.set_rich(rich)
        self.format_bar.show_formats(rich)
        if remember:
            self._settings().setValue(RICH_KEY, rich)

    @property
    def priority(self) -> str:
        return self.options_button.priority

    def set_options(self, priority: str, read_receipt: bool) -> None:
        self.options_button.set_options(priority, read_receipt)

    # --- sending ----------------------------------------------------------------------

    def send(self, *, send_at: float | None = None, force: bool = False) -> bool:
        """Check everything and hand the draft to the outbox; False if something blocks it.

        ``send_at`` (epoch seconds) schedules it; otherwise the draft's own send time
        does (``set_scheduled``), or it waits the undo delay. Pre-flight findings show
        in the inline panel; ``force`` waives the dismissable ones ("Send anyway")."""
        if self._token is not None:
            return False
        self.error_bar.hide()
        if self._unread:
            self._show_error(self._still_loading_text())
            return False
        if send_at is None and self._scheduled_at is not None:
            if self._scheduled_at <= self._clock():
                self.set_scheduled(self._scheduled_at)  # says it passed; Send again sends now
                return False
            send_at = self._scheduled_at
        self._send_at = send_at
        if self._waiting_for_keys(send_at, force):
            return False
        if force:
            self._waived.update(f.key for f in self._findings() if f.dismissable)
        findings = [f for f in self._findings() if f.key not in self._waived]
        draft = self._make_draft(check_recipients=False)
        if draft is None:
            self._show_findings(findings, focus=False)
            return False
        if findings:
            self._show_findings(findings, focus=True)
            return False
        self.preflight.hide()
        self.schedule_bar.hide()
        account = str(self.from_combo.currentData())
        delay = 0
        if send_at is None and self.undo_seconds > 0:
            delay = self.undo_seconds
            send_at = self._clock() + delay
        self._pending = (account, draft, delay)
        self._token = uuid.uuid4().hex
        self._set_busy(True, scheduled=self._send_at is not None)
        protect = self.protection()
        if protect is None:
            self._outbox.queue_draft(self._token, account, draft, send_at)
        else:
            self._outbox.queue_draft(self._token, account, draft, send_at, protect)
        return True

    def _make_draft(self, *, check_recipients: bool = True) -> Draft | None:
        """The draft, or None after showing every problem inline."""
        parsed: dict[str, list[Mailbox]] = {}
        first_bad: QWidget | None = None
        for field in [*self.fields.values(), self.reply_to_field]:
            try:
                parsed[field.key] = field.parse()
                self._set_field_error(field, "")
            except InputError as exc:
                self._set_field_error(field, str(exc))
                first_bad = first_bad or field.edit
            if field.blocked:  # a domain that takes no mail (null MX)
                first_bad = first_bad or field.edit
        reply_to = parsed.pop("reply_to", [])
        self._check_all_domains()  # anything not checked yet starts now; nobody waits
        if check_recipients and first_bad is None and not any(parsed.values()):
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
            reply_to=reply_to,
            subject=subject.strip(),
            text=None if self.body_edit.rich else self.body_edit.toPlainText(),
            html=self.body_edit.html() if self.body_edit.rich else None,
            attachments=list(self._attachments),
            inline_images=self.inline_images() if self.body_edit.rich else [],
            priority=self.priority,
            read_receipt=self.options_button.read_receipt,
            sign=self.sign_action.isChecked(),
            encrypt=self.encrypt_action.isChecked(),
        )

    @Slot(str, int)
    def _on_queued(self, token: str, msg_id: int) -> None:
        if token != self._token:
            return
        self._token = None
        self._done = True
        # It is in the outbox now, bytes and all (build read the files); with Undo, the
        # main window's notice keeps the Draft and lets go of its files when Undo is over.
        self._drop_draft(keep_files=self._pending is not None and self._pending[2] > 0)
        if self._pending is not None:
            draft = self._pending[1]
            try:
                self.completion.remember([*draft.to, *draft.cc, *draft.bcc])
            except OSError as exc:  # completion is a convenience: never block sending
                log.warning("addresses were not remembered: %s", exc)
        self.sent.emit(msg_id)
        if self._pending is not None and self._pending[2] > 0:
            account, draft, seconds = self._pending
            self.undoable.emit(msg_id, account, draft, seconds)
        self._pending = None
        self.close()

    @Slot(str, str)
    def _on_failed(self, token: str, message: str) -> None:
        if token != self._token:
            return
        self._token = None
        self._set_busy(False)
        self._show_error(message)
        self._keys_after_failure()

    # --- reactions --------------------------------------------------------------------

    def _on_subject_edited(self, text: str) -> None:
        self._recheck()
        if self.subject_error.isVisible():
            try:
                check_text("subject", text)
                self.subject_error.hide()
            except InputError as exc:
                self.subject_error.setText(str(exc))

    @Slot()
    def _on_escape(self) -> None:
        """Esc first closes an open panel (pre-flight, send later), then the window."""
        if self.preflight.isVisible():
            self._dismiss_preflight()
        elif self.schedule_bar.isVisible():
            self.schedule_bar.hide()
            self.body_edit.setFocus()
        else:
            self.close()

    def _update_title(self) -> None:
        subject = " ".join(self.subject_edit.text().split())
        self.setWindowTitle(subject or self.tr("New message"))

    def _update_send_enabled(self) -> None:
        fields = [*self.fields.values(), self.reply_to_field]
        blocked = any(f.error_text or f.blocked for f in fields)
        ready = self.from_combo.count() > 0 and self._token is None and not blocked
        self.send_action.setEnabled(ready)
        self.send_later_action.setEnabled(ready)
        self.change_time_button.setEnabled(ready)
        self.clear_time_button.setEnabled(ready)
        if blocked:
            self.send_action.setToolTip(self.tr("Fix the addresses marked in red to send."))
        elif self._scheduled_at is not None:
            self.send_action.setToolTip(
                self.tr("Schedule the message for {0} (Ctrl+Return)").format(
                    self._when_text(self._scheduled_at)
                )
            )
        else:
            self.send_action.setToolTip(self.tr("Send the message (Ctrl+Return)"))

    def _show_error(self, text: str) -> None:
        self.error_bar.show_text(text)

    def _set_busy(self, busy: bool, *, scheduled: bool = False) -> None:
        self.editor.setEnabled(not busy)
        for action in (self.attach_action, self.bcc_action, self.reply_to_action):
            action.setEnabled(not busy)
        if busy:
            self.status_bar.show_text(self.tr("Scheduling…") if scheduled else self.tr("Queuing…"))
        else:
            self.status_bar.hide()
            self._update_bcc_toggle()
            self._update_reply_to_toggle()
        self._update_protection_actions()
        self._update_send_enabled()
