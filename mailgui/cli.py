"""The command line: the second face of the core engine (DESIGN.md, "Command line contract").

It never imports Qt. Every failure becomes one sentence on stderr and a sysexits
code, decided by the error's class (``MailguiError.exit_code``), in ``main`` only.

Start time counts (``mailgui sendmail`` runs once per message, from cron and scripts),
so what ``--version`` and ``sendmail`` load imports no ``dataclasses``: that module
brings ``inspect`` (with ast, dis and tokenize), and each dataclass costs an ``exec``
per generated method. The value types on that path are named tuples instead.
"""

from __future__ import annotations

import atexit
import gc
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any, NoReturn

from mailgui import __version__
from mailgui.core.errors import (
    EX_OK,
    EX_SOFTWARE,
    EX_UNAVAILABLE,
    EX_USAGE,
    InputError,
    MailguiError,
    UsageError,
)

if TYPE_CHECKING:
    import argparse

    from mailgui.core.accounts import Account, AccountStore
    from mailgui.core.delivery import Delivery, FlushReport
    from mailgui.core.engine import Engine, Queued
    from mailgui.core.outbox import MessageRow, Outbox
    from mailgui.core.paths import Profile


# --- the profile, opened on demand -----------------------------------------------------


def _profile() -> Profile:
    from mailgui.core import log
    from mailgui.core.paths import Profile

    profile = Profile.from_env()
    profile.ensure()
    log.setup(profile)
    return profile


_ENGINE: list[Engine] = []  # the one engine of this process, made on first use


def _engine() -> Engine:
    if not _ENGINE:
        from mailgui.core.engine import Engine

        _ENGINE.append(Engine(_profile()))
    return _ENGINE[0]


def _store() -> AccountStore:
    return _engine().accounts


def _delivery(outbox: Outbox) -> Delivery:
    return _engine().delivery(outbox)


def _outbox() -> Outbox:
    from mailgui.core.outbox import Outbox

    return Outbox(_profile().outbox_file)


def _print_json(doc: Any) -> None:
    import json

    # One write: json.dump() writes every token on its own (74 000 writes for 1 000
    # messages, each a system call when stdout is unbuffered).
    sys.stdout.write(json.dumps(doc, indent=2, ensure_ascii=False) + "\n")


def _print_json_list(docs: list[dict[str, Any]]) -> None:
    """A list of objects as one JSON document, an object a line: json's C encoder.
    (``indent=`` runs json's pure-Python encoder: ~25 µs a message, 2.6 s for the
    100 000 messages of a long outage, issue 19.)"""
    import json

    encode = json.JSONEncoder(ensure_ascii=False).encode
    lines = ",\n".join(["  " + encode(doc) for doc in docs])
    sys.stdout.write(f"[\n{lines}\n]\n" if docs else "[]\n")


def _say(text: str) -> None:
    print(text, file=sys.stderr)


def _local(ts: float | None) -> str:
    if ts is None:
        return "-"
    from datetime import datetime

    return datetime.fromtimestamp(ts).astimezone().strftime("%Y-%m-%d %H:%M")


# --- accounts ---------------------------------------------------------------------------


def _account_json(acct: Account, default: str | None, with_password: bool = True) -> dict[str, Any]:
    from mailgui.core import passwords

    doc = acct.to_dict()
    for key in ("oauth2", "oauth2_client_id", "oauth2_scopes", "oauth2_token_command"):
        del doc[key]
    doc["default"] = acct.name == default
    doc["auth"] = acct.auth
    doc["sent_copy_folder"] = acct.sent_copy_folder  # where copies go now; null: none
    stored: bool | None = None
    if with_password and acct.auth != "none" and not acct.oauth2_token_command:
        try:
            stored = passwords.load(acct.name) is not None  # a password, or a refresh token
        except MailguiError:
            stored = None
    doc["has_password"] = stored if acct.auth == "password" else False
    doc["oauth2"] = None
    if acct.auth == "oauth2":
        doc["oauth2"] = {
            "issuer": acct.oauth2 or None,
            "client_id": acct.oauth2_client_id or None,
            "scopes": list(acct.oauth2_scopes),
            "token_command": acct.oauth2_token_command or None,
            # a token command needs no sign-in; unknown (no keyring) reads as false
            "signed_in": True if acct.oauth2_token_command else bool(stored),
        }
    return doc


def cmd_account_add(args: argparse.Namespace) -> int:
    from mailgui.core import passwords
    from mailgui.core.accounts import DEFAULT_PORTS, Account
    from mailgui.core.addresses import check_text, parse_mailbox

    mailbox = parse_mailbox(args.email, what="account address")
    if mailbox.name:
        raise InputError(
            f"Give only the address to --email (not {args.email!r}); "
            "put the name in --display-name."
        )
    display_name = check_text("display name", args.display_name or "")
    stdin_uses = [args.password_stdin, args.client_secret_stdin, args.signature_file == "-"]
    if sum(map(bool, stdin_uses)) > 1:
        raise UsageError(
            "Standard input can carry one of the password, the client secret or the "
            "signature; give the others another way."
        )
    oauth2 = bool(args.oauth2 or args.oauth2_token_command)
    if oauth2 and (args.password_stdin or args.direct):
        raise UsageError(
            "An account that signs in with OAuth2 takes no password and no --direct; "
            "leave them out."
        )
    if not args.oauth2 and (args.client_id or args.client_secret_stdin or args.scope):
        raise UsageError("--client-id, --client-secret-stdin and --scope go with --oauth2.")
    client_secret = None
    if args.client_secret_stdin:
        client_secret = sys.stdin.readline().rstrip("\r\n")
        if not client_secret:
            raise InputError("No client secret was given on standard input; pipe it in.")
    password = None
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
        if not password:
            raise InputError("No password was given on standard input; pipe it in, one line.")
    username = args.username or (mailbox.addr if password is not None else "")
    if args.direct:
        if args.host or username:
            raise UsageError("--direct takes no --host, --username or password; leave them out.")
        acct = Account(name=args.name, email=mailbox.addr, display_name=display_name, direct=True)
    else:
        if not args.host:
            raise UsageError("Give the SMTP server with --host (or use --direct).")
        security = args.security
        acct = Account(
            name=args.name,
            email=mailbox.addr,
            host=check_text("host", args.host),
            port=args.port or DEFAULT_PORTS[security],
            security=security,
            username=check_text("user name", username),
            display_name=display_name,
            ca_file=str(Path(args.ca_file).resolve()) if args.ca_file else "",
        )
    if oauth2:
        acct = acct._replace(
            oauth2=_oauth2_issuer(args.oauth2 or ""),
            oauth2_client_id=check_text("client id", args.client_id or ""),
            oauth2_scopes=tuple(check_text("scope", s) for s in _words(args.scope or [])),
            oauth2_token_command=_token_command(args.oauth2_token_command or ""),
        )
    if args.imap_host or args.sent_folder:
        if args.direct:
            raise UsageError(
                "--direct has no server to keep a Sent copy on; leave out --imap-host."
            )
        acct = acct._replace(
            imap_host=check_text("IMAP host", args.imap_host or ""),
            imap_port=args.imap_port or 0,
            imap_security=args.imap_security,
            sent_folder=check_text("Sent folder", args.sent_folder or ""),
        )
        if acct.sent_folder not in ("", "none") and not acct.imap_host:
            raise UsageError("--sent-folder needs the IMAP server: give --imap-host too.")
    if args.pgp_key or args.smime_cert or args.smime_key:
        acct = acct._replace(
            pgp_key=_fingerprint(args.pgp_key or ""),
            smime_cert=str(Path(args.smime_cert).resolve()) if args.smime_cert else "",
            smime_key=str(Path(args.smime_key).resolve()) if args.smime_key else "",
        )
    if args.timeout is not None:
        acct = acct._replace(timeout=args.timeout)
    if args.data_timeout is not None:
        acct = acct._replace(data_timeout=args.data_timeout)
    if args.no_recipient_checks:
        acct = acct._replace(check_recipients=False)
    acct = acct._replace(
        always_sign=args.always_sign, encrypt_when_possible=args.encrypt_when_possible
    )
    store = _store()
    previous = next((a for a in store.all() if a.name == acct.name), None)
    existed = previous is not None
    # The keyring slot holds a password or a grant made for the old settings: not for these.
    stale_slot = (
        previous is not None
        and previous.auth != "none"
        and (previous.oauth2, previous.oauth2_client_id) != (acct.oauth2, acct.oauth2_client_id)
        and password is None
    )
    if previous is not None:  # updating: keep what these options cannot set (the app can)
        acct = acct._replace(
            identities=previous.identities,
            reply_to=previous.reply_to,
            signature=previous.signature,
        )
    if args.reply_to is not None:
        acct = acct._replace(reply_to=args.reply_to.strip())
    if args.signature_file is not None:
        acct = acct._replace(signature=_read_signature(args.signature_file))
    acct.validate()
    if client_secret is not None:
        from mailgui.core.sign_in import client_secret_slot

        passwords.store(client_secret_slot(acct.name), client_secret)
    if password is not None:
        passwords.store(acct.name, password)  # first: no keyring, no account
        if passwords.is_plaintext():
            _say(
                "Warning: the password is kept unencrypted by the keyrings.alt plaintext "
                "backend; use a desktop keyring to protect it."
            )
    store.save(acct, make_default=args.default)
    if stale_slot:
        passwords.forget(acct.name)
    is_default = store.default_name() == acct.name
    verb = "Updated" if existed else "Added"
    where = "direct delivery" if acct.direct else f"{acct.server}, {acct.security}"
    print(f"{verb} account {acct.name!r} ({where}){', the default' if is_default else ''}.")
    if acct.oauth2 and not acct.oauth2_token_command:
        from mailgui.core.oauth2.tokens import is_signed_in

        if not is_signed_in(acct.name):
            _say(f"Sign in with 'mailgui account login {acct.name}' before sending.")
    if acct.direct:
        from mailgui.core.direct import PORT_25_WARNING

        _say(
            "Note: direct delivery is weaker than a relay account: it encrypts (STARTTLS) "
            "only when the recipient's server offers it, does not check certificates, and "
            "mail sent straight from a home connection is often rejected as spam. "
            f"{PORT_25_WARNING}"
        )
    return EX_OK


