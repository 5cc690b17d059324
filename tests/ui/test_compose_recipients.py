"""Compose: recipient-domain warnings from a real DNS server, checked in the background."""
# pytest-qt's QtBot methods are not annotated:
# mypy: disable-error-code="no-untyped-call"

from __future__ import annotations

import time
from typing import Any

import pytest
from dns_server import DnsServer
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot
from test_compose_identities import open_window

from mailgui.core.accounts import Account
from mailgui.ui.compose import ComposeWindow
from mailgui.ui.context import AppContext
from mailgui.ui.outbox_service import OutboxHandle


@pytest.fixture
def zone(dns_server: DnsServer) -> DnsServer:
    dns_server.add("good.test", "MX", "10 mx.good.test.")
    dns_server.add("null.test", "MX", "0 .")
    dns_server.add("slow.test", "MX", "10 mx.slow.test.").hang("slow.test")
    return dns_server


def window_for(
    qtbot: QtBot,
    ctx: AppContext,
    handle: OutboxHandle,
    windows: list[ComposeWindow],
    *,
    check: bool = True,
) -> ComposeWindow:
    ctx.accounts.save(
        Account("Work", "ada@example.org", host="127.0.0.1", port=2525, security="none",
                check_recipients=check)
    )  # fmt: skip
    window = open_window(qtbot, ctx, handle, windows)
    window.subject_edit.setText("Hello")
    return window


def type_address(qtbot: QtBot, window: ComposeWindow, text: str, field: str = "to") -> None:
    edit = window.fields[field].edit
    edit.setFocus()
    edit.clear()
    qtbot.keyClicks(edit, text)
    qtbot.keyClick(edit, Qt.Key.Key_Tab)  # leaving the field validates it


def test_a_domain_that_does_not_exist_is_warned_about(
    qtbot: QtBot, ctx: AppContext, handle: OutboxHandle, windows: list[ComposeWindow], zone: Any
) -> None:
    window = window_for(qtbot, ctx, handle, windows)
    warning = window.fields["to"].warning
    type_address(qtbot, window, "bob@good.test, ann@nowhere.test")
    qtbot.waitUntil(lambda: warning.isVisible(), timeout=5000)
    assert "The domain nowhere.test does not exist" in warning.text()
    assert "good.test" not in warning.text()
    assert window.send_action.isEnabled()  # a warning, not a block

    # Taking the address out takes the warning along, with no new look-up.
    window.to_edit.setText("bob@good.test")
    assert not warning.isVisible()
    assert zone.asked("nowhere.test", "MX") == 1


def test_a_typo_is_suggested_and_fixed_in_one_click(
    qtbot: QtBot, ctx: AppContext, handle: OutboxHandle, windows: list[ComposeWindow], zone: Any
) -> None:
    window = window_for(qtbot, ctx, handle, windows)
    field = window.fields["cc"]
    type_address(qtbot, window, "Bob <bob@gmial.com>", "cc")
    qtbot.waitUntil(lambda: "gmail.com" in field.warning.text(), timeout=5000)
    assert "did you mean" in field.warning.text().lower()
    assert 'href="fix-domain:gmial.com:gmail.com"' in field.warning.text()
    field.warning.linkActivated.emit("fix-domain:gmial.com:gmail.com")
    assert window.cc_edit.text() == "Bob <bob@gmail.com>"
    assert not field.warning.isVisible()


def test_a_null_mx_blocks_send_with_the_reason(
    qtbot: QtBot, ctx: AppContext, handle: OutboxHandle, windows: list[ComposeWindow], zone: Any
) -> None:
    window = window_for(qtbot, ctx, handle, windows)
    warning = window.fields["to"].warning
    type_address(qtbot, window, "info@null.test")
    qtbot.waitUntil(lambda: not window.send_action.isEnabled(), timeout=5000)
    assert warning.isVisible()
    assert "accepts no mail" in warning.text()
    assert not window.send(force=True)
    assert handle is not None and window._token is None  # nothing was queued
    window.to_edit.setText("info@good.test")
    qtbot.keyClick(window.to_edit, Qt.Key.Key_Tab)
    assert window.send_action.isEnabled()


def test_offline_nothing_is_shown(
    qtbot: QtBot, ctx: AppContext, handle: OutboxHandle, windows: list[ComposeWindow]
) -> None:
    """The default test DNS refuses everything: as offline, checks say nothing."""
    window = window_for(qtbot, ctx, handle, windows)
    type_address(qtbot, window, "ann@nowhere.test")
    qtbot.waitUntil(lambda: not window.checker.is_running(), timeout=5000)
    assert not window.fields["to"].warning.isVisible()
    assert window.send_action.isEnabled()


def test_checks_never_delay_sending(
    qtbot: QtBot, ctx: AppContext, handle: OutboxHandle, windows: list[ComposeWindow], zone: Any
) -> None:
    window = window_for(qtbot, ctx, handle, windows)
    type_address(qtbot, window, "ann@slow.test")  # its DNS server never answers
    assert window.checker.is_running("slow.test")
    start = time.monotonic()
    with qtbot.waitSignal(window.sent, timeout=5000):
        assert window.send(force=True)
    assert time.monotonic() - start < 1.0


def test_an_account_that_skips_checks_shows_nothing(
    qtbot: QtBot, ctx: AppContext, handle: OutboxHandle, windows: list[ComposeWindow], zone: Any
) -> None:
    window = window_for(qtbot, ctx, handle, windows, check=False)
    type_address(qtbot, window, "info@null.test, bob@gmial.com")
    qtbot.wait(200)
    assert not window.checker.is_running()
    assert zone.asked("null.test", "MX") == 0
    assert not window.fields["to"].warning.isVisible()
    assert window.send_action.isEnabled()
