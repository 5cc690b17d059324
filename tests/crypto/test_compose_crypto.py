"""The compose window's Sign and Encrypt, driven like a person would, against the real
GnuPG keys of ``gpg_keys`` (alice sends; bob has a key, carol's expired, dave's was
revoked, erin's is not verified, nobody has none)."""
# pytest-qt's QtBot methods are not annotated:
# mypy: disable-error-code="no-untyped-call"

from __future__ import annotations

import os
import threading

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from crypto_tools import GpgKeys, Pki, addr
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot
from shiboken6 import isValid

from mailgui.core.accounts import Account
from mailgui.core.outbox import Outbox
from mailgui.core.paths import Profile as CoreProfile
from mailgui.ui.compose import ComposeWindow, keys
from mailgui.ui.context import AppContext
from mailgui.ui.outbox_service import OutboxHandle

BACKGROUND_WAIT_MS = 10_000
NOBODY = "nobody@example.test"


# --- fixtures (as tests/ui/conftest.py has them) -----------------------------------------


@pytest.fixture(autouse=True)
def background_jobs_end() -> Iterator[None]:
    """After each test, the look-ups it started have ended and their results are gone."""
    yield
    from PySide6.QtCore import QCoreApplication, QEvent

    from mailgui.ui import background

    if QCoreApplication.instance() is None:
        return
    ended = background.wait(BACKGROUND_WAIT_MS)
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    background.deliver()
    QCoreApplication.processEvents()
    assert ended


@pytest.fixture
def ctx(profile: Any, gpg_keys: GpgKeys, monkeypatch: pytest.MonkeyPatch) -> AppContext:
    """A profile with two accounts: Work (alice, with her OpenPGP key) and Plain (none);
    GNUPGHOME is the session's keyring."""
    monkeypatch.setenv("GNUPGHOME", gpg_keys.home)
    home = profile.home
    core = CoreProfile(home / "config", home / "data", home / "state")
    core.ensure()
    context = AppContext(core)
    common: dict[str, Any] = {"host": "127.0.0.1", "port": 2525, "security": "none"}
    context.accounts.save(
        Account("Work", addr("alice"), display_name="Alice Sender", check_recipients=False,
                pgp_key=gpg_keys.fingerprints["alice"], **common)
    )  # fmt: skip
    context.accounts.save(Account("Plain", "plain@example.test", check_recipients=False, **common))
    return context


@pytest.fixture
def handle(ctx: AppContext) -> Iterator[OutboxHandle]:
    real = OutboxHandle(ctx)
    real.start()
    yield real
    assert real.shutdown()


@pytest.fixture
def windows(qtbot: QtBot) -> Iterator[list[ComposeWindow]]:
    made: list[ComposeWindow] = []
    yield made
    for window in made:
        if isValid(window):
            window._done = True
            window.close()


def open_window(
    qtbot: QtBot, ctx: AppContext, handle: Any, windows: list[ComposeWindow], account: str = "Work"
) -> ComposeWindow:
    window = ComposeWindow(ctx, handle, undo_seconds=0)
    windows.append(window)
    window.select_identity(account)
    window.show()
    window.activateWindow()
    qtbot.waitExposed(window)
    qtbot.waitUntil(lambda: QApplication.activeWindow() is window, timeout=2000)
    window.subject_edit.setText("The numbers")
    window.body_edit.setPlainText("Here they are.")
    return window


def type_to(qtbot: QtBot, window: ComposeWindow, text: str, field: str = "to") -> None:
    edit = window.fields[field].edit
    edit.setFocus()
    edit.clear()
    qtbot.keyClicks(edit, text)


def states(window: ComposeWindow) -> str:
    """The key line as read (its rich text without the markup)."""
    from PySide6.QtGui import QTextDocument

    doc = QTextDocument()
    doc.setHtml(window.key_states.text())
    return doc.toPlainText().replace("\xa0", " ")


def send_keys(qtbot: QtBot, window: ComposeWindow) -> None:
    qtbot.keyClick(window.body_edit, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)


def outbox_rows(ctx: AppContext) -> list[Any]:
    with Outbox(ctx.profile.outbox_file) as box:
        return box.list_messages()


# --- tests ------------------------------------------------------------------------------


