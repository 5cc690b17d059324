"""Strict parsing and validation of email addresses.

We do not lean on ``email.utils.getaddresses``/``parseaddr``: on Python 3.11.7 they
can read ``alice@example.org(<bob@example.org>`` as Bob (CVE-2023-27043) and the
header folder lets line breaks through (CVE-2024-6923). This module accepts only
the few forms people actually type, refuses everything ambiguous with a sentence
that says how to fix it, and checks every text for line breaks and control
characters before it can reach a header.

Accepted forms: ``addr-spec``, ``Display Name <addr-spec>``,
``"Quoted, Name" <addr-spec>`` (backslash escapes inside the quotes) and
``<addr-spec>``. Comments, groups, source routes and quoted local parts
(``"john doe"@example.org``) are refused.
"""

from __future__ import annotations

import ipaddress
import re
import unicodedata
from collections.abc import Callable, Iterable
from email.headerregistry import Address
from typing import Any, NamedTuple, Self

from mailgui.core.errors import InputError

__all__ = [
    "Mailbox",
    "check_text",
    "parse_mailbox",
    "parse_mailbox_list",
    "parse_recipients",
]

# RFC 5322 atext, without letters and digits.
_ATEXT_SYMBOLS = frozenset("!#$%&'*+-/=?^_`{|}~")
# RFC 5322 specials that may not appear in an unquoted display name ('.' may).
_NAME_SPECIALS = frozenset('()<>[]:;@\\,"')
_LDH = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-")

_MAX_LOCAL = 64  # octets, RFC 5321 4.5.3.1.1
_MAX_DOMAIN = 253  # octets, without a trailing dot
_MAX_LABEL = 63
_MAX_ADDRESS = 254  # octets, RFC 5321 path limit minus the angle brackets
_SHOW_MAX = 80  # longest piece of user text repeated in an error message

_EXAMPLE = "name@example.org"
# An RFC 2047 encoded word, as lenient readers recognise it.
_ENCODED_WORD = re.compile(r"=\?[^?]*\?[^?]*\?[^?]*\?=")
# The dots IDNA 2003 accepts between labels.
_IDNA_DOTS = re.compile("[.\u3002\uff0e\uff61]")

# fail(problem, fix) -> the InputError to raise, naming the address.
_FailFn = Callable[[str, str], InputError]


def _is_bad_char(ch: str) -> bool:
    """A line break, a control character, or a lone surrogate."""
    o = ord(ch)
    return (
        o < 0x20  # C0 controls, TAB, CR, LF, \x0b \x0c \x1c-\x1e
        or 0x7F <= o <= 0x9F  # DEL and C1 controls, \x85 (NEL)
        or o in (0x2028, 0x2029)  # line and paragraph separators
        or 0xD800 <= o <= 0xDFFF  # lone surrogates cannot be encoded at all
    )


def check_text(what: str, value: str) -> str:
    """Refuse any character that could end a header line or hide in one.

    That is CR, LF, NUL and every other C0 control (TAB too), DEL, the C1
    controls (U+0080–U+009F), U+2028/U+2029, i.e. everything ``str.splitlines``
    breaks on, and lone surrogates (they cannot be encoded). Returns ``value``.
    """
    for pos, ch in enumerate(value):
        if _is_bad_char(ch):
            raise InputError(
                f"The {what} contains a line break or control character "
                f"(U+{ord(ch):04X} at position {pos + 1}); remove it and try again."
            )
    return value


def _show(text: str) -> str:
    """User text for an error message: quoted, and shortened when very long."""
    if len(text) > _SHOW_MAX:
        text = text[: _SHOW_MAX - 1] + "…"
    return f"'{text}'"


def _is_atext(ch: str) -> bool:
    """RFC 5322 atext, widened to non-ASCII by RFC 6532 (but no spaces or controls)."""
    if ch.isascii():
        return ch.isalnum() or ch in _ATEXT_SYMBOLS
    return unicodedata.category(ch)[0] not in "ZC"


def _is_name_char(ch: str) -> bool:
    """Allowed in an unquoted display name: atext, '.', and plain spaces."""
    return ch == " " or ch == "." or _is_atext(ch)


