"""The accounts dialog against real things: a real profile on disk, a real (plaintext
file) keyring, real SMTP servers with TLS, and the real background tester."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import keyring
import keyring.backend
import keyring.backends.fail
import keyrings.alt.file
import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox

from mailgui.core import transport
from mailgui.core.accounts import Account, AccountStore, RateLimits
from mailgui.core.errors import KeyringUnavailableError
from mailgui.core.paths import Profile
from mailgui.ui import connection_test
from mailgui.ui.accounts_dialog import AccountsDialog
from mailgui.ui.connection_test import ConnectionTester, probe, short_name
from mailgui.ui.context import AppContext

PASSWORD = "s3cret-Password!"
NON_ASCII_PASSWORD = "s3cret-Pässword!"
TEST_TIMEOUT_MS = 15_000

# --------------------------------------------------------------------------------------------
# fixtures
# --------------------------------------------------------------------------------------------


@pytest.fixture
def keyring_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A plaintext file keyring under tmp (keyring caches its backend: set it explicitly)."""
    data = tmp_path / "xdg-data"
    monkeypatch.setenv("XDG_DATA_HOME", str(data))
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyrings.alt.file.PlaintextKeyring")
    keyring.set_keyring(keyrings.alt.file.PlaintextKeyring())  # undone by conftest
    yield data


@pytest.fixture
def no_keyring(keyring_file: Path) -> Iterator[None]:
    """No usable password store at all (what a headless machine has)."""
    keyring.set_keyring(keyring.backends.fail.Keyring())  # type: ignore[no-untyped-call]
    yield


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "mailgui-home"


@pytest.fixture
def ctx(home: Path, keyring_file: Path) -> AppContext:
    profile = Profile(home / "config", home / "data", home / "state")
    profile.ensure()
    return AppContext(profile)


class Questions:
    """Stands in for QMessageBox.question (a modal Qt static): answers in order, records."""

    def __init__(self) -> None:
        self.answers: list[QMessageBox.StandardButton] = []
        self.asked: list[tuple[str, str]] = []
        self.fallback: QMessageBox.StandardButton | None = None

    def __call__(self, parent: Any, title: str, text: str, *args: Any) -> Any:
        self.asked.append((title, text))
        if self.answers:
            return self.answers.pop(0)
        if self.fallback is not None:
            return self.fallback
        raise AssertionError(f"unexpected question: {title}: {text}")


@pytest.fixture
def questions(monkeypatch: pytest.MonkeyPatch) -> Questions:
    q = Questions()
    monkeypatch.setattr(QMessageBox, "question", q)
    return q


@pytest.fixture
def dialog(qtbot: Any, ctx: AppContext, questions: Questions) -> Iterator[AccountsDialog]:
    dlg = AccountsDialog(ctx)
    qtbot.addWidget(dlg)
    settle(qtbot, dlg)  # the keyring warning waits for the keyring's answer
    yield dlg
    questions.fallback = QMessageBox.StandardButton.Discard  # closing at teardown
    dlg._tester.cancel()
    assert connection_test.wait_for_all(10_000)


def settle(qtbot: Any, dlg: AccountsDialog) -> None:
    """Wait until the dialog's keyring calls (in a worker thread) have answered."""
    qtbot.waitUntil(lambda: not dlg.is_keyring_busy(), timeout=5000)


def fill(
    qtbot: Any,
    dlg: AccountsDialog,
    *,
    name: str = "Work",
    display_name: str = "Ada Lovelace",
    email: str = "ada@example.org",
    host: str = "smtp.example.org",
    security: str = "starttls",
    port: int | None = None,
    username: str = "ada",
    password: str = PASSWORD,
    ca_file: str = "",
    limits: tuple[int, int, int] = (0, 0, 0),
    timeout: int = 10,
) -> None:
    """Type into the form like a person (security first: it moves the port)."""

    def type_into(edit: Any, text: str) -> None:
        edit.clear()
        if text.isascii():
            qtbot.keyClicks(edit, text)
        else:  # QTest cannot synthesize non-ASCII key events (it aborts)
            edit.insert(text)

    for edit, text in (
        (dlg.name_edit, name),
        (dlg.display_name_edit, display_name),
        (dlg.email_edit, email),
        (dlg.host_edit, host),
    ):
        type_into(edit, text)
    dlg.security_combo.setCurrentIndex(dlg.security_combo.findData(security))
    if port is not None:
        dlg.port_spin.setValue(port)
    if dlg.username_edit.isEnabled():
        type_into(dlg.username_edit, username)
        type_into(dlg.password_edit, password)
    dlg.ca_edit.setText(ca_file)
    for spin, value in zip(dlg.limit_spins, limits, strict=True):
        spin.setValue(value)
    dlg.timeout_spin.setValue(timeout)


