"""mailto: links (RFC 6068): what is honoured, what is dropped, and what is refused."""

from __future__ import annotations

import pytest

from mailgui.core.errors import InputError
from mailgui.core.mailto import MAX_LINK, is_mailto, parse_mailto


def addrs(boxes: list) -> list[str]:
    return [b.addr for b in boxes]


def test_the_issue_example() -> None:
    link = parse_mailto("mailto:a@x.example?cc=b@y.example&subject=Hi&body=Hello%20there")
    assert addrs(link.to) == ["a@x.example"]
    assert addrs(link.cc) == ["b@y.example"]
    assert link.subject == "Hi" and link.body == "Hello there"
    assert link.bcc == [] and link.ignored == [] and link.in_reply_to is None


def test_several_addresses_percent_decoding_and_to_field() -> None:
    link = parse_mailto(
        "MAILTO:alice@example.org,%22Doe%2C%20John%22%20%3Cjohn@example.org%3E"
        "?to=carol@example.org&CC=dave@example.org,eve@example.org&bcc=zed@example.org"
        "&Subject=Gr%C3%BC%C3%9Fe%20%26%20more%3F+plus"
    )
    assert addrs(link.to) == ["alice@example.org", "john@example.org", "carol@example.org"]
    assert link.to[1].name == "Doe, John"
    assert addrs(link.cc) == ["dave@example.org", "eve@example.org"]
    assert addrs(link.bcc) == ["zed@example.org"]
    assert link.subject == "Grüße & more?+plus"  # '+' is not a space in mailto


def test_body_keeps_line_breaks_as_newlines() -> None:
    link = parse_mailto("mailto:a@example.org?body=line%201%0D%0Aline%202%0Aline%203%0D")
    assert link.body == "line 1\nline 2\nline 3\n"


def test_empty_and_bare_links() -> None:
    assert parse_mailto("mailto:").to == []
    link = parse_mailto("mailto:?subject=only")
    assert link.to == [] and link.subject == "only"
    assert addrs(parse_mailto("mailto:a@example.org#frag").to) == ["a@example.org"]
    assert is_mailto("MailTo:x") and not is_mailto("http://x")


def test_idn_and_in_reply_to() -> None:
    link = parse_mailto("mailto:b%C3%BCro@b%C3%BCcher.example?in-reply-to=%3Cabc.1@example.org%3E")
    assert addrs(link.to) == ["büro@xn--bcher-kva.example"]
    assert link.in_reply_to == "<abc.1@example.org>"


def test_duplicates_are_dropped() -> None:
    link = parse_mailto("mailto:a@example.org?to=A@example.org&cc=b@example.org,b@example.org")
    assert addrs(link.to) == ["a@example.org"] and addrs(link.cc) == ["b@example.org"]


@pytest.mark.parametrize(
    "url",
    [
        "mailto:a@example.org?from=boss@example.org",
        "mailto:a@example.org?reply-to=evil@example.org",
        "mailto:a@example.org?attach=/etc/passwd",
        "mailto:a@example.org?attachment=file:///home/me/.ssh/id_rsa",
        "mailto:a@example.org?x-mailer=evil&sender=e@example.org&references=%3Cx@y%3E",
        "mailto:a@example.org?Content-Type=text/html",
    ],
)
def test_other_headers_are_dropped(url: str) -> None:
    link = parse_mailto(url)
    assert addrs(link.to) == ["a@example.org"]
    assert link.ignored and link.subject == "" and link.body == ""
    assert link.cc == [] and link.bcc == []


MALICIOUS = {
    "crlf-in-subject": "mailto:a@example.org?subject=Hi%0D%0ABcc:%20eve@evil.example",
    "lf-in-subject": "mailto:a@example.org?subject=Hi%0ABcc:eve@evil.example",
    "nul-in-subject": "mailto:a@example.org?subject=a%00b",
    "crlf-in-address": "mailto:a@example.org%0D%0ABcc:eve@evil.example",
    "crlf-in-to-field": "mailto:?to=a@example.org%0D%0ABcc:eve@evil.example",
    "crlf-in-cc": "mailto:?cc=a@example.org%0ASubject:x",
    "cve-2023-27043": "mailto:alice@example.org(%3Cbob@example.org%3E",
    "angle-trick": "mailto:%22bob@example.org%22%20%3Ceve@evil.example",
    "nul-in-body": "mailto:a@example.org?body=a%00b",
    "escape-in-body": "mailto:a@example.org?body=a%1B[31mred",
    "nel-in-subject": "mailto:a@example.org?subject=a%C2%85Bcc:x",
    "u2028-in-subject": "mailto:a@example.org?subject=a%E2%80%A8b",
    "bad-percent": "mailto:a@example.org?subject=100%",
    "bad-percent-hex": "mailto:a@example.org?subject=%zz",
    "bad-utf8": "mailto:a@example.org?subject=%C3%28",
    "bad-address": "mailto:bob@",
    "bad-in-reply-to": "mailto:a@example.org?in-reply-to=nope",
    "crlf-in-reply-to": "mailto:a@example.org?in-reply-to=%3Ca@b%3E%0D%0ABcc:x",
    "not-mailto": "https://example.org/?mailto:a@example.org",
}


@pytest.mark.parametrize("url", list(MALICIOUS.values()), ids=list(MALICIOUS))
def test_malicious_links_are_refused(url: str) -> None:
    with pytest.raises(InputError) as info:
        parse_mailto(url)
    text = str(info.value)
    assert "\n" not in text and text.endswith(".")


def test_huge_link_is_refused() -> None:
    with pytest.raises(InputError):
        parse_mailto("mailto:a@example.org?body=" + "x" * MAX_LINK)


def test_core_stays_qt_free() -> None:
    import subprocess
    import sys

    code = "import sys, mailgui.core.mailto; assert 'PySide6' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)
