"""Strict address parsing: every accepted form, and the inputs that must never pass."""

from __future__ import annotations

import pytest

from mailgui.core.addresses import (
    Mailbox,
    check_text,
    parse_mailbox,
    parse_mailbox_list,
    parse_recipients,
)
from mailgui.core.errors import InputError

# Every character check_text must refuse, by name.
CONTROL_CHARS = {
    "CR": "\r",
    "LF": "\n",
    "CRLF": "\r\n",
    "NUL": "\0",
    "TAB": "\t",
    "VT": "\x0b",
    "FF": "\x0c",
    "FS": "\x1c",
    "GS": "\x1d",
    "RS": "\x1e",
    "ESC": "\x1b",
    "DEL": "\x7f",
    "C1": "\x80",
    "NEL": "\x85",
    "C1-last": "\x9f",
    "LS": "\u2028",
    "PS": "\u2029",
    "surrogate": "\udc80",
}


# --- accepted forms -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "name", "addr"),
    [
        ("alice@example.org", "", "alice@example.org"),
        ("  alice@example.org  ", "", "alice@example.org"),
        ("Alice Example <alice@example.org>", "Alice Example", "alice@example.org"),
        ("Alice   Example<alice@example.org>", "Alice Example", "alice@example.org"),
        ('"Example, Alice" <alice@example.org>', "Example, Alice", "alice@example.org"),
        ('"Bob \\"the\\" Builder" <bob@example.org>', 'Bob "the" Builder', "bob@example.org"),
        ('"back\\\\slash" <b@example.org>', "back\\slash", "b@example.org"),
        ('"" <alice@example.org>', "", "alice@example.org"),
        ("<alice@example.org>", "", "alice@example.org"),
        ("< alice@example.org >", "", "alice@example.org"),
        ("J. R. Smith <j@example.org>", "J. R. Smith", "j@example.org"),
        ("O'Brien-Smith <ob@example.org>", "O'Brien-Smith", "ob@example.org"),
        ("Jörg Müller <joerg@example.de>", "Jörg Müller", "joerg@example.de"),
        ("Ἀθηνᾶ <athena@example.gr>", "Ἀθηνᾶ", "athena@example.gr"),
        ('"alice@example.org" <bob@example.org>', "alice@example.org", "bob@example.org"),
        ("first.last+tag@sub.example.org", "", "first.last+tag@sub.example.org"),
        ("a!#$%&'*+-/=?^_`{|}~@example.org", "", "a!#$%&'*+-/=?^_`{|}~@example.org"),
        ("user@localhost", "", "user@localhost"),
        ("user@LOCALHOST", "", "user@LOCALHOST"),
        ("user@[192.0.2.1]", "", "user@[192.0.2.1]"),
        ("user@[IPv6:2001:DB8:0::1]", "", "user@[IPv6:2001:db8::1]"),
        ("user@[ipv6:::1]", "", "user@[IPv6:::1]"),
        ("user@xn--bcher-kva.de", "", "user@xn--bcher-kva.de"),
        ("Bob <bob@a-b.example-c.org>", "Bob", "bob@a-b.example-c.org"),
    ],
)
def test_accepted_forms(text: str, name: str, addr: str) -> None:
    box = parse_mailbox(text)
    assert box == Mailbox(name, addr)
    assert box.addr == addr
    # formatted() is a faithful way of writing the mailbox down again
    assert parse_mailbox(box.formatted()) == box


def test_formatted_quotes_only_when_needed() -> None:
    assert Mailbox("", "a@example.org").formatted() == "a@example.org"
    assert Mailbox("Alice Example", "a@example.org").formatted() == "Alice Example <a@example.org>"
    assert Mailbox("Example, Alice", "a@example.org").formatted() == (
        '"Example, Alice" <a@example.org>'
    )
    assert Mailbox('Say "hi"', "a@example.org").formatted() == '"Say \\"hi\\"" <a@example.org>'
    assert Mailbox(" spaced ", "a@example.org").formatted() == '" spaced " <a@example.org>'
    assert Mailbox("a@b", "a@example.org").formatted() == '"a@b" <a@example.org>'


