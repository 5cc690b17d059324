"""What the embedded demo server received, for ``mailgui --demo``.

The view polls ``DemoServer.snapshot`` (a list copy under the server's lock) on a
timer, so it never blocks on the server thread. The list shows only what the
header block gives cheaply; the full parse of the selected message (its body and
attachments can be large) runs in Qt's thread pool and comes back as plain data.
"""

from __future__ import annotations

import functools
import html
import time
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser

from PySide6.QtCore import QCoreApplication, QSize, Qt, QTimer, Signal, Slot
from PySide6.QtGui import QFont, QFontDatabase, QResizeEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QFrame,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPlainTextEdit,
    QSizePolicy,
    QSplitter,
    QStackedWidget,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from mailgui.core.sizes import human_size
from mailgui.demo_server import DemoServer, Received
from mailgui.ui import background

__all__ = ["Details", "ReceivedView", "Summary", "describe", "summarize"]

POLL_MS = 250
PANEL_WIDTH = 400  # what the panel asks for beside the outbox, whatever it shows
RAW_LIMIT = 512 * 1024  # characters of raw source shown; a big attachment is cut
_HEAD_LIMIT = 64 * 1024  # a header block longer than this is not read for the list
_HEADERS = ("From", "To", "Cc", "Subject", "Date", "Message-ID")
_SUMMARY_PARSER = BytesParser(policy=policy.default)


@dataclass(frozen=True)
class Summary:
    """One list row, from the header block only."""

    index: int
    received_at: float
    sender: str  # the whole From header
    to: str  # the whole To header, or the envelope recipients when there is none
    subject: str
    sender_names: str  # what the list shows: names where there are some
    to_names: str


@dataclass(frozen=True)
class Details:
    """The selected message, readable: plain data made in a worker thread."""

    index: int
    headers: list[tuple[str, str]]  # the present ones of _HEADERS, in that order
    envelope_from: str
    envelope_to: list[str]
    text: str
    attachments: list[tuple[str, int]]  # file name, decoded size in bytes
    raw: str
    raw_truncated: bool


def _header(msg: EmailMessage, name: str) -> str:
    values = msg.get_all(name) or []
    shown: list[str] = []
    for value in values:
        try:
            shown.append(" ".join(str(value).split()))
        except Exception:  # a malformed header: show it as it came
            shown.append(" ".join(getattr(value, "_raw", repr(value)).split()))
    return ", ".join(shown)


def _names(msg: EmailMessage, name: str) -> str:
    """Display names (addresses where there is no name), as a list shows people."""
    try:
        addresses = [a for h in msg.get_all(name) or [] for a in h.addresses]
    except Exception:  # unparseable: the caller falls back to the whole header
        return ""
    return ", ".join(a.display_name or a.addr_spec for a in addresses)


def summarize(index: int, received: Received) -> Summary:
    """Cheap: parses only the header block, whatever the size of the message."""
    data = received.data
    end = data.find(b"\r\n\r\n")
    if end < 0:
        end = data.find(b"\n\n")
    head = data[: min(end if end >= 0 else len(data), _HEAD_LIMIT)]  # slices, no copy of all
    msg = _SUMMARY_PARSER.parsebytes(head + b"\r\n\r\n", headersonly=True)
    assert isinstance(msg, EmailMessage)
    envelope_to = ", ".join(received.rcpt_tos)
    sender = _header(msg, "From") or received.mail_from
    to = _header(msg, "To") or envelope_to
    return Summary(
        index=index,
        received_at=received.received_at,
        sender=sender,
        to=to,
        subject=_header(msg, "Subject"),
        sender_names=_names(msg, "From") or sender,
        to_names=_names(msg, "To") or to,
    )


