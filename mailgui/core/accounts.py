"""Named SMTP accounts, declared once and stored as TOML in the profile.

Passwords are not here: they live in the keyring (see ``passwords``). The file
carries a ``version`` so later releases can migrate it step by step.
"""

from __future__ import annotations

import os
import re
import tomllib
from pathlib import Path
from typing import Any, NamedTuple

from mailgui.core.errors import ConfigError
from mailgui.core.hints import Hint, Said

FILE_VERSION = 1
SECURITIES = ("starttls", "tls", "none")
IMAP_SECURITIES = ("tls", "starttls")
IMAP_PORTS = {"tls": 993, "starttls": 143}
DEFAULT_PORTS = {"starttls": 587, "tls": 465, "none": 25}
_NAME_RE = re.compile(r"^[\w][\w .@+-]{0,63}$")

# The value types here are named tuples, not dataclasses: the command line's start has
# no time for ``dataclasses`` (see ``mailgui.cli``). Copy with changes by ``_replace``.


class RetryPolicy(NamedTuple):
    """Back-off between tries and when to give up (RFC 5321 §4.5.4.1), in seconds."""

    first_delay: float = 60.0
    max_delay: float = 30 * 60.0
    give_up_after: float = 5 * 24 * 3600.0


class RateLimits(NamedTuple):
    """Messages allowed per window, as providers impose them; 0 means no limit."""

    per_minute: int = 0
    per_hour: int = 0
    per_day: int = 0


class Identity(NamedTuple):
    """One face of an account: who the message is from, where replies go, how it is
    signed. An account's own name and address are its first identity; more can be
    added (a role address, another name) that send through the same server."""

    name: str = ""  # display name
    email: str = ""
    reply_to: str = ""  # one or more addresses, comma-separated; empty = none
    signature: str = ""  # plain text; compose adds the "-- " separator line

    def validate(self, account: str) -> Identity:
        from mailgui.core.addresses import check_text, parse_mailbox, parse_mailbox_list

        what = f"identity {self.email or '(no address)'} of account {account!r}"
        check_text(f"name of {what}", self.name)
        parse_mailbox(self.email, what=f"address of {what}")
        if self.reply_to.strip():
            parse_mailbox_list(self.reply_to, what=f"Reply-To of {what}")
        if "\0" in self.signature:
            raise ConfigError(f"The signature of {what} contains a NUL character; remove it.")
        return self


