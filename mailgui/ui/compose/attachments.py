"""Attached files: chosen in a dialog or dropped anywhere on the window, listed under
the text with their sizes, removed with Delete. The files are read only when the
outbox builds the message, in its own thread."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QEvent, QFileInfo, QObject, Qt, Slot
from PySide6.QtGui import QAction, QDragEnterEvent, QDragMoveEvent, QDropEvent, QKeySequence
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFileDialog,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QVBoxLayout,
)

from mailgui.core.sizes import human_size
from mailgui.ui.compose.base import ComposeBase
from mailgui.ui.inline_images import is_image_file

if TYPE_CHECKING:
    from PySide6.QtWidgets import QStyle

__all__ = ["AttachmentsMixin"]

_ROWS = 4  # the list grows up to this many rows, then scrolls


def _file_icon() -> QStyle.StandardPixmap:
    # QStyle's first use makes a dozen enums (~5 ms): not before a file is attached.
    from PySide6.QtWidgets import QStyle

    return QStyle.StandardPixmap.SP_FileIcon


def _dropped_files(event: QDropEvent | QDragEnterEvent | QDragMoveEvent) -> list[str]:
    mime = event.mimeData()
    if mime is None or not mime.hasUrls():
        return []
    return [url.toLocalFile() for url in mime.urls() if url.isLocalFile()]


class AttachmentsMixin(ComposeBase):
    """The window's attachments and file drops."""

    def _build_attachment_list(self, layout: QVBoxLayout) -> None:
        self.attachments_label = QLabel(self.tr("Attachments:"), self.editor)
        self.attachment_list = QListWidget(self.editor)
        self.attachment_list.setObjectName("attachment_list")
        self.attachment_list.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.attachment_list.setContextMenuPolicy(Qt.ContextMenuPolicy.ActionsContextMenu)
        self.attachment_list.setToolTip(self.tr("Delete removes the selected attachments."))
        self.remove_attachment_action = QAction(self.tr("Remove"), self.attachment_list)
        self.remove_attachment_action.setShortcut(QKeySequence(QKeySequence.StandardKey.Delete))
        self.remove_attachment_action.setShortcutContext(Qt.ShortcutContext.WidgetShortcut)
        self.remove_attachment_action.triggered.connect(self.remove_selected_attachments)
        self.attachment_list.addAction(self.remove_attachment_action)
        layout.addWidget(self.attachments_label)
        layout.addWidget(self.attachment_list)
        self._refresh_attachments()

    def add_attachments(self, paths: list[str] | list[Path]) -> None:
        """Attach files (from the dialog or a drop); folders and unreadable files are
        refused with a sentence in the window, duplicates are skipped."""
        problems: list[str] = []
        for raw in paths:
            path = Path(raw)
            info = QFileInfo(str(path))
            if info.isDir():
                problems.append(
                    self.tr("'{0}' is a folder; only files can be attached.").format(path.name)
                )
            elif not info.exists():
                problems.append(self.tr("'{0}' does not exist.").format(path.name))
            elif not info.isReadable():
                problems.append(
                    self.tr("'{0}' cannot be read; check its permissions.").format(path.name)
                )
            elif path.absolute() not in [p.absolute() for p in self._attachments]:
                self._attachments.append(path)
                self._dirty = True
        if problems:
            self._show_error(" ".join(problems))
        self._refresh_attachments()
        self._recheck()

    @property
    def attachments(self) -> list[Path]:
        return list(self._attachments)

    @Slot()
    def remove_selected_attachments(self) -> None:
        rows = sorted(
            (self.attachment_list.row(item) for item in self.attachment_list.selectedItems()),
            reverse=True,
        )
        for row in rows:
            del self._attachments[row]
            self._dirty = True
        self._refresh_attachments()
        self._recheck()

    @Slot()
    def _choose_attachments(self) -> None:
        paths, _ = QFileDialog.getOpenFileNames(self, self.tr("Attach files"))
        if paths:
            self.add_attachments(paths)

    def _refresh_attachments(self) -> None:
        self.attachment_list.clear()
        for path in self._attachments:
            shown = human_size(QFileInfo(str(path)).size())
            item = QListWidgetItem(
                self.style().standardIcon(_file_icon()),
                f"{path.name}  ({shown})",
            )
            item.setToolTip(str(path))
            self.attachment_list.addItem(item)
        count = len(self._attachments)
        self.attachments_label.setVisible(count > 0)
        self.attachment_list.setVisible(count > 0)
        if count:
            row = self.attachment_list.sizeHintForRow(0)
            frame = 2 * self.attachment_list.frameWidth()
            self.attachment_list.setFixedHeight(row * min(count, _ROWS) + frame + 4)
            total = sum(QFileInfo(str(p)).size() for p in self._attachments)
            self.attachments_label.setText(
                self.tr("Attachments ({0}, {1}):").format(
                    count,
                    human_size(total),
                )
            )

    # --- drops ------------------------------------------------------------------------

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if self._token is None and _dropped_files(event):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dragMoveEvent(self, event: QDragMoveEvent) -> None:
        if self._token is None and _dropped_files(event):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dropEvent(self, event: QDropEvent) -> None:
        files = _dropped_files(event)
        if self._token is None and files:
            event.acceptProposedAction()
            self.add_attachments(files)
        else:
            event.ignore()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        """File drops anywhere in the window attach, even over widgets that take text."""
        # DragEnter and DragMove events are QDropEvents too.
        if isinstance(event, QDropEvent) and _dropped_files(event):
            if event.type() == QEvent.Type.Drop:
                files = _dropped_files(event)
                if (
                    watched is self.body_edit.viewport()
                    and self.body_edit.rich
                    and self._token is None
                    and all(is_image_file(f) for f in files)
                ):
                    # Pictures dropped into rich text go where they were dropped.
                    event.acceptProposedAction()
                    at = self.body_edit.cursorForPosition(event.position().toPoint())
                    self.insert_images(files, at)
                    return True
                self.dropEvent(event)
                return True
            if isinstance(event, QDragMoveEvent):
                self.dragMoveEvent(event)
                return True
        return super().eventFilter(watched, event)
