"""The main window: the outbox, what the sender is doing, and the actions on messages.

The window only renders. Database work happens in the OutboxHandle's thread,
SMTP in the Sender's thread; both report back through signals with plain data.

At the app's start the window paints its empty frame first (its size and place, the
title "Opening the outbox…") and is built right after that paint
(``build_later``, ui/app.py): the modules behind the outbox view (the ``Qt`` namespace
alone is ~30 ms of enum conversion) are imported inside the methods that need them, so
importing this module costs next to nothing. The frame shows no text of its own: the
first text Qt draws loads the font database (~10 ms), which the build does anyway.
What the whole window's first paint does not show (the Drafts submenu, the
recovered-drafts notice, the tray, the network watch, the sender thread) comes after
the paint that shows the outbox, in small steps (``after_first_paint``).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QByteArray, QCoreApplication, QEvent, QObject, QSettings, QTimer, Slot
from PySide6.QtWidgets import QLabel, QMainWindow, QWidget

from mailgui.core.log import get_logger
from mailgui.ui.context import AppContext
from mailgui.ui.plurals import english

if TYPE_CHECKING:
    from PySide6.QtCore import QUrl
    from PySide6.QtGui import QAction, QCloseEvent, QIcon
    from PySide6.QtWidgets import QSystemTrayIcon

    from mailgui.core.outbox import MessageRow
    from mailgui.demo_server import DemoServer  # loaded only in --demo mode (aiosmtpd, asyncio)
    from mailgui.ui.drafts_view import DraftsMenu, MessageToDraft, RecoveredDraftsNotice
    from mailgui.ui.outbox_model import OutboxFilter, OutboxModel
    from mailgui.ui.outbox_service import OutboxHandle
    from mailgui.ui.preferences import Preferences, PreferencesDialog
    from mailgui.ui.quit_guard import AgentStart, QuitQuestion
    from mailgui.ui.sender import Sender

log = get_logger(__name__)

VIEWS = (("outbox", "Outbox"), ("scheduled", "Scheduled"), ("failed", "Failed"), ("sent", "Sent"))
WAITING = ("queued", "sending", "deferred", "scheduled", "held")  # "held": in the undo delay
QUIT_FLUSH_MS = 20_000  # on quit, how long sending the messages in their undo delay may take


def app_icon() -> QIcon:
    from mailgui.ui.icons import app_icon as icon

    return icon()


class FirstPaint(QObject):
    """Calls ``then`` once ``window`` has painted for the first time, or after
    ``FALLBACK_MS`` when it has not (shown minimised, say); ``cancel`` forgets it."""

    FALLBACK_MS = 1000

    def __init__(self, window: QWidget, then: Callable[[], None]) -> None:
        super().__init__(window)
        self._window = window
        self._then: Callable[[], None] | None = then
        window.installEventFilter(self)
        QTimer.singleShot(self.FALLBACK_MS, self, self._fire)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        # UpdateRequest too: a window whose only change is a child's text (the counts
        # arriving) is painted in its UpdateRequest with no Paint event of its own.
        if event.type() in (QEvent.Type.Paint, QEvent.Type.UpdateRequest):
            QTimer.singleShot(0, self, self._fire)  # after this paint is over
        return False

    def cancel(self) -> None:
        self._then = None
        self._window.removeEventFilter(self)

    def _fire(self) -> None:
        then = self._then
        self.cancel()
        if then is not None:
            then()


class MainWindow(QMainWindow):
    """The outbox window. Owns the outbox handle and the sender thread."""

    def __init__(
        self,
        ctx: AppContext,
        *,
        demo_server: DemoServer | None = None,
        start_threads: bool = True,
        watch_network: bool = True,
        sender_after_first_paint: bool = False,
        build_later: bool = False,
    ) -> None:
        """``sender_after_first_paint``: the sender thread starts once the window has
        painted, not competing with it; a window that is never shown then never sends,
        so the default starts it at once. ``build_later`` (the app's start): only the
        frame is made here, the rest when ``build()`` is called; ``when_built`` queues
        what needs the whole window."""
        super().__init__()
        self.ctx = ctx
        self.demo_server = demo_server
        self._counts: dict[str, int] = {}  # per state, a held message as "held"
        self._raw_counts: dict[str, int] = {}  # as the outbox has them
        self._quitting = False
        self._closing = False  # the quit sequence (question, last sends, agent) runs
        self._sender_text: str | None = None  # what the sender does; None: idle
        self._undo_delays: dict[int, int] = {}  # id -> seconds, every Send of this run
        self._unit_hint: str | None = None  # systemctl --user …, found at start
        self._other_sender = False  # the agent holds the sender lock
        self.quit_box: QuitQuestion | None = None
        self.agent_start: AgentStart | None = None  # what quitting to the agent did
        self.preferences_dialog: PreferencesDialog | None = None
        self.app_quit: Callable[[], None] = _app_quit  # tests replace it
        self._stuck_since: float | None = None
        self.editors: list[Any] = []  # open compose windows editing a draft or a message
        self._to_draft: MessageToDraft | None = None  # made at start or on the first Edit
        self._built = False
        self._when_built: list[Callable[[], None]] = []
        self._after_first_paint: FirstPaint | None = None
        # Steps for after the first paint of the outbox (None: none are waiting, run at once)
        self._later: list[Callable[[], None]] | None = None
        self._later_armed = False  # the outbox answered: the steps go after the next paint
        self._shut_down = False
        self._prefs: Preferences | None = None  # read on first use
        self.tray: QSystemTrayIcon | None = None
        self._tray_count = 0  # the number drawn on the tray icon
        self.drafts_menu: DraftsMenu | None = None
        self.recovered_drafts: RecoveredDraftsNotice | None = None
        # Qt adds " — mailgui" (the application's display name) itself.
        self._title = self.tr("Outbox") + (self.tr(" (demo)") if demo_server else "")
        self.setWindowTitle(self._title)
        self.settings = QSettings(
            str(ctx.profile.config_dir / "window.ini"), QSettings.Format.IniFormat
        )
        geometry = self.settings.value("window/geometry")
        if isinstance(geometry, QByteArray):
            self.restoreGeometry(geometry)
        else:
            self.resize(1100, 640)
        self._options = (watch_network, start_threads, sender_after_first_paint)
        if build_later:  # the window manager draws the title: no font needed here
            self.setWindowTitle(self.tr("Opening the outbox…"))
        else:
            self.build()

    @property
    def built(self) -> bool:
        return self._built

    def when_built(self, then: Callable[[], None]) -> None:
        """Run ``then`` once the window is built (at once when it is); a window closed
        before it was built forgets it."""
        if self._built:
            then()
        else:
            self._when_built.append(then)

    def build(self) -> None:
        """Everything but the frame: the outbox view, actions, status bar, tray, threads.
        Once; not at all for a window already closing (closed before its first paint).

        With ``sender_after_first_paint`` (the app's start) what the first paint of the
        whole window does not show waits for that paint: the tray icon, the Drafts
        submenu, the recovered-drafts notice, the network watch, then the sender thread,
        each in a step of its own so that input is handled between them."""
        if self._built or self._quitting:
            return
        from mailgui.ui.outbox_model import OutboxFilter, OutboxModel
        from mailgui.ui.sender import Sender

        watch_network, start_threads, later = self._options
        self.setWindowTitle(self._title)
        self.setWindowIcon(app_icon())
        self.make_outbox()
        if start_threads:  # its first answer (the counts) comes while the rest is built
            self.outbox.start()
        self.mail_sender: Sender = Sender(self.ctx, self, watch_network=watch_network and not later)
        self.model: OutboxModel = OutboxModel(self)
        self.proxy: OutboxFilter = OutboxFilter(self)
        self.proxy.setSourceModel(self.model)

        self._build_central()
        self._build_actions()
        self._build_status()
        self._build_view_menu()
        if self.demo_server is not None:
            self._build_demo_dock(self.demo_server)
        self._wire()
        self._restore()
        self._clock = QTimer(self)  # "next try 14:05" gains its date after midnight
        self._clock.timeout.connect(self.model.refresh_times)
        self._clock.start(10 * 60 * 1000)
        self._held_clock = QTimer(self)  # "Sending in 7 s" counts down
        self._held_clock.setInterval(250)  # as the notice ticks: both show the same second
        self._held_clock.timeout.connect(self.model.tick)
        self._status_timer = QTimer(self)  # one status update for a burst of rows
        self._status_timer.setSingleShot(True)
        self._status_timer.setInterval(50)
        self._status_timer.timeout.connect(self._update_status)
        self._update_actions()
        self._built = True
        steps = [self._build_tray, self._build_drafts_menu, self._build_recovered_drafts]
        if later:
            steps.append(self._watch_network)
        if start_threads:
            # It imports the delivery engine (smtplib, ssl: ~35 ms of Python holding
            # the GIL) while the window builds its first paint otherwise.
            steps.append(self._start_background)
        if later:
            self._later = steps
            # After the paint that shows the outbox's counts: until then the window is
            # not one to work in, and these steps would only delay that paint.
            self.outbox.countsChanged.connect(self._arm_later)
            self.outbox.failed.connect(self._arm_later)
            QTimer.singleShot(FirstPaint.FALLBACK_MS, self, self._arm_later)  # no answer
        else:
            for step in steps:
                step()
        pending, self._when_built = self._when_built, []
        for then in pending:
            then()

    def make_outbox(self) -> None:
        """The outbox thread's handle (``self.outbox``), made once and not started:
        ``build`` connects the views to it, then starts it. The app's start with a
        ``mailto:`` link makes it before the build, for the compose window that opens
        first (what it posts waits for the start, in order)."""
        if "outbox" in self.__dict__:
            return
        from mailgui.ui.outbox_service import OutboxHandle

        self.outbox: OutboxHandle = OutboxHandle(self.ctx, self)

    def after_first_paint(self, step: Callable[[], None]) -> None:
        """Run ``step`` once the window has painted with the outbox loaded, after the
        steps queued before it (at once when that is over, or the window was built whole);
        never for a window shut down before."""
        if self._shut_down:
            return
        if self._later is None:
            step()
        else:
            self._later.append(step)

    def _arm_later(self, *_args: object) -> None:
        if self._later_armed or not self._later or self._shut_down:
            return
        self._later_armed = True
        self._after_first_paint = FirstPaint(self, self._warm_up)

    def _warm_up(self) -> None:
        """The outbox is painted: the steps start a moment later, one an event-loop turn,
        so that what came with the paint (a click, a key typed as the window appeared) is
        handled first. Their imports stay in the GUI thread: a Qt module imported in a
        pool thread can take Qt's locks while the GUI thread, holding the interpreter,
        waits for them (the kind of deadlock ``plurals`` had to avoid); the longest step
        is ~15 ms."""
        if not self._shut_down:
            QTimer.singleShot(LATER_AFTER_MS, self, self._next_step)

    def _next_step(self) -> None:
        """One step left for after the first paint; the next goes behind what is queued
        by then (input, a repaint), so the window answers between them."""
        if not self._later or self._shut_down:
            self._later = None
            return
        step = self._later.pop(0)
        if self._later:
            QTimer.singleShot(0, self, self._next_step)
        else:
            self._later = None
        step()

    def _watch_network(self) -> None:
        """The network's state for the status bar (QtNetwork loads here, not before)."""
        if self._options[0]:
            self.mail_sender.watch_network()
        self._set_online(self.mail_sender.online)

    @property
    def prefs(self) -> Preferences:
        """The Preferences' settings, read on first use (not needed for the first paint)."""
        if self._prefs is None:
            from mailgui.ui import preferences

            self._prefs = preferences.load(self.ctx)
        return self._prefs

    @prefs.setter
    def prefs(self, prefs: Preferences) -> None:
        self._prefs = prefs

    def _start_background(self) -> None:
        from mailgui.ui import background
        from mailgui.ui.quit_guard import unit_hint

        self.mail_sender.start()
        self._message_to_draft().sweep()  # files of drafts a crash left behind
        background.run(unit_hint, self._found_unit_hint)  # for the question on quit

    def _found_unit_hint(self, _request: int, hint: str | None) -> None:
        self._unit_hint = hint

    # --- building -----------------------------------------------------------------------

    def _build_central(self) -> None:
        from PySide6.QtCore import Qt
        from PySide6.QtWidgets import QSplitter, QTabBar, QTableView, QTextBrowser, QVBoxLayout

        from mailgui.ui.outbox_model import apply_default_layout

        self.tabs = QTabBar()
        self.tabs.setDocumentMode(True)
        self.tabs.setExpanding(False)
        for _key, label in VIEWS:
            self.tabs.addTab(self.tr(label))
        self.table = QTableView()
        self.table.setModel(self.proxy)
        apply_default_layout(self.table)
        self.table.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.table.horizontalHeader().setSectionsMovable(True)
        self.empty = QLabel()
        self.empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty.setWordWrap(True)
        self.empty.setStyleSheet("color: palette(mid); padding: 24px;")
        self.details = QTextBrowser()
        self.details.setOpenLinks(False)
        self.details.anchorClicked.connect(self._details_link)
        self.details.setPlaceholderText(self.tr("Select a message to see its history and headers."))
        top = QWidget()
        lay = QVBoxLayout(top)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(0)
        lay.addWidget(self.tabs)
        lay.addWidget(self.table)
        lay.addWidget(self.empty)
        self.splitter = QSplitter(Qt.Orientation.Vertical)
        self.splitter.addWidget(top)
        self.splitter.addWidget(self.details)
        self.splitter.setStretchFactor(0, 3)
        self.splitter.setStretchFactor(1, 1)
        self.setCentralWidget(self.splitter)

    def _action(
        self, text: str, slot: Any, shortcut: Any = None, icon: str | None = None
    ) -> QAction:
        """``icon``: a freedesktop icon name (the theme's, else mailgui's own drawing)."""
        from PySide6.QtGui import QAction, QKeySequence

        action = QAction(self.tr(text), self)
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
        if icon is not None:
            from mailgui.ui.icons import action_icon

            action.setIcon(action_icon(icon))
        action.triggered.connect(slot)
        return action

    def _build_actions(self) -> None:
        from PySide6.QtCore import Qt
        from PySide6.QtGui import QKeySequence

        self.act_new = self._action(
            "&New message", self.new_message, QKeySequence.StandardKey.New, "mail-message-new"
        )
        self.act_send = self._action("Send &now", self.send_now, "Ctrl+Shift+S", "mail-send")
        self.act_edit = self._action("&Edit…", self.edit_selected, "Ctrl+E", "document-edit")
        self.act_edit.setToolTip(
            self.tr("Change the message; it leaves the outbox while you edit it (a draft)")
        )
        self.act_retry = self._action("&Retry", self.retry_selected, "Ctrl+R", "view-refresh")
        self.act_retry_copy = self._action("Retry &copy in Sent", self.retry_copy)
        self.act_retry_copy.setToolTip(
            self.tr(
                "File the copy of the sent message in the Sent folder again (it is not sent again)"
            )
        )
        self.act_retry_all = self._action(
            "Retry &all", self.retry_all, "Ctrl+Shift+R", "mail-send-receive"
        )
        self.act_delete = self._action(
            "&Delete", self.delete_selected, QKeySequence.StandardKey.Delete, "edit-delete"
        )
        self.act_accounts = self._action("&Accounts…", self.show_accounts, "Ctrl+,", "system-users")
        self.act_quit = self._action("&Quit", self.request_quit, QKeySequence.StandardKey.Quit)
        self.act_prefs = self._action("&Preferences…", self.show_preferences)
        self.act_prefs.setMenuRole(self.act_prefs.MenuRole.PreferencesRole)
        self.act_about = self._action("&About mailgui", self.about)
        self.act_open_log = self._action("Open &log", self.open_log)

        bar = self.menuBar()
        m = bar.addMenu(self.tr("&File"))
        m.addAction(self.act_new)
        self._file_menu = m
        self._drafts_place = m.addSeparator()  # the Drafts submenu goes before it
        m.aboutToShow.connect(self._build_drafts_menu)  # opened before it was made
        m.addAction(self.act_accounts)
        m.addAction(self.act_prefs)
        m.addSeparator()
        m.addAction(self.act_quit)
        self.view_menu = bar.addMenu(self.tr("&View"))  # filled once the panels exist
        m = bar.addMenu(self.tr("&Message"))
        m.addActions([self.act_edit, self.act_send, self.act_retry, self.act_retry_all])
        m.addSeparator()
        m.addAction(self.act_delete)
        m = bar.addMenu(self.tr("&Help"))
        m.addAction(self.act_open_log)
        m.addSeparator()
        m.addAction(self.act_about)

        tb = self.addToolBar(self.tr("Main"))
        tb.setObjectName("main-toolbar")
        tb.setMovable(False)
        tb.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        tb.addActions(
            [self.act_new, self.act_send, self.act_retry, self.act_retry_all, self.act_delete]
        )
        tb.addSeparator()
        tb.addAction(self.act_accounts)
        self.toolbar = tb

    def _build_drafts_menu(self) -> None:
        """File → Drafts (once): it reads the drafts folder each time it opens."""
        if self.drafts_menu is not None:
            return
        from mailgui.ui.drafts_view import DraftsMenu

        self.drafts_menu = DraftsMenu(self.ctx, self.tr("&Drafts"), self)
        self.drafts_menu.openDraft.connect(self.open_draft)
        self._file_menu.insertMenu(self._drafts_place, self.drafts_menu)

    def _build_recovered_drafts(self) -> None:
        """The notice of drafts a crash left open, in the status bar (once)."""
        if self.recovered_drafts is not None:
            return
        from mailgui.ui.drafts_view import RecoveredDraftsNotice

        self.recovered_drafts = RecoveredDraftsNotice(self.ctx, self)
        self.recovered_drafts.openDraft.connect(self.open_draft)
        # after the activity and the undo notice, before the progress bar
        self.statusBar().insertPermanentWidget(2, self.recovered_drafts)

    def _build_view_menu(self) -> None:
        """Show or hide the toolbar and the panels (the demo's is added with its dock)."""
        self._view_actions: list[QAction] = []
        toolbar = self.toolbar.toggleViewAction()
        toolbar.setText(self.tr("&Toolbar"))
        self.act_details = self._action("&Details pane", self._show_details_pane)
        self.act_details.setCheckable(True)
        self.act_details.setChecked(True)
        self.act_details.setToolTip(self.tr("A message's history and headers, under the list"))
        self.view_menu.addAction(toolbar)
        self.view_menu.addAction(self.act_details)
        self._view_actions += [toolbar, self.act_details]

    @Slot(bool)
    def _show_details_pane(self, shown: bool) -> None:
        self.details.setVisible(shown)

    def _build_status(self) -> None:
        from PySide6.QtWidgets import QProgressBar

        from mailgui.ui.undo_send import UndoSendNotice

        sb = self.statusBar()
        self.lbl_online = QLabel()
        self.lbl_count = QLabel()
        self._sender_text = self.tr("Starting…")  # until the sender says what it does
        self.lbl_activity = QLabel(self._sender_text)
        self.progress = QProgressBar()
        self.progress.setMaximumWidth(180)
        self.progress.setTextVisible(True)
        self.progress.hide()
        sb.addWidget(self.lbl_activity, 1)
        self.undo_notice = UndoSendNotice(self.outbox, self)
        self.undo_notice.undone.connect(self._reopen_compose)
        self.undo_notice.expired.connect(self._undo_expired)
        self.undo_notice.message.connect(lambda text: sb.showMessage(text, 8000))
        self.undo_notice.current.connect(self._undo_current)
        sb.addPermanentWidget(self.undo_notice)
        sb.addPermanentWidget(self.progress)  # the recovered-drafts notice goes before it
        sb.addPermanentWidget(self.lbl_count)
        sb.addPermanentWidget(self.lbl_online)  # empty until the network watch reports
        if not self._options[2]:
            self._set_online(self.mail_sender.online)

    def _build_tray(self) -> None:
        from PySide6.QtWidgets import QMenu, QSystemTrayIcon

        if self.tray is not None or not QSystemTrayIcon.isSystemTrayAvailable():
            return
        self.tray = QSystemTrayIcon(app_icon(), self)
        menu = QMenu(self)
        menu.addAction(self.tr("Show mailgui"), self.show_normal)
        menu.addActions([self.act_new, self.act_send])
        menu.addSeparator()
        menu.addAction(self.act_quit)
        self.tray.setContextMenu(menu)
        self.tray.activated.connect(
            lambda reason: (
                self.show_normal() if reason == QSystemTrayIcon.ActivationReason.Trigger else None
            )
        )
        self._update_tray()
        self.tray.show()

    def _build_demo_dock(self, server: DemoServer) -> None:
        from PySide6.QtCore import Qt
        from PySide6.QtWidgets import QDockWidget

        from mailgui.ui.demo_view import ReceivedView

        dock = QDockWidget(self.tr("Received (demo)"), self)
        dock.setObjectName("received-demo")
        dock.setWidget(ReceivedView(server))
        self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, dock)
        self.resizeDocks([dock], [400], Qt.Orientation.Horizontal)
        self.demo_dock = dock
        self._view_actions.append(dock.toggleViewAction())
        self.view_menu.addAction(dock.toggleViewAction())

    def _wire(self) -> None:
        self.tabs.currentChanged.connect(self._view_changed)
        self.table.selectionModel().selectionChanged.connect(self._selection_changed)
        self.table.doubleClicked.connect(lambda _ix: self._activated())
        self.table.customContextMenuRequested.connect(self._context_menu)
        self.outbox.rowsChanged.connect(self.model.upsert)
        self.outbox.rowsRemoved.connect(self.model.remove)
        self.outbox.countsChanged.connect(self._counts_changed)
        self.outbox.details.connect(self._details_loaded)
        self.outbox.failed.connect(self._outbox_failed)
        self.outbox.queued.connect(lambda _token, _id: self.mail_sender.request_flush(False))
        self.outbox.rowsChanged.connect(lambda _rows: self._status_timer.start())
        self.model.heldChanged.connect(self._held_changed)
        self.mail_sender.activity.connect(self._sender_activity)
        self.mail_sender.idle.connect(self._sender_idle)
        self.mail_sender.otherSender.connect(self._set_other_sender)
        self.mail_sender.progress.connect(self._progress)
        self.mail_sender.messageChanged.connect(self._message_changed)
        self.mail_sender.onlineChanged.connect(self._set_online)
        self.mail_sender.flushFinished.connect(self._flush_finished)
        self.model.rowsInserted.connect(lambda *_: self._update_empty())
        self.model.rowsRemoved.connect(lambda *_: self._update_empty())
        self.proxy.modelReset.connect(self._update_empty)
        self._view_changed(0)

    # --- state persistence ----------------------------------------------------------------

    def _restore(self) -> None:
        state = self.settings.value("window/state")
        if isinstance(state, QByteArray):
            self.restoreState(state)
        header = self.settings.value("table/header")
        if isinstance(header, QByteArray):
            self.table.horizontalHeader().restoreState(header)
        split = self.settings.value("window/splitter")
        if isinstance(split, QByteArray):
            self.splitter.restoreState(split)
        details = str(self.settings.value("window/details_pane", "true")).lower() != "false"
        self.act_details.setChecked(details)
        self.details.setVisible(details)

    def _save(self) -> None:
        if not self._built:  # closed before its first paint: nothing of it changed
            return
        self.settings.setValue("window/geometry", self.saveGeometry())
        self.settings.setValue("window/state", self.saveState())
        self.settings.setValue("window/splitter", self.splitter.saveState())
        self.settings.setValue("table/header", self.table.horizontalHeader().saveState())
        self.settings.setValue("window/details_pane", self.act_details.isChecked())
        self.settings.sync()

    # --- reacting ---------------------------------------------------------------------------

    @Slot(int)
    def _view_changed(self, index: int) -> None:
        self.proxy.set_view(VIEWS[index][0])
        self._update_empty()
        self._update_actions()

    def _update_empty(self) -> None:
        has_rows = self.proxy.rowCount() > 0
        self.table.setVisible(has_rows)
        self.empty.setVisible(not has_rows)
        if has_rows:
            return
        if self.ctx.accounts.default_name() is None:  # reads the file, checks no account
            text = self.tr(
                "No account yet. Add your SMTP account with Accounts… "
                "(or try mailgui --demo to see the whole path work)."
            )
        else:
            text = {
                "outbox": self.tr("Nothing is waiting to be sent."),
                "scheduled": self.tr("No message is scheduled for later."),
                "failed": self.tr("No failed messages."),
                "sent": self.tr("No message sent yet."),
            }[VIEWS[self.tabs.currentIndex()][0]]
        self.empty.setText(text)

    def _selected(self) -> list[MessageRow]:
        from mailgui.ui.outbox_model import OutboxModel

        rows = []
        for ix in self.table.selectionModel().selectedRows():
            row = ix.data(OutboxModel.ROW_ROLE)
            if row is not None:
                rows.append(row)
        return rows

    @Slot()
    def _selection_changed(self) -> None:
        self._update_actions()
        self._show_details()

    def _show_details(self) -> None:
        selected = self._selected()
        if len(selected) == 1:
            self.outbox.load_details(selected[0].id)
        elif not selected:
            self.details.clear()

    def _update_actions(self) -> None:
        selected = self._selected()
        retryable = [r for r in selected if r.state not in ("sent", "sending")]
        self.act_retry.setEnabled(bool(retryable))
        # "sending" too: Edit then says why it cannot open it now
        self.act_edit.setEnabled(len(selected) == 1 and selected[0].state != "sent")
        self.act_delete.setEnabled(bool(selected) and all(r.state != "sending" for r in selected))
        waiting = sum(self._counts.get(s, 0) for s in ("queued", "deferred"))
        self.act_send.setEnabled(waiting > 0)
        stuck = self._counts.get("failed", 0) + self._counts.get("deferred", 0)
        self.act_retry_all.setEnabled(stuck > 0)

    @Slot(dict)
    def _counts_changed(self, counts: dict[str, int]) -> None:
        self._raw_counts = dict(counts)
        self._apply_counts()

    def _apply_counts(self) -> None:
        """The counts as the person sees them: a message in its undo delay is on its
        way (the Outbox tab, "waiting"), not scheduled. The outbox counts it as
        ``scheduled``; the model knows which ids are held."""
        counts = dict(self._raw_counts)
        held = min(len(self.model.held_ids()), counts.get("scheduled", 0))
        counts["scheduled"] = counts.get("scheduled", 0) - held
        counts["held"] = held
        self._counts = counts
        waiting = _on_its_way(counts)
        stuck = counts.get("deferred", 0)
        for i, (key, label) in enumerate(VIEWS):
            n = waiting if key == "outbox" else counts.get(key, 0)
            self.tabs.setTabText(i, f"{self.tr(label)} ({n})" if n else self.tr(label))
        self.lbl_count.setText(self._count_text(counts, waiting))
        self._update_tray()
        if stuck and self._stuck_since is None:
            self._stuck_since = time.time()
        elif not waiting and self._stuck_since is not None:
            self._stuck_since = None
            self._notify(
                self.tr("The outbox is empty again"),
                self.tr("Messages that were waiting have all gone out."),
            )
        self._update_actions()
        self._update_status()

    def _update_tray(self) -> None:
        """The tray's tooltip and the number on its icon: the messages waiting."""
        if self.tray is None:
            return
        waiting = _on_its_way(self._counts)
        self.tray.setToolTip(self.tr("mailgui — {0} waiting").format(waiting))
        if waiting != self._tray_count:
            from mailgui.ui.tray_badge import badged

            self._tray_count = waiting
            self.tray.setIcon(badged(app_icon(), waiting))

    def _count_text(self, counts: dict[str, int], waiting: int) -> str:
        """ "2 messages waiting", or what is true when nothing waits: "All sent" only
        when every message went out."""
        if waiting:
            return english(self.tr("%n message(s) waiting", "", waiting), waiting)
        if counts.get("scheduled", 0):
            scheduled = counts["scheduled"]
            return english(self.tr("%n message(s) scheduled", "", scheduled), scheduled)
        failed = counts.get("failed", 0)
        if failed:
            return english(self.tr("%n message(s) failed", "", failed), failed)
        if counts.get("sent", 0):
            return self.tr("All sent")
        return self.tr("Nothing to send")

    # --- the status line: one message at a time ---------------------------------------------
    #
    # In order: a sentence about what the person just did (statusBar().showMessage, a
    # few seconds), the undo countdown with its button, what the sender does now
    # (connecting, sending, offline, another sender), and when idle what comes next:
    # "next try" only for a retry, a scheduled message's time otherwise. The counts
    # ("1 message waiting") and the network sit apart, on the right.

    @Slot(str)
    def _sender_activity(self, text: str) -> None:
        self._sender_text = text
        self._update_status()

    @Slot()
    def _sender_idle(self) -> None:
        self._sender_text = None
        self._update_status()

    @Slot(bool)
    def _set_other_sender(self, other: bool) -> None:
        self._other_sender = other

    def _update_status(self) -> None:
        if not self._built:
            return
        if self.undo_notice.msg_id is not None:
            self.lbl_activity.setText("")  # the countdown is the message now
            return
        if self._sender_text is not None:
            self.lbl_activity.setText(self._sender_text)
            return
        self.lbl_activity.setText(self.idle_text())

    def idle_text(self) -> str:
        retry, scheduled = self.model.next_times()
        if retry is not None and self._counts.get("deferred", 0):
            return self.tr("Idle; next try at {0}").format(_short_time(retry))
        if scheduled is not None and self._counts.get("scheduled", 0):
            return self.tr("Idle; the next scheduled message leaves at {0}").format(
                _short_time(scheduled)
            )
        return self.tr("Idle")

    @Slot()
    def _held_changed(self) -> None:
        if self.model.held_ids():
            if not self._held_clock.isActive():
                self._held_clock.start()
        else:
            self._held_clock.stop()
        self._apply_counts()

    @Slot(object)
    def _undo_current(self, msg_id: int | None) -> None:
        """The notice offers Undo for ``msg_id`` now (None: for none)."""
        self.model.set_undoable(msg_id)
        if msg_id is not None:
            self.statusBar().clearMessage()  # the countdown is the one message
        self._update_status()

    @Slot(int, dict)
    def _details_loaded(self, msg_id: int, info: dict[str, Any]) -> None:
        selected = self._selected()
        if len(selected) != 1 or selected[0].id != msg_id:
            return
        self.details.setHtml(
            render_details(
                info,
                undo_delay=self._undo_delays.get(msg_id),
                held=self.model.is_held(msg_id),
            )
        )

    @Slot(str, str)
    def _outbox_failed(self, token: str, message: str) -> None:
        if not token:  # compose windows show their own errors
            from PySide6.QtWidgets import QMessageBox

            QMessageBox.warning(self, self.tr("mailgui"), message)

    @Slot(int, int, int)
    def _progress(self, msg_id: int, done: int, total: int) -> None:
        if total < 256 * 1024:  # small messages go out in a blink; no bar
            return
        self.progress.setVisible(done < total)
        self.progress.setMaximum(100)
        self.progress.setValue(int(done * 100 / max(total, 1)))
        self.progress.setFormat(self.tr("Message {0}: %p%").format(msg_id))

    @Slot(int, str, str)
    def _message_changed(self, msg_id: int, state: str, error: str) -> None:
        from PySide6.QtWidgets import QSystemTrayIcon

        self.progress.hide()
        if state == "failed":
            self._notify(
                self.tr("Message {0} could not be sent").format(msg_id),
                error,
                QSystemTrayIcon.MessageIcon.Warning,
            )

    @Slot(dict)
    def _flush_finished(self, counts: dict[str, int]) -> None:
        sent = counts.get("sent", 0)
        if sent:
            self._notify(self.tr("Sent"), english(self.tr("%n message(s) sent.", "", sent), sent))

    @Slot(bool)
    def _set_online(self, online: bool) -> None:
        self.lbl_online.setText(self.tr("● Online") if online else self.tr("○ Offline"))
        self.lbl_online.setToolTip(
            self.tr("The network is reachable.")
            if online
            else self.tr("No network: messages wait in the outbox and go out when it returns.")
        )

    def _notify(
        self, title: str, text: str, icon: QSystemTrayIcon.MessageIcon | None = None
    ) -> None:
        from PySide6.QtWidgets import QSystemTrayIcon

        popups = self.prefs.notifications
        if popups and self.tray is not None and self.tray.supportsMessages():
            info = QSystemTrayIcon.MessageIcon.Information
            self.tray.showMessage(title, text, info if icon is None else icon, 5000)
        else:
            self.statusBar().showMessage(f"{title}: {text}", 8000)

    def _context_menu(self, pos: Any) -> None:
        from PySide6.QtWidgets import QMenu

        menu = QMenu(self)
        menu.addActions([self.act_edit, self.act_retry, self.act_send, self.act_delete])
        if any(
            r.state == "sent" and r.sent_copy in ("pending", "failed") for r in self._selected()
        ):
            menu.addAction(self.act_retry_copy)
        menu.exec(self.table.viewport().mapToGlobal(pos))

    # --- actions ----------------------------------------------------------------------------

    @Slot()
    def new_message(self) -> None:
        from PySide6.QtCore import Qt

        from mailgui.ui.compose import ComposeWindow

        if not self.ctx.accounts.all():
            self.show_accounts()
            if not self.ctx.accounts.all():
                return
        window = ComposeWindow(self.ctx, self.outbox)
        window.undoable.connect(self.offer_undo)
        window.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        window.show()

    def compose_mailto(self, url: str) -> QWidget | None:
        """A compose window filled from a ``mailto:`` link of the default account. The
        link is parsed here again: it may come from another process (single instance)."""
        from PySide6.QtCore import Qt

        from mailgui.core.addresses import Mailbox
        from mailgui.core.errors import InputError
        from mailgui.core.mailto import parse_mailto
        from mailgui.core.message import Draft
        from mailgui.ui.compose import ComposeWindow

        try:
            link = parse_mailto(url)
        except InputError as exc:
            self.statusBar().showMessage(str(exc), 15000)
            return None
        if not self.ctx.accounts.all():
            self.show_accounts()
            if not self.ctx.accounts.all():
                return None
        acct = self.ctx.accounts.default()
        draft = Draft(
            sender=Mailbox(acct.display_name, acct.email),
            to=link.to,
            cc=link.cc,
            bcc=link.bcc,
            subject=link.subject,
            text=link.body,
        )
        window = ComposeWindow(self.ctx, self.outbox)
        window.prefill(acct.name, draft)
        window.undoable.connect(self.offer_undo)
        window.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        window.show()
        window.raise_()
        window.activateWindow()
        return window

    @Slot(dict)
    def handle_request(self, request: dict[str, Any]) -> None:
        """What a second start of the app asked for (single_instance.py)."""
        self.show_normal()
        if not self._built:
            self.when_built(lambda: self.handle_request(request))
            return
        url = request.get("mailto")
        if isinstance(url, str) and url:
            self.compose_mailto(url)

    @Slot(int, str, object, int)
    def offer_undo(self, msg_id: int, account: str, draft: Any, seconds: int) -> None:
        """A compose window queued ``msg_id`` to leave in ``seconds``: show Undo.

        Its row (still on its way from the outbox thread) shows in the Outbox tab as
        "Sending in N s (Undo)", and it counts as waiting, not as scheduled."""
        if seconds <= 0:
            return
        self._undo_delays[int(msg_id)] = int(seconds)
        self.model.hold(int(msg_id))
        self.undo_notice.offer(msg_id, account, draft, seconds)
        self._apply_counts()

    @Slot(str)
    def open_draft(self, draft_id: str) -> None:
        """Go on writing a saved or recovered draft."""
        from PySide6.QtCore import Qt

        from mailgui.ui.compose import ComposeWindow
        from mailgui.ui.drafts_view import draft_store

        for window in self.editors:  # already open: bring it forward
            if getattr(window, "draft_id", None) == draft_id:
                window.raise_()
                window.activateWindow()
                return
        try:
            saved = draft_store(self.ctx).load(draft_id)
        except (OSError, ValueError) as exc:
            self.statusBar().showMessage(
                self.tr("The draft could not be opened ({0}).").format(exc), 15000
            )
            return
        window = ComposeWindow(self.ctx, self.outbox)
        window.open_saved_draft(saved)
        window.undoable.connect(self.offer_undo)
        window.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        window.show()
        self.editors.append(window)
        window.destroyed.connect(lambda *_: self.editors.remove(window))

    @Slot(object)
    def _undo_expired(self, draft: Any) -> None:
        """The message left for good: files kept for its Undo may go."""
        from mailgui.ui.drafts_view import let_go

        let_go(self.ctx, draft.attachments)

    @Slot(str, object)
    def _reopen_compose(self, account: str, draft: Any) -> None:
        """Undo send worked: the message is back in a compose window, as it was."""
        from PySide6.QtCore import Qt

        from mailgui.ui.compose import ComposeWindow

        window = ComposeWindow(self.ctx, self.outbox)
        window.prefill(account, draft, keep=True)  # the outbox no longer has it
        window.undoable.connect(self.offer_undo)
        window.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        window.show()
        self.editors.append(window)
        window.destroyed.connect(lambda *_: self.editors.remove(window))

    def _activated(self) -> None:
        """Double-click or Enter: a waiting or failed message opens for editing, a sent
        one shows its details."""
        from mailgui.core.outbox import EDITABLE

        selected = self._selected()
        if len(selected) == 1 and selected[0].state in EDITABLE:
            self.edit_selected()
        else:
            self._show_details()

    @Slot()
    def edit_selected(self) -> None:
        """Edit in place: the message leaves the outbox as a draft (saved first), and a
        compose window opens on it; Send queues it again, closing keeps it in Drafts."""
        from mailgui.core.outbox import EDITABLE

        selected = self._selected()
        if len(selected) != 1:
            return
        row = selected[0]
        if row.state == "sending":
            self.statusBar().showMessage(
                self.tr(
                    "Message {0} is being sent right now, so it cannot be edited; wait for "
                    "this try to end and edit it then."
                ).format(row.id),
                15000,
            )
            return
        if row.state in EDITABLE:
            self._message_to_draft().start(row.id)

    def _message_to_draft(self) -> Any:
        if self._to_draft is None:
            from mailgui.ui.drafts_view import MessageToDraft

            self._to_draft = MessageToDraft(self.ctx, self)
            self._to_draft.taken.connect(self._edit_taken)
            self._to_draft.refused.connect(
                lambda _id, text: self.statusBar().showMessage(text, 15000)
            )
        return self._to_draft

    @Slot(int, str, str, float)
    def _edit_taken(self, msg_id: int, draft_id: str, state: str, send_at: float) -> None:
        self.outbox.refresh()  # the row leaves the table now, not at the next poll
        self.open_draft(draft_id)
        if state == "scheduled" and send_at:
            when = time.strftime("%d %b %H:%M", time.localtime(send_at))
            self.statusBar().showMessage(
                self.tr(
                    "Message {0} is a draft while you edit it; Send schedules it again for {1}."
                ).format(msg_id, when),
                15000,
            )

    @Slot()
    def send_now(self) -> None:
        self.mail_sender.request_flush(True)

    @Slot()
    def retry_selected(self) -> None:
        ids = [r.id for r in self._selected() if r.state != "sent" and r.state != "sending"]
        if ids:
            self.outbox.retry(ids)
            self.mail_sender.request_flush(True)

    @Slot()
    def retry_copy(self) -> None:
        """File the Sent copies of the selected messages again (never a resend)."""
        ids = [
            r.id
            for r in self._selected()
            if r.state == "sent" and r.sent_copy in ("pending", "failed")
        ]
        if ids:
            self.outbox.retry(ids)
            self.mail_sender.request_flush(True)

    @Slot()
    def retry_all(self) -> None:
        self.outbox.retry_all()
        self.mail_sender.request_flush(True)

    @Slot()
    def delete_selected(self) -> None:
        from PySide6.QtWidgets import QMessageBox

        rows = [r for r in self._selected() if r.state != "sending"]
        if not rows:
            return
        unsent = [r for r in rows if r.state != "sent"]
        if len(rows) == 1:
            subject = rows[0].subject or self.tr("(no subject)")
            text = self.tr("Delete the message “{0}”?").format(subject)
        else:
            text = self.tr("Delete {0} messages?").format(len(rows))
        if len(unsent) == 1 and len(rows) == 1:
            text += " " + self.tr("It has not been sent and will be lost.")
        elif unsent:
            lost = self.tr("{0} of them have not been sent and will be lost.")
            text += " " + lost.format(len(unsent))
        answer = QMessageBox.question(
            self,
            self.tr("Delete"),
            text,
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel,
            QMessageBox.StandardButton.Cancel,
        )
        if answer == QMessageBox.StandardButton.Yes:
            self.outbox.delete([r.id for r in rows])

    def _details_link(self, url: QUrl) -> None:
        """A link in the details pane: the button for an error's fix (error_words)."""
        from mailgui.ui.error_words import Action

        fix = Action.from_url(url.toString())
        if fix is not None:  # "Sign in again" opens the account and starts signing in
            self.show_accounts(fix.account or None, sign_in=fix.kind == "sign-in")

    @Slot()
    def show_accounts(self, account: str | None = None, *, sign_in: bool = False) -> None:
        """The accounts dialog, with ``account`` selected if given (and, ``sign_in``,
        signing in to it)."""
        from mailgui.ui.accounts_dialog import AccountsDialog

        dialog = AccountsDialog(self.ctx, self)
        if account:
            dialog.select_account(account, sign_in=sign_in)
        dialog.signedIn.connect(lambda _name: self.mail_sender.request_flush(True))
        dialog.accountsChanged.connect(lambda: self.mail_sender.request_flush(False))
        dialog.exec()
        self._update_empty()

    def show_normal(self) -> None:
        self.show()
        self.raise_()
        self.activateWindow()

    @Slot()
    def about(self) -> None:
        from PySide6.QtWidgets import QMessageBox

        QMessageBox.about(self, self.tr("About mailgui"), self.about_text())

    def about_text(self) -> str:
        """Version, Python, Qt, keyring backend and profile: what a bug report needs."""
        import html
        import platform

        import PySide6
        from PySide6.QtCore import qVersion

        from mailgui import __version__
        from mailgui.core import passwords

        try:
            keyring_name = passwords.backend_name()
        except Exception as exc:  # a broken keyring must not break the About box
            keyring_name = self.tr("unavailable ({0})").format(exc)
        profile = self.ctx.profile
        rows = [
            (self.tr("Python"), f"{platform.python_version()} ({platform.platform()})"),
            (self.tr("Qt"), f"{qVersion()} (PySide6 {PySide6.__version__})"),
            (self.tr("Keyring"), keyring_name),
            (self.tr("Settings"), str(profile.config_dir)),
            (self.tr("Outbox"), str(profile.outbox_file)),
            (self.tr("Log"), str(profile.log_file)),
        ]
        table = "".join(
            f"<tr><td><b>{html.escape(k)}</b></td><td>{html.escape(v)}</td></tr>" for k, v in rows
        )
        return self.tr(
            "<h3>mailgui {0}</h3><p>Compose and send mail, reliably: every message goes "
            "through a durable outbox and leaves when it can.</p><table>{1}</table>"
        ).format(__version__, table)

    @Slot()
    def open_log(self) -> bool:
        """Open the profile's log file in the desktop's text viewer."""
        from PySide6.QtCore import QUrl
        from PySide6.QtGui import QDesktopServices

        path = self.ctx.profile.log_file
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.touch(mode=0o600)  # as the log handler makes it
        ok = QDesktopServices.openUrl(QUrl.fromLocalFile(str(path)))
        if not ok:
            self.statusBar().showMessage(
                self.tr("No program opened the log; it is at {0}").format(path), 15000
            )
        return bool(ok)

    # --- closing ----------------------------------------------------------------------------

    def waiting_count(self) -> int:
        """Messages not sent yet that will be: queued, sending, deferred, scheduled, and
        those in their undo delay."""
        return sum(self._counts.get(s, 0) for s in WAITING)

    def closeEvent(self, event: QCloseEvent) -> None:
        from PySide6.QtWidgets import QMessageBox

        if not self._built and not self._quitting:
            self.quit()  # closed before its first paint: nothing is waiting to ask about
        if self._quitting:
            event.accept()
            return
        event.ignore()  # the quit sequence (or the tray) decides
        if self._closing:
            return
        waiting = self.waiting_count()
        if waiting and self.tray is not None and not self._other_sender:
            answer = QMessageBox.question(
                self,
                self.tr("Messages are waiting"),
                english(
                    self.tr(
                        "%n message(s) are still waiting to be sent. Keep sending them in "
                        "the background (from the tray icon)?",
                        "",
                        waiting,
                    ),
                    waiting,
                ),
                QMessageBox.StandardButton.Yes
                | QMessageBox.StandardButton.No
                | QMessageBox.StandardButton.Cancel,
                QMessageBox.StandardButton.Yes,
            )
            if answer == QMessageBox.StandardButton.Cancel:
                return
            if answer == QMessageBox.StandardButton.Yes:
                self._save()
                self.hide()
                return
            self._finish_quit(background=False)
            return
        self.request_quit()

    # --- quitting while mail waits -----------------------------------------------------

    @Slot()
    def request_quit(self) -> None:
        """Ctrl+Q, the window's close button without a tray: quit, but not silently
        while mail waits. Messages in their undo delay are sent first (Send was
        pressed); for the rest the person chooses (``QuitQuestion``), or Preferences did:
        keep sending in the background (``mailgui agent``), or leave them until the next
        start. When the agent already sends for this profile, nothing needs asking."""
        if not self._built:
            self.quit()
            return
        if self._closing:
            if self.quit_box is not None:
                self.quit_box.raise_()
            return
        held = len(self.model.held_ids())
        others = max(0, self.waiting_count() - held)
        if not others or self._other_sender:
            self._finish_quit(background=False)
            return
        choice = self.prefs.on_quit
        demo = self.demo_server is not None
        if choice == "background" and not demo:
            self._finish_quit(background=True)
            return
        if choice == "quit":
            self._finish_quit(background=False)
            return
        from mailgui.ui.quit_guard import QuitQuestion

        self._closing = True
        box = QuitQuestion(
            self,
            others + held,
            held=held,
            background=not demo,
            hint=self._unit_hint,
            demo=demo,
        )
        box.finished.connect(self._quit_answered)
        self.quit_box = box
        self.show_normal()
        box.open()

    @Slot(int)
    def _quit_answered(self, _result: int) -> None:
        box, self.quit_box = self.quit_box, None
        if box is None:
            return
        choice = box.choice()
        box.deleteLater()
        self._closing = False
        if choice == "cancel":
            return
        self._finish_quit(background=choice == "background")

    def _finish_quit(self, *, background: bool) -> None:
        """Release the messages in their undo delay, then either start the agent (it
        sends them and the rest) or send them here first; then quit."""
        self._closing = True
        self.undo_notice.hide()
        held = self.model.held_ids()
        if background:
            if held:
                self.outbox.post(self.outbox.worker.release, held)
            self._quit_to_agent()
            return
        if not held:
            self.quit()
            return
        self.statusBar().showMessage(
            english(self.tr("Sending %n message(s) before quitting…", "", len(held)), len(held))
        )
        self.setEnabled(False)  # nothing else starts now
        QTimer.singleShot(QUIT_FLUSH_MS, self, self.quit)  # a slow server: they stay queued

        def released(_ids: list[int]) -> None:
            if not self.mail_sender.post(self.mail_sender.worker.flush_queued, reply=sent):
                self.quit()

        def sent(_result: object) -> None:
            self.quit()

        if not self.outbox.post(self.outbox.worker.release, held, reply=released):
            self.quit()

    def _quit_to_agent(self) -> None:
        """Stop this window's sender (it lets go of the sender lock), then start
        ``mailgui agent`` in a pool thread, then quit."""
        from mailgui.ui import background
        from mailgui.ui.quit_guard import start_agent

        self.hide()
        stopped = self.shutdown()  # bounded; the outbox thread ends after the release
        profile = self.ctx.profile
        background.run(
            lambda: start_agent(profile, own_sender_stopped=stopped), self._agent_started
        )

    def _agent_started(self, _request: int, outcome: AgentStart) -> None:
        self.agent_start = outcome
        if not outcome.started and outcome.reason != "running":
            log.error("mail was left in the outbox: the agent did not start (%s)", outcome.reason)
        self.quit()

    @Slot()
    def show_preferences(self, *, modal: bool = True) -> PreferencesDialog:
        """The Preferences dialog (window-modal, ``open()``: no nested event loop)."""
        from mailgui.ui import preferences
        from mailgui.ui.preferences import PreferencesDialog

        if self.preferences_dialog is not None:
            self.preferences_dialog.raise_()
            return self.preferences_dialog
        dialog = PreferencesDialog(self.ctx, preferences.load(self.ctx), self)
        dialog.saved.connect(self._preferences_saved)
        dialog.failed.connect(
            lambda text: self.statusBar().showMessage(
                self.tr("Preferences were not all saved: {0}").format(text), 15000
            )
        )
        dialog.finished.connect(lambda _r: setattr(self, "preferences_dialog", None))
        self.preferences_dialog = dialog
        if modal:
            dialog.open()
        else:
            dialog.show()
        return dialog

    @Slot(object)
    def _preferences_saved(self, prefs: Preferences) -> None:
        self.prefs = prefs._replace(default_account=None)
        if prefs.default_account:
            self.mail_sender.request_flush(False)
            self._update_empty()

    @Slot()
    def quit(self) -> None:
        self._quitting = True
        self.shutdown()
        self.app_quit()

    def shutdown(self) -> bool:
        """Save the layout and stop both threads (bounded). True when both stopped."""
        if self._after_first_paint is not None:
            self._after_first_paint.cancel()  # a sender (or window) not started never starts
        self._shut_down = True  # steps left for after the first paint never run
        if self._later is not None:
            self._later.clear()
        if not self._built:
            self._when_built.clear()
            return True
        self._save()
        if self._to_draft is not None:
            self._to_draft.wait()
        sent_ok = self.mail_sender.shutdown()
        outbox_ok = self.outbox.shutdown()
        if self.tray is not None:
            self.tray.hide()
        return sent_ok and outbox_ok


LATER_AFTER_MS = 100  # from the outbox's first paint to the first step after it


def _on_its_way(counts: dict[str, int]) -> int:
    """The messages of the Outbox tab (and the tray's number): queued, sending,
    deferred, and those in their undo delay."""
    return sum(counts.get(s, 0) for s in ("queued", "sending", "deferred", "held"))


def _app_quit() -> None:
    from PySide6.QtWidgets import QApplication

    QApplication.quit()


def _short_time(when: float) -> str:
    """ "14:05" today, "Tue 08 Dec 09:30" another day."""
    if time.localtime(when)[:3] == time.localtime()[:3]:
        return time.strftime("%H:%M", time.localtime(when))
    return time.strftime("%a %d %b %H:%M", time.localtime(when))


def render_details(
    info: dict[str, Any], *, undo_delay: int | None = None, held: bool = False
) -> str:
    """The details pane: state, per-recipient results, error history, raw headers.

    ``undo_delay``: the message was sent with that undo delay in this run (the core
    records it as "Scheduled", which the person did not do: its history says what
    happened); ``held``: it is in that delay now."""
    import html

    from mailgui.ui.error_words import action, row_error

    row: MessageRow = info["row"]
    esc = html.escape
    parts = [f"<h3 style='margin:0'>{esc(row.subject or '(no subject)')}</h3>"]
    tr = QCoreApplication.translate
    state = row.state
    if held and row.state == "scheduled":
        state = tr("MainWindow", "sending after the undo delay")
    parts.append(
        f"<p><b>State:</b> {esc(state)} &nbsp; <b>Account:</b> {esc(row.account)} &nbsp; "
        f"<b>Tries:</b> {row.attempts}</p>"
    )
    if held and row.state == "scheduled" and row.send_at is not None:
        leaves = tr("MainWindow", "{0} (Undo until then: Ctrl+Z)").format(_local_time(row.send_at))
        parts.append(f"<p><b>Leaves at:</b> {esc(leaves)}</p>")
    elif row.state == "scheduled" and row.send_at is not None:
        parts.append(f"<p><b>Sends at:</b> {esc(_local_time(row.send_at))}</p>")
    elif row.state == "deferred" and row.next_attempt_at is not None:
        parts.append(f"<p><b>Next try:</b> {esc(_local_time(row.next_attempt_at))}</p>")
    if row.state == "sent" and row.sent_copy is not None:
        from mailgui.ui.outbox_model import copy_words

        words = copy_words(row, _local_time)
        parts.append(f"<p><b>Sent folder:</b> {esc(words)}</p>")
    if row.last_error and row.state != "sent":
        parts.append(f"<p><b>Last error:</b> {esc(row_error(row))}</p>")
        fix = action(row.last_error_said)
        if fix is not None:
            parts.append(f"<p><a href='{esc(fix.url(), quote=True)}'>{esc(fix.label)}</a></p>")
    if row.recipient_errors:
        items = "".join(
            f"<li>{esc(addr)}: {esc(reply)}</li>" for addr, reply in row.recipient_errors.items()
        )
        parts.append(f"<p><b>Refused recipients</b></p><ul>{items}</ul>")
    events = info.get("events") or []
    if undo_delay is not None:
        events = [_undo_event(e, undo_delay) for e in events]
    if events:
        items = "".join(
            f"<tr><td style='padding-right:12px'>"
            f"{time.strftime('%Y-%m-%d %H:%M:%S', time.localtime(e.at))}</td>"
            f"<td style='padding-right:12px'>{esc(e.kind)}</td><td>{esc(e.text)}</td></tr>"
            for e in events
        )
        parts.append(f"<p><b>History</b></p><table>{items}</table>")
    headers = info.get("headers") or ""
    if headers:
        parts.append(f"<p><b>Headers</b></p><pre>{esc(decoded_headers(headers))}</pre>")
    return "".join(parts)


def _undo_event(event: Any, seconds: int) -> Any:
    """The core's "Scheduled." of a message sent with an undo delay, in the words of
    what happened; other events as they are."""
    if event.kind != "scheduled":
        return event
    text = QCoreApplication.translate(
        "MainWindow", "Queued; sending after the {0} s undo delay."
    ).format(seconds)
    return event._replace(kind="queued", text=text)


def _local_time(when: float) -> str:
    """Like "Tue 08 Dec 2026 09:30 CET": the day, and whose clock."""
    return time.strftime("%a %d %b %Y %H:%M %Z", time.localtime(when))


def decoded_headers(raw: str) -> str:
    """The header block with RFC 2047 words decoded ("=?utf-8?q?Gr=C3=BC=C3=9Fe?=" reads
    "Grüße") and folded lines joined, one header a line, as a person reads them."""
    from email import policy
    from email.parser import HeaderParser

    try:
        message = HeaderParser(policy=policy.default).parsestr(raw, headersonly=True)
        return "\n".join(f"{name}: {value}" for name, value in message.items())
    except Exception:  # a header the parser cannot read: show it as it came
        return raw
