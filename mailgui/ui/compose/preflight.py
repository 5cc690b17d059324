"""Pre-flight, the window's part: it asks the rules (``mailgui.core.preflight``) about
the message as it stands, shows their findings in the panel (``preflight_panel``) with
a fix each, and takes a finding off the list as soon as it is fixed or waived."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QFileInfo, Slot
from PySide6.QtWidgets import QPushButton

from mailgui.core.preflight import Composed, check, encoded_size, size_matters
from mailgui.core.server_limits import ServerLimits
from mailgui.ui.compose.base import ComposeBase
from mailgui.ui.compose.preflight_panel import Finding

__all__ = ["PreflightMixin"]


class PreflightMixin(ComposeBase):
    """The window's pre-flight checks (``findings``: what the panel lists now)."""

    def _findings(self) -> list[Finding]:
        """What deserves a second look (``core.preflight``), in words, with fixes."""
        attachments = len(self._attachments)
        measured = None
        if size_matters(self.size_limit, attachments, len(self.body_edit.images)):
            measured = self._encoded_size()
        composed = Composed(
            recipients=tuple(f.edit.text() for f in self.fields.values()),
            subject=self.subject_edit.text(),
            text=self.body_edit.toPlainText(),
            attachments=attachments,
            size_limit=self.size_limit,
            encoded_size=measured,
        )
        fixes: dict[str, Callable[[], object]] = {
            "recipients": self.to_edit.setFocus,
            "subject": self.subject_edit.setFocus,
            "attachment": self._choose_attachments,
            "size": self.attachment_list.setFocus,
        }
        found = [self.preflight.finding(found, fixes[found.key]) for found in check(composed)]
        return found + self._protection_findings()

    def _encoded_size(self) -> int:
        text = self.body_edit.toPlainText().encode("utf-8", "replace")
        html = self.body_edit.html().encode("utf-8", "replace") if self.body_edit.rich else b""
        sizes = [QFileInfo(str(p)).size() for p in self._attachments]
        if self.body_edit.rich:
            sizes += [len(image.data) for image in self.inline_images()]
        return encoded_size(len(text), len(html), sizes)

    def _show_findings(self, findings: list[Finding], *, focus: bool) -> None:
        self.findings = findings
        self.preflight.show_findings(findings, focus=focus)

    def fix_button(self, key: str) -> QPushButton:
        return self.preflight.fix_button(key)

    @Slot(str)
    def dismiss_finding(self, key: str) -> None:
        """Waive one finding; the panel closes when nothing is left."""
        self._waived.add(key)
        self._show_findings([f for f in self._findings() if f.key not in self._waived], focus=False)

    @Slot()
    def _recheck(self) -> None:
        """While the panel shows, fixing something takes it off the list at once."""
        if self.preflight.isVisible():
            self._show_findings(
                [f for f in self._findings() if f.key not in self._waived], focus=False
            )

    @Slot()
    def _send_anyway(self) -> None:
        self.send(send_at=self._send_at, force=True)

    @Slot()
    def _dismiss_preflight(self) -> None:
        """Keep editing: close the panel and go to the first field it named."""
        first = self.findings[0].key if self.findings else ""
        self.preflight.hide()
        focus = {"recipients": self.to_edit, "subject": self.subject_edit}.get(first)
        (focus or self.body_edit).setFocus()

    @Slot()
    def _load_size_limit(self) -> None:
        """The SIZE the From account's server announced at its last EHLO (the sender
        records it), for the pre-flight check; None when never seen."""
        limits = ServerLimits.of(self._ctx.profile)
        self.size_limit = limits.size_limit(str(self.from_combo.currentData()))
        self._recheck()