def describe(index: int, received: Received) -> Details:
    """The whole message, parsed (slow for big messages: call it off the GUI thread)."""
    msg = BytesParser(policy=policy.default).parsebytes(received.data)
    assert isinstance(msg, EmailMessage)
    headers = [(name, _header(msg, name)) for name in _HEADERS]
    text = ""
    try:
        body = msg.get_body(preferencelist=("plain", "html"))
        if body is not None:
            content = body.get_content()
            text = content if isinstance(content, str) else ""
            if body.get_content_subtype() == "html":
                import html2text

                text = html2text.html2text(text)
    except (LookupError, ValueError, KeyError) as exc:
        text = QCoreApplication.translate("ReceivedView", "(The text cannot be shown: {0})").format(
            exc
        )
    attachments: list[tuple[str, int]] = []
    for part in msg.iter_attachments():
        assert isinstance(part, EmailMessage)
        name = part.get_filename() or QCoreApplication.translate("ReceivedView", "(no name)")
        payload = part.get_payload(decode=True)
        attachments.append((name, len(payload) if isinstance(payload, bytes) else 0))
    raw = received.data[:RAW_LIMIT].decode("utf-8", errors="replace")
    return Details(
        index=index,
        headers=[(k, v) for k, v in headers if v],
        envelope_from=received.mail_from,
        envelope_to=list(received.rcpt_tos),
        text=text,
        attachments=attachments,
        raw=raw,
        raw_truncated=len(received.data) > RAW_LIMIT,
    )


def _describe_safely(index: int, received: Received) -> Details:
    """``describe``, but a message the parser chokes on still shows its raw source."""
    try:
        return describe(index, received)
    except Exception as exc:
        raw = received.data[:RAW_LIMIT].decode("utf-8", errors="replace")
        return Details(
            index=index,
            headers=[],
            envelope_from=received.mail_from,
            envelope_to=list(received.rcpt_tos),
            text=QCoreApplication.translate(
                "ReceivedView", "This message cannot be read ({0}); see its raw source."
            ).format(exc),
            attachments=[],
            raw=raw,
            raw_truncated=len(received.data) > RAW_LIMIT,
        )


