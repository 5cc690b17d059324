"""The pure parts of the IMAP code: modified UTF-7, reply parsing, the choice of the Sent
folder, APPENDLIMIT and the classification of refusals (no server needed)."""

from __future__ import annotations

import pytest

from mailgui.core.errors import ConfigError, PermanentError, TransientError
from mailgui.core.imap import (
    CopyNotStoredError,
    CopyRefusedError,
    Folder,
    FolderMissingError,
    MailboxFullError,
    MessageTooBigError,
    append_limit,
    find_sent,
    responses,
    utf7,
)
from mailgui.core.imap.errors import refusal
from mailgui.core.imap.settings import ImapSettings


@pytest.mark.parametrize(
    ("name", "wire"),
    [
        ("Sent", "Sent"),
        ("Envoyés", "Envoy&AOk-s"),
        ("Éléments envoyés", "&AMk-l&AOk-ments envoy&AOk-s"),
        ("Tom & Jerry", "Tom &- Jerry"),
        ("~peter/mail/台北/日本語", "~peter/mail/&U,BTFw-/&ZeVnLIqe-"),  # RFC 3501's example
        ("Отправленные", "&BB4EQgQ,BEAEMAQyBDsENQQ9BD0ESwQ1-"),
    ],
)
def test_modified_utf7_both_ways(name: str, wire: str) -> None:
    assert utf7.encode(name) == wire
    assert utf7.decode(wire) == name


def test_a_name_that_is_not_modified_utf7_is_kept_as_it_came() -> None:
    assert utf7.decode("Broken &AOk") == "Broken &AOk"
    assert utf7.decode("Gesendete Elemente") == "Gesendete Elemente"


def test_list_replies_quoted_atom_nil_and_literal() -> None:
    data = [
        b'(\\HasNoChildren \\Sent) "." Sent',
        b'(\\Noselect \\HasChildren) "/" "[Gmail]"',
        b"() NIL INBOX",
        (b'(\\HasNoChildren) "/" {12}', b'Sent "Items"'),
        b"",
        b'(\\HasNoChildren) "\\\\" "Back\\\\slash"',
        b"not a list reply",
    ]
    entries = responses.list_entries(data)
    assert [(e.name, e.delimiter) for e in entries] == [
        ("Sent", "."),
        ("[Gmail]", "/"),
        ("INBOX", None),
        ('Sent "Items"', "/"),
        ("Back\\slash", "\\"),
    ]
    assert entries[0].flags == {"\\hasnochildren", "\\sent"}


def test_status_text_splits_code_and_drops_dovecots_timing() -> None:
    said = [b"[OVERQUOTA] Quota exceeded (mailbox for user is full) (0.001 + 0.000 secs)."]
    assert responses.status_text(said) == (
        "OVERQUOTA",
        "",
        "Quota exceeded (mailbox for user is full).",
    )
    assert responses.appenduid([b"[APPENDUID 1796662694 7] Append completed."]) == 7
    assert responses.status_items([b'"Sent" (APPENDLIMIT 1000 MESSAGES 3)']) == {
        "APPENDLIMIT": "1000",
        "MESSAGES": "3",
    }


def test_quoted_escapes_and_refuses_non_ascii() -> None:
    assert responses.quoted('a"b\\c') == '"a\\"b\\\\c"'
    with pytest.raises(ValueError):
        responses.quoted("Envoyés")
    with pytest.raises(ValueError):
        responses.quoted("a\r\nb LOGIN x")


def _folder(name: str, *flags: str, delimiter: str = ".") -> Folder:
    return Folder(name, utf7.encode(name), delimiter, frozenset(f.lower() for f in flags))


def test_special_use_wins_over_known_names() -> None:
    folders = [_folder("INBOX"), _folder("Sent"), _folder("Mail I Sent", "\\Sent")]
    assert find_sent(folders) == folders[2]


@pytest.mark.parametrize(
    ("names", "chosen"),
    [
        (["INBOX", "Drafts", "Gesendet"], "Gesendet"),
        (["INBOX", "INBOX.Sent", "INBOX.Trash"], "INBOX.Sent"),
        (["INBOX", "Sent Items", "Sent"], "Sent"),
        (["INBOX", "Éléments envoyés"], "Éléments envoyés"),
        (["INBOX", "SENT ITEMS"], "SENT ITEMS"),
        (["INBOX", "Archive.2019.Sent"], None),  # only at the top or under INBOX
        (["INBOX", "Notes"], None),
    ],
)
def test_known_name_fallback(names: list[str], chosen: str | None) -> None:
    found = find_sent([_folder(n) for n in names])
    assert (found.name if found else None) == chosen


def test_gmail_names_and_unselectable_folders() -> None:
    gmail = [
        _folder("[Gmail]", "\\Noselect", delimiter="/"),
        _folder("[Gmail]/Sent Mail", delimiter="/"),
    ]
    assert find_sent(gmail) == gmail[1]
    assert find_sent([_folder("Sent", "\\Sent", "\\Noselect")]) is None


def test_append_limit_from_capability_or_status() -> None:
    assert append_limit(frozenset({"IMAP4REV1", "APPENDLIMIT=35651584"}), {}) == 35651584
    assert append_limit(frozenset({"APPENDLIMIT"}), {"APPENDLIMIT": "1000"}) == 1000
    assert append_limit(frozenset({"APPENDLIMIT"}), {"APPENDLIMIT": "NIL"}) is None
    assert append_limit(frozenset({"IMAP4REV1"}), {}) is None


@pytest.mark.parametrize(
    ("kind", "code", "cls", "retry_helps"),
    [
        ("NO", "TRYCREATE", FolderMissingError, False),
        ("NO", "NONEXISTENT", FolderMissingError, False),
        ("NO", "OVERQUOTA", MailboxFullError, True),
        ("NO", "TOOBIG", MessageTooBigError, False),
        ("NO", "LIMIT", CopyRefusedError, False),
        ("NO", "NOPERM", CopyRefusedError, False),
        ("NO", "UNAVAILABLE", CopyNotStoredError, True),
        ("NO", "INUSE", CopyNotStoredError, True),
        ("NO", None, CopyNotStoredError, True),
        ("BAD", None, CopyRefusedError, False),
    ],
)
def test_refusals_say_whether_retrying_helps(
    kind: str, code: str | None, cls: type[Exception], retry_helps: bool
) -> None:
    err = refusal("imap.example.test:993", "Sent", kind, code, "Server words")
    assert type(err) is cls
    assert isinstance(err, TransientError if retry_helps else PermanentError)
    assert err.permanent is not retry_helps
    assert "imap.example.test:993" in str(err) and "Sent" in str(err)
    assert err.reply == (f"[{code}] Server words" if code else "Server words")
    assert getattr(err, "imap_code", "-") == ("NONEXISTENT" if code == "TRYCREATE" else code)


def test_settings_fill_the_port_and_refuse_unknown_security() -> None:
    assert ImapSettings("imap.example.test", security="tls").port == 993
    assert ImapSettings("imap.example.test", security="starttls").port == 143
    with pytest.raises(ConfigError):
        ImapSettings("imap.example.test", security="none")  # type: ignore[arg-type]