class _MailboxFields(NamedTuple):
    name: str
    addr: str


class Mailbox(_MailboxFields):
    """One person's address, already validated.

    ``addr`` is the addr-spec: the local part as typed, the domain in its ASCII
    (IDNA A-label) form. Constructing a Mailbox directly validates it the same
    way parsing does, and converts a Unicode domain to its A-label form, so a
    Mailbox in hand is always safe to put in a header or an SMTP command
    (``_replace`` and ``_make`` check too).

    A named tuple, not a dataclass: the command line's start has no time for
    ``dataclasses`` (see ``mailgui.cli``).
    """

    __slots__ = ()

    def __new__(cls, name: str, addr: str) -> Mailbox:
        check_text("display name", name)
        return super().__new__(cls, name, _parse_addr_spec(addr, addr, "address"))

    # The named tuple's own copies bypass __new__: these go through it.
    @classmethod
    def _make(cls, iterable: Iterable[Any]) -> Self:  # type: ignore[override]
        return cls(*iterable)

    def _replace(self, **changes: Any) -> Self:
        return type(self)(changes.pop("name", self.name), changes.pop("addr", self.addr), **changes)

    @property
    def local_part(self) -> str:
        return self.addr.rpartition("@")[0]

    @property
    def domain(self) -> str:
        return self.addr.rpartition("@")[2]

    @property
    def needs_smtputf8(self) -> bool:
        """A non-ASCII local part can only travel with the SMTPUTF8 extension."""
        return not self.local_part.isascii()

    def formatted(self) -> str:
        """The mailbox as a person would write it; parse_mailbox reads it back."""
        if not self.name:
            return self.addr
        name = self.name
        if not (name.strip(" ") == name and "  " not in name and all(map(_is_name_char, name))):
            name = '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'
        return f"{name} <{self.addr}>"

    def header_address(self) -> Address:
        """The mailbox for an ``EmailMessage`` header, built from its parts."""
        return Address(display_name=self.name, username=self.local_part, domain=self.domain)

    def __str__(self) -> str:
        return self.formatted()


def parse_mailbox(text: str, *, what: str = "address") -> Mailbox:
    """Read one mailbox in one of the accepted forms (see the module docstring).

    ``what`` names the field in error messages ("The To address 'x' has ...").
    """
    check_text(what, text)
    s = text.strip()
    if not s:
        raise InputError(f"The {what} is empty; write it as {_EXAMPLE}.")
    shown = _show(s)

    if s.startswith('"') and "<" in s:
        name, end = _read_quoted(s, shown, what)
        rest = s[end:].lstrip()
        if not rest.startswith("<"):
            raise InputError(
                f"The {what} {shown} has text between the quoted name and the '<'; "
                f'put the whole name in the quotes, like "Name" <{_EXAMPLE}>.'
            )
        return Mailbox(name, _read_angle(rest, s, shown, what))

    lt = s.find("<")
    if lt >= 0:
        name = " ".join(s[:lt].split())
        _check_plain_name(name, shown, what)
        return Mailbox(name, _read_angle(s[lt:], s, shown, what))

    if ">" in s:
        raise InputError(
            f"The {what} {shown} has a '>' without a '<'; write it as Name <{_EXAMPLE}>."
        )
    return Mailbox("", _parse_addr_spec(s, s, what))


def parse_mailbox_list(text: str, *, what: str = "address") -> list[Mailbox]:
    """Read comma-separated mailboxes; commas inside quotes or ``<...>`` do not split.

    Empty items (``a@example.org,,b@example.org``) are skipped, so an empty text
    gives an empty list.
    """
    check_text(what, text)
    return [parse_mailbox(item, what=what) for item in _split_list(text)]


def parse_recipients(values: Iterable[str], *, what: str) -> list[Mailbox]:
    """Read repeated options (``--to a b --to "c, d"``): each value may be a list."""
    result: list[Mailbox] = []
    for value in values:
        result.extend(parse_mailbox_list(value, what=what))
    return result


# --- pieces ---------------------------------------------------------------------------