def _oauth2_issuer(value: str) -> str:
    """``--oauth2``: a preset's name, or an issuer URL (https, or http on loopback)."""
    if not value:
        return ""
    from mailgui.core.oauth2.providers import PRESETS, is_loopback

    if value.lower() in PRESETS:
        return value.lower()
    from urllib.parse import urlsplit

    url = urlsplit(value)
    if url.scheme == "https" or (url.scheme == "http" and is_loopback(url.hostname)):
        return value.rstrip("/")
    raise UsageError(
        f"--oauth2 takes {', '.join(sorted(PRESETS))} or the https URL of an issuer, not {value!r}."
    )


def _fingerprint(text: str) -> str:
    """``--pgp-key``: a key's fingerprint (or long key id), spaces allowed."""
    key = "".join(text.split()).upper().removeprefix("0X")
    if key and (len(key) not in (16, 40, 64) or any(c not in "0123456789ABCDEF" for c in key)):
        raise UsageError(
            f"--pgp-key {text!r} is not a key fingerprint; give the 40 hex digits that "
            "'gpg --list-secret-keys' shows."
        )
    return key


def _words(groups: list[list[str]]) -> list[str]:
    """Repeated ``--scope A B --scope "C D"``: every word, once, in order."""
    return list(dict.fromkeys(w for group in groups for value in group for w in value.split()))


def _token_command(command: str) -> str:
    if not command:
        return ""
    import shlex

    try:
        words = shlex.split(command)
    except ValueError as exc:
        raise UsageError(f"The token command cannot be read ({exc}); check its quotes.") from None
    if not words:
        raise UsageError("The token command is empty; give the command that prints a token.")
    from mailgui.core.addresses import check_text

    return check_text("token command", command)


def cmd_account_login(args: argparse.Namespace) -> int:
    from mailgui.core.oauth2 import flow
    from mailgui.core.sign_in import oauth2_settings

    acct = _store().get(args.name)
    settings = oauth2_settings(acct)
    if settings is None:
        raise UsageError(
            f"Account {acct.name!r} does not sign in with OAuth2"
            + (" (its token command does)" if acct.oauth2_token_command else "")
            + f"; set it up with 'mailgui account add {acct.name} ... --oauth2 PROVIDER'."
        )
    if args.device:

        def show_code(code: flow.DeviceCode) -> None:
            _say(f"To sign in, open {code.verification_uri} and enter the code {code.user_code}.")

        flow.sign_in_device(settings, acct.name, show_code=show_code)
    else:

        def show_url(url: str) -> None:
            verb = "Open" if args.no_browser else "If no browser opened, open"
            _say(f"{verb} this address to sign in to account {acct.name!r}:\n{url}")

        flow.sign_in(
            settings, acct.name, show_url=show_url, no_browser=args.no_browser,
            timeout=args.timeout,
        )  # fmt: skip
    from mailgui.core.flush_schedule import credentials_changed

    credentials_changed(_profile())  # a running app or agent sends what waited for it
    print(f"Signed in to account {acct.name!r}; the grant is kept in the keyring.")
    return EX_OK


def cmd_account_set(args: argparse.Namespace) -> int:
    """Change some settings of an existing account; the others stay as they are."""
    from mailgui.core.addresses import check_text

    store = _store()
    acct = store.get(args.name)
    changes: dict[str, Any] = {}
    if args.display_name is not None:
        changes["display_name"] = check_text("display name", args.display_name)
    if args.reply_to is not None:
        changes["reply_to"] = args.reply_to.strip()
    if args.signature_file is not None:
        changes["signature"] = _read_signature(args.signature_file)
    for option in ("timeout", "data_timeout"):
        if getattr(args, option) is not None:
            changes[option] = getattr(args, option)
    if args.recipient_checks is not None:
        changes["check_recipients"] = args.recipient_checks == "on"
    for option in ("always_sign", "encrypt_when_possible"):
        if getattr(args, option) is not None:
            changes[option] = getattr(args, option) == "on"
    limits = {k: getattr(args, k) for k in ("per_minute", "per_hour", "per_day")}
    if any(v is not None for v in limits.values()):
        changes["limits"] = acct.limits._replace(
            **{k: v for k, v in limits.items() if v is not None}
        )
    days = args.give_up_after_days
    retry = {
        "first_delay": args.retry_first,
        "max_delay": args.retry_max,
        "give_up_after": None if days is None else days * 86400.0,
    }
    if any(v is not None for v in retry.values()):
        changes["retry"] = acct.retry._replace(**{k: v for k, v in retry.items() if v is not None})
    if not changes and not args.default:
        raise UsageError("Give at least one setting to change; see mailgui account set --help.")
    new = acct._replace(**changes).validate()
    store.save(new, make_default=args.default)
    said = ", ".join(k.replace("_", " ") for k in changes) or "nothing else"
    default = "; it is the default account" if args.default else ""
    print(f"Updated account {acct.name!r}: {said}{default}.")
    return EX_OK


def _read_signature(path: str) -> str:
    """A signature file's text as accounts keep it: LF line ends, no trailing newline."""
    return _read_text(path, "signature file").replace("\r\n", "\n").rstrip("\n")


def _count(text: str) -> int:
    """argparse type: a whole number, 0 or more."""
    import argparse

    if not text.isdigit():
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number (0 or more)")
    return int(text)


def _seconds(text: str) -> float:
    """argparse type: a positive number (seconds, days)."""
    import argparse

    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive number")
    return value


def cmd_account_list(args: argparse.Namespace) -> int:
    store = _store()
    accounts = store.all()
    default = store.default_name()
    if args.json:
        _print_json([_account_json(a, default, with_password=False) for a in accounts])
        return EX_OK
    if not accounts:
        print("No accounts yet; add one with 'mailgui account add'.")
    for a in accounts:
        mark = "*" if a.name == default else " "
        where = "direct" if a.direct else f"{a.server} {a.security}"
        print(f"{mark} {a.name:<16} {a.email:<32} {where}")
    return EX_OK