def test_header_address_is_built_from_parts() -> None:
    box = parse_mailbox('"Example, Alice" <alice@bücher.de>')
    address = box.header_address()
    assert address.display_name == "Example, Alice"
    assert address.username == "alice"
    assert address.domain == "xn--bcher-kva.de"
    assert box.domain == "xn--bcher-kva.de"
    literal = parse_mailbox("u@[IPv6:2001:db8::1]").header_address()
    assert literal.domain == "[IPv6:2001:db8::1]"


# --- international addresses ----------------------------------------------------------------


def test_idn_domain_becomes_a_label() -> None:
    box = parse_mailbox("Jörg <joerg@Bücher.example>")
    assert box.addr == "joerg@xn--bcher-kva.example"
    assert not box.needs_smtputf8
    assert parse_mailbox("a@例え.テスト").domain == "xn--r8jz45g.xn--zckzah"
    # the ideographic full stop separates labels too (IDNA 2003)
    assert parse_mailbox("a@例え。テスト").domain == "xn--r8jz45g.xn--zckzah"


def test_non_ascii_local_part_needs_smtputf8() -> None:
    box = parse_mailbox("用户@例子.广告")
    assert box.needs_smtputf8
    assert box.addr.startswith("用户@xn--")
    assert parse_mailbox("jörg@example.org").needs_smtputf8
    assert not parse_mailbox("joerg@example.org").needs_smtputf8


def test_mailbox_constructor_validates_and_normalises() -> None:
    assert Mailbox("Jörg", "joerg@bücher.de").addr == "joerg@xn--bcher-kva.de"
    with pytest.raises(InputError, match="no '@'"):
        Mailbox("", "not-an-address")
    with pytest.raises(InputError, match="display name contains a line break"):
        Mailbox("Bob\r\nBcc: x@example.org", "bob@example.org")
    with pytest.raises(InputError, match="line break or control character"):
        Mailbox("", "bob@example.org\r\nRCPT TO:<x@example.org>")


def test_a_mailbox_copied_with_changes_is_checked_too() -> None:
    """The named tuple's own copies (``_replace``, ``_make``) would skip ``__new__``."""
    box = Mailbox("Jörg", "joerg@bücher.de")
    assert box._replace(name="J") == Mailbox("J", "joerg@xn--bcher-kva.de")
    assert type(box._replace(name="J")) is Mailbox
    with pytest.raises(InputError, match="line break or control character"):
        box._replace(addr="x@example.org>\r\nBcc: eve@example.org")
    with pytest.raises(InputError, match="display name contains a line break"):
        Mailbox._make(["a\r\nb", "bob@example.org"])
    assert Mailbox._make(["", "bob@bücher.de"]).addr == "bob@xn--bcher-kva.de"


def test_invalid_idn_is_refused() -> None:
    with pytest.raises(InputError, match="not a valid international"):
        parse_mailbox("a@xn--zz.example")  # bad punycode
    with pytest.raises(InputError, match="not a valid international"):
        parse_mailbox("a@\u00ad.example")  # maps to an empty label


# --- CVE-2023-27043 and relatives --------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "alice@example.org(<bob@example.org>",
        "alice@example.org)<bob@example.org>",
        "alice@example.org<<bob@example.org>",
        "alice@example.org>)<bob@example.org>",
        "alice@example.org <bob@example.org>",
        "alice@example.org<bob@example.org>",
        'alice@example.org"<bob@example.org>',
        "alice@example.org[<bob@example.org>",
        "alice@example.org:<bob@example.org>",
        "alice@example.org;<bob@example.org>",
        "alice@example.org\\<bob@example.org>",
        "<alice@example.org><bob@example.org>",
        "<alice@example.org>bob@example.org",
        "<alice@example.org> <bob@example.org>",
        "<alice@example.org <bob@example.org>>",
        "alice@example.org, bob@example.org",
        "alice@example.org bob@example.org",
        "alice@example.org (Alice)",
        "(comment) alice@example.org",
        "Alice (x) <alice@example.org>",
        "Friends: alice@example.org, bob@example.org;",
        "Friends:;",
        "<@route.example:alice@example.org>",
        '"john doe"@example.org',
        '"unterminated <alice@example.org>',
        '"Alice" x <alice@example.org>',
        'Alice "x" <alice@example.org>',
        "alice@bob@example.org",
    ],
)
def test_ambiguous_inputs_are_refused(text: str) -> None:
    with pytest.raises(InputError) as info:
        parse_mailbox(text)
    message = str(info.value)
    assert message.startswith("The address '")
    assert message.endswith(".")
    assert "\n" not in message