def test_without_a_key_the_toggles_are_off_and_say_how_to_add_one(
    qtbot: QtBot, ctx: AppContext, handle: OutboxHandle, windows: list[ComposeWindow]
) -> None:
    window = open_window(qtbot, ctx, handle, windows, account="Plain")
    for action in (window.sign_action, window.encrypt_action):
        assert action.isCheckable()
        assert not action.isEnabled()
        assert "Accounts" in action.toolTip() and "--pgp-key FINGERPRINT" in action.toolTip()
    assert window.sign_button.isVisible() and not window.sign_button.isEnabled()
    assert window.protection() is None

    window.select_identity("Work")  # alice's account has her key
    assert window.sign_action.isEnabled() and window.encrypt_action.isEnabled()
    assert "OpenPGP" in window.encrypt_action.toolTip()
    qtbot.mouseClick(window.sign_button, Qt.MouseButton.LeftButton)
    qtbot.mouseClick(window.encrypt_button, Qt.MouseButton.LeftButton)
    assert window.sign_action.isChecked() and window.encrypt_action.isChecked()

    window.select_identity("Plain")  # back to no key: nothing stays asked for
    assert not window.sign_action.isChecked() and not window.encrypt_action.isChecked()
    assert not window.encrypt_action.isEnabled()
    assert not window.key_states.isVisible()


def test_each_recipients_key_is_shown_and_a_missing_one_blocks_send(
    qtbot: QtBot, ctx: AppContext, handle: OutboxHandle, windows: list[ComposeWindow]
) -> None:
    window = open_window(qtbot, ctx, handle, windows)
    qtbot.mouseClick(window.encrypt_button, Qt.MouseButton.LeftButton)
    type_to(qtbot, window, f"Bob <{addr('bob')}>, {NOBODY}")
    type_to(qtbot, window, f"{addr('carol')}, {addr('dave')}, {addr('erin')}", "cc")
    qtbot.waitUntil(lambda: "erin" in states(window) and "…" not in states(window), timeout=10_000)
    line = states(window)
    assert window.key_states.isVisible()
    for expected in (
        "✓ bob@example.test: key found",
        f"✕ {NOBODY}: no key",
        "✕ carol@example.test: expired",
        "✕ dave@example.test: revoked",
        "✕ erin@example.test: untrusted",
    ):
        assert expected in line
    assert "gpg --lsign-key" in window.key_states.toolTip()  # erin: how to verify

    window.cc_edit.clear()  # only bob and nobody left
    send_keys(qtbot, window)  # looks again at the keys not found (imported since?)
    qtbot.waitUntil(lambda: window.preflight.isVisible(), timeout=10_000)
    texts = [f.text for f in window.findings]
    assert any(NOBODY in t and "cannot be encrypted" in t for t in texts), texts
    assert "bob@example.test" not in " ".join(texts)
    assert not window.preflight.send_anyway_button.isEnabled()  # cannot be waived
    window.preflight.send_anyway_button.click()
    qtbot.wait(200)
    assert outbox_rows(ctx) == []  # never sent in clear
    assert window.isVisible()

    # The one way to send it: turn Encrypt off, explicitly.
    qtbot.mouseClick(window.fix_button("encryption"), Qt.MouseButton.LeftButton)
    assert not window.encrypt_action.isChecked()
    assert not window.key_states.isVisible()
    with qtbot.waitSignal(window.sent, timeout=10_000) as sent:
        send_keys(qtbot, window)
    (row,) = outbox_rows(ctx)
    assert row.id == sent.args[0]
    assert (row.signed, row.encrypted) == (None, None)


def test_encrypted_to_bob_is_queued_signed_and_encrypted(
    qtbot: QtBot,
    ctx: AppContext,
    handle: OutboxHandle,
    windows: list[ComposeWindow],
    gpg_keys: GpgKeys,
) -> None:
    window = open_window(qtbot, ctx, handle, windows)
    qtbot.mouseClick(window.sign_button, Qt.MouseButton.LeftButton)
    qtbot.mouseClick(window.encrypt_button, Qt.MouseButton.LeftButton)
    type_to(qtbot, window, f"Bob <{addr('bob')}>")
    # Send at once: the key is still being looked up, so Send waits for the answer.
    with qtbot.waitSignal(window.sent, timeout=20_000) as sent:
        send_keys(qtbot, window)
    with Outbox(ctx.profile.outbox_file) as box:
        row = box.get(sent.args[0])
        body = box.body(row.id)
    assert (row.signed, row.encrypted) == ("openpgp", "openpgp")
    assert b"multipart/encrypted" in body and b"The numbers" not in body
    decrypted = gpg_keys.gpg("--decrypt", input=body.split(b"\r\n\r\n", 1)[1])
    assert b"Here they are." in decrypted.stdout