class Account(NamedTuple):
    name: str
    email: str
    host: str = ""
    port: int = 587
    security: str = "starttls"
    username: str = ""
    display_name: str = ""
    ca_file: str = ""
    direct: bool = False
    timeout: float = 30.0  # connect, greeting and every command
    data_timeout: float = 300.0  # the reply to the final dot (RFC 5321 suggests 10 min)
    # Look up recipient domains before queueing (off for relays that serve domains the
    # public DNS does not know, like the demo server).
    check_recipients: bool = True
    reply_to: str = ""  # Reply-To and signature of the account's own identity
    signature: str = ""
    identities: tuple[Identity, ...] = ()  # extra identities, after the account's own
    retry: RetryPolicy = RetryPolicy()  # immutable: one shared default is fine
    limits: RateLimits = RateLimits()
    # Signing in with OAuth2 instead of a password: "microsoft", "google" or an issuer
    # URL; the client id registered for mailgui (empty: the preset's default); scopes
    # (empty: the preset's). A token command prints an access token (nothing stored).
    oauth2: str = ""
    oauth2_client_id: str = ""
    oauth2_scopes: tuple[str, ...] = ()
    oauth2_token_command: str = ""
    # The copy in the Sent folder (IMAP): the server (port 0: 993 for tls, 143 for
    # starttls), and the folder: "auto" (the \\Sent one), a name, or "none"; empty
    # means auto with an IMAP server, except where the provider files it itself.
    imap_host: str = ""
    imap_port: int = 0
    imap_security: str = "tls"
    sent_folder: str = ""
    # Signing and encryption: the OpenPGP key (fingerprint, in the user's GnuPG), or the
    # S/MIME certificate and key (PEM files; a key passphrase lives in the keyring).
    pgp_key: str = ""
    smime_cert: str = ""
    smime_key: str = ""
    # What a new message starts with (the compose window's toggles, ``mailgui send``):
    # signed; encrypted when every recipient has a key (else in clear: not asked for).
    always_sign: bool = False
    encrypt_when_possible: bool = False

    def validate(self, *, check_files: bool = True) -> Account:
        """Raise ConfigError for settings that can never work or would be unsafe.

        Loading skips the file checks: a CA file that went missing must not hide every
        other account; connecting reports it instead."""
        if not _NAME_RE.match(self.name):
            raise ConfigError(
                f"The account name {self.name!r} is not usable; use letters, digits, "
                "spaces, dots, dashes or underscores (at most 64)."
            )
        if self.security not in SECURITIES:
            raise ConfigError(
                f"The security setting {self.security!r} of account {self.name!r} is unknown; "
                "use starttls, tls or none."
            )
        if not self.direct and not self.host:
            raise ConfigError(
                Said(f"Account {self.name!r} has no server", Hint("give-host", self.name))
            )
        if not 0 < self.port < 65536:
            raise ConfigError(f"The port {self.port} of account {self.name!r} is not valid.")
        if self.imap_security not in IMAP_SECURITIES:
            raise ConfigError(
                f"The IMAP security {self.imap_security!r} of account {self.name!r} is "
                "unknown; use tls or starttls (IMAP never logs in unencrypted)."
            )
        if not 0 <= self.imap_port < 65536:
            raise ConfigError(
                f"The IMAP port {self.imap_port} of account {self.name!r} is not valid."
            )
        if self.security == "none" and self.username:
            raise ConfigError(
                Said(
                    f"Account {self.name!r} has a user name but no encryption, and a password "
                    "is never sent unencrypted",
                    Hint("needs-encryption", self.name),
                )
            )
        if bool(self.smime_cert) != bool(self.smime_key):
            raise ConfigError(
                f"Account {self.name!r} has an S/MIME certificate without its key, or a key "
                "without its certificate; give both (--smime-cert PEM --smime-key PEM)."
            )
        if check_files:
            for what, path in (("S/MIME certificate", self.smime_cert),
                               ("S/MIME key", self.smime_key)):  # fmt: skip
                if path and not Path(path).is_file():
                    raise ConfigError(
                        f"The {what} file {path!r} of account {self.name!r} does not exist; "
                        "give the path of a PEM file."
                    )
        if (self.always_sign or self.encrypt_when_possible) and not (
            self.pgp_key or self.smime_key
        ):
            raise ConfigError(
                f"Account {self.name!r} is set to sign or encrypt by default but has no key; "
                "give it one (--pgp-key FINGERPRINT, or --smime-cert PEM --smime-key PEM)."
            )
        if check_files and self.ca_file and not Path(self.ca_file).is_file():
            raise ConfigError(
                f"The CA file {self.ca_file!r} of account {self.name!r} does not exist; "
                "give the path of a PEM certificate."
            )
        if self.timeout <= 0 or self.data_timeout <= 0:
            raise ConfigError(f"The timeouts of account {self.name!r} must be positive.")
        if self.security == "none" and self.auth == "oauth2":
            raise ConfigError(
                Said(
                    f"Account {self.name!r} signs in with OAuth2 but has no encryption, and "
                    "a token is never sent unencrypted",
                    Hint("needs-encryption", self.name),
                )
            )
        for identity in self.all_identities():
            identity.validate(self.name)
        return self

    @property
    def sent_copy_folder(self) -> str | None:
        """Where the Sent copy goes ("auto" or a folder's name), or None for no copy."""
        if self.direct or not self.imap_host or self.sent_folder == "none":
            return None
        if self.sent_folder:
            return self.sent_folder
        from mailgui.core.providers import files_sent_itself

        return None if files_sent_itself(self.host) else "auto"

    @property
    def auth(self) -> str:
        """How the account logs in: "oauth2", "password" (a user name) or "none"."""
        if self.oauth2 or self.oauth2_token_command:
            return "oauth2"
        return "password" if self.username else "none"

    @property
    def login_fix(self) -> Hint:
        """What a refused login asks of the person, for SMTP and IMAP alike: sign in
        again, check the token command, or store the right password."""
        if self.auth != "oauth2":
            return Hint("password-refused", self.name)
        return Hint("token-command" if self.oauth2_token_command else "sign-in", self.name)

    @property
    def sasl_user(self) -> str:
        """The user name given to the server: the user name, else (OAuth2) the address."""
        return self.username or (self.email if self.auth == "oauth2" else "")

    def all_identities(self) -> tuple[Identity, ...]:
        """The account's own identity first, then the extra ones."""
        own = Identity(self.display_name, self.email, self.reply_to, self.signature)
        return (own, *self.identities)

    @property
    def server(self) -> str:
        return f"{self.host}:{self.port}" if self.host else "direct delivery"

    def to_dict(self) -> dict[str, Any]:
        """Every setting as plain dicts, nested ones too (what the accounts file holds)."""
        doc = self._asdict()
        doc["identities"] = tuple(identity._asdict() for identity in self.identities)
        doc["retry"] = self.retry._asdict()
        doc["limits"] = self.limits._asdict()
        return doc