def cmd_account_show(args: argparse.Namespace) -> int:
    store = _store()
    acct = store.get(args.name)
    doc = _account_json(acct, store.default_name())
    if args.json:
        _print_json(doc)
        return EX_OK
    for key in (
        "name",
        "email",
        "display_name",
        "host",
        "port",
        "security",
        "username",
        "ca_file",
        "direct",
        "default",
        "auth",
        "has_password",
        "timeout",
        "data_timeout",
    ):
        print(f"{key + ':':<14} {doc[key]}")
    if doc["oauth2"] is not None:
        for key, value in doc["oauth2"].items():
            print(f"{'oauth2 ' + key + ':':<14} {value}")
    if acct.reply_to:
        print(f"{'reply_to:':<14} {acct.reply_to}")
    if acct.signature:
        first, *more = acct.signature.splitlines() or [""]
        print(f"{'signature:':<14} {first}" + (f" (+{len(more)} lines)" if more else ""))
    for identity in acct.identities:
        shown = f"{identity.name} <{identity.email}>" if identity.name else identity.email
        extra = f", Reply-To {identity.reply_to}" if identity.reply_to else ""
        extra += ", signed" if identity.signature else ""
        print(f"{'identity:':<14} {shown}{extra}")
    print(f"{'retry:':<14} {doc['retry']}")
    print(f"{'limits:':<14} {doc['limits']}")
    return EX_OK


def cmd_account_remove(args: argparse.Namespace) -> int:
    from mailgui.core import passwords

    store = _store()
    store.remove(args.name)
    passwords.forget(args.name)  # the password, or the OAuth2 refresh token
    from mailgui.core.sign_in import client_secret_slot

    passwords.forget(client_secret_slot(args.name))
    with _outbox() as outbox:
        waiting = [m for m in outbox.list_messages(account=args.name) if m.state != "sent"]
    print(f"Removed account {args.name!r}.")
    if waiting:
        _say(
            f"{len(waiting)} message(s) of this account stay in the outbox; add the account "
            "again to send them, or delete them."
        )
    return EX_OK


def cmd_account_test(args: argparse.Namespace) -> int:
    from mailgui.core.transport import Session

    engine = _engine()
    acct = engine.account(args.name)
    if acct.direct:
        print(f"Account {acct.name!r} delivers directly; there is no server to test.")
        return EX_OK
    with Session(acct, engine.credentials.login(acct)) as session:
        info = session.open()
    print(f"Connected to {acct.server}.")
    if info.tls_version:
        print(f"Encrypted with {info.tls_version} ({info.cipher}); certificate verified.")
        print(f"Certificate: {info.cert_subject} (issued by {info.cert_issuer})")
    else:
        print("Not encrypted (security: none).")
    if info.authenticated_as:
        print(f"Logged in as {info.authenticated_as}.")
    if info.size_limit:
        from mailgui.core.sizes import human_size

        print(f"The server accepts messages up to {human_size(info.size_limit)}.")
    print("The account works.")
    return EX_OK


def cmd_account_discover(args: argparse.Namespace) -> int:
    from mailgui.core.discovery import discover

    result = discover(args.address)
    if args.json:
        _print_json(result.as_json())
        return EX_OK
    for step in result.steps:
        print(f"[{step.source}] {step.text}")
    if result.candidates:
        print("\nCandidates, in order:")
    for c in result.candidates:
        status = "not probed"
        if c.probe is not None:
            status = ("works" if c.probe.ok else "does not work") + f": {c.probe.detail}"
        print(f"  {c.host}:{c.port} {c.security:<8} ({c.source}) {status}")
    best = result.suggested
    if best is None:
        _say(f"No working submission server was found for {result.domain}; ask your provider.")
        return EX_UNAVAILABLE
    print(
        f"\nSuggested: mailgui account add NAME --email {result.address} --host {best.host} "
        f"--port {best.port} --security {best.security} --password-stdin"
    )
    if best.probe is not None and not best.probe.ok:
        _say(f"Warning: {best.host}:{best.port} could not be reached from here just now.")
    return EX_OK


def _report_checks(queued: Queued) -> int | None:
    """Say on stderr what the recipient checks found and what the policy did (a null-MX
    recipient taken out for good); an exit code when nobody was left to send to."""
    for f in queued.findings:
        if f.level == "warn":
            _say(f"Warning: {f.message}")
        elif f.level == "note":
            _say(f"Note: {f.message}")
    blocked = queued.blocked_domains
    if not blocked:
        return None
    if queued.row is None:  # another sender (the app, the agent) took it first
        for f in queued.findings:
            if f.level == "block":
                _say(f"Warning: {f.message}")
        return None
    if not queued.failed:
        for addr, reason in queued.refused.items():
            _say(f"Not sending to {addr}: {reason[0].lower()}{reason[1:]}")
        return None
    domains = ", ".join(blocked)
    _say(
        f"Message {queued.id} was not sent and has failed: the domain {domains} accepts no "
        "mail (null MX record); check the address."
        if len(blocked) == 1
        else f"Message {queued.id} was not sent and has failed: the domains {domains} "
        "accept no mail (null MX records); check the addresses."
    )
    return EX_UNAVAILABLE


# --- composing and queueing -----------------------------------------------------------


def _read_text(path: str, what: str) -> str:
    try:
        raw = sys.stdin.buffer.read() if path == "-" else Path(path).read_bytes()
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise InputError(f"Cannot read the {what} {path!r} ({reason}); check the path.") from None
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise InputError(f"The {what} {path!r} is not UTF-8 text; convert it to UTF-8.") from None


PAST_SLACK_S = 60.0  # "--at 09:30" typed at 09:30:40 still means now, not a mistake


def _parse_at(text: str) -> float:
    import time
    from datetime import datetime

    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise UsageError(
            f"--at {text!r} is not an ISO-8601 time; write it like 2026-12-01T09:30 or "
            "2026-12-01T09:30+01:00."
        ) from None
    at = when.astimezone().timestamp()  # naive = local time
    if at < time.time() - PAST_SLACK_S:
        shown = datetime.fromtimestamp(at).astimezone().strftime("%Y-%m-%d %H:%M %Z")
        raise UsageError(
            f"--at {text!r} ({shown}) is in the past, so nothing was queued; give a later "
            "time, or leave --at out to send now."
        )
    return at


def _account_mailbox(acct: Account) -> Any:
    from mailgui.core.addresses import Mailbox

    return Mailbox(acct.display_name, acct.email)


def cmd_cert_import(args: argparse.Namespace) -> int:
    from mailgui.core import certificates

    done = certificates.import_file(_engine().profile, Path(args.file))
    if args.json:
        _print_json(
            [
                {"fingerprint": c.fingerprint, "addresses": c.addresses, "not_after": c.not_after}
                for c in done
            ]
        )
        return EX_OK
    for c in done:
        print(f"Imported the certificate of {', '.join(c.addresses)} (valid until "
              f"{c.not_after[:10]}).")  # fmt: skip
    return EX_OK


def _protect(args: Any, account: Account | None = None) -> Any:
    """``--sign``, ``--encrypt`` and ``--smime-recipient-cert`` as an engine.Protect;
    with ``account`` (``send``), joined to what the account does by default unless
    ``--no-sign`` or ``--no-encrypt`` (``sendmail`` signs only when asked: a program's
    mail never waits for a passphrase it did not expect)."""
    from mailgui.core.engine import Protect

    default = (Protect.by_default(account) if account is not None else None) or Protect()
    sign = args.sign or (default.sign and not args.no_sign)
    encrypt = args.encrypt or (default.encrypt and not args.no_encrypt)
    if not (sign or encrypt):
        if args.smime_recipient_cert:
            raise UsageError("--smime-recipient-cert goes with --encrypt.")
        return None
    certs = []
    for name in args.smime_recipient_cert:
        try:
            certs.append(Path(name).read_bytes())
        except OSError as exc:
            raise InputError(
                f"The certificate file {name!r} cannot be read ({exc.strerror}); check the path."
            ) from None
    return Protect(
        sign=sign,
        encrypt=encrypt,
        recipient_certs=tuple(certs),
        opportunistic=encrypt and not args.encrypt,  # the account's "when possible"
    )


