"""Identities through the CLI: `account add --reply-to/--signature-file`, `account show`
with identities (JSON and text), updates that keep identities set in the app, and the
direct-delivery warning."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from helpers import assert_one_sentence

from mailgui.core.accounts import AccountStore, Identity


def _store(profile: Any) -> AccountStore:
    return AccountStore(Path(profile.home) / "config" / "accounts.toml")


def test_reply_to_and_signature_file(profile: Any, tmp_path: Path) -> None:
    sig = tmp_path / "sig.txt"
    sig.write_text("Ada Lovelace\r\nAnalytical Engines Ltd\r\n", encoding="utf-8")
    r = profile.run(
        "account", "add", "work", "--email", "ada@example.org", "--host", "smtp.example.org",
        "--reply-to", "Help <help@example.org>", "--signature-file", str(sig),
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    r = profile.run("account", "show", "work", "--json")
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["reply_to"] == "Help <help@example.org>"
    assert doc["signature"] == "Ada Lovelace\nAnalytical Engines Ltd"
    assert doc["identities"] == []

    r = profile.run(
        "account", "add", "bad", "--email", "ada@example.org", "--host", "smtp.example.org",
        "--reply-to", "help@",
    )  # fmt: skip
    assert r.returncode == 65
    assert "Reply-To" in assert_one_sentence(r.stderr)

    r = profile.run(
        "account", "add", "x", "--email", "ada@example.org", "--host", "smtp.example.org",
        "--signature-file", "-", "--password-stdin",
    )  # fmt: skip
    assert r.returncode == 64


def test_show_lists_identities_and_an_update_keeps_them(profile: Any) -> None:
    r = profile.run(
        "account", "add", "work", "--email", "ada@example.org", "--host", "smtp.example.org"
    )
    assert r.returncode == 0, r.stderr
    store = _store(profile)
    extra = Identity("Ada (support)", "support@example.org", "tickets@example.org", "Support")
    store.save(store.get("work")._replace(identities=(extra,), signature="Ada"))

    r = profile.run("account", "show", "work", "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["identities"] == [
        {
            "name": "Ada (support)",
            "email": "support@example.org",
            "reply_to": "tickets@example.org",
            "signature": "Support",
        }
    ]
    r = profile.run("account", "show", "work")
    assert "Ada (support) <support@example.org>, Reply-To tickets@example.org" in r.stdout

    # `account add` again (a new server): what the options cannot set stays
    r = profile.run(
        "account", "add", "work", "--email", "ada@example.org", "--host", "mail.example.org"
    )
    assert r.returncode == 0, r.stderr
    acct = store.get("work")
    assert acct.host == "mail.example.org"
    assert acct.identities == (extra,) and acct.signature == "Ada"


def test_direct_account_says_it_is_weaker(profile: Any) -> None:
    r = profile.run("account", "add", "d", "--email", "me@example.org", "--direct")
    assert r.returncode == 0, r.stderr
    assert "direct delivery" in r.stdout
    note = r.stderr
    assert "weaker than a relay account" in note
    assert "STARTTLS" in note and "does not check certificates" in note
    assert "rejected as spam" in note
    assert "port 25" in note