class ReceivedView(QWidget):
    """The demo server's inbox: a list of received messages and the selected one.

    Its width does not depend on what it shows: the header lines (a Message-ID is one
    long word) are clipped rather than widen the panel, so the outbox beside it keeps
    its room when the first message arrives.

    Signals:
        messageCountChanged(int): how many messages the list holds.
    """

    messageCountChanged = Signal(int)

    def __init__(self, server: DemoServer, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._server = server
        self._received: list[Received] = []
        self._details: dict[int, Details] = {}
        self._pending = 0  # the request id whose answer we want

        self.setWindowTitle(self.tr("Received (demo)"))
        self.resize(820, 620)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 8, 8, 8)

        self.caption = QLabel(
            self.tr(
                "What the demo server at {0}:{1} received. Nothing leaves this computer."
            ).format(server.host, server.port),
            self,
        )
        self.caption.setWordWrap(True)
        layout.addWidget(self.caption)

        splitter = QSplitter(Qt.Orientation.Vertical, self)
        layout.addWidget(splitter, 1)

        self.list = QTreeWidget(splitter)
        self.list.setObjectName("received_list")
        self.list.setColumnCount(4)
        self.list.setHeaderLabels(
            [self.tr("Time"), self.tr("From"), self.tr("To"), self.tr("Subject")]
        )
        self.list.setRootIsDecorated(False)
        self.list.setUniformRowHeights(True)
        self.list.setAlternatingRowColors(True)
        self.list.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        header = self.list.header()
        header.setStretchLastSection(True)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        self._fit_columns()
        self.list.currentItemChanged.connect(self._on_current_changed)

        self.detail = QStackedWidget(splitter)
        self.placeholder = QLabel(splitter)
        self.placeholder.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.placeholder.setWordWrap(True)
        self.placeholder.setEnabled(False)  # greyed, like an empty state
        self.detail.addWidget(self.placeholder)
        self.detail.addWidget(self._build_message_pane())
        splitter.setStretchFactor(0, 1)
        splitter.setStretchFactor(1, 2)
        splitter.setSizes([200, 400])

        self._timer = QTimer(self)
        self._timer.setInterval(POLL_MS)
        self._timer.timeout.connect(self.poll)
        self._timer.start()
        self._show_placeholder()
        self.poll()

    def _build_message_pane(self) -> QWidget:
        pane = QWidget(self)
        layout = QVBoxLayout(pane)
        layout.setContentsMargins(0, 6, 0, 0)

        top = QHBoxLayout()
        self.subject_label = QLabel(pane)
        self.subject_label.setObjectName("subject_label")
        font = QFont(self.subject_label.font())
        font.setPointSizeF(font.pointSizeF() * 1.25)
        font.setBold(True)
        self.subject_label.setFont(font)
        self.subject_label.setWordWrap(True)
        _no_width_demand(self.subject_label)
        self.subject_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        top.addWidget(self.subject_label, 1)
        self.raw_button = QCheckBox(self.tr("Raw source"), pane)  # a state shows at a glance
        self.raw_button.setToolTip(self.tr("Show the message exactly as the server received it"))
        self.raw_button.toggled.connect(self._set_raw)
        top.addWidget(self.raw_button, 0, Qt.AlignmentFlag.AlignTop)
        layout.addLayout(top)

        self.pages = QStackedWidget(pane)
        layout.addWidget(self.pages, 1)

        readable = QWidget(pane)
        readable_layout = QVBoxLayout(readable)
        readable_layout.setContentsMargins(0, 0, 0, 0)
        self.headers_label = QLabel(readable)
        self.headers_label.setObjectName("headers_label")
        self.headers_label.setTextFormat(Qt.TextFormat.RichText)
        self.headers_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.headers_label.setWordWrap(True)
        _no_width_demand(self.headers_label)
        readable_layout.addWidget(self.headers_label)
        line = QFrame(readable)
        line.setFrameShape(QFrame.Shape.HLine)
        line.setFrameShadow(QFrame.Shadow.Sunken)
        readable_layout.addWidget(line)
        self.body_view = QPlainTextEdit(readable)
        self.body_view.setObjectName("body_view")
        self.body_view.setReadOnly(True)
        readable_layout.addWidget(self.body_view, 1)
        self.pages.addWidget(readable)

        self.raw_view = QPlainTextEdit(pane)
        self.raw_view.setObjectName("raw_view")
        self.raw_view.setReadOnly(True)
        self.raw_view.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.raw_view.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.pages.addWidget(self.raw_view)
        return pane

    def sizeHint(self) -> QSize:
        return QSize(PANEL_WIDTH, super().sizeHint().height())

    def minimumSizeHint(self) -> QSize:
        return QSize(min(super().minimumSizeHint().width(), PANEL_WIDTH // 2), 0)

    # --- public -----------------------------------------------------------------------

    def message_count(self) -> int:
        return self.list.topLevelItemCount()

    def summaries(self) -> list[Summary]:
        """The rows, newest first, as shown."""
        result: list[Summary] = []
        for row in range(self.list.topLevelItemCount()):
            item = self.list.topLevelItem(row)
            assert item is not None
            result.append(item.data(0, Qt.ItemDataRole.UserRole))
        return result

    def select_index(self, index: int) -> None:
        """Select the message that arrived as number ``index`` (0 = first)."""
        for row in range(self.list.topLevelItemCount()):
            item = self.list.topLevelItem(row)
            if item is not None and item.data(0, Qt.ItemDataRole.UserRole).index == index:
                self.list.setCurrentItem(item)
                return
        raise IndexError(index)

    def current_details(self) -> Details | None:
        """What the pane shows now (None while nothing is selected or it is loading)."""
        item = self.list.currentItem()
        if item is None:
            return None
        return self._details.get(item.data(0, Qt.ItemDataRole.UserRole).index)

    @Slot()
    def poll(self) -> None:
        new = self._server.snapshot(len(self._received))
        if not new:
            return
        first = len(self._received)
        self._received.extend(new)
        for offset, received in enumerate(new):
            self._add_row(summarize(first + offset, received))
        self.messageCountChanged.emit(len(self._received))
        newest = self.list.topLevelItem(0)
        if self.list.currentItem() is None and newest is not None:
            self.list.setCurrentItem(newest)
        self._show_placeholder()

    # --- internals --------------------------------------------------------------------

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._fit_columns()

    def _fit_columns(self) -> None:
        """From and To share what Time leaves with the Subject, so the Subject stays in
        sight even in a narrow dock."""
        header = self.list.header()
        free = self.list.viewport().width() - header.sectionSize(0)
        width = max(70, min(180, free // 4))
        header.resizeSection(1, width)
        header.resizeSection(2, width)

    def _add_row(self, summary: Summary) -> None:
        when = time.strftime("%H:%M:%S", time.localtime(summary.received_at))
        item = QTreeWidgetItem([when, summary.sender_names, summary.to_names, summary.subject])
        item.setData(0, Qt.ItemDataRole.UserRole, summary)
        item.setToolTip(1, summary.sender)
        item.setToolTip(2, summary.to)
        item.setToolTip(3, summary.subject)
        self.list.insertTopLevelItem(0, item)  # newest first

    def _show_placeholder(self) -> None:
        if self.list.topLevelItemCount() == 0:
            self.placeholder.setText(
                self.tr(
                    "Nothing received yet.\nSend a message with the Demo account "
                    "and it appears here."
                )
            )
            self.detail.setCurrentIndex(0)
        elif self.list.currentItem() is None:
            self.placeholder.setText(self.tr("Select a message to read it."))
            self.detail.setCurrentIndex(0)

    @Slot(QTreeWidgetItem, QTreeWidgetItem)
    def _on_current_changed(
        self, current: QTreeWidgetItem | None, _previous: QTreeWidgetItem | None
    ) -> None:
        if current is None:
            self._pending = 0
            self._show_placeholder()
            return
        summary: Summary = current.data(0, Qt.ItemDataRole.UserRole)
        self.detail.setCurrentIndex(1)
        cached = self._details.get(summary.index)
        if cached is not None:
            self._pending = 0
            self._show_details(cached)
            return
        self.subject_label.setText(summary.subject or self.tr("(no subject)"))
        self.headers_label.setText("")
        self.body_view.setPlainText(self.tr("Loading…"))
        self.raw_view.setPlainText("")
        received = self._received[summary.index]
        job = functools.partial(_describe_safely, summary.index, received)
        self._pending = background.run(job, self._on_details)

    def _on_details(self, request: int, details: Details) -> None:
        """In the GUI thread, and only while this view exists (``background.run``)."""
        self._details.setdefault(details.index, details)
        if request == self._pending:
            self._pending = 0
            self._show_details(details)

    def _show_details(self, details: Details) -> None:
        subject = dict(details.headers).get("Subject", "")
        self.subject_label.setText(subject or self.tr("(no subject)"))
        rows = [(self.tr(name), value) for name, value in details.headers if name != "Subject"]
        rows.append((self.tr("Delivered to"), ", ".join(details.envelope_to)))
        if details.attachments:
            rows.append(
                (
                    self.tr("Attachments"),
                    ", ".join(f"{name} ({human_size(size)})" for name, size in details.attachments),
                )
            )
        cells = "".join(
            f"<tr><td style='padding-right:12px; white-space:nowrap'><b>{html.escape(k)}:</b></td>"
            f"<td>{html.escape(v)}</td></tr>"
            for k, v in rows
        )
        self.headers_label.setText(f"<table cellspacing='0' cellpadding='1'>{cells}</table>")
        self.body_view.setPlainText(details.text)
        raw = details.raw
        if details.raw_truncated:
            raw += "\n" + self.tr("[… cut here: the message is longer than {0}]").format(
                human_size(RAW_LIMIT)
            )
        self.raw_view.setPlainText(raw)

    @Slot(bool)
    def _set_raw(self, raw: bool) -> None:
        self.pages.setCurrentIndex(1 if raw else 0)


def _no_width_demand(label: QLabel) -> None:
    """A label that takes the width it is given instead of asking for its text's: a
    long unbreakable word (a Message-ID) is clipped, it does not widen the panel."""
    policy = label.sizePolicy()
    policy.setHorizontalPolicy(QSizePolicy.Policy.Ignored)
    label.setSizePolicy(policy)
    label.setMinimumWidth(1)
