"""Passwords in the accounts dialog, and the keyring off the GUI thread.

Every keyring call the dialog makes (``mailgui.core.passwords``, and the
``AppContext`` methods that reach the keyring) runs in a worker of one pool of one
thread: a keyring can take seconds (D-Bus, a locked keyring asking for its
passphrase), and one thread keeps the calls in the order they were made (the store
of a saved password before the lookup that should find it). The dialog reacts when
each answer arrives (``background.run``): the keyring warning, where a password is
(never the password itself), the question when there is no keyring to store it in.

A stored password is never shown back; with no keyring, and when the person agrees,
it is kept in memory until mailgui quits.
"""

from __future__ import annotations

import inspect
import itertools
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from functools import partial
from typing import Any, TypeVar

from PySide6.QtWidgets import QMessageBox

from mailgui.core import passwords
from mailgui.core.accounts import Account
from mailgui.core.credentials import Login
from mailgui.core.errors import KeyringUnavailableError
from mailgui.ui import background
from mailgui.ui.accounts_dialog.base import DialogBase
from mailgui.ui.context import AppContext

__all__ = ["KEYRING_POOL", "PasswordSaved", "PasswordsMixin", "password_source"]

KEYRING_POOL = "keyring"  # background.pool(KEYRING_POOL, 1): one call at a time, in order
LOOKUP_WAIT_S = 60.0  # a connection test waits this long for its turn in the keyring thread

T = TypeVar("T")
_lookups = itertools.count(1)  # tokens of placeholder lookups: a later one wins


@dataclass(frozen=True)
class PasswordSaved:
    """What storing a typed password did: ``stored`` is True (in the keyring), False
    (no keyring: ``password`` is handed back, for memory if the person agrees) or None
    (nothing to store)."""

    account: str
    stored: bool | None
    password: str = field(default="", repr=False)


def password_source(ctx: AppContext, name: str) -> str | None:
    """Where this account's password is: "keyring", "session" or None. Never the text.
    Asks the keyring: call it in a worker."""
    try:
        if passwords.load(name) is not None:
            return "keyring"
    except KeyringUnavailableError:
        pass
    try:
        return "session" if ctx.password(name) is not None else None
    except KeyringUnavailableError:
        return None


def _ignore(_result: object) -> None:
    pass


def _call(then: Callable[[], object], _result: object) -> None:
    then()


def _unbound(owner: object, then: Callable[[Any], object]) -> Callable[[Any, Any], object]:
    """``then`` as a call that takes the dialog first, holding no reference to it
    when ``then`` is one of its methods."""
    if inspect.ismethod(then) and then.__self__ is owner:
        function = then.__func__
        return lambda dialog, result: function(dialog, result)
    return lambda _dialog, result: then(result)