def _split_list(text: str) -> list[str]:
    items: list[str] = []
    current: list[str] = []
    in_quote = in_angle = escaped = False
    for ch in text:
        if escaped:
            escaped = False
        elif in_quote:
            if ch == "\\":
                escaped = True
            elif ch == '"':
                in_quote = False
        elif ch == '"':
            in_quote = True
        elif ch == "<":
            in_angle = True
        elif ch == ">":
            in_angle = False
        elif ch == "," and not in_angle:
            items.append("".join(current))
            current = []
            continue
        current.append(ch)
    items.append("".join(current))
    return [item.strip() for item in items if item.strip()]


def _read_quoted(s: str, shown: str, what: str) -> tuple[str, int]:
    """The unescaped content of the quoted string at s[0], and the index after it."""
    out: list[str] = []
    i = 1
    while i < len(s):
        ch = s[i]
        if ch == "\\" and i + 1 < len(s):
            out.append(s[i + 1])
            i += 2
            continue
        if ch == '"':
            return "".join(out), i + 1
        out.append(ch)
        i += 1
    raise InputError(
        f'The {what} {shown} has a quote that is never closed; close it, like "Name" <{_EXAMPLE}>.'
    )


def _check_plain_name(name: str, shown: str, what: str) -> None:
    for ch in name:
        if ch in _NAME_SPECIALS or not _is_name_char(ch):
            if ch == "@":
                problem = "has an '@' in the name before '<'"
            elif ch in "()":
                problem = "has a parenthesis, and comments are not accepted"
            else:
                problem = f"has the character '{ch}' in the name before '<'"
            raise InputError(
                f"The {what} {shown} {problem}; write it as Name <{_EXAMPLE}>, "
                f'and put a name with punctuation in double quotes ("Name, Jr.").'
            )


def _read_angle(rest: str, whole: str, shown: str, what: str) -> str:
    """``rest`` starts with '<'; return the checked addr-spec inside the brackets."""
    gt = rest.find(">")
    if gt < 0:
        raise InputError(
            f"The {what} {shown} has a '<' that is never closed; write it as Name <{_EXAMPLE}>."
        )
    inner = rest[1:gt].strip()
    if "<" in inner:
        raise InputError(
            f"The {what} {shown} has more than one '<'; write it as Name <{_EXAMPLE}>."
        )
    if rest[gt + 1 :].strip():
        raise InputError(
            f"The {what} {shown} has text after the closing '>'; "
            f"remove it, or separate addresses with commas."
        )
    if not inner:
        raise InputError(
            f"The {what} {shown} has nothing between '<' and '>'; write it as Name <{_EXAMPLE}>."
        )
    return _parse_addr_spec(inner, whole, what)


def _parse_addr_spec(spec: str, whole: str, what: str) -> str:
    """Validate ``local@domain``; return it with the domain in A-label form."""
    shown = _show(whole)

    def fail(problem: str, fix: str) -> InputError:
        return InputError(f"The {what} {shown} {problem}; {fix}.")

    check_text(what, spec)
    if spec.startswith('"') or '"' in spec.rpartition("@")[0]:
        raise fail(
            "has a quoted part before the '@', which mailgui does not accept",
            "use an address without quotes",
        )
    if "(" in spec or ")" in spec:
        raise fail(
            "has a parenthesis, and comments are not accepted",
            "remove the text in parentheses",
        )
    if "," in spec:
        raise fail("has a comma in it", "give one address at a time")
    outside_literal = spec.split("[", 1)[0]
    if ":" in outside_literal or ";" in outside_literal:
        raise fail(
            "uses group syntax or a route (':' or ';'), which is not accepted",
            "list the addresses one by one, separated by commas",
        )
    if any(ch.isspace() for ch in spec):
        raise fail(
            "contains a space",
            f"separate addresses with commas, and write a name as Name <{_EXAMPLE}>",
        )
    at_count = spec.count("@")
    if at_count == 0:
        raise fail("has no '@'", f"write it as {_EXAMPLE}")
    if at_count > 1:
        raise fail("has more than one '@'", f"write it as {_EXAMPLE}")
    local, _, domain = spec.partition("@")
    if not local:
        raise fail("has nothing before the '@'", f"write it as {_EXAMPLE}")
    if not domain:
        raise fail("has no domain after '@'", f"write it as {_EXAMPLE}")

    _check_local(local, fail)
    domain = _check_domain(domain, fail)

    addr = f"{local}@{domain}"
    if len(addr.encode("utf-8")) > _MAX_ADDRESS:
        raise fail(f"is longer than {_MAX_ADDRESS} bytes", "check it, or use a shorter address")
    return addr


