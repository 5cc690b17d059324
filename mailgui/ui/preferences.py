"""Preferences: the few settings a person changes, without hand-editing ini files.

They live where the app kept them already, as QSettings ini files in the profile's
config folder: the undo delay in ``compose.ini`` (``[compose] undo_send_seconds``,
read by ``undo_send.undo_seconds``), the rest in ``mailgui.ini``; the default account
is the accounts file's own ``default``. Window state (``window.ini``) stays apart.
Reading is a small local file, as ``undo_seconds`` always did; writing (and the
accounts file, which is TOML and may be large) happens in a pool thread.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

from PySide6.QtCore import QSettings, Signal, Slot
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from mailgui.core.log import get_logger
from mailgui.ui import background
from mailgui.ui.undo_send import DEFAULT_UNDO_SECONDS, MAX_UNDO_SECONDS, undo_seconds

if TYPE_CHECKING:
    from mailgui.ui.context import AppContext

__all__ = ["ON_QUIT", "Preferences", "PreferencesDialog", "load", "save"]

log = get_logger(__name__)

# What quitting does while mail waits: ask, keep sending in the background, or quit.
ON_QUIT = ("ask", "background", "quit")
_UNDO_KEY = "compose/undo_send_seconds"
_NOTIFY_KEY = "notifications/enabled"
_ON_QUIT_KEY = "quit/when_mail_waits"


class Preferences(NamedTuple):
    """The person's choices; ``default_account`` is None when it is not changed here."""

    undo_seconds: int = DEFAULT_UNDO_SECONDS
    notifications: bool = True
    on_quit: str = "ask"
    default_account: str | None = None


def _ini(ctx: AppContext, name: str) -> QSettings:
    return QSettings(str(ctx.profile.config_dir / name), QSettings.Format.IniFormat)


def _flag(value: object, default: bool) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "on")
    return default


def load(ctx: AppContext) -> Preferences:
    """What is stored; nonsense values read as the defaults."""
    app = _ini(ctx, "mailgui.ini")
    on_quit = str(app.value(_ON_QUIT_KEY, "ask"))
    return Preferences(
        undo_seconds=undo_seconds(ctx),
        notifications=_flag(app.value(_NOTIFY_KEY, True), True),
        on_quit=on_quit if on_quit in ON_QUIT else "ask",
    )


def save(ctx: AppContext, prefs: Preferences) -> str:
    """Write ``prefs`` (any thread: QSettings is reentrant); "" or what went wrong."""
    from mailgui.core.errors import MailguiError

    compose = _ini(ctx, "compose.ini")
    compose.setValue(_UNDO_KEY, max(0, min(prefs.undo_seconds, MAX_UNDO_SECONDS)))
    compose.sync()
    app = _ini(ctx, "mailgui.ini")
    app.setValue(_NOTIFY_KEY, prefs.notifications)
    app.setValue(_ON_QUIT_KEY, prefs.on_quit if prefs.on_quit in ON_QUIT else "ask")
    app.sync()
    ok = QSettings.Status.NoError
    if compose.status() != ok or app.status() != ok:
        return f"the settings could not be written to {ctx.profile.config_dir}"
    if prefs.default_account:
        try:
            store = ctx.accounts
            if store.default_name() != prefs.default_account:
                store.save(store.get(prefs.default_account), make_default=True)
        except (MailguiError, OSError) as exc:
            log.warning("the default account was not changed: %s", exc)
            return str(exc)
    return ""


def _accounts(ctx: AppContext) -> tuple[list[tuple[str, str]], str | None]:
    """(name, "name <email>") of every account, and the default's name (a pool job)."""
    from mailgui.core.errors import MailguiError

    try:
        store = ctx.accounts
        return [(a.name, f"{a.name} <{a.email}>") for a in store.all()], store.default_name()
    except (MailguiError, OSError) as exc:
        log.warning("the accounts could not be read for Preferences: %s", exc)
        return [], None