class PasswordsMixin(DialogBase):
    """The dialog's password field, keyring warning and keyring calls."""

    def _run_keyring(self, job: Callable[[], T], then: Callable[[T], object]) -> int:
        """Run ``job`` (a keyring call) in the keyring thread; ``then(result)`` in the
        GUI thread, if the dialog still exists by then.

        A method of the dialog is kept as its function, not bound: a bound method in
        the dialog's own ``_keyring_jobs`` is a reference cycle, which leaves a closed
        dialog to Python's cycle collector, and that may run in any thread (a keyring
        job's), where destroying widgets crashes the app."""
        request = background.run(job, self._keyring_answer, background.pool(KEYRING_POOL, 1))
        self._keyring_jobs[request] = _unbound(self, then)
        return request

    def _keyring_answer(self, request: int, result: Any) -> None:
        then = self._keyring_jobs.pop(request, None)
        if then is not None:
            then(self, result)

    def is_keyring_busy(self) -> bool:
        """A keyring call of this dialog has not answered yet."""
        return bool(self._keyring_jobs)

    # --- the keyring warning ----------------------------------------------------------

    def _ask_store_kind(self) -> None:
        """What saving a password would do, asked once; the warning waits for it."""
        self._run_keyring(passwords.store_kind, self._store_kind_known)

    def _store_kind_known(self, kind: str) -> None:
        self._store_kind = kind
        self._update_keyring_warning()

    def _update_keyring_warning(self) -> None:
        """Said only where it is true: for an account that logs in with a password."""
        if self._store_kind == "none":
            text = self.tr(
                "⚠ No password store (keyring) is available: a password can only be kept in "
                "memory until mailgui quits."
            )
        elif self._store_kind == "plaintext":
            text = self.tr(
                "⚠ Passwords are stored in a plain text file (keyrings.alt), not an encrypted "
                "keyring: anyone who can read your files can read them."
            )
        else:
            text = ""  # a real keyring, or not known yet
        self.keyring_warning.setText(text)
        direct, choice = self.is_direct(), self.sign_in_choice()
        uses_password = choice == "password" and bool(self.username_edit.text().strip())
        signs_in = choice in ("microsoft", "google", "issuer")  # its grant is kept there
        self.keyring_warning.setVisible(bool(text) and not direct and (uses_password or signs_in))

    # --- where the password is --------------------------------------------------------

    def _update_password_placeholder(self) -> None:
        """Say where the shown account's password is, once the keyring has answered."""
        self._source_token = token = next(_lookups)
        self.password_edit.setPlaceholderText("")  # nothing rather than a guess
        if self._current is None:
            return
        ctx, name = self._ctx, self._current.name

        def lookup() -> tuple[int, str | None]:
            return token, password_source(ctx, name)

        self._run_keyring(lookup, self._password_source_known)

    def _password_source_known(self, answer: tuple[int, str | None]) -> None:
        token, source = answer
        if token == self._source_token:  # else the form moved on, or a save knows better
            self._show_password_source(source)

    def _show_password_source(self, source: str | None) -> None:
        if source == "keyring":
            text = self.tr("stored in the keyring — type to replace")
        elif source == "session":
            text = self.tr("kept in memory until mailgui quits — type to replace")
        elif self._current is not None and self._current.username:
            text = self.tr("not stored — type it here")
        else:
            text = ""
        self.password_edit.setPlaceholderText(text)

    # --- storing, moving, forgetting ----------------------------------------------------

    def _store_typed_password(self, account: Account) -> None:
        """The typed password to the keyring, or to memory if the person agrees
        (``_password_saved``); accountsChanged once that is done."""
        password = self.password_edit.text()
        self.password_edit.clear()
        ctx, name = self._ctx, account.name
        wanted = bool(password and account.auth == "password")

        def store() -> PasswordSaved:
            if not wanted:
                return PasswordSaved(name, None)
            if ctx.store_password(name, password):
                return PasswordSaved(name, True)
            return PasswordSaved(name, False, password)

        self._run_keyring(store, self._password_saved)

    def _password_saved(self, saved: PasswordSaved) -> None:
        source: str | None = "keyring" if saved.stored else None
        if saved.stored is False:
            answer = QMessageBox.question(
                self,
                self.tr("No password store"),
                self.tr(
                    "No password store (keyring) is available, so mailgui cannot save the "
                    "password. Keep it in memory until mailgui quits?"
                ),
                QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
                QMessageBox.StandardButton.Yes,
            )
            if answer == QMessageBox.StandardButton.Yes:
                self._ctx.keep_password_for_session(saved.account, saved.password)
                source = "session"
                self._show_message(
                    self.tr("Saved; the password is kept in memory until mailgui quits.")
                )
            else:
                self._show_message(
                    self.tr(
                        "Saved without the password: sending will fail until you type it "
                        "again and save."
                    )
                )
        if self._current is not None and self._current.name == saved.account:
            if source is not None:  # known here: no lookup needed
                self._source_token = next(_lookups)
                self._show_password_source(source)
            elif saved.stored is False:  # an older password may still be in memory
                self._update_password_placeholder()
        self.accountsChanged.emit()

    def _move_password(self, old: str, new: str) -> None:
        """A renamed account keeps its password (unless a new one was typed)."""
        ctx, typed = self._ctx, bool(self.password_edit.text())

        def move() -> None:
            if not typed:
                try:
                    password = ctx.password(old)
                except KeyringUnavailableError:
                    password = None
                if password is not None and not ctx.store_password(new, password):
                    ctx.keep_password_for_session(new, password)
            passwords.forget(old)

        self._run_keyring(move, _ignore)

    def _password_lookup(self, name: str) -> Callable[[], str | None]:
        """For a connection test: fetch the account's password in the keyring thread,
        after the calls already waiting there (a password just saved), and return the
        lookup the tester's thread calls to wait for it."""
        ctx = self._ctx
        answer: Future[str | None] = Future()

        def fetch() -> None:
            try:
                answer.set_result(ctx.password(name))
            except BaseException as exc:  # KeyringUnavailableError: the tester words it
                answer.set_exception(exc)

        background.run(fetch, None, background.pool(KEYRING_POOL, 1))

        def lookup() -> str | None:  # in the tester thread
            try:
                return answer.result(timeout=LOOKUP_WAIT_S)
            except TimeoutError:
                return None

        return lookup

    def _login_lookup(self, account: Account) -> Callable[[], Login | None]:
        """For a connection test of an account that signs in with OAuth2 (or a token
        command): the lookup the tester's thread calls for a fresh access token, from
        the app's credentials (a refresh, or the command, runs there, not here), once
        the keyring calls already waiting (a client secret just saved) are done."""
        credentials = self._ctx.credentials()
        turn: Future[None] = Future()
        background.run(lambda: turn.set_result(None), None, background.pool(KEYRING_POOL, 1))

        def lookup() -> Login | None:  # in the tester thread
            try:
                turn.result(timeout=LOOKUP_WAIT_S)
            except TimeoutError:
                pass
            return credentials.login(account)

        return lookup

    def _forget_password(self, name: str, *, then: Callable[[], object]) -> None:
        """Remove the account's password (or OAuth2 grant) and client secret from
        memory and the keyring; ``then()`` after."""
        self._ctx.forget_session_password(name)
        self._forget_client_secret(name)
        self._run_keyring(lambda: passwords.forget(name), partial(_call, then))
