"""The sender's network watch when the platform offers no reachability backend."""

from __future__ import annotations

from mailgui.ui import sender as sender_module
from mailgui.ui.context import AppContext
from mailgui.ui.sender import Sender, has_network_interface


def test_this_machine_has_a_network_interface() -> None:
    assert has_network_interface()  # eth0 here; loopback alone would not count


def test_interfaces_coming_back_put_the_sender_online(qtbot, ctx: AppContext, monkeypatch) -> None:
    sender = Sender(ctx, watch_network=False)
    up = [False]
    monkeypatch.setattr(sender_module, "has_network_interface", lambda: up[0])
    sender.watch_interfaces()
    assert sender.online is False
    up[0] = True
    with qtbot.waitSignal(sender.onlineChanged, timeout=sender_module.INTERFACES_MS + 5000) as got:
        sender._interfaces.setInterval(50)  # type: ignore[union-attr]
    assert got.args == [True] and sender.online
