"""Submission settings of the big mail providers, for discovery.

A provider is matched by the address's domain (``gmail.com``) or, for custom domains
hosted there, by the domain's MX host (``aspmx.l.google.com`` → Google). Each entry
lists the settings in the order to suggest them.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Provider:
    name: str
    domains: tuple[str, ...]
    mx_suffixes: tuple[str, ...]
    servers: tuple[tuple[str, int, str], ...]  # (host, port, security)
    note: str = ""
    # The IMAP server for the Sent copy (host, port, security), if known.
    imap: tuple[str, int, str] | None = None
    # It files what its SMTP server accepted in Sent by itself: a copy would be a duplicate.
    files_sent: bool = False


PROVIDERS: tuple[Provider, ...] = (
    Provider(
        "Gmail / Google Workspace",
        ("gmail.com", "googlemail.com"),
        ("google.com", "googlemail.com"),
        (("smtp.gmail.com", 465, "tls"), ("smtp.gmail.com", 587, "starttls")),
        "Google asks for an app password (with 2-step verification) or OAuth.",
        ("imap.gmail.com", 993, "tls"),
        files_sent=True,
    ),
    Provider(
        "Microsoft 365",
        (),
        ("mail.protection.outlook.com",),
        (("smtp.office365.com", 587, "starttls"),),
        "The organisation must allow SMTP AUTH for the mailbox.",
        ("outlook.office365.com", 993, "tls"),
        files_sent=True,
    ),
    Provider(
        "Outlook.com",
        ("outlook.com", "hotmail.com", "live.com", "msn.com", "hotmail.co.uk", "outlook.de"),
        ("olc.protection.outlook.com",),
        (("smtp-mail.outlook.com", 587, "starttls"),),
        imap=("outlook.office365.com", 993, "tls"),
        files_sent=True,
    ),
    Provider(
        "Yahoo",
        ("yahoo.com", "ymail.com", "rocketmail.com", "yahoo.co.uk", "yahoo.fr", "yahoo.de"),
        ("yahoodns.net",),
        (("smtp.mail.yahoo.com", 465, "tls"), ("smtp.mail.yahoo.com", 587, "starttls")),
        "Yahoo asks for an app password.",
        ("imap.mail.yahoo.com", 993, "tls"),
    ),
    Provider(
        "AOL",
        ("aol.com",),
        (),
        (("smtp.aol.com", 465, "tls"),),
    ),
    Provider(
        "iCloud",
        ("icloud.com", "me.com", "mac.com"),
        ("mail.icloud.com",),
        (("smtp.mail.me.com", 587, "starttls"),),
        "iCloud asks for an app-specific password.",
        ("imap.mail.me.com", 993, "tls"),
    ),
    Provider(
        "Fastmail",
        ("fastmail.com", "fastmail.fm", "fastmail.net", "sent.com", "fastmail.org"),
        ("messagingengine.com",),
        (("smtp.fastmail.com", 465, "tls"), ("smtp.fastmail.com", 587, "starttls")),
        imap=("imap.fastmail.com", 993, "tls"),
    ),
    Provider(
        "GMX",
        ("gmx.de", "gmx.net", "gmx.at", "gmx.ch"),
        ("gmx.net",),
        (("mail.gmx.net", 587, "starttls"), ("mail.gmx.net", 465, "tls")),
    ),
    Provider(
        "GMX (international)",
        ("gmx.com", "gmx.co.uk", "gmx.fr", "gmx.us"),
        ("gmx.com",),
        (("mail.gmx.com", 587, "starttls"), ("mail.gmx.com", 465, "tls")),
    ),
    Provider(
        "WEB.DE",
        ("web.de",),
        ("web.de",),
        (("smtp.web.de", 587, "starttls"),),
    ),
    Provider(
        "Zoho Mail",
        ("zoho.com", "zohomail.com"),
        ("zoho.com",),
        (("smtp.zoho.com", 465, "tls"), ("smtp.zoho.com", 587, "starttls")),
    ),
    Provider(
        "Zoho Mail (EU)",
        ("zoho.eu", "zohomail.eu"),
        ("zoho.eu",),
        (("smtp.zoho.eu", 465, "tls"), ("smtp.zoho.eu", 587, "starttls")),
    ),
    Provider(
        "Proton Mail (through Proton Mail Bridge)",
        ("proton.me", "protonmail.com", "protonmail.ch", "pm.me"),
        ("protonmail.ch",),
        (("127.0.0.1", 1025, "starttls"),),
        "Proton sends only through Proton Mail Bridge running on this computer; its "
        "certificate is self-signed, so export it from Bridge and give it as the CA file.",
    ),
    Provider(
        "Yandex",
        ("yandex.ru", "yandex.com", "ya.ru"),
        ("yandex.net", "yandex.ru"),
        (("smtp.yandex.com", 465, "tls"),),
    ),
    Provider(
        "Mail.ru",
        ("mail.ru", "inbox.ru", "list.ru", "bk.ru"),
        ("mail.ru",),
        (("smtp.mail.ru", 465, "tls"),),
    ),
)

# Domains people type every day: the basis of "did you mean ...?" for recipients.
COMMON_DOMAINS: tuple[str, ...] = tuple(
    sorted(
        {d for p in PROVIDERS for d in p.domains}
        | {"comcast.net", "verizon.net", "att.net", "orange.fr", "free.fr", "t-online.de"}
        | {"btinternet.com", "qq.com", "163.com", "yahoo.co.jp", "libero.it", "hey.com"}
    )
)


def _under(host: str, suffix: str) -> bool:
    return host == suffix or host.endswith("." + suffix)


def by_domain(domain: str) -> Provider | None:
    domain = domain.lower().rstrip(".")
    return next((p for p in PROVIDERS if domain in p.domains), None)


def by_mx(mx_host: str) -> Provider | None:
    host = mx_host.lower().rstrip(".")
    return next((p for p in PROVIDERS if any(_under(host, s) for s in p.mx_suffixes)), None)


def files_sent_itself(smtp_host: str) -> bool:
    """True when the provider behind ``smtp_host`` puts submitted mail in Sent itself
    (Gmail, Outlook.com, Microsoft 365): a copy from mailgui would be a second one."""
    host = smtp_host.lower().rstrip(".")
    return any(p.files_sent and any(host == server[0] for server in p.servers) for p in PROVIDERS)
