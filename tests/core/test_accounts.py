"""Accounts: TOML in the profile, validated on load."""

from pathlib import Path

import pytest

from mailgui.core.accounts import Account, AccountStore, RateLimits, RetryPolicy
from mailgui.core.errors import ConfigError


def test_round_trip_and_default(tmp_path: Path) -> None:
    store = AccountStore(tmp_path / "accounts.toml")
    first = Account("work", "me@example.org", host="smtp.example.org", username="me")
    second = Account(
        "home",
        "me@home.example",
        host="mail.home.example",
        port=465,
        security="tls",
        retry=RetryPolicy(first_delay=10),
        limits=RateLimits(per_hour=100),
    )
    store.save(first)
    store.save(second)
    assert store.default_name() == "work"  # the first account is the default
    assert store.get("home") == second
    store.save(second, make_default=True)
    assert store.default().name == "home"
    assert "password" not in (tmp_path / "accounts.toml").read_text().lower()
    store.remove("home")
    assert store.default_name() == "work"


def test_unknown_account_names_the_known_ones(tmp_path: Path) -> None:
    store = AccountStore(tmp_path / "accounts.toml")
    store.save(Account("work", "me@example.org", host="smtp.example.org"))
    with pytest.raises(ConfigError, match=r"no account named 'nope'.*work"):
        store.get("nope")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"security": "none", "username": "me"}, "never sent unencrypted"),
        ({"security": "ssl"}, "unknown"),
        ({"host": ""}, "no server"),
        ({"port": 70000}, "port"),
        ({"ca_file": "/nonexistent.pem"}, "CA file"),
    ],
)
def test_unsafe_or_impossible_settings_are_refused(kwargs: dict, message: str) -> None:
    base = {"name": "a", "email": "a@example.org", "host": "smtp.example.org"}
    with pytest.raises(ConfigError, match=message):
        Account(**(base | kwargs)).validate()


def test_broken_file_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "accounts.toml"
    path.write_text("this is = = not toml")
    with pytest.raises(ConfigError, match="cannot be read"):
        AccountStore(path).all()