def files_containing(root: Path, secret: str) -> list[Path]:
    needles = {secret.encode(), secret.encode("utf-16-le")}
    found = []
    for path in root.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            if any(n in data for n in needles):
                found.append(path)
    return found


def run_test(qtbot: Any, dlg: AccountsDialog) -> dict[str, Any]:
    """Click "Test connection" and wait (event loop running) for the result."""
    with qtbot.waitSignal(dlg._tester.finished, timeout=TEST_TIMEOUT_MS) as blocker:
        started = time.monotonic()
        qtbot.mouseClick(dlg.test_button, Qt.MouseButton.LeftButton)
        assert time.monotonic() - started < 0.5, "the click blocked the GUI thread"
        assert not dlg.test_button.isEnabled()
        assert dlg.busy_label.isVisibleTo(dlg) and dlg.busy_label.text() == "Testing…"
        assert dlg.cancel_test_button.isVisibleTo(dlg)
    assert dlg.test_button.isEnabled()
    assert not dlg.busy_label.isVisibleTo(dlg)
    result: dict[str, Any] = blocker.args[0]
    return result


def panel_text(dlg: AccountsDialog) -> str:
    p = dlg.result_panel
    return "\n".join(w.text() for w in (p.icon, p.headline, p.details, p.error) if w.isVisibleTo(p))


@pytest.fixture
def session_threads(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """Record, for each Session.open(), whether it ran on the main (GUI) thread."""
    calls: list[dict[str, Any]] = []
    original = transport.Session.open

    def open_(self: transport.Session) -> transport.SessionInfo:
        record: dict[str, Any] = {"main": threading.current_thread() is threading.main_thread()}
        calls.append(record)
        try:
            return original(self)
        finally:
            record["greeting"] = self.info.greeting

    monkeypatch.setattr(transport.Session, "open", open_)
    return calls


# --------------------------------------------------------------------------------------------
# saving
# --------------------------------------------------------------------------------------------


def test_save_writes_settings_and_puts_password_only_in_keyring(
    qtbot: Any, dialog: AccountsDialog, ctx: AppContext, home: Path, ca_file: str
) -> None:
    fill(qtbot, dialog, ca_file=ca_file, limits=(10, 100, 500), timeout=20)
    with qtbot.waitSignal(dialog.accountsChanged, timeout=1000):
        qtbot.mouseClick(dialog.save_button, Qt.MouseButton.LeftButton)

    account = AccountStore(ctx.profile.accounts_file).get("Work")
    assert account == Account(
        name="Work",
        email="ada@example.org",
        host="smtp.example.org",
        port=587,
        security="starttls",
        username="ada",
        display_name="Ada Lovelace",
        ca_file=ca_file,
        timeout=20.0,
        limits=RateLimits(10, 100, 500),
    )
    assert keyring.get_password("mailgui", "Work") == PASSWORD
    assert files_containing(home, PASSWORD) == []
    # Never shown back; the placeholder says where it is.
    assert dialog.password_edit.text() == ""
    assert dialog.password_edit.placeholderText() == "stored in the keyring — type to replace"
    assert dialog.message.text() == "✔ Saved."
    item = dialog.list.item(0)
    assert item.text().startswith("Work (default)")
    assert item.font().bold()
    assert not dialog.is_dirty()


def test_plaintext_keyring_is_pointed_out(qtbot: Any, dialog: AccountsDialog) -> None:
    """Only for an account that logs in: a relay without a password stores nothing."""
    assert not dialog.keyring_warning.isVisibleTo(dialog)
    qtbot.keyClicks(dialog.username_edit, "me")
    assert dialog.keyring_warning.isVisibleTo(dialog)
    assert "plain text file" in dialog.keyring_warning.text()
    dialog.username_edit.clear()
    assert not dialog.keyring_warning.isVisibleTo(dialog)


def test_enter_in_the_form_saves_and_escape_closes(
    qtbot: Any, dialog: AccountsDialog, ctx: AppContext
) -> None:
    dialog.show()
    qtbot.waitExposed(dialog)
    fill(qtbot, dialog, security="none", username="")
    dialog.timeout_spin.setFocus()
    with qtbot.waitSignal(dialog.accountsChanged, timeout=1000):
        qtbot.keyClick(dialog.email_edit, Qt.Key.Key_Return)
    assert [a.name for a in ctx.accounts.all()] == ["Work"]
    qtbot.keyClick(dialog, Qt.Key.Key_Escape)
    assert not dialog.isVisible()


def test_tab_walks_the_form_in_reading_order(qtbot: Any, dialog: AccountsDialog) -> None:
    dialog.show()
    qtbot.waitExposed(dialog)
    dialog.activateWindow()
    qtbot.waitUntil(dialog.isActiveWindow, timeout=2000)
    dialog.name_edit.setFocus()
    expected = [
        dialog.display_name_edit,
        dialog.email_edit,
        dialog.delivery_combo,
        dialog.host_edit,
        dialog.security_combo,
        dialog.port_spin,
        dialog.auth_combo,  # "Sign in with": Password shows no more fields
        dialog.username_edit,
        dialog.password_edit,
        dialog.ca_edit,
        dialog.ca_browse,
        dialog.imap_host_edit,  # the rest of the incoming server waits for a server name
        *dialog.limit_spins,
        dialog.timeout_spin,
        dialog.test_button,
        dialog.save_button,  # Cancel test is hidden while no test runs
        dialog.close_button,
    ]
    seen = []
    for _ in expected:
        qtbot.keyClick(dialog.focusWidget(), Qt.Key.Key_Tab)
        seen.append(dialog.focusWidget())
    assert [w.objectName() or type(w).__name__ for w in seen] == [
        w.objectName() or type(w).__name__ for w in expected
    ]
    assert seen == expected


def test_mnemonics_are_set(dialog: AccountsDialog) -> None:
    assert dialog.add_button.text() == "&Add"
    assert dialog.remove_button.text() == "&Remove"
    assert dialog.test_button.text() == "&Test connection"
    assert dialog.save_button.isDefault()


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"email": "ada@"}, "email address"),
        ({"email": "Ada <ada@example.org>"}, "Your name"),
        ({"host": ""}, "fill in the Server field"),
        ({"name": "-bad"}, "not usable"),
    ],
)
def test_invalid_input_shows_one_sentence_and_saves_nothing(
    qtbot: Any,
    dialog: AccountsDialog,
    ctx: AppContext,
    questions: Questions,
    changes: dict[str, str],
    expected: str,
) -> None:
    fill(qtbot, dialog, **changes)  # type: ignore[arg-type]
    qtbot.mouseClick(dialog.save_button, Qt.MouseButton.LeftButton)
    assert dialog.message.isVisibleTo(dialog)
    assert dialog.message.text().startswith("✘ ")
    assert expected in dialog.message.text()
    assert "--" not in dialog.message.text()  # no command-line options in the GUI
    assert not ctx.profile.accounts_file.exists()
    assert keyring.get_password("mailgui", "Work") is None
    assert questions.asked == []