def cmd_send(args: argparse.Namespace) -> int:
    from mailgui.core.addresses import parse_recipients
    from mailgui.core.message import Draft, build

    if args.body is None and args.body_file is None and args.html_file is None:
        raise UsageError("Give the message text with --body, --body-file or --html-file.")
    if args.body is not None and args.body_file is not None:
        raise UsageError("Give the text either with --body or with --body-file, not both.")
    engine = _engine()
    acct = engine.account(args.account)
    text = args.body if args.body is not None else None
    if args.body_file is not None:
        text = _read_text(args.body_file, "body file")
    html = _read_text(args.html_file, "HTML file") if args.html_file else None
    send_at = _parse_at(args.at) if args.at else None
    draft = Draft(
        sender=_account_mailbox(acct),
        to=parse_recipients(args.to or [], what="To address"),
        cc=parse_recipients(args.cc or [], what="Cc address"),
        bcc=parse_recipients(args.bcc or [], what="Bcc address"),
        subject=args.subject,
        text=text,
        html=html,
        attachments=[Path(p) for p in args.attach or []],
    )
    # The checks run while the message is built; nothing waits for them before it is queued.
    checks = engine.check_recipients(acct, [m.addr for m in draft.to + draft.cc + draft.bcc])
    out = build(draft)
    with _outbox() as outbox:
        # Durable before any DNS answer; then the checks' findings (also with --queue-only
        # and --at: it is queued already): a null-MX recipient is taken out before the try.
        queued = engine.queue(
            outbox, acct, out, send_at=send_at, checks=checks, protect=_protect(args, acct)
        )
        msg_id = queued.id
        del out  # a big message is in the outbox now; do not hold a second copy while sending
        refused = _report_checks(queued)
        if refused is not None:
            if args.json:
                _print_json(outbox.get(msg_id).as_json())
            return refused
        if args.queue_only or send_at is not None:
            row = outbox.get(msg_id)
            if args.json:
                _print_json(row.as_json())
            elif row.state == "scheduled":
                print(f"Scheduled message {msg_id} for {_local(row.send_at)}.")
            else:
                print(f"Queued message {msg_id}.")
            return EX_OK
        return _attempt(outbox, [msg_id], args.json, single=True)


def _attempt(
    outbox: Outbox,
    ids: Sequence[int] | None,
    as_json: bool,
    *,
    single: bool = False,
    account: str | None = None,
) -> int:
    """Try the given (or all due) messages once now and report like `send`."""
    report = _delivery(outbox).flush(include_deferred=True, ids=ids, account=account)
    rows = [outbox.get(i) for i in (ids if single and ids else report.ids)]
    if as_json:
        _print_json(rows[0].as_json() if single else [r.as_json() for r in rows])
    _print_outcomes(rows, report, quiet=as_json)
    return report.exit_code()


def _print_outcomes(rows: list[MessageRow], report: FlushReport, *, quiet: bool) -> None:
    """Errors always go to stderr; the progress lines on stdout only without --json."""
    from mailgui.core.engine import NULL_MX

    out = (lambda _text: None) if quiet else print
    for copy in report.copies:
        if copy.state == "copy-filed":
            out(f"Filed a copy of message {copy.id} in the Sent folder.")
        else:
            done = "will not be filed" if copy.state == "copy-failed" else "is not filed yet"
            _say(f"The Sent copy of message {copy.id} {done}: {copy.error}")
    if not rows:
        if not report.copies:
            out("Nothing to send.")
        return
    errors = {o.id: o.error for o in report.outcomes if not o.state.startswith("copy-")}
    attempted = set(report.ids)
    for row in rows:
        if row.state == "sent" and row.id not in attempted:
            continue  # sent before: only its Sent copy was filed now (said above)
        if row.state == "sent":
            out(f"Sent message {row.id} to {', '.join(row.to + row.cc + row.bcc)}.")
            for addr, reply in row.recipient_errors.items():
                if NULL_MX in reply:  # taken out before the try, and said so then
                    continue
                _say(f"The server refused {addr} ({reply}); the others got the message.")
        elif row.state == "failed":
            _say(f"Message {row.id} failed: {errors.get(row.id) or row.last_error}")
        else:
            _say(f"Message {row.id} is still in the outbox: {errors.get(row.id) or row.last_error}")
            if row.next_attempt_at:
                out(f"Message {row.id} will be tried again at {_local(row.next_attempt_at)}.")


# --- sendmail -------------------------------------------------------------------------


_IGNORED = ("-i", "-oi", "-v", "-m", "-bm")  # -bm: read a message on stdin, the default
# sendmail's delivery modes: q(ueue) and d(eferred) only queue, as msmtpq does; the app or
# the agent sends the message later. i(nteractive), b(ackground), f: queue, then one try.
_QUEUE_ONLY = ("-odq", "-odd", "-ODeliveryMode=q", "-ODeliveryMode=d", "--queue-only")
_DELIVER_NOW = ("-odi", "-odb", "-odf", "-ODeliveryMode=i", "-ODeliveryMode=b")


def _parse_sendmail_args(argv: list[str]) -> SimpleNamespace:
    """sendmail's own syntax: -t, -i, -oi, -f FROM / -fFROM, -F NAME, -oX, -BX, ..."""
    ns = SimpleNamespace(
        extract=False,
        sender=None,
        account=None,
        wait=False,
        queue_only=False,
        recipients=[],
        full_name=None,
        sign=False,
        encrypt=False,
        smime_recipient_cert=[],
    )
    it = iter(argv)
    for arg in it:
        if arg == "--help":
            sys.stdout.write(SENDMAIL_HELP)
            raise SystemExit(EX_OK)
        if arg == "--":
            ns.recipients.extend(it)
            break
        if arg in ("--wait",):
            ns.wait = True
        elif arg in ("--sign", "--encrypt"):
            setattr(ns, arg[2:], True)
        elif arg in _QUEUE_ONLY:
            ns.queue_only = True  # sendmail's delivery mode "queue": the sender sends it later
        elif arg in _DELIVER_NOW:
            ns.queue_only = False
        elif arg == "--account" or arg.startswith("--account="):
            ns.account = arg.partition("=")[2] if "=" in arg else next(it, None)
            if not ns.account:
                raise UsageError("--account needs an account name.")
        elif arg == "-t":
            ns.extract = True
        elif arg in ("-f", "-r", "-F"):
            value = next(it, None)
            if value is None:
                raise UsageError(f"{arg} needs a value.")
            if arg == "-F":
                ns.full_name = value
            else:
                ns.sender = value
        elif arg[:2] in ("-f", "-r") and len(arg) > 2:
            ns.sender = arg[2:]
        elif arg.startswith("-F") and len(arg) > 2:
            ns.full_name = arg[2:]
        elif arg in ("-o", "-B", "-N", "-R", "-V", "-X"):
            # these take a value, joined (-Nnever) or separate (-N never): never a recipient
            if next(it, None) is None:
                raise UsageError(f"{arg} needs a value.")
        elif arg in _IGNORED or arg[:2] in ("-o", "-B", "-N", "-R", "-V", "-X"):
            continue  # accepted for compatibility; mailgui never ends input at a "." line
        elif arg.startswith("-b"):
            raise UsageError(
                f"The sendmail mode {arg!r} is not supported (only -bm, deliver a message "
                "read on stdin); use 'mailgui outbox list' to see the queue."
            )
        elif arg.startswith("-"):
            raise UsageError(f"The sendmail option {arg!r} is not supported; see 'mailgui --help'.")
        else:
            ns.recipients.append(arg)
    if ns.wait and ns.queue_only:
        raise UsageError("Give either --wait (report the outcome) or -odq (only queue), not both.")
    return ns


