"""The core's errors in the app's words (ui/error_words.py): no command-line option in
what the window shows, and a button ("Edit account") where the fix is a setting."""

from __future__ import annotations

from typing import Any

import pytest

from mailgui.core.errors import AuthError, ConfigError
from mailgui.core.hints import CLI_WORDS, Hint, Said
from mailgui.core.outbox import Outbox
from mailgui.ui.error_words import Action, action, advice, error_text, row_error
from mailgui.ui.main_window import render_details


@pytest.mark.parametrize("key", sorted(CLI_WORDS))
def test_no_command_line_advice_in_the_app(qapp: Any, key: str) -> None:
    text = advice(Hint(key, "W"))
    assert "--" not in text and "mailgui " not in text, text
    fix = action(Said("x", Hint(key, "W")))
    assert fix is not None and Action.from_url(fix.url()) == fix._replace(label="")


def test_an_error_reads_in_the_apps_words(qapp: Any) -> None:
    said = Said("No password is stored for account 'W'", Hint("set-password", "W"))
    assert error_text(AuthError(said)) == (
        "No password is stored for account 'W'; type it in the account's Password field."
    )
    assert error_text(ConfigError("The port 0 of account 'W' is not valid.")) == (
        "The port 0 of account 'W' is not valid."
    )
    odd = Action("edit-account", "a/b c", "")
    assert Action.from_url(odd.url()) == odd
    assert Action.from_url("https://example.org/") is None


def test_the_outbox_shows_a_recorded_error_with_its_button(qapp: Any, tmp_path: Any) -> None:
    """What a command or the agent recorded reads in the app's words, with the button."""
    from mailgui.core.addresses import Mailbox
    from mailgui.core.message import Draft, build
    from mailgui.core.outbox import new_claimer

    said = Said("The server at h:587 refused the user name or password (535 no)",
                Hint("password-refused", "work"))  # fmt: skip
    with Outbox(tmp_path / "outbox.sqlite3") as box:
        draft = Draft(sender=Mailbox("", "me@example.org"), to=[Mailbox("", "b@example.org")],
                      subject="Hi", text="x")  # fmt: skip
        msg_id = box.add("work", build(draft))
        me = new_claimer()
        row = box.claim_next(me, "work")
        assert row is not None and row.id == msg_id
        box.finish(msg_id, me, "deferred", note="x", error=said.cli(), said=said,
                   next_attempt_at=1e12)  # fmt: skip
        row = box.get(msg_id)
    assert row.last_error == said.cli()
    assert row_error(row) == (
        "The server at h:587 refused the user name or password (535 no); check them and "
        "type the password again in the account."
    )
    html = render_details({"row": row})
    assert "--password-stdin" not in html
    assert "href='mailgui-fix:edit-account/work'" in html and ">Edit account</a>" in html


def test_edit_account_opens_that_account(qtbot: Any, ctx: Any) -> None:
    from mailgui.core.accounts import Account
    from mailgui.ui.accounts_dialog import AccountsDialog

    for name in ("first", "work"):
        ctx.accounts.save(Account(name=name, email=f"{name}@example.org", host="smtp.example.org"))
    dlg = AccountsDialog(ctx)
    qtbot.addWidget(dlg)
    dlg.select_account("work")
    assert dlg.list.currentItem().text() == "work"
    qtbot.waitUntil(lambda: not dlg.is_keyring_busy(), timeout=5000)