def test_keys_are_looked_up_off_the_gui_thread_once_typing_pauses(
    qtbot: QtBot,
    ctx: AppContext,
    handle: OutboxHandle,
    windows: list[ComposeWindow],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[tuple[bool, list[str]]] = []
    real = keys.look_up

    def recording(technology: str, addresses: list[str], profile: Any) -> Any:
        calls.append((threading.current_thread() is threading.main_thread(), list(addresses)))
        return real(technology, addresses, profile)

    monkeypatch.setattr(keys, "look_up", recording)
    window = open_window(qtbot, ctx, handle, windows)
    qtbot.mouseClick(window.encrypt_button, Qt.MouseButton.LeftButton)
    assert calls == []  # nobody to look up yet
    type_to(qtbot, window, "bob@example.test")  # one keystroke at a time
    qtbot.waitUntil(lambda: "key found" in states(window), timeout=10_000)
    assert calls == [(False, ["bob@example.test"])]  # once, after the typing, in a pool

    window.to_edit.setText("bob@example.test, Someone <NOBODY@example.test>")
    qtbot.waitUntil(lambda: "no key" in states(window), timeout=10_000)
    assert calls[1:] == [(False, [NOBODY])]  # bob was known already
    assert all(not on_gui for on_gui, _ in calls)


def test_a_key_refused_when_queueing_keeps_the_message_in_the_window(
    qtbot: QtBot,
    ctx: AppContext,
    handle: OutboxHandle,
    windows: list[ComposeWindow],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The race: the window saw a key, which was gone (expired, deleted) when queued."""

    def all_found(technology: str, addresses: list[str], profile: Any) -> Any:
        return {a: keys.KeyState(keys.FOUND) for a in addresses}

    monkeypatch.setattr(keys, "look_up", all_found)
    window = open_window(qtbot, ctx, handle, windows)
    qtbot.mouseClick(window.encrypt_button, Qt.MouseButton.LeftButton)
    type_to(qtbot, window, NOBODY)
    qtbot.waitUntil(lambda: "key found" in states(window), timeout=10_000)
    send_keys(qtbot, window)
    qtbot.waitUntil(lambda: window.error_bar.isVisible(), timeout=20_000)
    assert NOBODY in window.error_bar.label.text()
    assert "nothing was queued" in window.error_bar.label.text()
    assert outbox_rows(ctx) == []
    assert window.isVisible() and window.editor.isEnabled() and window.send_action.isEnabled()
    assert window.to_edit.text() == NOBODY and window.encrypt_action.isChecked()


def test_smime_accounts_look_in_the_imported_certificates(
    qtbot: QtBot,
    ctx: AppContext,
    handle: OutboxHandle,
    windows: list[ComposeWindow],
    pki: Pki,
) -> None:
    from mailgui.core import certificates

    for name in ("bob", "carol"):
        certificates.import_file(ctx.profile, pki.cert(name))
    ctx.accounts.save(
        Account("Smime", addr("alice"), host="127.0.0.1", port=2525, security="none",
                check_recipients=False, smime_cert=str(pki.cert("alice")),
                smime_key=str(pki.key("alice")))
    )  # fmt: skip
    window = open_window(qtbot, ctx, handle, windows, account="Smime")
    assert "S/MIME" in window.encrypt_action.toolTip()
    qtbot.mouseClick(window.sign_button, Qt.MouseButton.LeftButton)
    qtbot.mouseClick(window.encrypt_button, Qt.MouseButton.LeftButton)
    type_to(qtbot, window, f"{addr('bob')}, {addr('carol')}, {NOBODY}")
    qtbot.waitUntil(lambda: "no certificate" in states(window), timeout=10_000)
    line = states(window)
    assert "bob@example.test: certificate found" in line
    assert "carol@example.test: expired" in line
    assert "mailgui cert import" in window.key_states.toolTip()

    window.to_edit.setText(addr("bob"))
    with qtbot.waitSignal(window.sent, timeout=20_000) as sent:
        send_keys(qtbot, window)
    with Outbox(ctx.profile.outbox_file) as box:
        row = box.get(sent.args[0])
    assert (row.signed, row.encrypted) == ("smime", "smime")


def test_icons_have_bundled_drawings() -> None:
    root = Path(__file__).resolve().parents[2] / "mailgui" / "resources" / "actions"
    for name in ("document-sign", "document-encrypt"):
        assert (root / f"{name}.svg").is_file() and (root / "dark" / f"{name}.svg").is_file()


def test_a_reopened_message_asks_for_the_same_protection(
    qtbot: QtBot, ctx: AppContext, handle: OutboxHandle, windows: list[ComposeWindow]
) -> None:
    """Undo send reopens the Draft; a saved draft is reopened later: both with Sign and
    Encrypt as they were, so sending again never goes out in clear by surprise."""
    from mailgui.core.drafts import DraftStore

    window = open_window(qtbot, ctx, handle, windows)
    qtbot.mouseClick(window.sign_button, Qt.MouseButton.LeftButton)
    qtbot.mouseClick(window.encrypt_button, Qt.MouseButton.LeftButton)
    type_to(qtbot, window, addr("bob"))
    draft = window._current_draft(open_=True)
    assert (draft.sign, draft.encrypt) == (True, True)
    store = DraftStore(ctx.profile.data_dir / "drafts")  # as the window keeps them
    store.save(draft)
    (saved,) = [d for d in store.all() if d.id == draft.id]
    again = open_window(qtbot, ctx, handle, windows)
    again.open_saved_draft(saved)
    assert again.sign_action.isChecked() and again.encrypt_action.isChecked()
    built = window._make_draft(check_recipients=False)
    assert built is not None and (built.sign, built.encrypt) == (True, True)
    undone = open_window(qtbot, ctx, handle, windows)
    undone.prefill("Work", built)  # what Undo send does with the Draft it kept
    assert undone.sign_action.isChecked() and undone.encrypt_action.isChecked()


def test_a_sealed_message_is_not_taken_back_for_editing(
    ctx: AppContext, gpg_keys: GpgKeys, tmp_path: Any
) -> None:
    from mailgui.core.addresses import Mailbox
    from mailgui.core.drafts import DraftStore
    from mailgui.core.editing import take_out_for_editing
    from mailgui.core.engine import Protect
    from mailgui.core.errors import UsageError
    from mailgui.core.message import Draft, build

    engine = ctx.engine()
    account = engine.account("Work")
    draft = Draft(sender=Mailbox("", addr("alice")), to=[Mailbox("", addr("bob"))],
                  subject="Sealed", text="secret")  # fmt: skip
    with Outbox(ctx.profile.outbox_file) as box:
        msg_id = engine.queue(box, account, build(draft), protect=Protect(encrypt=True)).id
        with pytest.raises(UsageError, match="encrypted when it was queued"):
            take_out_for_editing(box, msg_id, DraftStore(tmp_path / "drafts"), tmp_path / "att")
        assert box.get(msg_id).state == "queued"  # still there, unchanged


def test_an_accounts_defaults_sign_and_encrypt_when_every_recipient_has_a_key(
    qtbot: QtBot,
    ctx: AppContext,
    handle: OutboxHandle,
    windows: list[ComposeWindow],
    gpg_keys: GpgKeys,
) -> None:
    """Sign is on from the start; Encrypt turns itself on while every recipient has a
    key and off when one has none, without blocking Send (it was not asked for); once
    the person clicks Encrypt, their choice holds and a missing key blocks Send again."""
    work = ctx.accounts.get("Work")
    ctx.accounts.save(work._replace(name="Auto", always_sign=True, encrypt_when_possible=True))
    window = open_window(qtbot, ctx, handle, windows, account="Auto")
    assert window.sign_action.isChecked() and not window.encrypt_action.isChecked()
    type_to(qtbot, window, f"Bob <{addr('bob')}>")
    qtbot.waitUntil(window.encrypt_action.isChecked, timeout=10_000)
    assert "✓ bob@example.test: key found" in states(window)

    type_to(qtbot, window, f"Bob <{addr('bob')}>, {NOBODY}")
    qtbot.waitUntil(lambda: not window.encrypt_action.isChecked(), timeout=10_000)
    with qtbot.waitSignal(window.sent, timeout=20_000) as sent:
        send_keys(qtbot, window)  # no finding: sent signed, in clear
    with Outbox(ctx.profile.outbox_file) as box:
        row = box.get(sent.args[0])
    assert (row.signed, row.encrypted) == ("openpgp", None)

    window = open_window(qtbot, ctx, handle, windows, account="Auto")
    type_to(qtbot, window, f"Bob <{addr('bob')}>")
    qtbot.waitUntil(window.encrypt_action.isChecked, timeout=10_000)
    # Send at once after adding a keyless recipient: Send waits for the look-up, the rule
    # turns Encrypt off, and the message goes signed in clear
    type_to(qtbot, window, f"{NOBODY}", "cc")
    with qtbot.waitSignal(window.sent, timeout=20_000) as sent:
        send_keys(qtbot, window)
    with Outbox(ctx.profile.outbox_file) as box:
        assert box.get(sent.args[0]).encrypted is None

    window = open_window(qtbot, ctx, handle, windows, account="Auto")
    window.encrypt_button.click()  # the person's choice: encrypted, or not sent
    assert window.encrypt_action.isChecked()
    type_to(qtbot, window, f"{NOBODY}")
    send_keys(qtbot, window)
    qtbot.waitUntil(lambda: window.preflight.isVisible(), timeout=10_000)
    assert any("cannot be encrypted" in f.text for f in window.findings)