def test_user_name_without_encryption_is_refused(
    qtbot: Any, dialog: AccountsDialog, ctx: AppContext
) -> None:
    fill(qtbot, dialog)  # STARTTLS with a user name and password...
    dialog.security_combo.setCurrentIndex(dialog.security_combo.findData("none"))  # ...then None
    assert not dialog.username_edit.isEnabled()
    assert not dialog.password_edit.isEnabled()
    assert dialog.security_warning.isVisibleTo(dialog)
    assert "Unencrypted" in dialog.security_warning.text()
    assert "Remove the user name" in dialog.security_warning.text()

    qtbot.mouseClick(dialog.save_button, Qt.MouseButton.LeftButton)
    text = dialog.message.text()
    assert "user name but no encryption" in text
    assert "choose STARTTLS or SSL/TLS under Security" in text
    assert not ctx.profile.accounts_file.exists()

    # The link in the warning clears the login, then saving works (and sends no password).
    dialog.security_warning.linkActivated.emit("clear")
    assert dialog.username_edit.text() == "" and dialog.password_edit.text() == ""
    assert "Remove the user name" not in dialog.security_warning.text()
    assert dialog.save()
    assert ctx.accounts.get("Work").security == "none"
    assert keyring.get_password("mailgui", "Work") is None


def test_port_follows_security_until_the_user_sets_it(qtbot: Any, dialog: AccountsDialog) -> None:
    combo = dialog.security_combo
    assert [combo.itemText(i) for i in range(combo.count())] == [
        "STARTTLS (port 587)",
        "SSL/TLS (port 465)",
        "None — unencrypted",
    ]
    assert dialog.port_spin.value() == 587
    combo.setCurrentIndex(combo.findData("tls"))
    assert dialog.port_spin.value() == 465
    combo.setCurrentIndex(combo.findData("none"))
    assert dialog.port_spin.value() == 25
    dialog.port_spin.clear()
    qtbot.keyClicks(dialog.port_spin, "2525")
    assert dialog.port_spin.value() == 2525
    combo.setCurrentIndex(combo.findData("starttls"))
    assert dialog.port_spin.value() == 2525  # the user's port stays