def test_cve_input_never_yields_bob_even_in_lists() -> None:
    with pytest.raises(InputError):
        parse_mailbox_list("alice@example.org(<bob@example.org>")
    with pytest.raises(InputError):
        parse_mailbox_list("carol@example.org, alice@example.org(<bob@example.org>")


# --- errors name the address and the fix -------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("bob@", "The address 'bob@' has no domain after '@'; write it as name@example.org."),
        ("bob", "The address 'bob' has no '@'; write it as name@example.org."),
        ("@example.org", "has nothing before the '@'"),
        ("a@@example.org", "more than one '@'"),
        ("a..b@example.org", "two dots in a row"),
        (".a@example.org", "dot at the start or end"),
        ("a.@example.org", "dot at the start or end"),
        ("a@example..org", "empty part in its domain"),
        ("a@.example.org", "empty part in its domain"),
        ("a@example.org.", "empty part in its domain"),
        ("a@example", "no dot in its domain 'example'"),
        ("a@-example.org", "starts or ends with a hyphen"),
        ("a@example-.org", "starts or ends with a hyphen"),
        ("a@exa_mple.org", "the character '_' in its domain"),
        ("a@192.0.2.1", "ends in a number"),
        ("a@[300.0.2.1]", "not an IP address"),
        ("a@[192.0.2.1", "unbalanced"),
        ("a@[IPv6:fe80::1%eth0]", "zone index"),
        ("a@[IPv4:192.0.2.1]", "not an IP address"),
        ("a[b]@example.org", "the character '['"),
        ("a\\b@example.org", "the character '\\'"),
        ("Alice <alice@example.org", "never closed"),
        ("alice@example.org>", "'>' without a '<'"),
        ("Alice <>", "nothing between '<' and '>'"),
        ("Alice <alice@example.org> x", "text after the closing '>'"),
        ("Alice Example alice@example.org", "contains a space"),
        ("", "The address is empty"),
        ("   ", "The address is empty"),
    ],
)
def test_error_messages(text: str, expected: str) -> None:
    with pytest.raises(InputError) as info:
        parse_mailbox(text)
    assert expected in str(info.value)
    if text.strip():
        assert f"'{text.strip()}'" in str(info.value)


def test_what_names_the_field() -> None:
    with pytest.raises(InputError, match=r"^The Cc address 'bob@' has no domain"):
        parse_mailbox("bob@", what="Cc address")


def test_long_input_is_shortened_in_messages() -> None:
    text = "a" * 300 + "@"
    with pytest.raises(InputError) as info:
        parse_mailbox(text)
    assert len(str(info.value)) < 200
    assert "…" in str(info.value)


# --- length limits ----------------------------------------------------------------------------


def test_local_part_limit_is_64_octets() -> None:
    assert parse_mailbox("a" * 64 + "@example.org")
    with pytest.raises(InputError, match="more than 64 bytes"):
        parse_mailbox("a" * 65 + "@example.org")
    # octets, not characters: 32 two-byte letters fit, 33 do not
    assert parse_mailbox("é" * 32 + "@example.org")
    with pytest.raises(InputError, match="more than 64 bytes"):
        parse_mailbox("é" * 33 + "@example.org")


def test_label_limit_is_63() -> None:
    assert parse_mailbox("a@" + "b" * 63 + ".org")
    with pytest.raises(InputError, match="longer than 63"):
        parse_mailbox("a@" + "b" * 64 + ".org")


