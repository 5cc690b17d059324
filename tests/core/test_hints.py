"""Errors whose fix is a setting or a command carry it as data (core/hints.py): the
command line says it with options, the app in its own words (tests/ui/test_error_words.py),
and the outbox keeps it with the message."""

from __future__ import annotations

from pathlib import Path

import pytest

from mailgui.core.accounts import Account, AccountStore
from mailgui.core.errors import ConfigError
from mailgui.core.hints import CLI_WORDS, Hint, Said


def test_a_said_error_reads_as_one_command_line_sentence() -> None:
    said = Said("No password is stored for account 'work'", Hint("set-password", "work"))
    assert said.cli() == (
        "No password is stored for account 'work'; set it with "
        "'mailgui account add work ... --password-stdin'."
    )
    assert str(ConfigError(said)) == said.cli() and ConfigError(said).said == said
    assert ConfigError("plain words.").said is None
    ahead = Said("The server closed the connection", Hint("port-465", "w"), ". ")
    assert ahead.cli().endswith(
        "connection. Port 465 expects SSL/TLS, not STARTTLS: use --security tls."
    )


@pytest.mark.parametrize("key", sorted(CLI_WORDS))
def test_what_the_outbox_keeps_reads_back(key: str) -> None:
    said = Said("Something happened", Hint(key, "work"))
    assert Said.loads(said.dumps()) == said


@pytest.mark.parametrize(
    "stored",
    [
        None,
        "",
        "not json",
        '{"what": "x"}',
        '{"what": "x", "sep": "; ", "key": "from-a-newer-mailgui"}',
    ],
)
def test_a_hint_that_cannot_be_read_is_no_hint(stored: str | None) -> None:
    assert Said.loads(stored) is None


def test_account_errors_name_their_fix(tmp_path: Path) -> None:
    store = AccountStore(tmp_path / "accounts.toml")
    with pytest.raises(ConfigError) as missing:
        store.default()
    assert missing.value.said is not None and missing.value.said.hint == Hint("add-first-account")
    with pytest.raises(ConfigError) as no_host:
        Account(name="w", email="me@example.org", host="").validate()
    assert no_host.value.said is not None and no_host.value.said.hint == Hint("give-host", "w")
    assert (
        str(no_host.value) == "Account 'w' has no server; give one with --host (or use --direct)."
    )