# A local name without a domain, as cron and other system tools give it ("root").
_LOCAL_NAME = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
_BARE_LOCAL = re.compile(_LOCAL_NAME)
# cron's From header: "root (Cron Daemon)", or "Cron Daemon <root>", or just "root".
_LOCAL_FROM = re.compile(
    rf"\s*(?:(?P<local>{_LOCAL_NAME})\s*(?:\((?P<comment>[^()\\]*)\))?"
    rf"|(?P<name>[^\x00-\x1f\"<>()@,;:\\]*?)\s*<(?P<local2>{_LOCAL_NAME})>)\s*"
)


def _local_from(msg: Any) -> str | None:
    """When the message's only From header names a local user without a domain (cron's
    ``From: root (Cron Daemon)``), remove it and return the name to show instead (the
    comment or display name, maybe empty); None when From is absent or something else."""
    values = [v for k, v in msg.raw_items() if k.lower() == "from"]
    if len(values) != 1:
        return None
    text = re.sub(r"\r?\n[ \t]", " ", str(values[0])).strip()
    m = _LOCAL_FROM.fullmatch(text)
    if m is None:
        return None
    del msg["From"]
    return (m.group("comment") or m.group("name") or "").strip()


def _local_recipients(recipients: list[str], acct: Account) -> list[str]:
    """A bare local name ("root", as cron gives it) goes to the account's own address,
    which is what msmtp's aliases file is usually set up to do."""
    from mailgui.core.log import get_logger

    result = []
    for rcpt in recipients:
        if _BARE_LOCAL.fullmatch(rcpt.strip()):
            get_logger("mailgui.sendmail").info(
                "recipient %r has no domain; delivering it to the account's address %s",
                rcpt.strip(),
                acct.email,
            )
            rcpt = acct.email
        result.append(rcpt)
    return result


def cmd_sendmail(argv: list[str]) -> int:
    from mailgui.core.addresses import Mailbox, check_text, parse_mailbox, parse_recipients
    from mailgui.core.submitted import header_sender, prepare_submitted, read_submitted

    args = _parse_sendmail_args(argv)
    raw = sys.stdin.buffer.read()
    msg = read_submitted(raw)
    engine = _engine()
    local_from = _local_from(msg)
    from_header = header_sender(msg)
    acct = None
    if args.account:
        acct = engine.account(args.account)
    elif from_header is not None:
        acct = engine.accounts.find_by_email(from_header.addr)
    if acct is None:
        acct = engine.account()
    sender = _account_mailbox(acct)
    if local_from:
        sender = Mailbox(check_text("name in the From header", local_from), sender.addr)
    elif args.full_name:
        sender = Mailbox(args.full_name, sender.addr)  # checks the name
    envelope_from = parse_mailbox(args.sender, what="sender").addr if args.sender else None
    if envelope_from is None and from_header is not None and from_header.addr != acct.email:
        # A From the account does not own: bounce to the account, which providers accept.
        envelope_from = acct.email
    out = prepare_submitted(
        msg,
        sender=sender,
        recipients=parse_recipients(_local_recipients(args.recipients, acct), what="recipient"),
        extract_recipients=args.extract,
        envelope_from=envelope_from,
    )
    with _outbox() as outbox:
        msg_id = engine.queue(outbox, acct, out, protect=_protect(args)).id
        if args.wait:
            return _attempt(outbox, [msg_id], False, single=True)
        if args.queue_only:
            return EX_OK
        try:  # queued is done; one quiet try now, the outcome is in the outbox and the log
            _delivery(outbox).flush(include_deferred=True, ids=[msg_id])
        except MailguiError:
            pass
    return EX_OK


# --- the outbox -----------------------------------------------------------------------


def cmd_outbox_list(args: argparse.Namespace) -> int:
    # The rows hold no cycles: the collector's passes over a hundred thousand messages'
    # new lists and dicts would only cost time (a third of a second, issue 19).
    collecting = gc.isenabled()
    gc.disable()
    try:
        return _outbox_list(args)
    finally:
        if collecting:
            gc.enable()


def _outbox_list(args: argparse.Namespace) -> int:
    with _outbox() as outbox:
        outbox.recover_stale()
        outbox.promote_due()
        rows = outbox.list_messages(state=args.state)
    if args.json:
        _print_json_list([r.as_json() for r in rows])
        return EX_OK
    if not rows:
        print("The outbox is empty." if args.state is None else f"No {args.state} messages.")
        return EX_OK
    print(f"{'ID':>5}  {'STATE':<9} {'ACCOUNT':<12} {'TO':<28} {'SUBJECT':<28} TRIES  WHEN")
    for r in rows:
        when = _local(r.sent_at if r.state == "sent" else r.next_attempt_at or r.send_at)
        to = ", ".join(r.to + r.cc + r.bcc)
        print(
            f"{r.id:>5}  {r.state:<9} {r.account[:12]:<12} {to[:28]:<28} "
            f"{r.subject[:28]:<28} {r.attempts:>5}  {when}"
        )
        if r.last_error and r.state != "sent":
            print(f"{'':>7}{r.last_error}")
    return EX_OK


def cmd_outbox_show(args: argparse.Namespace) -> int:
    from mailgui.core.outbox import iso

    with _outbox() as outbox:
        row = outbox.get(args.id)
        events = outbox.events(args.id)
        head = outbox.body(args.id).split(b"\r\n\r\n", 1)[0].decode("utf-8", "replace")
    if args.json:
        doc = row.as_json()
        doc["pending"] = row.pending
        doc["events"] = [
            {
                "at": iso(e.at),
                "kind": e.kind,
                "text": e.text,
            }
            for e in events
        ]
        doc["headers"] = head
        _print_json(doc)
        return EX_OK
    doc = row.as_json()
    for key in (
        "id",
        "state",
        "account",
        "subject",
        "from",
        "to",
        "cc",
        "bcc",
        "message_id",
        "attempts",
        "last_error",
    ):
        value = doc[key]
        print(f"{key + ':':<12} {', '.join(value) if isinstance(value, list) else value}")
    print(f"{'created:':<12} {_local(row.created_at)}")
    if row.send_at:
        print(f"{'send at:':<12} {_local(row.send_at)}")
    if row.next_attempt_at:
        print(f"{'next try:':<12} {_local(row.next_attempt_at)}")
    if row.sent_at:
        print(f"{'sent:':<12} {_local(row.sent_at)}")
    for addr, reply in row.recipient_errors.items():
        print(f"{'refused:':<12} {addr}: {reply}")
    print("\nHistory:")
    for e in events:
        print(f"  {_local(e.at)}  {e.kind:<10} {e.text}")
    print("\nHeaders:\n" + head)
    return EX_OK


def cmd_outbox_retry(args: argparse.Namespace) -> int:
    if args.all == (args.id is not None):
        raise UsageError("Give either a message id or --all to 'outbox retry'.")
    with _outbox() as outbox:
        if args.all:
            ids = outbox.retry_all()
            ids += [r.id for r in outbox.list_messages(state="queued") if r.id not in ids]
        else:
            ids = [outbox.retry(args.id).id]
        return _attempt(outbox, ids, args.json, single=not args.all)


def cmd_outbox_delete(args: argparse.Namespace) -> int:
    with _outbox() as outbox:
        outbox.delete(args.id)
    print(f"Deleted message {args.id}.")
    return EX_OK


def cmd_outbox_flush(args: argparse.Namespace) -> int:
    if args.account:
        _store().get(args.account)
    with _outbox() as outbox:
        return _attempt(outbox, None, args.json, account=args.account)


# --- the headless agent ---------------------------------------------------------------


def cmd_agent(args: argparse.Namespace) -> int:
    import logging
    import signal

    from mailgui.core.agent import Agent
    from mailgui.core.log import get_logger

    profile = _profile()
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("mailgui agent: %(levelname)s %(message)s"))
    get_logger().addHandler(handler)
    agent = Agent(profile, stop_grace=args.stop_timeout)
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda _signum, _frame: agent.stop())
    return agent.run()


# --- the GUI --------------------------------------------------------------------------


def cmd_gui(args: argparse.Namespace) -> int:
    return _open_gui(demo=args.demo)