class PreferencesDialog(QDialog):
    """Undo delay, default account, notifications, and what quitting does.

    Signals:
        saved(Preferences): the person pressed OK; the values were written (or the
            sentence in ``failed`` says why not).
        failed(str): writing them failed, in words.
    """

    saved = Signal(object)
    failed = Signal(str)

    def __init__(self, ctx: AppContext, prefs: Preferences, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._ctx = ctx
        self._default: str | None = None
        self._saving = prefs
        self.setWindowTitle(self.tr("Preferences"))

        self.undo_spin = QSpinBox(self)
        self.undo_spin.setRange(0, MAX_UNDO_SECONDS)
        self.undo_spin.setSuffix(self.tr(" s"))
        self.undo_spin.setSpecialValueText(self.tr("Off (send at once)"))
        self.undo_spin.setValue(prefs.undo_seconds)
        self.undo_spin.setToolTip(
            self.tr("How long a sent message waits, with Undo in the status bar, before it leaves")
        )
        self.account_combo = QComboBox(self)
        self.account_combo.addItem(self.tr("Loading…"))
        self.account_combo.setEnabled(False)
        self.account_combo.setToolTip(self.tr("The account new messages are sent from"))
        self.notify_check = QCheckBox(self.tr("Show a notification when mail is sent or fails"))
        self.notify_check.setChecked(prefs.notifications)
        self.quit_combo = QComboBox(self)
        for key, text in (
            ("ask", self.tr("Ask what to do")),
            ("background", self.tr("Keep sending in the background")),
            ("quit", self.tr("Quit; the mail waits until mailgui starts again")),
        ):
            self.quit_combo.addItem(text, key)
        self.quit_combo.setCurrentIndex(max(0, ON_QUIT.index(prefs.on_quit)))

        form = QFormLayout()
        form.addRow(self.tr("&Undo delay after Send:"), self.undo_spin)
        form.addRow(self.tr("&Default account:"), self.account_combo)
        form.addRow(self.tr("Notifications:"), self.notify_check)
        form.addRow(self.tr("&Quitting while mail waits:"), self.quit_combo)
        note = QLabel(
            self.tr(
                "Sending in the background starts mailgui's headless sender "
                "(mailgui agent) when the window quits."
            ),
            self,
        )
        note.setWordWrap(True)
        note.setEnabled(False)  # greyed: a remark, not a setting
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel, self
        )
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(note)
        layout.addStretch(1)
        layout.addWidget(self.buttons)
        self.setMinimumWidth(self.sizeHint().width() + 40)
        background.run(lambda: _accounts(ctx), self._on_accounts)

    def _on_accounts(self, _request: int, found: tuple[list[tuple[str, str]], str | None]) -> None:
        accounts, default = found
        self._default = default
        self.account_combo.clear()
        if not accounts:
            self.account_combo.addItem(self.tr("No account yet"))
            return
        for name, label in accounts:
            self.account_combo.addItem(label, name)
        index = self.account_combo.findData(default)
        self.account_combo.setCurrentIndex(max(0, index))
        self.account_combo.setEnabled(len(accounts) > 1)

    def preferences(self) -> Preferences:
        """What the dialog shows now."""
        account = self.account_combo.currentData()
        return Preferences(
            undo_seconds=self.undo_spin.value(),
            notifications=self.notify_check.isChecked(),
            on_quit=str(self.quit_combo.currentData()),
            default_account=account if isinstance(account, str) and account else None,
        )

    @Slot()
    def accept(self) -> None:
        prefs = self.preferences()
        if prefs.default_account == self._default:
            prefs = prefs._replace(default_account=None)
        self._saving = prefs
        ctx = self._ctx
        background.run(lambda: save(ctx, prefs), self._on_saved)
        super().accept()

    def _on_saved(self, _request: int, error: str) -> None:
        """In the GUI thread, only while this dialog exists (``background.run``)."""
        if error:
            self.failed.emit(error)
        self.saved.emit(self._saving)
