"""Address rows of the compose window, and completion of the address being typed."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QObject, QStringListModel, Qt, Slot
from PySide6.QtWidgets import QCompleter, QLabel, QLineEdit

from mailgui.core.address_book import AddressBook
from mailgui.core.addresses import Mailbox, parse_recipients

__all__ = ["AddressCompleter", "AddressField"]


@dataclass
class AddressField:
    """One address row: its label, line edit, the error under it, and its last result."""

    key: str  # "to", "cc", "bcc", "reply_to"
    what: str  # how the parser names it in errors: "To address"
    label: QLabel
    edit: QLineEdit
    error: QLabel
    warning: QLabel  # recipient-domain findings (no such domain, typo, null MX)
    error_text: str = ""
    blocked: bool = False  # a domain finding blocks sending (null MX)

    def parse(self) -> list[Mailbox]:
        """The field's addresses; raises InputError in the parser's words."""
        return parse_recipients([self.edit.text()], what=self.what)


def _segment(edit: QLineEdit) -> tuple[int, int]:
    """Where the address being typed starts and ends (the cursor) in ``edit``."""
    cursor = edit.cursorPosition()
    return edit.text().rfind(",", 0, cursor) + 1, cursor


class AddressCompleter(QObject):
    """Addresses used before (the profile's address book) complete the part being
    typed, after the last comma, in every field it is given."""

    def __init__(self, book: Path, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.address_book = AddressBook(book)
        self.model = QStringListModel(self)
        self.completer = QCompleter(self.model, self)
        self.completer.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        self.completer.setCompletionMode(QCompleter.CompletionMode.UnfilteredPopupCompletion)
        self.completer.activated[str].connect(self._complete)  # type: ignore[index]

    def watch(self, fields: Iterable[AddressField]) -> None:
        for field in fields:
            field.edit.textEdited.connect(lambda _t, e=field.edit: self._suggest(e))

    def remember(self, boxes: list[Mailbox]) -> None:
        """Addresses just sent to; raises OSError when the book cannot be written."""
        self.address_book.remember(boxes)

    def _suggest(self, edit: QLineEdit) -> None:
        start, end = _segment(edit)
        typed = edit.text()[start:end].strip()
        popup = self.completer.popup()
        assert popup is not None
        if not typed:
            popup.hide()
            return
        elsewhere = (edit.text()[:start] + edit.text()[end:]).lower()  # already there
        matches = [m for m in self.address_book.matching(typed) if m.lower() not in elsewhere]
        if not matches:
            popup.hide()
            return
        self.model.setStringList(matches)
        self.completer.setWidget(edit)
        self.completer.complete()

    @Slot(str)
    def _complete(self, address: str) -> None:
        edit = self.completer.widget()
        if not isinstance(edit, QLineEdit):
            return
        start, end = _segment(edit)
        head = edit.text()[:start].rstrip()
        head = head + " " if head else ""
        tail = edit.text()[end:].lstrip()
        edit.setText(f"{head}{address}, {tail}")
        edit.setCursorPosition(len(head) + len(address) + 2)
