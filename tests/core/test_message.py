"""Building messages for the outbox, and preparing messages given to `mailgui sendmail`.

Every produced message is parsed back with the standard library to check what a
receiving client would see.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone
from email import policy
from email.message import EmailMessage, MIMEPart
from email.parser import BytesParser, Parser
from email.utils import parsedate_to_datetime
from pathlib import Path

import pytest

from mailgui import __version__
from mailgui.core.addresses import Mailbox, parse_mailbox
from mailgui.core.errors import InputError
from mailgui.core.message import Draft, InlineImage, build
from mailgui.core.outgoing import Outgoing
from mailgui.core.submitted import header_sender, prepare_submitted, read_submitted

NOW = datetime(2026, 3, 1, 9, 30, 15, 123456, tzinfo=timezone(timedelta(hours=1)))
ME = Mailbox("Me Myself", "me@example.org")


def assert_wire_format(data: bytes) -> None:
    """The invariants of Outgoing.data."""
    assert data.endswith(b"\r\n")
    assert b"\r" not in data.replace(b"\r\n", b"")
    assert b"\n" not in data.replace(b"\r\n", b"")
    assert all(len(line) <= 998 for line in data.split(b"\r\n"))
    header_block = data.split(b"\r\n\r\n", 1)[0]
    assert not re.search(rb"(?im)^bcc:", header_block)


def parse(out: Outgoing) -> EmailMessage:
    assert_wire_format(out.data)
    msg = BytesParser(policy=policy.default).parsebytes(out.data)
    assert isinstance(msg, EmailMessage)
    return msg


def text_of(part: MIMEPart) -> str:
    """A text part's content with the wire's CRLF turned back into LF."""
    content = part.get_content()
    assert isinstance(content, str)
    return content.replace("\r\n", "\n")


def mailboxes(*texts: str) -> list[Mailbox]:
    return [parse_mailbox(t) for t in texts]


def draft(**kw: object) -> Draft:
    kw.setdefault("to", mailboxes("Bob <bob@example.org>"))
    kw.setdefault("subject", "Hello")
    kw.setdefault("text", "Hi Bob.\n")
    return Draft(sender=ME, **kw)  # type: ignore[arg-type]


# --- build: headers and envelope -----------------------------------------------------------------


def test_plain_text_message() -> None:
    out = build(draft(), now=NOW)
    msg = parse(out)
    assert msg["From"] == "Me Myself <me@example.org>"
    assert msg["To"] == "Bob <bob@example.org>"
    assert msg["Subject"] == "Hello"
    assert msg["MIME-Version"] == "1.0"
    assert msg["User-Agent"] == f"mailgui/{__version__}"
    assert msg.get_content_type() == "text/plain"
    assert text_of(msg) == "Hi Bob.\n"
    assert msg["Content-Transfer-Encoding"] == "7bit"
    assert out.envelope_from == out.sender == "me@example.org"
    assert out.recipients == out.to == ["bob@example.org"]
    assert out.cc == out.bcc == []
    assert out.subject == "Hello"
    assert not out.smtputf8
    assert len(msg.get_all("MIME-Version") or []) == 1
    assert b"MIME-Version" not in out.data.split(b"\r\n\r\n", 1)[1]  # not in the parts


def test_date_and_message_id_are_set_once() -> None:
    out = build(draft(), now=NOW)
    msg = parse(out)
    assert out.date == NOW.replace(microsecond=0)
    assert parsedate_to_datetime(msg["Date"]) == out.date
    assert msg["Message-ID"] == out.message_id
    assert re.fullmatch(r"<[^<>@\s]+@example\.org>", out.message_id)
    assert out.data.count(b"\r\nMessage-ID: ") == 1
    assert build(draft(), now=NOW).message_id != out.message_id


def test_default_date_is_now_and_aware() -> None:
    before = datetime.now(UTC).replace(microsecond=0)
    out = build(draft())
    assert out.date.tzinfo is not None
    assert before <= out.date <= datetime.now(UTC)


def test_naive_now_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        build(draft(), now=datetime(2026, 1, 1))


def test_bcc_only_in_the_envelope_and_recipients_deduplicated() -> None:
    out = build(
        draft(
            to=mailboxes("Bob <bob@example.org>", "carol@example.org"),
            cc=mailboxes("BOB@example.org", "dave@example.org"),
            bcc=mailboxes("secret@example.org", "Carol@Example.org"),
            reply_to=mailboxes("replies@example.org"),
        ),
        now=NOW,
    )
    assert out.recipients == [
        "bob@example.org",
        "carol@example.org",
        "dave@example.org",
        "secret@example.org",
    ]
    assert out.to == ["bob@example.org", "carol@example.org"]
    assert out.cc == ["BOB@example.org", "dave@example.org"]
    assert out.bcc == ["secret@example.org", "Carol@Example.org"]
    assert b"secret" not in out.data
    assert not re.search(rb"(?im)^bcc", out.data)
    msg = parse(out)
    assert "Bcc" not in msg
    assert msg["Reply-To"] == "replies@example.org"
    assert [a.addr_spec for a in msg["Cc"].addresses] == ["BOB@example.org", "dave@example.org"]


def test_reply_to_refuses_header_injection() -> None:
    with pytest.raises(InputError):
        Mailbox("Desk\r\nBcc: evil@example.org", "desk@example.org")
    with pytest.raises(InputError):
        mailboxes("desk@example.org\r\nBcc: evil@example.org")
    out = build(draft(reply_to=mailboxes("Desk <desk@example.org>", "b@example.org")), now=NOW)
    msg = parse(out)
    assert [a.addr_spec for a in msg["Reply-To"].addresses] == ["desk@example.org", "b@example.org"]
    assert "evil" not in out.data.decode()


PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4


def test_inline_images_go_in_a_multipart_related_with_the_html(tmp_path: Path) -> None:
    report = tmp_path / "report.txt"
    report.write_text("numbers")
    out = build(
        draft(
            text=None,
            html='<p>Look: <img src="cid:a1@mailgui" alt="chart.png"></p>',
            inline_images=[InlineImage("a1@mailgui", PNG, "image/png", "chart.png")],
            attachments=[report],
        ),
        now=NOW,
    )
    assert_wire_format(out.data)
    msg = parse(out)
    assert msg.get_content_type() == "multipart/mixed"
    alternative, attached = msg.iter_parts()
    plain, related = alternative.iter_parts()
    assert plain.get_content().strip() == "Look: chart.png"  # the alt text, no cid: link
    assert related.get_content_type() == "multipart/related"
    html_part, image = related.iter_parts()
    assert 'src="cid:a1@mailgui"' in html_part.get_content()
    assert image["Content-ID"] == "<a1@mailgui>"
    assert image.get_content_disposition() == "inline"
    assert image.get_filename() == "chart.png"
    assert image.get_content() == PNG
    assert attached.get_filename() == "report.txt"
    assert out.data.count(b"MIME-Version") == 1


@pytest.mark.parametrize(
    ("image", "words"),
    [
        (InlineImage("a1@mailgui\r\nBcc: x@example.org", PNG), "content id"),
        (InlineImage("no-at-sign", PNG), "content id"),
        (InlineImage("a1@mailgui", PNG, "text/html"), "not an image"),
        (InlineImage("a1@mailgui", PNG, "image/png\r\nX: y"), "not an image"),
        (InlineImage("a1@mailgui", PNG, "image/png", "a\nb.png"), "line break"),
    ],
)
def test_inline_images_refuse_unsafe_headers(image: InlineImage, words: str) -> None:
    with pytest.raises(InputError, match=words):
        build(draft(html="<p>x</p>", inline_images=[image]), now=NOW)


def test_the_same_content_id_twice_is_refused() -> None:
    twice = [InlineImage("a@m", PNG), InlineImage("A@m", PNG)]
    with pytest.raises(InputError, match="repeated"):
        build(draft(html="<p>x</p>", inline_images=twice), now=NOW)


def test_bcc_alone_is_enough() -> None:
    out = build(draft(to=[], bcc=mailboxes("hidden@example.org")), now=NOW)
    assert out.recipients == ["hidden@example.org"]
    assert "To" not in parse(out)


def test_no_recipients() -> None:
    with pytest.raises(InputError, match="no recipients"):
        build(draft(to=[]), now=NOW)


@pytest.mark.parametrize("char", ["\r", "\n", "\r\n", "\0", "\x0b", "\x0c", "\x85", "\u2028"])
def test_control_characters_in_subject(char: str) -> None:
    with pytest.raises(InputError, match=r"^The subject contains a line break or control"):
        build(draft(subject=f"Hi{char}Bcc: eve@example.org"), now=NOW)


@pytest.mark.parametrize("char", ["\r", "\n", "\0", "\x0b", "\x85", "\u2028"])
def test_control_characters_in_display_names_never_reach_a_message(char: str) -> None:
    with pytest.raises(InputError, match="line break or control character"):
        build(draft(to=[Mailbox(f"Bob{char}Bcc: eve@example.org", "bob@example.org")]))


def test_utf8_subject_and_display_names_round_trip() -> None:
    subject = "Grüße aus München – 東京 😀 " * 4
    out = build(
        draft(
            to=mailboxes('"Müller, Hans" <hans@example.org>', "Zoë <zoe@example.org>"),
            reply_to=mailboxes("Jörg <j@example.org>"),
            subject=subject,
        ),
        now=NOW,
    )
    head = out.data.split(b"\r\n\r\n", 1)[0]
    assert head.isascii()  # RFC 2047 encoded words, no 8-bit headers
    assert all(len(line) <= 78 for line in head.split(b"\r\n"))
    msg = parse(out)
    assert msg["Subject"] == subject
    assert out.subject == subject
    names = [(a.display_name, a.addr_spec) for a in msg["To"].addresses]
    assert names == [("Müller, Hans", "hans@example.org"), ("Zoë", "zoe@example.org")]
    assert msg["Reply-To"].addresses[0].display_name == "Jörg"
    assert not out.smtputf8


def test_idn_domain_is_sent_as_a_label() -> None:
    out = build(draft(to=mailboxes("Jörg <joerg@bücher.example>")), now=NOW)
    assert out.recipients == ["joerg@xn--bcher-kva.example"]
    assert b"joerg@xn--bcher-kva.example" in out.data
    assert not out.smtputf8


def test_non_ascii_local_part_needs_smtputf8() -> None:
    out = build(draft(to=mailboxes("Jörg <jörg@example.org>"), subject="Grüße"), now=NOW)
    assert out.smtputf8
    assert out.recipients == ["jörg@example.org"]
    assert "jörg@example.org".encode() in out.data  # RFC 6532: raw UTF-8 headers
    msg = Parser(policy=policy.SMTPUTF8).parsestr(out.data.decode("utf-8"))
    assert msg["To"].addresses[0].username == "jörg"
    assert msg["Subject"] == "Grüße"
    assert_wire_format(out.data)
    assert b"=?utf-8?" not in out.data.split(b"\r\n\r\n", 1)[0]


def test_non_ascii_bcc_also_needs_smtputf8() -> None:
    out = build(draft(bcc=mailboxes("jörg@example.org")), now=NOW)
    assert out.smtputf8
    assert "jörg".encode() not in out.data


def test_very_long_subject_is_folded() -> None:
    out = build(draft(subject="x" * 2000), now=NOW)
    assert parse(out)["Subject"] == "x" * 2000


# --- build: bodies ---------------------------------------------------------------------------


def test_html_gets_a_plain_text_alternative() -> None:
    html = (
        "<html><body><h1>Report</h1><p>Hello <b>Bob</b>, see "
        "<a href='https://example.org/r'>the report</a>.</p><ul><li>one</li><li>zwei "
        "ü</li></ul></body></html>"
    )
    out = build(draft(text=None, html=html), now=NOW)
    msg = parse(out)
    assert msg.get_content_type() == "multipart/alternative"
    plain, rich = msg.iter_parts()
    assert plain.get_content_type() == "text/plain"
    assert rich.get_content_type() == "text/html"
    text = text_of(plain)
    assert "Report" in text
    assert "Hello" in text and "Bob" in text
    assert "https://example.org/r" in text
    assert "zwei ü" in text
    assert "<b>" not in text and "<p>" not in text
    assert text_of(rich) == html + "\n"
    for part in (plain, rich):
        assert part["Content-Transfer-Encoding"] in ("7bit", "quoted-printable")


def test_html_with_own_text_alternative() -> None:
    out = build(draft(text="My own text.\n", html="<p>Rich</p>"), now=NOW)
    plain, rich = parse(out).iter_parts()
    assert text_of(plain) == "My own text.\n"
    assert text_of(rich) == "<p>Rich</p>\n"


def test_no_body_at_all_is_an_empty_text() -> None:
    msg = parse(build(draft(text=None), now=NOW))
    assert msg.get_content_type() == "text/plain"
    assert text_of(msg).strip() == ""


def test_non_ascii_body_is_quoted_printable() -> None:
    out = build(draft(text="Grüße, 東京!\n"), now=NOW)
    assert out.data.isascii()
    msg = parse(out)
    assert msg["Content-Transfer-Encoding"] == "quoted-printable"
    assert msg.get_content_charset() == "utf-8"
    assert text_of(msg) == "Grüße, 東京!\n"


def test_5000_character_line() -> None:
    line = "0123456789" * 500
    out = build(draft(text=f"start\n{line}\nend\n"), now=NOW)
    assert max(len(x) for x in out.data.split(b"\r\n")) <= 78
    msg = parse(out)
    assert msg["Content-Transfer-Encoding"] == "quoted-printable"
    assert text_of(msg) == f"start\n{line}\nend\n"


def test_bare_lf_and_cr_become_crlf() -> None:
    out = build(draft(text="one\ntwo\rthree\r\nfour\n\n.\n..dots\n.\r"), now=NOW)
    assert_wire_format(out.data)
    body = out.data.split(b"\r\n\r\n", 1)[1]
    assert body == b"one\r\ntwo\r\nthree\r\nfour\r\n\r\n.\r\n..dots\r\n.\r\n"  # no dot-stuffing


def test_bare_lf_and_cr_in_html_become_crlf() -> None:
    out = build(draft(text=None, html="<p>a</p>\r<p>b</p>\n<p>c</p>\r\n"), now=NOW)
    assert_wire_format(out.data)


def test_undecodable_body_text() -> None:
    text = b"caf\xe9\n".decode("utf-8", "surrogateescape")
    with pytest.raises(InputError, match=r"^The message text contains bytes that are not valid"):
        build(draft(text=text), now=NOW)
    with pytest.raises(InputError, match=r"^The HTML text contains"):
        build(draft(text=None, html=text), now=NOW)


def test_control_characters_in_body_are_encoded() -> None:
    out = build(draft(text="nul\0 esc\x1b end\n"), now=NOW)
    assert b"\0" not in out.data and b"\x1b" not in out.data
    assert text_of(parse(out)) == "nul\0 esc\x1b end\n"


# --- build: attachments ------------------------------------------------------------------------


def test_attachments_round_trip(tmp_path: Path) -> None:
    pdf = tmp_path / "report.pdf"
    pdf.write_bytes(b"%PDF-1.4\n" + bytes(range(256)) * 40)
    png = tmp_path / "Grüße – Straße.png"
    png.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 100)
    blob = tmp_path / "data.unknownext"
    blob.write_bytes(b"\xff\xfe")
    tgz = tmp_path / "backup.tar.gz"
    tgz.write_bytes(b"\x1f\x8b")
    out = build(draft(attachments=[pdf, png, blob, tgz]), now=NOW)
    assert out.data.isascii()
    msg = parse(out)
    assert msg.get_content_type() == "multipart/mixed"
    body, *attachments = msg.iter_parts()
    assert text_of(body) == "Hi Bob.\n"
    found = {
        a.get_filename(): (a.get_content_type(), a.get_content(), a["Content-Transfer-Encoding"])
        for a in attachments
    }
    assert found == {
        "report.pdf": ("application/pdf", pdf.read_bytes(), "base64"),
        "Grüße – Straße.png": ("image/png", png.read_bytes(), "base64"),
        "data.unknownext": ("application/octet-stream", b"\xff\xfe", "base64"),
        "backup.tar.gz": ("application/gzip", b"\x1f\x8b", "base64"),
    }
    assert all(a.is_attachment() for a in attachments)
    assert b"filename*=utf-8''Gr%C3%BC%C3%9Fe" in out.data  # RFC 2231


def test_text_attachment_keeps_its_bytes(tmp_path: Path) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_bytes(b"line one\nline two\r\nno newline at end \xe9")
    msg = parse(build(draft(attachments=[notes]), now=NOW))
    part = next(msg.iter_attachments())
    assert part.get_content_type() == "text/plain"
    assert part.get_payload(decode=True) == notes.read_bytes()


def test_html_and_attachment_nest_alternative_in_mixed(tmp_path: Path) -> None:
    f = tmp_path / "a.bin"
    f.write_bytes(b"x")
    msg = parse(build(draft(text=None, html="<p>Hi</p>", attachments=[f]), now=NOW))
    assert msg.get_content_type() == "multipart/mixed"
    first = next(msg.iter_parts())
    assert first.get_content_type() == "multipart/alternative"
    assert msg.get_body(preferencelist=("plain",)) is not None


def test_eml_attachment_is_sent_as_data(tmp_path: Path) -> None:
    eml = tmp_path / "forward.eml"
    eml.write_bytes(b"Subject: x\r\n\r\nbody\r\n")
    part = next(parse(build(draft(attachments=[eml]), now=NOW)).iter_attachments())
    assert part.get_content_type() == "application/octet-stream"
    assert part.get_content() == eml.read_bytes()


def test_missing_attachment(tmp_path: Path) -> None:
    missing = tmp_path / "nope.pdf"
    with pytest.raises(InputError) as info:
        build(draft(attachments=[missing]), now=NOW)
    assert str(info.value) == (
        f"Cannot read the attachment '{missing}' (no such file); check the path."
    )


def test_directory_attachment(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"\(it is a folder, not a file\); check the path\.$"):
        build(draft(attachments=[tmp_path]), now=NOW)


def test_unreadable_attachment(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("x")
    secret.chmod(0)
    try:
        try:
            secret.read_bytes()
        except PermissionError:
            pass
        else:
            pytest.skip("running with privileges that ignore file permissions")
        with pytest.raises(InputError, match=r"\(permission denied\)"):
            build(draft(attachments=[secret]), now=NOW)
    finally:
        secret.chmod(0o600)


def test_attachment_name_with_a_line_break(tmp_path: Path) -> None:
    odd = tmp_path / "evil\r\nContent-Type: text.html"
    odd.write_bytes(b"x")
    with pytest.raises(InputError, match=r"\\x0d\\x0a.*rename the file"):
        build(draft(attachments=[odd]), now=NOW)


# --- read_submitted ------------------------------------------------------------------------------

SUBMITTED = (
    b"From: Sys Admin <sys@example.org>\n"
    b'To: a@example.org, "B, Bee" <b@example.org>\n'
    b"Cc: c@example.org\n"
    b"Bcc: hidden@example.org,\n"
    b" also-hidden@example.org\n"
    b"Subject: Nightly report\n"
    b"\n"
    b"All good.\n"
)


@pytest.mark.parametrize("newline", [b"\n", b"\r\n"])
def test_read_submitted_accepts_lf_and_crlf(newline: bytes) -> None:
    msg = read_submitted(SUBMITTED.replace(b"\n", newline))
    assert msg["Subject"] == "Nightly report"
    assert text_of(msg).strip() == "All good."


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"\n\n",
        b"Just some text without headers.\n",
        b"\nSubject: body first\n",
        b"Subject: ok\nthis line is not a header\n\nbody\n",
        b" continued: first\n\nbody\n",
    ],
)
def test_read_submitted_needs_headers_then_body(raw: bytes) -> None:
    with pytest.raises(InputError, match="standard input"):
        read_submitted(raw)


def test_read_submitted_headers_only_is_fine() -> None:
    assert read_submitted(b"Subject: empty\n")["Subject"] == "empty"


@pytest.mark.parametrize(
    "bad",
    [b"\0", b"\x0b", b"\x0c", b"\x1b", b"\x7f", "\x85".encode(), "\u2028".encode()],
    ids=["NUL", "VT", "FF", "ESC", "DEL", "NEL", "LS"],
)
@pytest.mark.parametrize("header", [b"Subject", b"To", b"X-Custom"])
def test_read_submitted_refuses_control_characters_in_headers(bad: bytes, header: bytes) -> None:
    raw = header + b": a@example.org" + bad + b"Bcc: eve@example.org\n\nbody\n"
    with pytest.raises(InputError, match="line break or control character"):
        read_submitted(raw)


@pytest.mark.parametrize("newline", [b"\n", b"\r\n"])
def test_read_submitted_refuses_a_bare_cr_in_a_header(newline: bytes) -> None:
    raw = b"Subject: a\rBcc: eve@example.org" + newline + newline + b"body\rwith CR\n"
    with pytest.raises(InputError, match="Subject header contains a line break"):
        read_submitted(raw)
    # in the body a bare CR is only an odd line break
    assert read_submitted(b"Subject: a\n\nbody\rwith CR\n")["Subject"] == "a"


def test_read_submitted_checks_part_headers() -> None:
    raw = (
        b"Subject: x\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=B\n\n"
        b"--B\nContent-Type: text/plain\nContent-Description: a\0b\n\nhi\n--B--\n"
    )
    with pytest.raises(InputError, match="Content-Description header contains"):
        read_submitted(raw)


def test_read_submitted_allows_folding_whitespace() -> None:
    msg = read_submitted(b"Subject: a\n\tfolded\n  subject\n\nbody\n")
    assert str(msg["Subject"]) == "a\tfolded  subject"


def test_read_submitted_refuses_non_utf8_header_bytes() -> None:
    with pytest.raises(InputError, match="not UTF-8"):
        read_submitted(b"Subject: caf\xe9\n\nbody\n")


# --- header_sender ------------------------------------------------------------------------------


def test_header_sender() -> None:
    assert header_sender(read_submitted(SUBMITTED)) == Mailbox("Sys Admin", "sys@example.org")
    assert header_sender(read_submitted(b"Subject: x\n\nbody\n")) is None
    encoded = read_submitted(b"From: =?utf-8?q?J=C3=B6rg?= <j@example.org>\n\nbody\n")
    assert header_sender(encoded) == Mailbox("Jörg", "j@example.org")
    assert type(header_sender(encoded)) is Mailbox  # a plain tuple would compare equal


@pytest.mark.parametrize(
    "value",
    [
        b"alice@example.org(<bob@example.org>",
        b"a@example.org, b@example.org",
        b"root (Cron Daemon)",
        b"",
    ],
)
def test_header_sender_is_strict(value: bytes) -> None:
    with pytest.raises(InputError, match="From header"):
        header_sender(read_submitted(b"From: " + value + b"\n\nbody\n"))


def test_header_sender_refuses_two_from_headers() -> None:
    msg = read_submitted(b"From: a@example.org\nFrom: b@example.org\n\nbody\n")
    with pytest.raises(InputError, match="more than one From header"):
        header_sender(msg)


# --- prepare_submitted ---------------------------------------------------------------------------


def submit(raw: bytes, *, t: bool = True, rcpts: tuple[str, ...] = (), **kw: object) -> Outgoing:
    return prepare_submitted(
        read_submitted(raw),
        sender=ME,
        recipients=mailboxes(*rcpts),
        extract_recipients=t,
        now=NOW,
        **kw,  # type: ignore[arg-type]
    )


def test_sendmail_t_extracts_recipients_and_strips_bcc() -> None:
    original = read_submitted(SUBMITTED)
    out = prepare_submitted(
        original,
        sender=ME,
        recipients=mailboxes("extra@example.org", "A@example.org"),
        extract_recipients=True,
        now=NOW,
    )
    assert out.recipients == [
        "extra@example.org",
        "A@example.org",
        "b@example.org",
        "c@example.org",
        "hidden@example.org",
        "also-hidden@example.org",
    ]
    assert out.to == ["a@example.org", "b@example.org"]
    assert out.cc == ["c@example.org"]
    assert out.bcc == ["extra@example.org", "hidden@example.org", "also-hidden@example.org"]
    assert b"hidden" not in out.data
    msg = parse(out)
    assert "Bcc" not in msg
    assert msg["To"] == 'a@example.org, "B, Bee" <b@example.org>'
    assert out.envelope_from == out.sender == "sys@example.org"
    assert "Bcc" in original  # the caller's message is left alone


def test_sendmail_without_t_uses_only_the_arguments() -> None:
    out = submit(SUBMITTED, t=False, rcpts=("b@example.org", "x@example.org"))
    assert out.recipients == ["b@example.org", "x@example.org"]
    assert out.to == ["b@example.org"]
    assert out.bcc == ["x@example.org"]
    assert b"hidden@example.org" not in out.data  # Bcc is stripped all the same


def test_sendmail_without_t_ignores_unreadable_headers() -> None:
    raw = b"To: alice@example.org(<bob@example.org>\nSubject: x\n\nbody\n"
    out = submit(raw, t=False, rcpts=("carol@example.org",))
    assert out.recipients == ["carol@example.org"]
    assert out.to == []


def test_sendmail_t_refuses_ambiguous_recipients() -> None:
    raw = b"To: alice@example.org(<bob@example.org>\nSubject: x\n\nbody\n"
    with pytest.raises(InputError, match=r"in the To header 'alice@example\.org"):
        submit(raw)


def test_sendmail_t_undisclosed_recipients() -> None:
    raw = b"To: undisclosed-recipients:;\nBcc: a@example.org\nSubject: x\n\nbody\n"
    out = submit(raw)
    assert out.recipients == ["a@example.org"]
    assert parse(out)["To"] is not None


def test_sendmail_without_recipients() -> None:
    with pytest.raises(InputError) as info:
        submit(b"Subject: x\n\nbody\n")
    assert str(info.value) == (
        "The message has no recipients; give them as arguments or use -t to read them "
        "from the To, Cc and Bcc headers."
    )
    with pytest.raises(InputError, match="no recipients"):
        submit(SUBMITTED, t=False)


def test_sendmail_adds_missing_from_date_and_message_id() -> None:
    out = submit(b"To: a@example.org\nSubject: x\n\nbody\n")
    msg = parse(out)
    assert msg["From"] == "Me Myself <me@example.org>"
    assert parsedate_to_datetime(msg["Date"]) == NOW.replace(microsecond=0) == out.date
    assert msg["Message-ID"] == out.message_id
    assert out.message_id.endswith("@example.org>")
    assert msg["MIME-Version"] == "1.0"
    assert out.envelope_from == out.sender == "me@example.org"


def test_sendmail_keeps_existing_date_and_message_id() -> None:
    raw = (
        b"From: sys@example.org\nTo: a@example.org\nDate: Tue, 02 Jan 2024 03:04:05 -0500\n"
        b"Message-ID: <keep.me@example.org>\nMIME-Version: 1.0\nSubject: x\n\nbody\n"
    )
    out = submit(raw)
    msg = parse(out)
    assert msg["Message-ID"] == out.message_id == "<keep.me@example.org>"
    assert out.date == datetime(2024, 1, 2, 3, 4, 5, tzinfo=timezone(timedelta(hours=-5)))
    assert len(msg.get_all("Date") or []) == 1
    assert len(msg.get_all("MIME-Version") or []) == 1
    assert out.data.startswith(b"From: sys@example.org\r\nTo: a@example.org\r\n")


@pytest.mark.parametrize(
    ("header", "match"),
    [
        (b"Date: yesterday", "Date header 'yesterday' is not a valid date"),
        (b"Message-ID: no-brackets", "not of the form <id@domain>"),
    ],
)
def test_sendmail_refuses_broken_date_or_message_id(header: bytes, match: str) -> None:
    with pytest.raises(InputError, match=match):
        submit(b"To: a@example.org\n" + header + b"\n\nbody\n")


def test_sendmail_envelope_from() -> None:
    out = submit(SUBMITTED, envelope_from="bounces@example.org")
    assert out.envelope_from == "bounces@example.org"
    assert out.sender == "sys@example.org"
    assert submit(SUBMITTED, envelope_from="<>").envelope_from == ""
    with pytest.raises(InputError, match="envelope sender"):
        submit(SUBMITTED, envelope_from="not an address")


def test_sendmail_long_8bit_body_is_reencoded() -> None:
    line = "é" * 3000
    raw = (
        b"To: a@example.org\nSubject: x\nContent-Type: text/plain; charset=utf-8\n"
        b"Content-Transfer-Encoding: 8bit\n\nshort\n" + line.encode() + b"\n.\nend\n"
    )
    out = submit(raw)
    assert out.data.isascii()
    msg = parse(out)
    assert msg["Content-Transfer-Encoding"] == "quoted-printable"
    assert msg.get_content_charset() == "utf-8"
    assert text_of(msg) == f"short\n{line}\n.\nend\n"


def test_sendmail_long_ascii_line_is_reencoded() -> None:
    raw = b"To: a@example.org\nSubject: x\n\n" + b"y" * 5000 + b"\n"
    out = submit(raw)
    msg = parse(out)
    assert msg["Content-Transfer-Encoding"] == "quoted-printable"
    assert text_of(msg) == "y" * 5000 + "\n"


def test_sendmail_8bit_without_mime_headers_is_labelled() -> None:
    out = submit("To: a@example.org\nSubject: x\n\nGrüße\n".encode())
    msg = parse(out)
    assert msg.get_content_type() == "text/plain"
    assert msg.get_content_charset() == "utf-8"
    assert text_of(msg) == "Grüße\n"


def test_sendmail_keeps_a_latin1_charset() -> None:
    raw = (
        b"To: a@example.org\nContent-Type: text/plain; charset=iso-8859-1\n"
        b"Content-Transfer-Encoding: 8bit\n\ncaf\xe9\n"
    )
    msg = parse(submit(raw))
    assert msg.get_content_charset() == "iso-8859-1"
    assert msg.get_payload(decode=True) == b"caf\xe9\r\n"


def test_sendmail_binary_part_becomes_base64() -> None:
    blob = bytes(range(256))
    raw = (
        b"To: a@example.org\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=XX\n\n"
        b"--XX\nContent-Type: text/plain\n\nhello\n"
        b"--XX\nContent-Type: application/octet-stream\nContent-Transfer-Encoding: binary\n\n"
        + blob
        + b"\n--XX--\n"
    )
    out = submit(raw)
    assert out.data.isascii()
    text, data = parse(out).iter_parts()
    # the line break before a boundary belongs to the boundary (RFC 2046)
    assert text_of(text) == "hello"
    assert data["Content-Transfer-Encoding"] == "base64"
    assert data.get_payload(decode=True) == blob


def test_sendmail_clean_message_is_passed_through() -> None:
    raw = (
        b"From: sys@example.org\r\nTo: a@example.org\r\nDate: Tue, 02 Jan 2024 03:04:05 +0000\r\n"
        b"Message-ID: <x@example.org>\r\nMIME-Version: 1.0\r\nX-Long: "
        + b"word " * 30
        + b"\r\nSubject: x\r\n\r\nbody\r\n"
    )
    assert submit(raw).data == raw


def test_sendmail_non_ascii_headers_are_encoded() -> None:
    raw = (
        'From: Jörg <joerg@example.org>\nTo: "Müller, Hans" <hans@example.org>\n'
        "Subject: Grüße\nX-Note: café\n\nbody\n"
    ).encode()
    out = submit(raw)
    assert out.data.isascii()
    assert not out.smtputf8
    msg = parse(out)
    assert msg["Subject"] == "Grüße" == out.subject
    assert msg["X-Note"] == "café"
    assert msg["From"].addresses[0].display_name == "Jörg"
    assert msg["To"].addresses[0].display_name == "Müller, Hans"


def test_sendmail_non_ascii_local_part_needs_smtputf8() -> None:
    out = submit("From: jörg@example.org\nTo: a@example.org\nSubject: x\n\nbody\n".encode())
    assert out.smtputf8
    assert out.envelope_from == "jörg@example.org"
    out = submit(b"To: a@example.org\n\nbody\n", rcpts=("zoë@example.org",))
    assert out.smtputf8


def test_sendmail_refuses_a_header_line_too_long_to_fold() -> None:
    raw = b"To: a@example.org\nX-Token: " + b"t" * 1200 + b"\n\nbody\n"
    with pytest.raises(InputError, match="longer than 998"):
        submit(raw)