def _from_dict(name: str, raw: dict[str, Any]) -> Account:
    known = set(Account._fields) - {"name", "retry", "limits", "identities"}
    try:
        values = {k: v for k, v in raw.items() if k in known}
        retry = RetryPolicy(**raw.get("retry", {}))
        limits = RateLimits(**raw.get("limits", {}))
        identities = tuple(Identity(**item) for item in raw.get("identities", []))
        if "oauth2_scopes" in values:
            values["oauth2_scopes"] = tuple(values["oauth2_scopes"])
        account = Account(name=name, retry=retry, limits=limits, identities=identities, **values)
    except TypeError as exc:
        raise ConfigError(
            f"Account {name!r} in the accounts file has an unknown setting ({exc}); "
            "fix the file or add the account again."
        ) from None
    return account.validate(check_files=False)


class AccountStore:
    """Reads and writes ``accounts.toml``. Each call re-reads, so a CLI and the
    GUI editing the same profile see each other's changes."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def _read(self) -> dict[str, Any]:
        try:
            with self.path.open("rb") as f:
                data = tomllib.load(f)
        except FileNotFoundError:
            return {"version": FILE_VERSION, "accounts": {}}
        except (tomllib.TOMLDecodeError, OSError) as exc:
            raise ConfigError(
                f"The accounts file {self.path} cannot be read ({exc}); fix or remove it."
            ) from None
        version = data.get("version", FILE_VERSION)
        if not isinstance(version, int) or version > FILE_VERSION:
            raise ConfigError(
                f"The accounts file {self.path} was written by a newer mailgui; upgrade mailgui."
            )
        data.setdefault("accounts", {})
        return data

    def _write(self, data: dict[str, Any]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        data["version"] = FILE_VERSION
        # Only writing needs these (tempfile brings shutil, bz2 and lzma): not every start.
        import tempfile

        import tomli_w

        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".accounts-", suffix=".toml")
        try:
            with os.fdopen(fd, "wb") as f:
                tomli_w.dump(data, f)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def all(self) -> list[Account]:
        data = self._read()
        return [_from_dict(name, raw) for name, raw in data["accounts"].items()]

    def default_name(self) -> str | None:
        data = self._read()
        name = data.get("default")
        if name in data["accounts"]:
            return str(name)
        return next(iter(data["accounts"]), None)

    def get(self, name: str) -> Account:
        data = self._read()
        raw = data["accounts"].get(name)
        if raw is None:
            known = ", ".join(sorted(data["accounts"])) or "none yet"
            raise ConfigError(
                Said(
                    f"There is no account named {name!r} (accounts: {known})",
                    Hint("add-account", name),
                )
            )
        return _from_dict(name, raw)

    def default(self) -> Account:
        name = self.default_name()
        if name is None:
            raise ConfigError(Said("No account is set up yet", Hint("add-first-account")))
        return self.get(name)

    def find_by_email(self, email: str) -> Account | None:
        for account in self.all():
            if account.email.lower() == email.lower():
                return account
        return None

    def save(self, account: Account, *, make_default: bool = False) -> None:
        account.validate()
        data = self._read()
        raw = account.to_dict()
        del raw["name"]
        data["accounts"][account.name] = raw
        if make_default or data.get("default") not in data["accounts"]:
            data["default"] = account.name
        self._write(data)

    def remove(self, name: str) -> None:
        data = self._read()
        if name not in data["accounts"]:
            self.get(name)  # raises the standard "no account" error
        del data["accounts"][name]
        if data.get("default") == name:
            data.pop("default")
            if data["accounts"]:
                data["default"] = next(iter(data["accounts"]))
        self._write(data)


def with_defaults(account: Account) -> Account:
    """Fill the port from the security when the caller gave none (0)."""
    if account.port == 0:
        return account._replace(port=DEFAULT_PORTS[account.security])
    return account