def test_no_keyring_asks_and_keeps_password_in_memory(
    qtbot: Any,
    no_keyring: None,
    dialog: AccountsDialog,
    ctx: AppContext,
    questions: Questions,
    tmp_path: Path,
) -> None:
    assert "No password store" in dialog.keyring_warning.text()
    questions.answers = [QMessageBox.StandardButton.Yes]
    fill(qtbot, dialog)
    assert dialog.save()
    settle(qtbot, dialog)
    assert questions.asked == [
        (
            "No password store",
            "No password store (keyring) is available, so mailgui cannot save the password. "
            "Keep it in memory until mailgui quits?",
        )
    ]
    assert ctx.password("Work") == PASSWORD
    assert files_containing(tmp_path, PASSWORD) == []  # profile, keyring dir, everything
    assert "kept in memory until mailgui quits" in dialog.message.text()
    assert dialog.password_edit.placeholderText().startswith("kept in memory")


def test_no_keyring_and_no_means_not_stored(
    qtbot: Any,
    no_keyring: None,
    dialog: AccountsDialog,
    ctx: AppContext,
    questions: Questions,
    tmp_path: Path,
) -> None:
    questions.answers = [QMessageBox.StandardButton.No]
    fill(qtbot, dialog)
    assert dialog.save()
    settle(qtbot, dialog)
    assert ctx.accounts.get("Work").username == "ada"  # the settings are saved
    with pytest.raises(KeyringUnavailableError):
        ctx.password("Work")
    assert files_containing(tmp_path, PASSWORD) == []
    assert "without the password" in dialog.message.text()


