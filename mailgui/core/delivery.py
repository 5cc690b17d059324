"""Delivery: take due messages from the outbox, send them, record what happened.

Messages are grouped per account and one connection serves all of an account's
messages. Each outcome is recorded in the outbox before the next message starts,
so a crash loses at most the knowledge of the single message in flight. One bad
message never blocks the others: a refusal only affects its own message; a lost
connection is opened again for the rest.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from mailgui.core.accounts import Account, AccountStore, RetryPolicy
from mailgui.core.credentials import Credentials, Login, Passwords
from mailgui.core.errors import (
    EX_CONFIG,
    EX_DATAERR,
    EX_NOPERM,
    EX_OK,
    EX_TEMPFAIL,
    EX_UNAVAILABLE,
    AuthError,
    ConfigError,
    DeliveryError,
    MailguiError,
    PermanentError,
    SecurityError,
    TransientError,
    UsageError,
)
from mailgui.core.events import (
    Connected,
    Connecting,
    DeliveryEvent,
    Finished,
    Listener,
    Sending,
    Transferred,
)
from mailgui.core.log import get_logger
from mailgui.core.outbox import Held, MessageRow, Outbox, new_claimer
from mailgui.core.retry import (
    describe_duration,
    gives_up,
    is_rate_refusal,
    next_delay,
)
from mailgui.core.transport import Envelope, Progress, SendResult, Session, SessionInfo

log = get_logger("mailgui.delivery")

HEARTBEAT = 30.0  # seconds between claim renewals during a long transfer
# Most severe first: what a person must fix before what merely needs time.
_EXIT_PRIORITY = (EX_CONFIG, EX_NOPERM, EX_DATAERR, EX_UNAVAILABLE, EX_TEMPFAIL)


class SMTPSession(Protocol):
    def open(self) -> SessionInfo: ...
    def send(
        self,
        envelope_from: str,
        recipients: list[str],
        data: bytes,
        *,
        smtputf8: bool = ...,
        progress: Progress | None = ...,
        then: Envelope | None = ...,
    ) -> SendResult: ...
    def expect(self, following: Envelope | None) -> bool: ...
    @property
    def writes_ahead(self) -> bool: ...
    @property
    def is_open(self) -> bool: ...
    def close(self) -> None: ...


SessionFactory = Callable[[Account, "Login | None"], SMTPSession]


class AfterDelivery(Protocol):
    """A step after messages went out, with its own retry (the Sent copy, issue 16):
    it runs at the end of every flush, over the outbox, and never sends a message
    again. What it reports joins the flush's outcomes."""

    def flush(
        self,
        outbox: Outbox,
        accounts: AccountStore,
        *,
        account: str | None,
        ids: Sequence[int] | None,
        include_deferred: bool,
    ) -> list[Outcome]: ...


def _rate_refused(error: MailguiError | None) -> bool:
    """A provider's "too much mail" for this account (retry.is_rate_refusal)."""
    return (
        isinstance(error, DeliveryError)
        and not error.permanent
        and is_rate_refusal(error.code, error.enhanced, error.reply)
    )


def _words(error: MailguiError | None) -> str:
    if isinstance(error, DeliveryError) and error.server_words:
        return error.server_words
    return str(error)


def _envelope(row: MessageRow) -> Envelope:
    """What the server is told of ``row`` before its data (its body ends in CRLF, so
    its size is what goes out)."""
    return Envelope(row.envelope_from, tuple(row.pending), row.size, row.smtputf8)


def _direct_router(account: Account, login: Login | None) -> SMTPSession:
    """Direct accounts only: the MX router (and its DNS resolver) is imported on first
    use, not by every command that delivers through a relay (sendmail's start)."""
    from mailgui.core.direct import DirectRouter

    return DirectRouter(account, login)


@dataclass
class Outcome:
    """What one attempt did to one message."""

    id: int
    state: str  # sent | deferred | failed, or for a Sent copy copy-filed | -pending | -failed
    error: MailguiError | None = None
    recipient_errors: dict[str, str] = field(default_factory=dict)


@dataclass
class FlushReport:
    outcomes: list[Outcome] = field(default_factory=list)

    @property
    def ids(self) -> list[int]:
        """The messages this flush tried to send (not those whose Sent copy it filed)."""
        return [o.id for o in self.outcomes if not o.state.startswith("copy-")]

    @property
    def copies(self) -> list[Outcome]:
        """What the flush did to Sent copies (core.sent_copies: "copy-filed"...)."""
        return [o for o in self.outcomes if o.state.startswith("copy-")]

    def exit_code(self) -> int:
        """From the messages' outcomes: a copy not filed leaves the message sent."""
        codes = {
            o.error.exit_code
            for o in self.outcomes
            if o.error and o.state != "sent" and not o.state.startswith("copy-")
        }
        return next((c for c in _EXIT_PRIORITY if c in codes), max(codes, default=EX_OK))

    def first_error(self) -> MailguiError | None:
        code = self.exit_code()
        return next((o.error for o in self.outcomes if o.error and o.error.exit_code == code), None)