def cmd_mailto(url: str) -> int:
    """``mailgui mailto:...`` (what a browser runs): a compose window filled from the link,
    in the running app if there is one. The link is checked here first, without Qt."""
    from mailgui.core.mailto import parse_mailto

    link = parse_mailto(url)
    if link.ignored:
        _say(f"Note: the link's {', '.join(link.ignored)} field(s) are ignored.")
    return _open_gui(demo=False, mailto=url)


def _open_gui(*, demo: bool, mailto: str | None = None) -> int:
    import os

    from mailgui.core.errors import ConfigError

    if sys.platform.startswith("linux") and not (
        os.environ.get("DISPLAY")
        or os.environ.get("WAYLAND_DISPLAY")
        or os.environ.get("QT_QPA_PLATFORM")
    ):
        raise ConfigError(
            "There is no display to open the window on (DISPLAY is not set); run mailgui in "
            "a desktop session, or use the command line (mailgui --help)."
        )
    try:
        from mailgui.ui.app import run
    except ImportError as exc:
        raise ConfigError(
            f"The desktop window cannot start because Qt could not be loaded ({exc}); on "
            "Debian install libegl1 libgl1 libxkbcommon0 libxkbcommon-x11-0 libfontconfig1 "
            "libdbus-1-3 libxcb-cursor0, or use the command line (mailgui --help)."
        ) from None
    return run(demo=demo, mailto=mailto)


# --- help texts -----------------------------------------------------------------------

EXAMPLES: dict[str, str] = {
    "mailgui": """\
Without a command, mailgui opens the desktop app (the outbox window); a mailto: link
opens a compose window filled from it (in the running app, if there is one).

examples:
  mailgui                                       the desktop app
  mailgui "mailto:bob@example.org?subject=Hi"   compose to Bob
  mailgui account add work --email me@example.org --host smtp.example.org --password-stdin
  mailgui send --to bob@example.org --subject Hi --body "Hello Bob"
  echo "Subject: backup done" | mailgui sendmail admin@example.org
  mailgui outbox list
  mailgui agent                                 send in the background, no window

Exit codes: 0 done, 64 bad usage, 65 bad input, 69 refused for good, 75 kept in the
outbox to retry, 77 login refused, 78 configuration problem.
Profile: $MAILGUI_HOME (config/, data/outbox.sqlite3, state/mailgui.log), else the
platform's folders for "mailgui". Passwords live only in the system keyring.""",
    "account": """\
examples:
  mailgui account discover me@example.org
  printf '%s\\n' "$PASSWORD" | mailgui account add work --email me@example.org \\
      --host smtp.example.org --password-stdin
  mailgui account add relay --email me@example.org --host 10.0.0.1 --port 25 --security none
  mailgui account add direct --email me@example.org --direct
  mailgui account list --json
  mailgui account test work""",
    "account add": """\
examples:
  printf '%s\\n' "$PASSWORD" | mailgui account add work --email me@example.org \\
      --host smtp.example.org --password-stdin            (STARTTLS on 587)
  mailgui account add gmail --email me@gmail.com --host smtp.gmail.com --security tls \\
      --password-stdin --default                           (implicit TLS on 465)
  mailgui account add direct --email me@example.org --direct""",
    "account set": """\
examples:
  mailgui account set work --per-minute 5 --per-day 500     (a provider's sending limits)
  mailgui account set work --timeout 60 --retry-max 3600
  mailgui account set work --reply-to team@example.org --signature-file sig.txt
  mailgui account set relay --recipient-checks off --default""",
    "account list": "examples:\n  mailgui account list\n  mailgui account list --json",
    "account show": "examples:\n  mailgui account show work\n  mailgui account show work --json",
    "account remove": "example:\n  mailgui account remove work",
    "account test": "example:\n  mailgui account test work   (log in, send nothing)",
    "account discover": "examples:\n  mailgui account discover me@example.org\n"
    "  mailgui account discover me@example.org --json",
    "send": """\
examples:
  mailgui send --to bob@example.org --subject Hi --body "Hello Bob"
  mailgui send --account work --to a@example.org b@example.org --cc c@example.org \\
      --subject Report --html-file report.html --attach report.pdf
  mailgui send --to bob@example.org --subject Later --body-file note.txt --at 2030-12-01T09:30
  some-command | mailgui send --to me@example.org --subject Output --body-file -""",
    "outbox": """\
examples:
  mailgui outbox list --state deferred
  mailgui outbox show 12 --json
  mailgui outbox retry --all
  mailgui outbox flush --account work""",
    "outbox list": "examples:\n  mailgui outbox list\n  mailgui outbox list --state failed --json",
    "outbox show": "example:\n  mailgui outbox show 12",
    "outbox retry": "examples:\n  mailgui outbox retry 12\n  mailgui outbox retry --all",
    "outbox delete": "example:\n  mailgui outbox delete 12",
    "outbox flush": "examples:\n  mailgui outbox flush\n"
    "  mailgui outbox flush --account work --json",
    "agent": """\
Keeps the outbox moving without a window: sends due and scheduled messages, follows the
retry schedule, notices the network coming back and messages queued by other programs,
and logs what it does (stderr and the profile's log). SIGTERM or Ctrl-C: the message
being sent finishes (or goes back to the queue after --stop-timeout), then it exits 0.
Only one sender per profile follows the schedule: while the agent runs, the desktop app
only shows the outbox (and the other way round).

examples:
  mailgui agent
  systemctl --user enable --now mailgui-agent     (packaging/mailgui-agent.service)""",
}

SENDMAIL_HELP = """\
usage: mailgui sendmail [-t] [-f FROM | -r FROM] [-F NAME] [-i] [-oi] [-bm]
                        [--account NAME] [--wait | -odq] [--sign] [--encrypt]
                        [--] [RECIPIENT...]
       mailgui-sendmail ...   (also when installed or linked as "sendmail")

Read a message (headers, empty line, body) on stdin, queue it durably, then try once.
Exits 0 once it is queued, even if the server is down: it is sent later by the app or
the agent. --wait reports the delivery instead (75 when it stays queued); -odq only
queues it.

  -t            also send to the To, Cc and Bcc headers (Bcc headers are removed)
  -f, -r FROM   envelope sender (bounce address)
  -F NAME       the sender's name when the message has no From header
  -i, -oi, -bm  accepted (a line with a single dot never ends the input)
  -oX, -BX, -N, -R, -V, -X, -v, -m   accepted and ignored, as msmtp does
  --account NAME  send with this account (default: the one whose address is in From,
                else the default account)
  --wait        wait for the outcome and exit like 'mailgui send'
  -odq, -odd, --queue-only   only queue it (sendmail's queue delivery mode; msmtpq
                does the same): the app or 'mailgui agent' sends it later
  -odi, -odb    queue, then one try (the default)
  --sign        sign with the account's OpenPGP key (or S/MIME certificate)
  --encrypt     encrypt to every recipient and the sender; nothing is queued (exit 65)
                when a recipient has no usable key

A recipient without a domain ("root", as cron gives it) goes to the account's own
address; a From without a domain ("root (Cron Daemon)") becomes the account's address.

examples:
  echo "Subject: backup done" | mailgui sendmail admin@example.org
  mailgui sendmail -t < message.eml
  git config sendemail.sendmailCmd mailgui-sendmail       (git send-email)
  MAILTO=me@example.org in a crontab, with /usr/sbin/sendmail linked to mailgui-sendmail
"""


def _with_examples(parser: argparse.ArgumentParser, key: str) -> None:
    import argparse

    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = EXAMPLES[key]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                if f"{key} {name}".removeprefix("mailgui ") in EXAMPLES:
                    _with_examples(sub, f"{key} {name}".removeprefix("mailgui "))


# --- wiring ---------------------------------------------------------------------------