def test_domain_limit_is_253() -> None:
    domain = ".".join(["d" * 61] * 4) + ".org"  # 4*62 + 3 = 251
    assert len(domain) == 251
    with pytest.raises(InputError, match="longer than 254 bytes"):
        parse_mailbox("a" * 5 + "@" + domain)  # the domain fits, the address does not
    too_long = ".".join(["d" * 62] * 4) + ".org"  # 255
    with pytest.raises(InputError, match="domain longer than 253"):
        parse_mailbox("a@" + too_long)


def test_address_limit_is_254_octets() -> None:
    domain = ".".join(["d" * 60] * 3) + "." + "e" * 61 + ".org"  # 248
    assert len(domain) == 248
    assert parse_mailbox("a" * 5 + "@" + domain).addr  # 254
    with pytest.raises(InputError, match="longer than 254 bytes"):
        parse_mailbox("a" * 6 + "@" + domain)  # 255


# --- control characters -----------------------------------------------------------------------


@pytest.mark.parametrize("char", CONTROL_CHARS.values(), ids=CONTROL_CHARS.keys())
def test_check_text_refuses_control_characters(char: str) -> None:
    with pytest.raises(InputError) as info:
        check_text("subject", f"Hello{char}world")
    assert str(info.value).startswith("The subject contains a line break or control character (U+")
    assert str(info.value).endswith("; remove it and try again.")


def test_check_text_accepts_ordinary_text() -> None:
    text = "Grüße, 日本 — ok! \u00a0 😀 <tag> \"quoted\" 'x'"
    assert check_text("subject", text) is text
    assert check_text("subject", "") == ""


def test_every_splitlines_break_is_refused() -> None:
    breaks = [c for c in map(chr, range(0x3000)) if len(f"a{c}b".splitlines()) > 1]
    for c in breaks:
        with pytest.raises(InputError):
            check_text("subject", c)


@pytest.mark.parametrize("char", CONTROL_CHARS.values(), ids=CONTROL_CHARS.keys())
@pytest.mark.parametrize(
    "template",
    [
        "Bob{c} <bob@example.org>",  # in the name
        '"Bob{c}" <bob@example.org>',  # in a quoted name
        "bob{c}@example.org",  # in the local part
        "bob@example{c}.org",  # in the domain
        "bob@example.org{c}",  # trailing
        "<bob@example.org>{c}Bcc: eve@example.org",  # header injection
    ],
)
def test_control_characters_in_addresses(char: str, template: str) -> None:
    with pytest.raises(InputError, match="line break or control character"):
        parse_mailbox(template.format(c=char))
    with pytest.raises(InputError, match="line break or control character"):
        parse_mailbox_list("ok@example.org, " + template.format(c=char))


def test_header_injection_in_display_name() -> None:
    with pytest.raises(InputError, match="The To address contains a line break"):
        parse_recipients(["Bob\r\nBcc: eve@example.org <bob@example.org>"], what="To address")


# --- lists ------------------------------------------------------------------------------------


def test_list_splitting_respects_quotes_and_brackets() -> None:
    boxes = parse_mailbox_list(
        'a@example.org, "Doe, John" <john@example.org>,, <c@example.org> ,'
        '"x\\", y" <x@example.org>, "<,>" <y@example.org>,'
    )
    assert boxes == [
        Mailbox("", "a@example.org"),
        Mailbox("Doe, John", "john@example.org"),
        Mailbox("", "c@example.org"),
        Mailbox('x", y', "x@example.org"),
        Mailbox("<,>", "y@example.org"),
    ]


def test_empty_list() -> None:
    assert parse_mailbox_list("") == []
    assert parse_mailbox_list(" , ,") == []


def test_list_error_names_the_bad_item() -> None:
    with pytest.raises(InputError, match=r"^The address 'bob@' has no domain"):
        parse_mailbox_list("alice@example.org, bob@, carol@example.org")


def test_parse_recipients_flattens_repeated_options() -> None:
    boxes = parse_recipients(
        ["a@example.org", "b@example.org, Carol <c@example.org>", ""], what="To address"
    )
    assert [b.addr for b in boxes] == ["a@example.org", "b@example.org", "c@example.org"]
    assert boxes[2].name == "Carol"
    with pytest.raises(InputError, match=r"^The Bcc address 'x' has no '@'"):
        parse_recipients(["a@example.org", "x"], what="Bcc address")