class SlowKeyring(keyring.backend.KeyringBackend):
    """A keyring that takes its time to store (a locked one asking for its passphrase)."""

    priority = 1

    def __init__(self) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self.release = threading.Event()
        self.passwords: dict[tuple[str, str], str] = {}
        self.storing_threads: list[threading.Thread] = []

    def get_password(self, service: str, username: str) -> str | None:
        return self.passwords.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.storing_threads.append(threading.current_thread())
        assert self.release.wait(10), "never released"
        self.passwords[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        self.passwords.pop((service, username), None)


def test_a_slow_keyring_does_not_block_the_dialog(
    qtbot: Any, keyring_file: Path, ctx: AppContext, questions: Questions
) -> None:
    slow = SlowKeyring()
    keyring.set_keyring(slow)
    dlg = AccountsDialog(ctx)
    qtbot.addWidget(dlg)
    changed: list[bool] = []
    dlg.accountsChanged.connect(lambda: changed.append(True))
    try:
        fill(qtbot, dlg)
        started = time.monotonic()
        assert dlg.save()  # returns while the keyring is still storing
        assert time.monotonic() - started < 2
        qtbot.waitUntil(lambda: bool(slow.storing_threads), timeout=5000)
        assert slow.storing_threads[0] is not threading.main_thread()
        assert dlg.message.text() == "✔ Saved."  # the settings are saved
        assert ctx.accounts.get("Work").username == "ada"
        assert dlg.is_keyring_busy() and changed == []  # not until the password is stored
        qtbot.keyClicks(dlg.display_name_edit, " Byron")  # the form goes on working
        assert dlg.display_name_edit.text() == "Ada Lovelace Byron"
    finally:
        slow.release.set()
    with qtbot.waitSignal(dlg.accountsChanged, timeout=5000):
        pass
    assert slow.passwords[("mailgui", "Work")] == PASSWORD
    assert dlg.password_edit.placeholderText() == "stored in the keyring — type to replace"
    settle(qtbot, dlg)


def test_keyring_calls_run_off_the_gui_thread(
    qtbot: Any, ctx: AppContext, questions: Questions, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every keyring call the dialog makes: the warning, the placeholder, saving,
    renaming, removing."""
    from mailgui.core import passwords

    calls: list[tuple[str, bool]] = []
    for name in ("load", "store", "forget", "store_kind"):
        real = getattr(passwords, name)

        def spy(*args: Any, _real: Any = real, _name: str = name) -> Any:
            calls.append((_name, threading.current_thread() is threading.main_thread()))
            return _real(*args)

        monkeypatch.setattr(passwords, name, spy)
    _add(ctx, "Home", password="pw-home")
    calls.clear()
    dlg = AccountsDialog(ctx)
    qtbot.addWidget(dlg)
    settle(qtbot, dlg)
    assert dlg.password_edit.placeholderText() == "stored in the keyring — type to replace"
    dlg.name_edit.setText("House")
    dlg.username_edit.setText("home")
    dlg.password_edit.setText("new-pw")
    assert dlg.save()
    settle(qtbot, dlg)
    assert keyring.get_password("mailgui", "House") == "new-pw"
    assert keyring.get_password("mailgui", "Home") is None
    questions.answers = [QMessageBox.StandardButton.Yes]
    with qtbot.waitSignal(dlg.accountsChanged, timeout=5000):
        dlg.remove_account()
    assert keyring.get_password("mailgui", "House") is None
    assert {name for name, _ in calls} == {"load", "store", "forget", "store_kind"}
    assert [name for name, on_gui in calls if on_gui] == []


def test_testing_right_after_saving_finds_the_password_just_saved(
    qtbot: Any, dialog: AccountsDialog, smtp_server: Any, ca_file: str
) -> None:
    """The test's lookup waits for the save's turn in the keyring thread."""
    server = smtp_server("starttls", users={"ada": PASSWORD})
    fill(qtbot, dialog, host=server.host, port=server.port, ca_file=ca_file)
    assert dialog.save()
    assert dialog.is_keyring_busy()  # the password is on its way to the keyring
    result = run_test(qtbot, dialog)
    assert result["ok"] is True, result


# --------------------------------------------------------------------------------------------
# the list: remove, default, rename
# --------------------------------------------------------------------------------------------


def _add(ctx: AppContext, name: str, *, password: str | None = None, default: bool = False) -> None:
    ctx.accounts.save(
        Account(name=name, email=f"{name.lower()}@example.org", host="smtp.example.org"),
        make_default=default,
    )
    if password:
        assert ctx.store_password(name, password)


def test_remove_asks_first_and_forgets_the_password(
    qtbot: Any, ctx: AppContext, questions: Questions
) -> None:
    _add(ctx, "Home", password="pw-home")
    _add(ctx, "Work", password="pw-work")
    dlg = AccountsDialog(ctx)
    qtbot.addWidget(dlg)
    dlg.list.setCurrentRow(1)
    assert dlg.name_edit.text() == "Work"

    questions.answers = [QMessageBox.StandardButton.No]
    qtbot.mouseClick(dlg.remove_button, Qt.MouseButton.LeftButton)
    assert len(ctx.accounts.all()) == 2
    assert "Remove the account “Work”?" in questions.asked[0][1]

    questions.answers = [QMessageBox.StandardButton.Yes]
    with qtbot.waitSignal(dlg.accountsChanged, timeout=1000):
        qtbot.mouseClick(dlg.remove_button, Qt.MouseButton.LeftButton)
    assert [a.name for a in ctx.accounts.all()] == ["Home"]
    assert keyring.get_password("mailgui", "Work") is None
    assert keyring.get_password("mailgui", "Home") == "pw-home"
    assert dlg.list.count() == 1


def test_set_as_default(qtbot: Any, ctx: AppContext, questions: Questions) -> None:
    _add(ctx, "Home")
    _add(ctx, "Work")
    dlg = AccountsDialog(ctx)
    qtbot.addWidget(dlg)
    assert dlg.list.item(0).text().startswith("Home (default)")
    dlg.list.setCurrentRow(1)
    assert dlg.default_button.isEnabled()
    with qtbot.waitSignal(dlg.accountsChanged, timeout=1000):
        qtbot.mouseClick(dlg.default_button, Qt.MouseButton.LeftButton)
    assert ctx.accounts.default_name() == "Work"
    assert dlg.list.item(1).text().startswith("Work (default)")
    assert dlg.list.item(1).font().bold() and not dlg.list.item(0).font().bold()
    assert not dlg.default_button.isEnabled()


def test_rename_keeps_password_and_default(
    qtbot: Any, ctx: AppContext, questions: Questions
) -> None:
    _add(ctx, "Work", password="pw-work", default=True)
    dlg = AccountsDialog(ctx)
    qtbot.addWidget(dlg)
    dlg.name_edit.setText("Office")
    assert dlg.save()
    settle(qtbot, dlg)
    assert [a.name for a in ctx.accounts.all()] == ["Office"]
    assert ctx.accounts.default_name() == "Office"
    assert keyring.get_password("mailgui", "Office") == "pw-work"
    assert keyring.get_password("mailgui", "Work") is None


def test_an_unreadable_accounts_file_is_reported_in_the_dialog(
    qtbot: Any, ctx: AppContext, questions: Questions
) -> None:
    ctx.profile.accounts_file.write_text("this is [not toml")
    dlg = AccountsDialog(ctx)
    qtbot.addWidget(dlg)
    assert dlg.list.count() == 0
    assert dlg.message.text().startswith("✘ The accounts file ")
    assert "cannot be read" in dlg.message.text()


def test_unsaved_changes_are_not_dropped_silently(
    qtbot: Any, ctx: AppContext, questions: Questions
) -> None:
    _add(ctx, "Home")
    _add(ctx, "Work")
    dlg = AccountsDialog(ctx)
    qtbot.addWidget(dlg)
    dlg.host_edit.setText("changed.example.org")
    questions.answers = [QMessageBox.StandardButton.Cancel]
    dlg.list.setCurrentRow(1)
    assert dlg.list.currentRow() == 0 and dlg.host_edit.text() == "changed.example.org"
    questions.answers = [QMessageBox.StandardButton.Discard]
    dlg.list.setCurrentRow(1)
    assert dlg.name_edit.text() == "Work" and not dlg.is_dirty()


# --------------------------------------------------------------------------------------------
# test connection (real servers, real threads)
# --------------------------------------------------------------------------------------------


def test_connection_ok_with_starttls_and_login(
    qtbot: Any,
    dialog: AccountsDialog,
    ctx: AppContext,
    smtp_server: Any,
    ca_file: str,
    session_threads: list[dict[str, Any]],
) -> None:
    server = smtp_server("starttls", users={"ada": PASSWORD})
    fill(qtbot, dialog, host=server.host, port=server.port, ca_file=ca_file)
    result = run_test(qtbot, dialog)

    assert result["ok"] is True, result
    assert result["error"] == ""
    lines = result["lines"]
    assert lines[0] == f"Connected to {server.host}:{server.port}."
    assert lines[1].startswith("Encrypted with TLSv1.")
    assert any(line.startswith("Certificate: O=trustme") and "issued by" in line for line in lines)
    assert "Logged in as ada." in lines
    assert any("accepts messages up to" in line for line in lines)
    assert server.auth_attempts == [("ada", True)]
    # The session ran off the GUI thread; the greeting (pre-TLS text) is not shown.
    assert [c["main"] for c in session_threads] == [False]
    greeting = session_threads[0]["greeting"]
    assert greeting and greeting not in panel_text(dialog)
    assert panel_text(dialog).startswith("✔\nThe connection works.")
    # Testing used the form as it is: nothing was saved.
    assert not ctx.profile.accounts_file.exists()


def test_connection_uses_the_stored_password_when_the_field_is_empty(
    qtbot: Any, dialog: AccountsDialog, smtp_server: Any, ca_file: str
) -> None:
    server = smtp_server("starttls", users={"ada": PASSWORD})
    fill(qtbot, dialog, host=server.host, port=server.port, ca_file=ca_file)
    assert dialog.save()
    assert dialog.password_edit.text() == ""
    result = run_test(qtbot, dialog)
    assert result["ok"] is True, result
    assert server.auth_attempts == [("ada", True)]


def test_connection_wrong_password(
    qtbot: Any, dialog: AccountsDialog, smtp_server: Any, ca_file: str
) -> None:
    server = smtp_server("starttls", users={"ada": "the-right-one"})
    fill(qtbot, dialog, host=server.host, port=server.port, ca_file=ca_file)
    result = run_test(qtbot, dialog)
    assert result["ok"] is False
    assert "refused the user name or password" in result["error"]
    assert "--password-stdin" not in result["error"]
    assert any(line.startswith("Encrypted with TLS") for line in result["lines"])
    assert result["lines"][-1].startswith("Authentication refused by the server: 535")
    text = panel_text(dialog)
    assert text.startswith("✘\nThe test failed.")
    assert "refused" in text


def test_connection_with_a_non_ascii_password(
    qtbot: Any, dialog: AccountsDialog, smtp_server: Any, ca_file: str
) -> None:
    server = smtp_server("starttls", users={"ada": NON_ASCII_PASSWORD})
    fill(qtbot, dialog, host=server.host, port=server.port, ca_file=ca_file)
    dialog.password_edit.setText(NON_ASCII_PASSWORD)
    result = run_test(qtbot, dialog)
    assert "unexpected error" not in result["error"]  # UTF-8 credentials (RFC 4616)
    assert result["ok"] is True, result


def test_connection_starttls_not_offered(
    qtbot: Any, dialog: AccountsDialog, smtp_server: Any
) -> None:
    server = smtp_server("none")
    fill(qtbot, dialog, host=server.host, port=server.port)
    result = run_test(qtbot, dialog)
    assert result["ok"] is False
    assert "did not offer encryption (STARTTLS)" in result["error"]
    assert "--security" not in result["error"]
    assert result["lines"] == [f"Connected to {server.host}:{server.port}."]


def test_connection_untrusted_certificate_names_the_ca_file(
    qtbot: Any, dialog: AccountsDialog, smtp_server: Any
) -> None:
    server = smtp_server("tls")
    fill(qtbot, dialog, host=server.host, port=server.port, security="tls", username="")
    result = run_test(qtbot, dialog)
    assert result["ok"] is False
    assert "could not be verified" in result["error"]
    assert "CA file" in result["error"]


def test_greeting_is_never_shown(qtbot: Any, dialog: AccountsDialog, fake_server: Any) -> None:
    server = fake_server(greeting="220 fake.example ESMTP All mail here is encrypted, trust me")
    fill(qtbot, dialog, host=server.host, port=server.port, security="none")
    result = run_test(qtbot, dialog)
    assert result["ok"] is True, result
    assert "trust me" not in panel_text(dialog)
    assert any("Not encrypted" in line for line in result["lines"])


def test_cancel_stops_waiting_at_once(qtbot: Any, dialog: AccountsDialog, fake_server: Any) -> None:
    server = fake_server(greeting=None)  # accepts, then never says anything
    fill(qtbot, dialog, host=server.host, port=server.port, security="none", timeout=30)
    with qtbot.waitSignal(dialog._tester.finished, timeout=TEST_TIMEOUT_MS) as blocker:
        qtbot.mouseClick(dialog.test_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: server.connections == 1, timeout=5000)
        started = time.monotonic()
        qtbot.mouseClick(dialog.cancel_test_button, Qt.MouseButton.LeftButton)
    assert time.monotonic() - started < 1.0
    assert blocker.args[0]["cancelled"] is True
    assert dialog.test_button.isEnabled()
    assert panel_text(dialog) == "–\nThe test was cancelled."
    assert connection_test.wait_for_all(5000)  # the aborted session's thread ended too


def test_a_silent_server_times_out(qtbot: Any, dialog: AccountsDialog, fake_server: Any) -> None:
    server = fake_server(greeting=None)
    fill(qtbot, dialog, host=server.host, port=server.port, security="none", timeout=1)
    result = run_test(qtbot, dialog)
    assert result["ok"] is False
    assert "did not answer within 1 second" in result["error"]


def test_the_whole_test_has_a_deadline(
    qtbot: Any, fake_server: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(connection_test, "DEADLINE_SLACK_S", -0.7)  # 1 s timeout -> 0.3 s
    server = fake_server(greeting=None)
    tester = ConnectionTester()
    account = Account(
        name="t",
        email="t@example.org",
        host=server.host,
        port=server.port,
        security="none",
        timeout=1,
    )
    with qtbot.waitSignal(tester.finished, timeout=5000) as blocker:
        tester.start(account, None)
    result = blocker.args[0]
    assert result["ok"] is False and result["cancelled"] is False
    assert "did not finish the test within 0.3 seconds" in result["error"]
    assert connection_test.wait_for_all(5000)


def test_tester_without_dialog_and_late_answers_are_ignored(qtbot: Any, fake_server: Any) -> None:
    """Two starts in a row: only the second one's answer arrives."""
    slow = fake_server(greeting=None)
    quick = fake_server()
    tester = ConnectionTester()
    results: list[dict[str, Any]] = []
    tester.finished.connect(results.append)
    base = Account(name="t", email="t@example.org", host=slow.host, security="none", timeout=5)
    tester.start(Account(**{**base.to_dict(), "port": slow.port}), None)
    qtbot.waitUntil(lambda: slow.connections == 1, timeout=5000)
    with qtbot.waitSignals([tester.finished, tester.finished], timeout=TEST_TIMEOUT_MS):
        tester.start(Account(**{**base.to_dict(), "port": quick.port}), None)
    assert [r["cancelled"] for r in results] == [True, False]
    assert results[1]["ok"] is True
    assert connection_test.wait_for_all(5000)
    qtbot.wait(50)
    assert len(results) == 2


def test_probe_closed_port(closed_port: int) -> None:
    account = Account(
        name="t", email="t@example.org", host="127.0.0.1", port=closed_port, security="none"
    )
    result = probe(account, None)
    assert result == {
        "ok": False,
        "lines": [],
        "error": f"The server at 127.0.0.1:{closed_port} refused the connection; check the "
        "host and port, or try again later.",
        "cancelled": False,
    }


def test_certificate_names_are_shortened() -> None:
    assert short_name("commonName=mail.example.org, organizationName=Example") == (
        "CN=mail.example.org"
    )
    assert short_name("organizationName=trustme, organizationalUnitName=Testing") == (
        "O=trustme, OU=Testing"
    )
    assert short_name("weird") == "weird"


def test_an_old_result_is_marked_when_the_settings_change(
    qtbot: Any, dialog: AccountsDialog, closed_port: int
) -> None:
    fill(qtbot, dialog, host="127.0.0.1", port=closed_port, security="none")
    result = run_test(qtbot, dialog)
    assert "refused the connection" in result["error"]
    assert dialog.result_panel.headline.text() == "The test failed."
    dialog.port_spin.setValue(closed_port + 1)
    assert dialog.result_panel.headline.text() == "Before your last changes, the test failed."


# --------------------------------------------------------------------------------------------
# screenshots (look at them!)
# --------------------------------------------------------------------------------------------


def shot(qtbot: Any, dlg: AccountsDialog, path: str) -> None:
    qtbot.wait(50)  # let pending layout requests run, as a real event loop would
    assert dlg.grab().save(path)


def test_screenshots(
    qtbot: Any,
    ctx: AppContext,
    questions: Questions,
    smtp_server: Any,
    fake_server: Any,
    ca_file: str,
) -> None:
    _add(ctx, "Home", default=True)
    dlg = AccountsDialog(ctx)
    qtbot.addWidget(dlg)
    dlg.show()
    qtbot.waitExposed(dlg)

    server = smtp_server("starttls", users={"ada": PASSWORD})
    qtbot.mouseClick(dlg.add_button, Qt.MouseButton.LeftButton)
    fill(qtbot, dlg, host=server.host, port=server.port, ca_file=ca_file, limits=(20, 0, 500))
    assert dlg.save()
    shot(qtbot, dlg, "/tmp/accounts_filled.png")

    run_test(qtbot, dlg)
    shot(qtbot, dlg, "/tmp/accounts_ok.png")

    dlg.password_edit.setText("wrong password")
    result = run_test(qtbot, dlg)
    assert not result["ok"]
    shot(qtbot, dlg, "/tmp/accounts_failure.png")

    silent = fake_server(greeting=None)
    dlg.port_spin.setValue(silent.port)
    with qtbot.waitSignal(dlg._tester.finished, timeout=TEST_TIMEOUT_MS):
        qtbot.mouseClick(dlg.test_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: silent.connections == 1, timeout=5000)
        shot(qtbot, dlg, "/tmp/accounts_testing.png")
        qtbot.mouseClick(dlg.cancel_test_button, Qt.MouseButton.LeftButton)
    shot(qtbot, dlg, "/tmp/accounts_cancelled.png")

    dlg.security_combo.setCurrentIndex(dlg.security_combo.findData("none"))
    qtbot.mouseClick(dlg.save_button, Qt.MouseButton.LeftButton)
    shot(qtbot, dlg, "/tmp/accounts_invalid.png")
    dlg.resize(760, 480)  # small: the form scrolls, nothing is squeezed
    shot(qtbot, dlg, "/tmp/accounts_small.png")
    questions.fallback = QMessageBox.StandardButton.Discard


def test_find_settings_and_test_connection_stay_in_view_at_900_by_560(
    qtbot: Any, dialog: AccountsDialog
) -> None:
    """Beside Save and Close, not at the end of a form that scrolls."""
    dialog.resize(900, 560)
    dialog.show()
    qtbot.waitExposed(dialog)
    for button in (dialog.find_button, dialog.test_button, dialog.save_button):
        assert button.isVisibleTo(dialog)
        where = button.mapTo(dialog, button.rect().bottomRight())
        assert dialog.rect().contains(where), button.text()
        assert not dialog._scroll.isAncestorOf(button), button.text()