class Delivery:
    """Sends what is due. Everything that talks to the world is injected."""

    def __init__(
        self,
        outbox: Outbox,
        accounts: AccountStore,
        *,
        session_factory: SessionFactory = Session,
        direct_factory: SessionFactory = _direct_router,
        credentials: Credentials | None = None,
        clock: Callable[[], float] = time.time,
        listener: Listener | None = None,
        after: Sequence[AfterDelivery] = (),
    ) -> None:
        self.outbox = outbox
        self.accounts = accounts
        self.session_factory = session_factory
        self.direct_factory = direct_factory  # direct accounts: each domain's MX (direct.py)
        self.credentials: Credentials = credentials or Passwords()
        self.clock = clock
        self.listener = listener
        self.after = list(after)
        self.claimer = new_claimer()
        self._session: SMTPSession | None = None
        # An outcome waiting to be written with the next claim (see _flush_account).
        self._unrecorded: Callable[[], None] | None = None
        self._merging = False

    def _emit(self, event: DeliveryEvent) -> None:
        if self.listener is not None:
            self.listener(event)

    def flush(
        self,
        *,
        account: str | None = None,
        include_deferred: bool = False,
        ids: Sequence[int] | None = None,
        should_stop: Callable[[], bool] = lambda: False,
    ) -> FlushReport:
        """Try every due message once (``include_deferred``: ignore back-off too)."""
        report = FlushReport()
        started = self.clock()
        self.outbox.recover_stale()
        self.outbox.promote_due()
        names = self.outbox.due_accounts(include_deferred=include_deferred, ids=ids, since=started)
        for name in names:
            if account is not None and name != account:
                continue
            if should_stop():
                break
            self._flush_account(name, report, include_deferred, ids, started, should_stop)
        for step in self.after:
            if should_stop():
                break
            report.outcomes.extend(
                step.flush(
                    self.outbox,
                    self.accounts,
                    account=account,
                    ids=ids,
                    include_deferred=include_deferred,
                )
            )
        return report

    def _flush_account(
        self,
        name: str,
        report: FlushReport,
        include_deferred: bool,
        ids: Sequence[int] | None,
        started: float,
        should_stop: Callable[[], bool],
    ) -> None:
        acct: Account | None = None
        blocked: MailguiError | None = None  # an error that stops every message of this account
        try:
            acct = self.accounts.get(name)
        except ConfigError as exc:
            blocked = exc
        session: SMTPSession | None = None
        held = 0  # messages given back unsent because of ``blocked``
        ahead = True  # the next message's envelope behind each final dot (Session.send)
        self._merging = True
        try:
            while not should_stop():
                # The outcome of the message before and the claim of the next one are one
                # transaction: one commit per message instead of two. None of the next
                # message's data has gone out when it commits (its envelope may have,
                # behind the last dot: see Session.send's ``then``), so a crash still
                # leaves at most the one message in flight unrecorded (sent again, RFC
                # 1047). The commit is lazy: its fsync may wait (a power cut may then
                # resend up to a second of messages; the flush's last outcome syncs them
                # all).
                unrecorded, self._unrecorded = self._unrecorded, None
                try:
                    with self.outbox.transaction(lazy=True):
                        if unrecorded is not None:
                            unrecorded()
                        row = self.outbox.claim_next(
                            self.claimer,
                            name,
                            include_deferred=include_deferred,
                            ids=ids,
                            since=started,
                            limits=acct.limits if acct is not None and blocked is None else None,
                        )
                except BaseException:
                    self._unrecorded = unrecorded  # rolled back: written alone below
                    raise
                if isinstance(row, Held):
                    assert acct is not None
                    self._hold(acct, row, report, include_deferred, ids, started)
                    break
                if row is None:
                    break
                if session is not None and session.expect(_envelope(row)):
                    # Written ahead for a message another sender took: that sender races
                    # this one for the same messages, so no more envelopes ahead (each
                    # withdrawal costs a new connection).
                    ahead = False
                if (
                    blocked is None
                    and acct is not None
                    and (session is None or not session.is_open)
                ):
                    try:
                        session = self._connect(acct)
                    except MailguiError as exc:
                        blocked, session = exc, None
                if blocked is not None or session is None or acct is None:
                    assert blocked is not None
                    # one line for the account (below), not one per message
                    report.outcomes.append(self._give_back(row, blocked, acct, quiet=True))
                    held += 1
                    continue
                following = None
                if ahead and session.writes_ahead:  # its envelope rides behind this dot
                    following = self.outbox.peek_next(
                        name, include_deferred=include_deferred, ids=ids, since=started
                    )
                outcome = self._send_one(
                    session, acct, row, None if following is None else _envelope(following)
                )
                report.outcomes.append(outcome)
                if blocked is None and _rate_refused(outcome.error):
                    blocked = TransientError(
                        "Not tried in this round: the server refused an earlier message "
                        f"because the account sends too fast ({_words(outcome.error)}); it "
                        "will be tried again later."
                    )
        finally:
            if held and blocked is not None:
                waiting = "1 message waits" if held == 1 else f"{held} messages wait"
                log.warning("account %r: %s (%s)", name, blocked.message, waiting)
            self._merging = False
            unrecorded, self._unrecorded = self._unrecorded, None
            try:
                if unrecorded is not None:  # the last outcome: its own transaction
                    unrecorded()
                self.outbox.settle()
            finally:
                self._session = None
                if session is not None:
                    session.close()

    def _finish(self, write: Callable[[], None], announce: Callable[[], None]) -> None:
        """Record an outcome (``write``), log it and tell the listener (``announce``).

        In the flush loop the write waits for the next claim, to share its transaction,
        and the listener hears the outcome first: a ``should_stop`` that depends on it
        then stops the loop before another message is claimed."""
        if self._merging:
            assert self._unrecorded is None
            self._unrecorded = write
        else:
            write()
        announce()

    def abort(self) -> None:
        """From another thread: cut the current connection; its message is deferred."""
        session = self._session
        if session is not None and hasattr(session, "abort"):
            session.abort()

    def _connect(self, acct: Account) -> SMTPSession:
        login = self.credentials.login(acct) if acct.auth != "none" else None
        try:
            return self._open(acct, login)
        except AuthError:
            # A source that can renew its secret (an OAuth2 refresh) gets one more try;
            # a password does not (Passwords.refused): tried again it can lock the account.
            renewed = self.credentials.refused(acct, login) if login is not None else None
            if renewed is None:
                raise
            return self._open(acct, renewed)

    def _open(self, acct: Account, login: Login | None) -> SMTPSession:
        self._emit(Connecting(acct.name, acct.server))
        factory = self.direct_factory if acct.direct else self.session_factory
        session = factory(acct, login)
        self._session = session
        info = session.open()
        log.info("connected to %s (%s)", acct.server, info.tls_version or "no TLS")
        # the SIZE is for the compose window's pre-flight (ServerLimits)
        size_limit = getattr(info, "size_limit", None)  # a test's session may have none
        self._emit(Connected(acct.name, acct.server, info.tls_version, size_limit))
        return session

    def _hold(
        self,
        acct: Account,
        held: Held,
        report: FlushReport,
        include_deferred: bool,
        ids: Sequence[int] | None,
        started: float,
    ) -> None:
        """Under a rate limit, defer the account's remaining due messages until the
        window frees, without counting an attempt."""
        now = self.clock()
        when = time.strftime("%H:%M", time.localtime(now + held.wait))
        text = (
            f"Held back by account {acct.name!r}'s limit of {held.limit}; "
            f"it will go out at about {when}."
        )
        while isinstance(
            row := self.outbox.claim_next(
                self.claimer, acct.name, include_deferred=include_deferred, ids=ids, since=started
            ),
            MessageRow,
        ):
            self.outbox.finish(
                row.id,
                self.claimer,
                "deferred",
                note=text,
                error=text,
                next_attempt_at=now + held.wait,
                count_attempt=False,
            )
            report.outcomes.append(Outcome(row.id, "deferred", TransientError(text)))

    def _send_one(
        self, session: SMTPSession, acct: Account, row: MessageRow, then: Envelope | None = None
    ) -> Outcome:
        self._emit(Sending(row.id, acct.name, row.size))
        last_touch = self.clock()

        def progress(done: int, total: int) -> None:
            nonlocal last_touch
            now = self.clock()
            if now - last_touch > HEARTBEAT:
                self.outbox.touch(row.id, self.claimer)
                last_touch = now
            self._emit(Transferred(row.id, done, total))

        try:
            data = self.outbox.body(row.id)
        except UsageError:  # the row survived a damaged outbox (README), its text did not
            lost = PermanentError(
                "The text of this message is missing from the outbox (it was damaged), so "
                "it cannot be sent; write it again and delete this one."
            )
            return self._give_back(row, lost, acct)
        try:
            result = session.send(
                row.envelope_from,
                row.pending,
                data,
                smtputf8=row.smtputf8,
                progress=progress,
                then=then,
            )
        except DeliveryError as exc:
            return self._give_back(row, exc, acct)
        return self._record(row, acct, result)

    def _record(self, row: MessageRow, acct: Account, result: SendResult) -> Outcome:
        refused = {addr: str(reply) for addr, reply in result.refused.items()}
        # A recipient that took the message now loses the error an earlier try recorded.
        updates: dict[str, str | None] = {a: None for a in result.accepted} | refused
        retry_later = [a for a, r in result.refused.items() if not r.permanent]
        if not result.accepted:
            listing = "; ".join(f"{a}: {r}" for a, r in refused.items())
            if retry_later:
                err: DeliveryError = TransientError(
                    f"The server did not accept any recipient for now ({listing}); "
                    "it will be tried again later."
                )
            else:
                err = PermanentError(
                    f"The server refused every recipient ({listing}); check the addresses."
                )
            # Ask again only those refused for now, not those refused for good.
            return self._give_back(row, err, acct, updates, pending=retry_later or None)
        if retry_later:
            err = TransientError(
                f"Sent to {len(result.accepted)} recipient(s); "
                f"{', '.join(retry_later)} will be tried again later."
            )
            return self._give_back(row, err, acct, updates, pending=retry_later)
        reply = str(result.reply) if result.reply else ""
        note = f"Sent ({reply})." if reply else "Sent."
        if refused:
            note = f"Sent, but {len(refused)} recipient(s) were refused: " + "; ".join(
                f"{a}: {r}" for a, r in refused.items()
            )

        def announce() -> None:
            log.info("message %d sent via %s: %s", row.id, acct.server, reply)
            self._emit(Finished(row.id, "sent", None))

        self._finish(
            lambda: self.outbox.finish(
                row.id,
                self.claimer,
                "sent",
                note=note,
                recipient_errors=updates,
                pending=[],
                sent_copy=acct.sent_copy_folder is not None,
            ),
            announce,
        )
        return Outcome(row.id, "sent", None, refused)

    def _give_back(
        self,
        row: MessageRow,
        err: MailguiError,
        acct: Account | None,
        recipient_errors: dict[str, str | None] | None = None,
        pending: list[str] | None = None,
        *,
        quiet: bool = False,
    ) -> Outcome:
        """Defer the message (or fail it: a permanent reply, or too long waiting).
        ``quiet``: its account's error is logged once for all (``_flush_account``)."""
        now = self.clock()
        permanent = isinstance(err, DeliveryError) and err.permanent
        text, said = err.message, err.said
        # An account that is gone still follows the default policy, so it gives up too.
        policy = acct.retry if acct is not None else RetryPolicy()
        # Never on a message's first try: after days asleep (sleep/resume) the first
        # try often meets a network not up yet, and "gave up after 5 days of trying"
        # would be false.
        if not permanent and row.attempts > 1 and gives_up(row.queued_at, now, policy):
            gave_up = (
                f"Gave up after {describe_duration(policy.give_up_after)} of trying; "
                "the last error was: "
            )
            said = None if said is None else said._replace(what=gave_up + said.what)
            text = gave_up + text
            permanent = True
            err = PermanentError(text if said is None else said)
        if permanent:
            state, when = "failed", None
        else:
            state = "deferred"
            delay = next_delay(row.attempts, policy)
            if isinstance(err, AuthError | SecurityError | ConfigError):
                # Retrying settings problems soon cannot help, and a wrong password
                # tried often can get the account locked at the provider.
                delay = policy.max_delay
            when = now + delay

        def announce() -> None:
            if quiet and state == "deferred":
                log.info("message %d deferred (its account's error is below)", row.id)
            else:
                log.warning("message %d %s: %s", row.id, state, text)
            self._emit(Finished(row.id, state, text))

        self._finish(
            lambda: self.outbox.finish(
                row.id,
                self.claimer,
                state,
                note=text,
                error=text,
                said=said,
                next_attempt_at=when,
                recipient_errors=recipient_errors,
                pending=pending,
            ),
            announce,
        )
        refused = {a: r for a, r in (recipient_errors or {}).items() if r is not None}
        return Outcome(row.id, state, err, refused)