def _usage_sentence(message: str, prog: str) -> str:
    """argparse's complaint as one sentence; a mistyped command gets "did you mean"."""
    import difflib

    found = re.search(r"invalid choice: '([^']*)' \(choose from (.*)\)", message)
    if not found:
        return f"{message[0].upper()}{message[1:]}; see {prog} --help."
    typed, choices = found.group(1), re.findall(r"'([^']*)'", found.group(2))
    close = difflib.get_close_matches(typed, choices, n=1, cutoff=0.6)
    guess = f"; did you mean '{prog} {close[0]}'?" if close else "."
    return f"'{typed}' is not a command of {prog}{guess} See {prog} --help."


def build_parser() -> argparse.ArgumentParser:
    import argparse  # not for sendmail, which parses its own options: a start ~4 ms sooner

    class _Parser(argparse.ArgumentParser):
        """argparse that reports bad usage with exit code 64 (EX_USAGE), not 2."""

        def error(self, message: str) -> NoReturn:
            self.print_usage(sys.stderr)
            print(f"mailgui: {_usage_sentence(message, self.prog)}", file=sys.stderr)
            raise SystemExit(EX_USAGE)

    p = _Parser(prog="mailgui", description="Compose and send mail through a durable outbox.")
    p.add_argument("--version", action="version", version=f"mailgui {__version__}")
    p.add_argument("--demo", action="store_true", help="open the GUI on an embedded demo server")
    p.set_defaults(func=cmd_gui)
    sub = p.add_subparsers(title="commands", metavar="COMMAND", parser_class=_Parser)

    acc = sub.add_parser(
        "account", help="add, change, list, show, remove, test or discover SMTP accounts"
    )
    asub = acc.add_subparsers(metavar="ACTION", required=True, parser_class=_Parser)
    a = asub.add_parser("add", help="add (or update) an account")
    a.add_argument("name", help="a short name for the account (e.g. work)")
    a.add_argument("--email", required=True, help="the address messages are sent from")
    a.add_argument("--host", help="the SMTP submission server")
    a.add_argument("--port", type=int, help="default: 587 for starttls, 465 for tls, 25 for none")
    a.add_argument(
        "--security",
        choices=("starttls", "tls", "none"),
        default="starttls",
        help="starttls (port 587, the default), tls (implicit TLS, port 465) or none (only "
        "for a relay that needs no password)",
    )
    a.add_argument("--username", help="login name (default: the address, when a password is given)")
    a.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    a.add_argument("--display-name", help="the name shown in From")
    a.add_argument("--ca-file", help="trust this CA certificate (PEM) instead of the system's")
    a.add_argument("--default", action="store_true", help="make this the default account")
    a.add_argument("--direct", action="store_true", help="deliver straight to recipients' MX")
    a.add_argument("--timeout", type=float, help="seconds to wait for the server (default 30)")
    a.add_argument(
        "--data-timeout",
        type=float,
        help="seconds to wait for the reply to a whole message (default 300)",
    )
    a.add_argument(
        "--reply-to",
        metavar="ADDR",
        help="where replies go (one or more addresses, comma-separated)",
    )
    a.add_argument(
        "--signature-file", metavar="F", help="UTF-8 text file with the signature ('-' for stdin)"
    )
    a.add_argument(
        "--no-recipient-checks",
        action="store_true",
        help="do not look up recipient domains in DNS before queueing "
        "(for relays serving internal domains)",
    )
    a.add_argument(
        "--always-sign", action="store_true",
        help="sign every message by default (send --no-sign leaves one unsigned)",
    )  # fmt: skip
    a.add_argument(
        "--encrypt-when-possible", action="store_true",
        help="encrypt by default when every recipient has a key, else send in clear",
    )  # fmt: skip
    a.add_argument(
        "--oauth2", metavar="PROVIDER",
        help="sign in with OAuth2 instead of a password: microsoft, google or an issuer URL "
        "(then run 'mailgui account login NAME')",
    )  # fmt: skip
    a.add_argument("--client-id", help="the OAuth2 client id of your registered application")
    a.add_argument(
        "--client-secret-stdin", action="store_true",
        help="read the OAuth2 client secret from stdin (kept in the keyring)",
    )  # fmt: skip
    a.add_argument(
        "--scope", nargs="+", action="append", metavar="SCOPE",
        help="OAuth2 scopes to ask for (default: the provider's for sending mail)",
    )  # fmt: skip
    a.add_argument(
        "--oauth2-token-command", metavar="CMD",
        help="a command that prints an OAuth2 access token (run without a shell; "
        "nothing is stored)",
    )  # fmt: skip
    a.add_argument(
        "--imap-host", metavar="HOST",
        help="the IMAP server where a copy of each sent message is filed (Sent folder)",
    )  # fmt: skip
    a.add_argument(
        "--imap-port", type=int, metavar="N", help="default: 993 for tls, 143 for starttls"
    )
    a.add_argument(
        "--imap-security", choices=("tls", "starttls"), default="tls",
        help="tls (implicit TLS, port 993, the default) or starttls (port 143)",
    )  # fmt: skip
    a.add_argument(
        "--sent-folder", metavar="auto|NAME|none",
        help="where the copy goes: auto (the server's Sent folder, the default), a folder's "
        "name, or none (no copy; the default for Gmail and Outlook, which file it themselves)",
    )  # fmt: skip
    a.add_argument(
        "--pgp-key", metavar="FINGERPRINT",
        help="sign (and be encrypted to) with this OpenPGP key of your GnuPG keyring",
    )  # fmt: skip
    a.add_argument("--smime-cert", metavar="PEM", help="your S/MIME certificate (PEM file)")
    a.add_argument("--smime-key", metavar="PEM", help="the private key of --smime-cert (PEM)")
    a.set_defaults(func=cmd_account_add)
    a = asub.add_parser("login", help="sign in to an OAuth2 account and keep the grant")
    a.add_argument("name", help="the account's name")
    a.add_argument(
        "--no-browser", action="store_true",
        help="print the sign-in address instead of opening a browser",
    )  # fmt: skip
    a.add_argument(
        "--device", action="store_true",
        help="sign in with a code on another device (for machines without a browser)",
    )  # fmt: skip
    a.add_argument(
        "--timeout", type=_seconds, default=300.0, metavar="SECONDS",
        help="give up waiting for the browser after this long (default 300)",
    )  # fmt: skip
    a.set_defaults(func=cmd_account_login)
    a = asub.add_parser("set", help="change some settings of an account (limits, timeouts...)")
    a.add_argument("name", help="the account's name")
    a.add_argument("--display-name", help="the name shown in From")
    a.add_argument("--reply-to", metavar="ADDR", help="where replies go ('' for none)")
    a.add_argument("--signature-file", metavar="F", help="UTF-8 signature file ('-': stdin)")
    a.add_argument("--timeout", type=_seconds, help="seconds to wait for the server")
    a.add_argument(
        "--data-timeout", type=_seconds, help="seconds to wait for the reply to a whole message"
    )
    for unit in ("minute", "hour", "day"):
        a.add_argument(
            f"--per-{unit}", type=_count, metavar="N",
            help=f"send at most N messages per {unit} through this account (0: no limit)",
        )  # fmt: skip
    a.add_argument(
        "--retry-first", type=_seconds, metavar="SECONDS",
        help="wait this long before the second try (default 60; doubles each time)",
    )  # fmt: skip
    a.add_argument(
        "--retry-max", type=_seconds, metavar="SECONDS",
        help="never wait longer than this between tries (default 1800)",
    )  # fmt: skip
    a.add_argument(
        "--give-up-after-days", type=_seconds, metavar="DAYS",
        help="fail a message still not sent after this many days (default 5)",
    )  # fmt: skip
    a.add_argument(
        "--recipient-checks", choices=("on", "off"),
        help="look up recipient domains in DNS before queueing (off: for internal relays)",
    )  # fmt: skip
    a.add_argument(
        "--always-sign", choices=("on", "off"),
        help="sign every message by default (needs the account's key)",
    )  # fmt: skip
    a.add_argument(
        "--encrypt-when-possible", choices=("on", "off"),
        help="encrypt by default when every recipient has a key, else send in clear",
    )  # fmt: skip
    a.add_argument("--default", action="store_true", help="make this the default account")
    a.set_defaults(func=cmd_account_set)
    a = asub.add_parser("list", help="list accounts")
    a.add_argument("--json", action="store_true", help=JSON_HELP)
    a.set_defaults(func=cmd_account_list)
    a = asub.add_parser("show", help="show one account")
    a.add_argument("name", help="the account's name")
    a.add_argument("--json", action="store_true", help=JSON_HELP)
    a.set_defaults(func=cmd_account_show)
    a = asub.add_parser("remove", help="remove an account and its stored password")
    a.add_argument("name", help="the account's name")
    a.set_defaults(func=cmd_account_remove)
    a = asub.add_parser("test", help="connect, encrypt and log in, without sending")
    a.add_argument("name", help="the account's name")
    a.set_defaults(func=cmd_account_test)
    a = asub.add_parser("discover", help="suggest host, port and security for an address")
    a.add_argument("address", metavar="ADDR", help="the email address to find settings for")
    a.add_argument("--json", action="store_true", help=JSON_HELP)
    a.set_defaults(func=cmd_account_discover)

    c = sub.add_parser("cert", help="recipients' S/MIME certificates, for --encrypt")
    csub = c.add_subparsers(metavar="ACTION", required=True, parser_class=_Parser)
    a = csub.add_parser("import", help="keep a recipient's certificate (PEM or DER)")
    a.add_argument("file", metavar="FILE", help="the certificate file")
    a.add_argument("--json", action="store_true", help=JSON_HELP)
    a.set_defaults(func=cmd_cert_import)

    s = sub.add_parser("send", help="queue a message and try to send it now")
    s.add_argument("--account", help="default: the default account")
    for flag, who in (("--to", "recipients"), ("--cc", "copy recipients"), ("--bcc", "hidden "
                      "recipients (in no delivered copy's headers)")):  # fmt: skip
        s.add_argument(
            flag, nargs="+", action="extend", default=[], metavar="ADDR",
            help=f"{who}: one or more addresses; the flag may be repeated",
        )  # fmt: skip
    s.add_argument("--subject", required=True, help="the subject line")
    s.add_argument("--body", help="the message text (or --body-file, or --html-file alone)")
    s.add_argument("--body-file", metavar="F", help="UTF-8 text file ('-' for stdin)")
    s.add_argument("--html-file", metavar="F", help="HTML body; a plain-text part is made from it")
    s.add_argument(
        "--attach", nargs="+", action="extend", metavar="F",
        help="files to attach (MIME type guessed from the name); the flag may be repeated",
    )  # fmt: skip
    s.add_argument("--at", metavar="ISO-8601", help="send later (no zone = local time)")
    s.add_argument("--queue-only", action="store_true", help="queue without trying now")
    s.add_argument(
        "--sign", action="store_true",
        help="sign with the account's OpenPGP key (or S/MIME certificate)",
    )  # fmt: skip
    s.add_argument(
        "--encrypt", action="store_true",
        help="encrypt to every recipient and to you; refused, with nothing queued, when a "
        "recipient has no usable key or certificate",
    )  # fmt: skip
    s.add_argument(
        "--no-sign", action="store_true",
        help="leave this message unsigned, although the account signs by default",
    )  # fmt: skip
    s.add_argument(
        "--no-encrypt", action="store_true",
        help="send this message in clear, although the account encrypts when it can",
    )  # fmt: skip
    s.add_argument(
        "--smime-recipient-cert", nargs="+", action="extend", default=[], metavar="FILE",
        help="recipients' S/MIME certificates for this message (see also 'mailgui cert import')",
    )  # fmt: skip
    s.add_argument("--json", action="store_true", help=JSON_HELP)
    s.set_defaults(func=cmd_send)

    sm = sub.add_parser(
        "sendmail", help="read a message on stdin, like sendmail", add_help=False, prefix_chars="\0"
    )
    sm.add_argument("rest", nargs=argparse.REMAINDER)
    sm.set_defaults(func=lambda ns: cmd_sendmail(ns.rest))

    ob = sub.add_parser("outbox", help="list, show, retry, delete or flush queued messages")
    osub = ob.add_subparsers(metavar="ACTION", required=True, parser_class=_Parser)
    o = osub.add_parser("list", help="list messages")
    o.add_argument(
        "--state",
        choices=("scheduled", "queued", "sending", "sent", "deferred", "failed"),
        help="only messages in this state",
    )
    o.add_argument("--json", action="store_true", help=JSON_HELP)
    o.set_defaults(func=cmd_outbox_list)
    o = osub.add_parser("show", help="show one message, its history and headers")
    o.add_argument("id", type=int, help="the message's id (see 'outbox list')")
    o.add_argument("--json", action="store_true", help=JSON_HELP)
    o.set_defaults(func=cmd_outbox_show)
    o = osub.add_parser("retry", help="clear back-off and try now")
    o.add_argument("id", type=int, nargs="?", help="the message's id (see 'outbox list')")
    o.add_argument("--all", action="store_true", help="every deferred and failed message")
    o.add_argument("--json", action="store_true", help=JSON_HELP)
    o.set_defaults(func=cmd_outbox_retry)
    o = osub.add_parser("delete", help="delete a message")
    o.add_argument("id", type=int, help="the message's id (see 'outbox list')")
    o.set_defaults(func=cmd_outbox_delete)
    o = osub.add_parser("flush", help="try every queued and deferred message now")
    o.add_argument("--account", help="only this account's messages")
    o.add_argument("--json", action="store_true", help=JSON_HELP)
    o.set_defaults(func=cmd_outbox_flush)

    ag = sub.add_parser("agent", help="send in the background, without a window, until SIGTERM")
    ag.add_argument(
        "--stop-timeout",
        type=float,
        default=5.0,
        metavar="SECONDS",
        help="on SIGTERM, how long the message being sent may take before the connection "
        "is cut and it goes back to the queue (default 5)",
    )
    ag.set_defaults(func=cmd_agent)
    _with_examples(p, "mailgui")
    return p


