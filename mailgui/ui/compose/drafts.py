"""The window's draft: filled from a Draft or a saved draft, saved every few seconds
once modified (``autosave``) and on Ctrl+S, and on closing kept, dropped or kept
writing, as the person answers."""

from __future__ import annotations

from functools import partial

from PySide6.QtCore import QDateTime, QLocale, QTimer, Slot
from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import QMessageBox

from mailgui.core.drafts import SavedDraft
from mailgui.core.message import Draft
from mailgui.ui.compose.base import ComposeBase
from mailgui.ui.drafts_view import let_go
from mailgui.ui.signature import strip_signature

__all__ = ["AUTOSAVE_MS", "DraftsMixin"]

AUTOSAVE_MS = 5000  # a crash loses at most these few seconds of writing


class DraftsMixin(ComposeBase):
    """Filling, saving and closing the window's draft."""

    def prefill(self, account: str, draft: Draft, *, keep: bool = False) -> None:
        """Fill the window from ``draft`` (undo send, a mailto: link). An HTML body opens
        as rich text, a plain one as plain text. ``keep`` saves it as a draft at once (an
        undone message is nowhere else: it must not wait for the first autosave)."""
        self.select_identity(account, draft.sender.addr)
        for key, boxes in (("to", draft.to), ("cc", draft.cc), ("bcc", draft.bcc)):
            self.fields[key].edit.setText(", ".join(m.formatted() for m in boxes))
        if draft.bcc:
            self._set_bcc_visible(True)
        self.reply_to_edit.setText(", ".join(m.formatted() for m in draft.reply_to))
        self._set_reply_to_visible(bool(draft.reply_to), focus=False)
        self.subject_edit.setText(draft.subject)
        if draft.html is not None:
            self.set_rich_text(True, remember=False)
            for image in draft.inline_images:  # bytes in memory: only decoding waits
                self._inline[image.cid] = image
                self._reopen_image(image.cid, image.filename, image, self._saved.id)
            self.body_edit.setHtml(draft.html)
        else:
            self.set_rich_text(False, remember=False)
            self.body_edit.setPlainText(draft.text or "")
        self.add_attachments(list(draft.attachments))
        self.set_options(draft.priority, draft.read_receipt)
        self.set_protection(draft.sign, draft.encrypt)
        self._update_title()
        self._check_all_domains()
        self._update_send_enabled()
        self.focus_where_to_write()
        if keep:
            self._write_draft(open_=True)

    @property
    def draft_id(self) -> str:
        return self._saved.id

    def open_saved_draft(self, saved: SavedDraft) -> None:
        """Go on writing a saved (or recovered) draft; this window now owns its file."""
        self.select_identity(saved.account, saved.identity)
        for key in ("to", "cc", "bcc"):
            self.fields[key].edit.setText(getattr(saved, key))
        if saved.bcc.strip():
            self._set_bcc_visible(True)
        self.reply_to_edit.setText(saved.reply_to)
        self._set_reply_to_visible(bool(saved.reply_to.strip()), focus=False)
        self.subject_edit.setText(saved.subject)
        if saved.html is not None:
            self.set_rich_text(True, remember=False)
            for item in saved.inline_images:  # read and decoded in the pool
                self._unread[item["cid"]] = item
                reader = partial(self.drafts.load_image, saved, item)
                self._reopen_image(item["cid"], item.get("filename", ""), reader, saved.id)
            self.body_edit.setHtml(saved.html)
        else:
            self.set_rich_text(False, remember=False)
            self.body_edit.setPlainText(saved.text)
        self.add_attachments(saved.attachments)
        self.set_options(saved.priority, saved.read_receipt)
        self.set_protection(saved.sign, saved.encrypt)
        self.set_scheduled(saved.send_at)
        self._saved = saved
        self._write_draft(open_=True)
        self._update_title()
        self._check_all_domains()
        self._update_send_enabled()
        self.focus_where_to_write()

    def focus_where_to_write(self) -> None:
        """The focus on the first thing still to write: To when there is no recipient,
        else Subject when it is empty, else the body (a mailto: link with an address
        and a subject opens ready to type the text). Before the window shows, this
        only chooses the widget that gets the focus when it does: its first paint
        already has the cursor there."""
        if not any(f.edit.text().strip() for f in self.fields.values()):
            self.to_edit.setFocus()
        elif not self.subject_edit.text().strip():
            self.subject_edit.setFocus()
        else:
            self.body_edit.setFocus()

    def _current_draft(self, *, open_: bool) -> SavedDraft:
        rich = self.body_edit.rich
        return SavedDraft(
            id=self._saved.id,
            account=str(self.from_combo.currentData() or ""),
            identity=self._identity.email if self._identity is not None else "",
            to=self.to_edit.text(),
            cc=self.cc_edit.text(),
            bcc=self.bcc_edit.text(),
            reply_to=self.reply_to_edit.text(),
            subject=self.subject_edit.text(),
            text=self.body_edit.toPlainText(),
            html=self.body_edit.html() if rich else None,
            attachments=[str(p) for p in self._attachments],
            priority=self.priority,
            read_receipt=self.options_button.read_receipt,
            sign=self.sign_action.isChecked(),
            encrypt=self.encrypt_action.isChecked(),
            send_at=self._scheduled_at,
            taken_from_id=self._saved.taken_from_id,
            taken_from=self._saved.taken_from,
            open=open_,
        )

    def _write_draft(self, *, open_: bool) -> bool:
        try:
            draft = self._current_draft(open_=open_)
            images = self.inline_images() if draft.html is not None else []
            # Pictures still being read stay saved as they are (their bytes are not here).
            self.drafts.save_images(draft, images, kept=list(self._unread.values()))
            self.drafts.save(draft)
        except OSError as exc:
            self._show_error(
                self.tr("The draft could not be saved ({0}); check the disk.").format(
                    exc.strerror or exc
                )
            )
            return False
        self._dirty = False
        return True

    @Slot()
    def _mark_dirty(self) -> None:
        self._dirty = True

    @Slot()
    def autosave(self) -> None:
        """Every few seconds: keep what changed (an emptied window keeps no draft)."""
        if not self._dirty or self._done or self._token is not None:
            return
        if self.is_modified():
            self._write_draft(open_=True)
        else:
            self._drop_draft()
            self._dirty = False

    @Slot()
    def save_draft(self) -> bool:
        """Ctrl+S: save now and say so."""
        if self._token is not None or not self._write_draft(open_=True):
            return False
        self.status_bar.show_text(
            self.tr("Draft saved at {0}.").format(
                QLocale().toString(
                    QDateTime.currentDateTime().time(), QLocale.FormatType.ShortFormat
                )
            )
        )
        QTimer.singleShot(2500, self, self._hide_saved_note)
        return True

    def _hide_saved_note(self) -> None:
        if self._token is None:
            self.status_bar.hide()

    def is_modified(self) -> bool:
        """Something was typed or attached (closing then asks before discarding)."""
        signature = self._identity.signature if self._identity is not None else ""
        body = strip_signature(self.body_edit.toPlainText(), signature)
        return bool(
            any(f.edit.text().strip() for f in self.fields.values())
            or self.reply_to_edit.text().strip() not in ("", self._auto_reply_to.strip())
            or self.subject_edit.text().strip()
            or body.strip()
            or self._attachments
        )

    # --- closing ----------------------------------------------------------------------

    def closeEvent(self, event: QCloseEvent) -> None:
        if self._token is not None:
            # The outbox is storing it right now; it answers in a moment.
            event.ignore()
            return
        if self._done:
            event.accept()
            return
        if not self.is_modified():
            self._drop_draft()
            event.accept()
            return
        answer = self._ask_on_close()
        if answer == "save" and self._write_draft(open_=False):
            self.autosave_timer.stop()
            event.accept()
        elif answer == "discard":
            self.autosave_timer.stop()
            self._drop_draft()
            event.accept()
        else:
            event.ignore()

    def _drop_draft(self, *, keep_files: bool = False) -> None:
        """Delete this window's draft file and, unless ``keep_files``, the files mailgui
        wrote for it (a taken-out message's attachments, pictures kept as files) once
        no saved draft points at them."""
        self.drafts.delete(self._saved.id)
        if not keep_files:
            let_go(self._ctx, self._attachments)

    def _ask_on_close(self) -> str:
        """The answer: "save" (keep it in Drafts), "discard", or "keep" (go on writing)."""
        box = QMessageBox(self)
        box.setIcon(QMessageBox.Icon.Question)
        box.setWindowTitle(self.tr("Save this draft?"))
        box.setText(self.tr("Keep this message in Drafts to finish it later?"))
        save = box.addButton(self.tr("Save draft"), QMessageBox.ButtonRole.AcceptRole)
        discard = box.addButton(self.tr("Discard"), QMessageBox.ButtonRole.DestructiveRole)
        keep = box.addButton(self.tr("Keep writing"), QMessageBox.ButtonRole.RejectRole)
        box.setDefaultButton(save)
        box.setEscapeButton(keep)
        box.exec()
        clicked = box.clickedButton()
        return "save" if clicked is save else "discard" if clicked is discard else "keep"
