"""What to do about an error, as data, so each face says it in its own words.

An error that a person can fix names the fix as a ``Hint``: a key and the account it is
about. The error's sentence for the command line is the part that says what happened
(``what``) joined to the hint in command-line words ("store the password again with
'mailgui account add work ... --password-stdin'"); the app says the same hint in its own
words ("type the password again in the account's settings") and offers a button for it
("Edit account", "Sign in again"). The outbox keeps the hint with the message
(``Hint.dumps``), so the app can word an error that the agent or a command recorded.

A named tuple, not a dataclass: the command line's start has no time for dataclasses.
"""

from __future__ import annotations

from typing import NamedTuple

__all__ = ["Hint", "Said"]

# key -> the advice in command-line words; {account} is the account's name.
CLI_WORDS: dict[str, str] = {
    "set-password": "set it with 'mailgui account add {account} ... --password-stdin'",
    "password-refused": (
        "check them and store the password again with "
        "'mailgui account add {account} ... --password-stdin'"
    ),
    "needs-login": (
        "give the account a user name and password "
        "(mailgui account add ... --username U --password-stdin)"
    ),
    "sign-in": "sign in with 'mailgui account login {account}'",
    "sign-in-device": "sign in with 'mailgui account login {account} --device'",
    "token-command": "check what the account's --oauth2-token-command prints",
    "needs-encryption": "use --security starttls or tls",
    "check-security": ("check the port and security settings (port 465 uses --security tls)"),
    "port-465": "Port 465 expects SSL/TLS, not STARTTLS: use --security tls",
    "port-587": "Port 587 expects STARTTLS: use --security starttls",
    "try-starttls": "The server may not speak SSL/TLS on this port; try --security starttls",
    "ca-file": "if the server uses a private CA, give its certificate with --ca-file",
    "client-id": (
        'pass --client-id ID (the README\'s "Registering an OAuth2 application" says how '
        "to register one)"
    ),
    "client-id-refused": "check --client-id and the application's registration",
    "give-host": "give one with --host (or use --direct)",
    "add-account": "add it with 'mailgui account add'",
    "add-first-account": "add one with 'mailgui account add'",
}


class Hint(NamedTuple):
    """The fix for an error: ``key`` (one of ``CLI_WORDS``) for ``account``."""

    key: str
    account: str = ""

    def cli(self) -> str:
        import shlex  # the name as a shell reads it: 'My Work'

        return CLI_WORDS[self.key].format(account=shlex.quote(self.account))


class Said(NamedTuple):
    """An error sentence taken apart: what happened, how it is joined to the hint
    ("; " inside a sentence, ". " before a sentence of its own), and the hint."""

    what: str
    hint: Hint
    sep: str = "; "

    def cli(self) -> str:
        return self.words(self.hint.cli())

    def words(self, advice: str) -> str:
        """The whole sentence with ``advice`` (the hint in some face's words)."""
        return f"{self.what}{self.sep}{advice}."

    def dumps(self) -> str:
        import json  # not at import: every start imports this module through errors

        return json.dumps(
            {"what": self.what, "sep": self.sep, "key": self.hint.key, "account": self.hint.account}
        )

    @classmethod
    def loads(cls, text: str | None) -> Said | None:
        """What ``dumps`` wrote; None for nothing, or for what an unknown mailgui wrote."""
        if not text:
            return None
        import json

        try:
            raw = json.loads(text)
            said = cls(raw["what"], Hint(raw["key"], raw.get("account", "")), raw["sep"])
        except (ValueError, KeyError, TypeError):
            return None
        return said if said.hint.key in CLI_WORDS else None