def _check_local(local: str, fail: _FailFn) -> None:
    for ch in local:
        if ch != "." and not _is_atext(ch):
            raise fail(
                f"has the character '{ch}' before the '@', which is not allowed there",
                "remove it",
            )
    if _ENCODED_WORD.search(local):
        # Mail programs (Python's email package among them) decode an encoded word even
        # here, so the address shown and replied to would not be the one mail went to.
        raise fail(
            "has an encoded word (=?...?...?...?=) before the '@', which mail programs "
            "would decode",
            "check the address",
        )
    if local.startswith(".") or local.endswith(".") or ".." in local:
        raise fail(
            "has a dot at the start or end of the part before '@', or two dots in a row",
            "remove the extra dot",
        )
    if len(local.encode("utf-8")) > _MAX_LOCAL:
        raise fail(
            f"has more than {_MAX_LOCAL} bytes before the '@'",
            "check it, or use a shorter address",
        )


def _check_domain(domain: str, fail: _FailFn) -> str:
    if domain.startswith("[") or domain.endswith("]"):
        return _check_literal(domain, fail)
    if any(not label for label in _IDNA_DOTS.split(domain)):
        raise fail(
            "has an empty part in its domain (a dot at the start or end, or two in a row)",
            "remove the extra dot",
        )
    if not domain.isascii():
        try:
            domain = domain.encode("idna").decode("ascii")
        except UnicodeError:
            raise fail(
                "has a domain that is not a valid international domain name",
                "check its spelling",
            ) from None
    labels = domain.split(".")
    for label in labels:
        bad = next((ch for ch in label if ch not in _LDH), None)
        if bad is not None:
            raise fail(
                f"has the character '{bad}' in its domain",
                "a domain may contain only letters, digits, hyphens and dots",
            )
        if label.startswith("-") or label.endswith("-"):
            raise fail(
                f"has a domain part '{label}' that starts or ends with a hyphen",
                "check the domain",
            )
        if len(label) > _MAX_LABEL:
            raise fail(
                f"has a domain part longer than {_MAX_LABEL} characters",
                "check the domain",
            )
        if label[:4].lower() == "xn--":
            try:
                label.encode("ascii").decode("idna")
            except UnicodeError:
                raise fail(
                    f"has a domain part '{label}' that is not a valid international name",
                    "check the domain",
                ) from None
    if len(domain) > _MAX_DOMAIN:
        raise fail(f"has a domain longer than {_MAX_DOMAIN} characters", "check the domain")
    if len(labels) == 1 and domain.lower() != "localhost":
        raise fail(
            f"has no dot in its domain '{domain}'",
            "write the full domain, like example.org",
        )
    if labels[-1].isdigit():
        raise fail(
            "has a domain that ends in a number",
            "write an IP address in brackets, like name@[192.0.2.1]",
        )
    return domain


def _check_literal(domain: str, fail: _FailFn) -> str:
    fix = "write an address literal as [192.0.2.1] or [IPv6:2001:db8::1]"
    if not (domain.startswith("[") and domain.endswith("]")) or len(domain) < 3:
        raise fail("has an unbalanced '[' or ']' in its domain", fix)
    inner = domain[1:-1]
    if "%" in inner:
        raise fail("has a zone index ('%') in its IP address", fix)
    try:
        if inner[:5].lower() == "ipv6:":
            return f"[IPv6:{ipaddress.IPv6Address(inner[5:]).compressed}]"
        return f"[{ipaddress.IPv4Address(inner)}]"
    except ValueError:
        raise fail(f"has '{inner}' in brackets, which is not an IP address", fix) from None