JSON_HELP = "print one JSON document on stdout instead of text"
SENDMAIL_NAMES = ("sendmail", "mailgui-sendmail")


def _spare_exit_collections() -> None:
    """At exit CPython runs full garbage collections over every object still alive:
    ~40 ms after a command that loaded the keyring and the email package (py-spy:
    gc_collect_main, benchmarks/profiles/sendmail-*). The process is ending, so those
    objects are frozen instead; exit handlers (log flushing) still run."""
    atexit.unregister(gc.freeze)  # once, however often main() runs (tests)
    atexit.register(gc.freeze)


def main(argv: Sequence[str] | None = None) -> int:
    _spare_exit_collections()
    args_list = list(sys.argv[1:] if argv is None else argv)
    if argv is None and Path(sys.argv[0]).name in SENDMAIL_NAMES:
        args_list = ["sendmail", *args_list]  # invoked through a link named sendmail
    try:
        if args_list[:1] == ["sendmail"]:
            return cmd_sendmail(args_list[1:])
        if args_list and args_list[0][:7].lower() == "mailto:":
            if len(args_list) > 1:
                raise UsageError("Give one mailto: link, and nothing after it.")
            return cmd_mailto(args_list[0])
        if args_list in ([], ["--demo"]):  # the app: its window sooner, without argparse
            return _open_gui(demo=bool(args_list))
        args = build_parser().parse_args(args_list)
        return int(args.func(args))
    except MailguiError as exc:
        _say(str(exc))
        return exc.exit_code
    except KeyboardInterrupt:
        _say("Interrupted; queued messages stay in the outbox.")
        return 130
    except BrokenPipeError:
        return EX_OK
    except Exception as exc:  # a bug: say so plainly, keep the details in the log
        from mailgui.core.log import get_logger

        get_logger().exception("unexpected error")
        _say(
            f"mailgui hit an internal error ({type(exc).__name__}: {exc}); the outbox is "
            "unchanged. Please report this with the log file of your profile."
        )
        return EX_SOFTWARE


def sendmail_main() -> int:
    """The ``mailgui-sendmail`` console script: ``mailgui sendmail`` under its own name."""
    return main(["sendmail", *sys.argv[1:]])


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
