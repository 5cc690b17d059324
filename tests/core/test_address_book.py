"""Addresses used before: remembered per address, matched by name or address words."""

from pathlib import Path

from clock import Clock

from mailgui.core.address_book import AddressBook
from mailgui.core.addresses import Mailbox


def test_remember_and_match_ranked_by_use_then_recency(tmp_path: Path) -> None:
    clock = Clock(1000.0)
    book = AddressBook(tmp_path / "data" / "addresses.json", clock=clock)
    assert book.matching("b") == []
    book.remember([Mailbox("Bob Builder", "bob@example.org"), Mailbox("", "bea@example.org")])
    clock.advance(1)
    book.remember([Mailbox("", "bea@example.org")])
    clock.advance(1)
    book.remember([Mailbox("", "Ben@Example.org")])
    assert book.matching("b") == [
        "bea@example.org",  # used twice
        "Ben@Example.org",  # then the most recent
        "Bob Builder <bob@example.org>",
    ]
    assert book.matching("build") == ["Bob Builder <bob@example.org>"]
    assert book.matching("  ") == []
    book.remember([Mailbox("Robert Builder", "BOB@example.org")])  # same address, new name
    fresh = AddressBook(book.path)
    assert fresh.matching("rob") == ["Robert Builder <BOB@example.org>"]
    assert fresh.matching("bob") == ["Robert Builder <BOB@example.org>"]


def test_a_broken_file_is_an_empty_book(tmp_path: Path) -> None:
    path = tmp_path / "addresses.json"
    path.write_text("[1, 2")
    book = AddressBook(path)
    assert book.matching("a") == []
    book.remember([Mailbox("", "ann@example.org")])
    assert AddressBook(path).matching("ann") == ["ann@example.org"]
