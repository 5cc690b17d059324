"""The engine every face drives: the app, ``mailgui agent`` and the command line.

One way to queue a message (``Engine.queue``: durable first, then the recipient-domain
policy), one way to build a sender (``Engine.delivery``: the account store, the
credentials, the server limits every face records, the steps after delivery), and the
places later features plug into:

- ``credentials``: what a session signs in with (``core.credentials``);
- ``sealers``: after a message is built and before its bytes are final (a signer or an
  encrypter works on ``Outgoing`` there, see ``outgoing.split_content``);
- ``after``: steps that run after delivery with their own retry (the Sent copy).

What the faces do with the results (print, show, log) stays theirs. Nothing heavy is
imported here: ``mailgui sendmail``'s start pays for what it uses only.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, NamedTuple

from mailgui.core.accounts import Account, AccountStore
from mailgui.core.credentials import Credentials
from mailgui.core.events import Listener, listeners
from mailgui.core.sign_in import ByAuth

if TYPE_CHECKING:
    from mailgui.core.crypto import SealOptions
    from mailgui.core.delivery import AfterDelivery, Delivery
    from mailgui.core.outbox import MessageRow, Outbox
    from mailgui.core.outgoing import Outgoing
    from mailgui.core.paths import Profile
    from mailgui.core.recipient_checks import Finding

__all__ = ["NULL_MX", "CheckRun", "Engine", "Protect", "Queued", "Sealer"]

CHECK_DEADLINE = 1.0  # seconds a queue waits at most for recipient checks (after queueing)
NULL_MX = "accepts no mail (it publishes a null MX record)"

Sealer = Callable[[Account, "Outgoing"], "Outgoing"]


class Protect(NamedTuple):
    """What the sender asked for one message: signed, encrypted (to every recipient and
    the sender), with these recipients' S/MIME certificates besides the imported ones.
    ``opportunistic``: encrypted only if every recipient has a usable key, else sent
    as if ``encrypt`` were off (an account's "encrypt when possible", not a request)."""

    sign: bool = False
    encrypt: bool = False
    recipient_certs: tuple[bytes, ...] = ()
    opportunistic: bool = False

    @classmethod
    def by_default(cls, account: Account) -> Protect | None:
        """What a message from ``account`` gets when nobody says (its defaults)."""
        if not (account.always_sign or account.encrypt_when_possible):
            return None
        return cls(
            sign=account.always_sign,
            encrypt=account.encrypt_when_possible,
            opportunistic=account.encrypt_when_possible,
        )


def smime_key_slot(account_name: str) -> str:
    """The keyring user under which an S/MIME key's passphrase is kept."""
    return f"{account_name}#smime-key"


class Queued(NamedTuple):
    """What queueing did: the message is durable whatever else this says."""

    id: int
    findings: list[Finding]  # what the recipient checks found (warn, note, block)
    refused: dict[str, str]  # addresses taken out for good (null MX), with the reason
    # the message after the policy; None when no domain blocked, or a sender had it already
    row: MessageRow | None

    @property
    def failed(self) -> bool:
        """The policy left nobody to send to: the message failed."""
        return bool(self.refused) and self.row is not None and self.row.state == "failed"

    @property
    def blocked_domains(self) -> list[str]:
        return sorted({f.domain for f in self.findings if f.level == "block"})


class CheckRun:
    """Recipient-domain checks running in the background while a message is built."""

    def __init__(self, addresses: list[str], deadline: float = CHECK_DEADLINE) -> None:
        from mailgui.core.recipient_checks import check_recipients

        self._found: list[Finding] = []
        self._end = time.monotonic() + deadline + 0.2
        # Not a daemon: the interpreter waits for it at exit (bounded: each look-up times
        # out after recipient_checks.CHECK_TIMEOUT, at most three in a row for a domain)
        # instead of finalizing while it imports dnspython, which crashed CPython 3.11
        # (SIGSEGV in _PyImport_AcquireLock during exit).
        self._thread = threading.Thread(
            target=lambda: self._found.extend(check_recipients(addresses, deadline=deadline)),
            name="mailgui-recipient-checks",
        )
        self._thread.start()

    def wait(self) -> list[Finding]:
        """What was found by the deadline (nothing, without DNS or on a timeout)."""
        self._thread.join(max(0.0, self._end - time.monotonic()))
        return list(self._found)


def refuse_null_mx(outbox: Outbox, msg_id: int, findings: Iterable[Finding]) -> Queued:
    """The recipient-domain policy: a recipient whose domain publishes a null MX (RFC
    7505, the domain's own word that it takes no mail) is taken out of the message for
    good before any try; the others still get it. Warnings only advise."""
    found = list(findings)
    blocked = {f.domain for f in found if f.level == "block"}
    if not blocked:
        return Queued(msg_id, found, {}, None)
    from mailgui.core.resolver import domain_of  # dnspython: only when there is a verdict

    row = outbox.get(msg_id)
    reasons = {
        addr: f"The domain {domain} {NULL_MX}, so nothing was sent to this address; check it."
        for addr in row.pending
        if (domain := domain_of(addr)) in blocked
    }
    if not reasons:
        return Queued(msg_id, found, {}, row)
    changed = outbox.refuse_recipients(msg_id, reasons)
    return Queued(msg_id, found, reasons if changed is not None else {}, changed)


class Engine:
    """One profile's engine. Everything that talks to the world can be replaced."""

    def __init__(
        self,
        profile: Profile,
        accounts: AccountStore | None = None,
        *,
        credentials: Credentials | None = None,
        sealers: Sequence[Sealer] = (),
        after: Sequence[AfterDelivery] | None = None,
    ) -> None:
        self.profile = profile
        self.accounts = accounts or AccountStore(profile.accounts_file)
        self.credentials: Credentials = credentials or ByAuth()
        self.sealers = list(sealers)
        # None: the copy in the Sent folder, with the same credentials (made in delivery)
        self.after = None if after is None else list(after)

    def account(self, name: str | None = None) -> Account:
        """The named account, else the default one (ConfigError when there is none)."""
        return self.accounts.get(name) if name else self.accounts.default()

    # --- queueing --------------------------------------------------------------------

    def check_recipients(self, account: Account, addresses: list[str]) -> CheckRun | None:
        """Start the recipient-domain checks, to run while the message is built (None
        when the account has them turned off)."""
        return CheckRun(addresses) if account.check_recipients else None

    def seal(
        self, account: Account, out: Outgoing, protect: Protect | None = None
    ) -> tuple[Outgoing, tuple[str | None, str | None]]:
        """The built message with its final bytes, and how it was sealed ((signed,
        encrypted): "openpgp", "smime" or None each): signed and encrypted as
        ``protect`` asks with the account's keys (core.crypto), with an Autocrypt header
        from an account with an OpenPGP key, then the other sealers."""
        sealed: tuple[str | None, str | None] = (None, None)
        wanted = protect is not None and (protect.sign or protect.encrypt)
        if wanted or account.pgp_key:
            from mailgui.core.crypto import RecipientKeyError, seal

            options = self.seal_options(account, protect or Protect())
            try:
                out = seal(options, out)
            except RecipientKeyError:
                if protect is None or not protect.opportunistic:
                    raise
                # "when possible" and it is not: as the sender would have sent it
                options = options._replace(encrypt=False)
                out = seal(options, out)
            sealed = options.kinds()
        for sealer in self.sealers:
            out = sealer(account, out)
        return out, sealed

    def seal_options(self, account: Account, protect: Protect) -> SealOptions:
        """The account's keys for ``protect``, and the recipients' certificates."""
        from mailgui.core.crypto import SealOptions

        certs: tuple[bytes, ...] = ()
        password = None
        if protect.encrypt and account.smime_cert:
            from mailgui.core import certificates

            certs = certificates.all_data(self.profile) + protect.recipient_certs
        if (protect.sign or protect.encrypt) and account.smime_key and not account.pgp_key:
            from mailgui.core.credentials import keyring_lookup

            secret = keyring_lookup(smime_key_slot(account.name))
            password = None if secret is None else secret.encode("utf-8")
        return SealOptions(
            sign=protect.sign,
            encrypt=protect.encrypt,
            pgp_key=account.pgp_key,
            smime_cert=account.smime_cert,
            smime_key=account.smime_key,
            smime_key_password=password,
            smime_recipient_certs=certs,
        )

    def queue(
        self,
        outbox: Outbox,
        account: Account,
        out: Outgoing,
        *,
        send_at: float | None = None,
        checks: CheckRun | None = None,
        findings: Iterable[Finding] = (),
        protect: Protect | None = None,
    ) -> Queued:
        """Store the message durably, then apply the recipient-domain policy to what
        the checks found (``checks`` still running, or ``findings`` already known: the
        compose window's). Nothing waits for DNS before the message is safe."""
        if send_at is not None and send_at > outbox.clock():
            from mailgui.core.dating import dated

            out = dated(out, send_at)  # the outbox dates it again on release if unsealed
        final, sealed = self.seal(account, out, protect)
        msg_id = outbox.add(account.name, final, send_at=send_at, sealed=sealed)
        found = list(findings) + (checks.wait() if checks is not None else [])
        return refuse_null_mx(outbox, msg_id, found)

    # --- sending ---------------------------------------------------------------------

    def delivery(self, outbox: Outbox, *, listener: Listener | None = None) -> Delivery:
        """The sender every face uses: it records each server's limits on the way."""
        from mailgui.core.delivery import Delivery
        from mailgui.core.imap_filer import ImapFiler
        from mailgui.core.sent_copies import SentCopies
        from mailgui.core.server_limits import ServerLimits

        limits = ServerLimits.of(self.profile)
        return Delivery(
            outbox,
            self.accounts,
            credentials=self.credentials,
            listener=listeners(limits.on_delivery_event, listener),
            after=self.after
            if self.after is not None
            else [SentCopies(self.credentials, ImapFiler)],
        )
