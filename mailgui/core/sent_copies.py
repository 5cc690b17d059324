"""The copy of each sent message in the account's Sent folder: a queue of its own.

When the SMTP server accepted a message whose account wants a copy, the outbox marks
the copy ``pending`` in the same transaction that records the message as sent. Filing
it is a step after delivery (``SentCopies``, a ``delivery.AfterDelivery``) with its own
claim, back-off and states, so that it can never send the message again:

- ``pending`` → claimed by one process (``copy_claimed_by``) → ``filed``, or back to
  ``pending`` with ``copy_next_at`` (back-off as the account's retry policy), or
  ``failed`` (the folder is missing, the server refuses it for good, or it has waited
  longer than the account's give-up time). "Retry copy" puts a failed one back.
- A process that died holding a claim loses it, as with messages; the copy is then
  filed again only if the folder does not hold its Message-ID yet (the filer looks).

What is filed is the message as sent, with the Bcc header its sender wrote (the outbox
keeps Bcc apart: the delivered copies never carry it).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol

from mailgui.core.errors import ConfigError, DeliveryError, MailguiError
from mailgui.core.imap.errors import FolderMissingError
from mailgui.core.log import get_logger
from mailgui.core.outbox import _COLUMNS, CLAIM_LEASE, MessageRow, _claimer_alive
from mailgui.core.retry import gives_up, next_delay

if TYPE_CHECKING:
    from datetime import datetime

    from mailgui.core.accounts import Account, AccountStore
    from mailgui.core.credentials import Credentials, Login
    from mailgui.core.delivery import Outcome
    from mailgui.core.outbox import Outbox

__all__ = ["COPY_STATES", "CopyQueue", "Filer", "SentCopies", "with_bcc"]

log = get_logger("mailgui.sent_copies")

# The outcomes this step reports (FlushReport keeps them apart from the messages').
COPY_STATES = ("copy-filed", "copy-pending", "copy-failed")


def with_bcc(data: bytes, bcc: Sequence[str]) -> bytes:
    """The sent bytes with a Bcc header before the body, as the sender's copy has it."""
    if not bcc:
        return data
    end = data.find(b"\r\n\r\n")
    at = len(data) if end < 0 else end + 2
    from email.message import EmailMessage
    from email.policy import SMTP

    header = EmailMessage(policy=SMTP)
    header["Bcc"] = ", ".join(bcc)  # as the outbox keeps them: checked when queued
    line = header.as_bytes().removesuffix(b"\r\n")  # the header, folded, then CRLF
    return data[:at] + line + data[at:]


class Filed(NamedTuple):
    folder: str  # the folder's name as the server knows it (remembered per account)
    already: bool  # the folder held the Message-ID already: nothing appended


class Filer(Protocol):
    """Files copies for one account over one connection (IMAP), then is closed."""

    def file(self, data: bytes, message_id: str, date: datetime, folder: str) -> Filed: ...

    def close(self) -> None: ...


FilerFactory = Callable[["Account", "Login | None"], Filer]


class CopyQueue:
    """The outbox's Sent-copy columns: claim, finish, retry. Uses the outbox's own
    connection and write transactions."""

    def __init__(self, outbox: Outbox) -> None:
        self.outbox = outbox

    def recover_stale(self) -> None:
        now = self.outbox.clock()
        rows = self.outbox.db.execute(
            "SELECT id, copy_claimed_by, copy_claimed_at FROM messages "
            "WHERE sent_copy = 'pending' AND copy_claimed_by IS NOT NULL"
        ).fetchall()
        for r in rows:
            alive = _claimer_alive(r["copy_claimed_by"] or "")
            if alive is False or (
                alive is None and now - (r["copy_claimed_at"] or 0) > CLAIM_LEASE
            ):
                with self.outbox._write() as db:
                    db.execute(
                        "UPDATE messages SET copy_claimed_by = NULL, copy_claimed_at = NULL "
                        "WHERE id = ? AND copy_claimed_by = ?",
                        (r["id"], r["copy_claimed_by"]),
                    )

    def due_accounts(self, *, everything: bool, ids: Sequence[int] | None) -> list[str]:
        clause, args = self._due(everything, ids)
        rows = self.outbox.db.execute(f"SELECT DISTINCT account FROM messages WHERE {clause}", args)
        return [r[0] for r in rows]

    def _due(self, everything: bool, ids: Sequence[int] | None) -> tuple[str, list[Any]]:
        clause = "sent_copy = 'pending' AND copy_claimed_by IS NULL"
        args: list[Any] = []
        if not everything:
            clause += " AND (copy_next_at IS NULL OR copy_next_at <= ?)"
            args.append(self.outbox.clock())
        if ids is not None:
            clause += f" AND id IN ({', '.join('?' * len(ids)) or 'NULL'})"
            args.extend(ids)
        return clause, args

    def claim(
        self,
        claimer: str,
        account: str,
        *,
        everything: bool,
        ids: Sequence[int] | None,
        since: float,
    ) -> MessageRow | None:
        """Take the oldest due copy of ``account``; ``everything`` ignores back-off
        (``outbox flush``), except for copies this very flush already tried."""
        clause, args = self._due(everything, ids)
        now = self.outbox.clock()
        with self.outbox._write() as db:
            row = db.execute(
                "UPDATE messages SET copy_claimed_by = ?, copy_claimed_at = ?, "
                "copy_attempts = copy_attempts + 1 WHERE id = (SELECT id FROM messages "
                f"WHERE account = ? AND {clause} AND (copy_claimed_at IS NULL OR "
                f"copy_claimed_at < ?) ORDER BY sent_at, id LIMIT 1) RETURNING {_COLUMNS}, "
                "copy_attempts",
                [claimer, now, account, *args, since],
            ).fetchone()
        return None if row is None else MessageRow.from_sql(row)

    def attempts(self, msg_id: int) -> int:
        row = self.outbox.db.execute(
            "SELECT copy_attempts FROM messages WHERE id = ?", (msg_id,)
        ).fetchone()
        return 0 if row is None else int(row[0])

    def finish(
        self,
        msg_id: int,
        claimer: str,
        state: str,
        *,
        note: str,
        error: str | None = None,
        next_at: float | None = None,
    ) -> None:
        """Record a try: ``filed``, ``pending`` (with ``next_at``) or ``failed``."""
        assert state in ("filed", "pending", "failed")
        with self.outbox._write() as db:
            n = db.execute(
                "UPDATE messages SET sent_copy = ?, copy_error = ?, copy_next_at = ?, "
                "copy_claimed_by = NULL, updated_at = ? WHERE id = ? AND copy_claimed_by = ?",
                (state, error, next_at, self.outbox.clock(), msg_id, claimer),
            ).rowcount
            if n:
                self.outbox._event(db, msg_id, f"copy-{state}", note)

    def folder(self, account: str) -> str | None:
        row = self.outbox.db.execute(
            "SELECT folder FROM sent_folders WHERE account = ?", (account,)
        ).fetchone()
        return None if row is None else str(row[0])

    def remember_folder(self, account: str, folder: str) -> None:
        with self.outbox._write() as db:
            db.execute(
                "INSERT INTO sent_folders (account, folder) VALUES (?, ?) "
                "ON CONFLICT (account) DO UPDATE SET folder = excluded.folder",
                (account, folder),
            )


class SentCopies:
    """The step after delivery that files pending copies, one IMAP connection per
    account per flush. ``filers(account, login)`` opens one (``imap_filer.ImapFiler``
    in the product, anything with ``Filer``'s shape in a test)."""

    def __init__(
        self,
        credentials: Credentials,
        filers: FilerFactory,
        *,
        claimer: str | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        from mailgui.core.outbox import new_claimer

        self.credentials = credentials
        self.filers = filers
        self.claimer = claimer or new_claimer()
        self.clock = clock

    def flush(
        self,
        outbox: Outbox,
        accounts: AccountStore,
        *,
        account: str | None,
        ids: Sequence[int] | None,
        include_deferred: bool,
    ) -> list[Outcome]:
        queue = CopyQueue(outbox)
        queue.recover_stale()
        started = outbox.clock()
        outcomes: list[Outcome] = []
        for name in queue.due_accounts(everything=include_deferred, ids=ids):
            if account is not None and name != account:
                continue
            outcomes += self._flush_account(queue, accounts, name, include_deferred, ids, started)
        return outcomes

    def _flush_account(
        self,
        queue: CopyQueue,
        accounts: AccountStore,
        name: str,
        everything: bool,
        ids: Sequence[int] | None,
        started: float,
    ) -> list[Outcome]:
        from mailgui.core.delivery import Outcome

        outcomes: list[Outcome] = []
        filer: Filer | None = None
        try:
            acct: Account | None = None
            try:
                acct = accounts.get(name)
            except ConfigError:
                pass
            while (row := queue.claim(self.claimer, name, everything=everything, ids=ids,
                                      since=started)) is not None:  # fmt: skip
                folder = None if acct is None else acct.sent_copy_folder
                if acct is None or folder is None:
                    why = (
                        f"The account {name!r} is gone"
                        if acct is None
                        else f"Account {name!r} keeps no Sent copy now"
                    )
                    queue.finish(row.id, self.claimer, "failed", note=f"{why}.",
                                 error=f"{why}; the copy was not filed.")  # fmt: skip
                    outcomes.append(Outcome(row.id, "copy-failed", ConfigError(f"{why}.")))
                    continue
                try:
                    if filer is None:
                        login = self.credentials.login(acct) if acct.auth != "none" else None
                        filer = self.filers(acct, login)
                    remembered = queue.folder(name) if folder == "auto" else None
                    data = with_bcc(queue.outbox.body(row.id), row.bcc)
                    date = _date_of(data, row)
                    try:
                        filed = filer.file(data, row.message_id, date, remembered or folder)
                    except FolderMissingError:
                        if remembered is None:
                            raise
                        remembered = None  # renamed or deleted since: look again
                        filed = filer.file(data, row.message_id, date, folder)
                except MailguiError as exc:
                    outcomes.append(self._failed(queue, acct, row, exc))
                    if isinstance(exc, DeliveryError) and exc.connection_lost:
                        if filer is not None:
                            filer.close()
                        filer = None
                    continue
                if folder == "auto" and filed.folder != remembered:
                    queue.remember_folder(name, filed.folder)
                note = (
                    f"The copy was already in {filed.folder}."
                    if filed.already
                    else f"Filed a copy in {filed.folder}."
                )
                queue.finish(row.id, self.claimer, "filed", note=note)
                outcomes.append(Outcome(row.id, "copy-filed"))
        finally:
            if filer is not None:
                filer.close()
        return outcomes

    def _failed(
        self, queue: CopyQueue, acct: Account, row: MessageRow, exc: MailguiError
    ) -> Outcome:
        from mailgui.core.delivery import Outcome

        now = self.clock()
        permanent = isinstance(exc, DeliveryError) and exc.permanent
        permanent = permanent or isinstance(exc, ConfigError)
        if not permanent and row.sent_at is not None and gives_up(row.sent_at, now, acct.retry):
            permanent = True
        if permanent:
            queue.finish(row.id, self.claimer, "failed", note=f"Copy not filed: {exc}",
                         error=exc.message)  # fmt: skip
            log.warning("message %d: the Sent copy failed: %s", row.id, exc)
            return Outcome(row.id, "copy-failed", exc)
        when = now + next_delay(queue.attempts(row.id), acct.retry)
        queue.finish(row.id, self.claimer, "pending", note=f"Copy not filed yet: {exc}",
                     error=exc.message, next_at=when)  # fmt: skip
        log.info("message %d: the Sent copy waits: %s", row.id, exc)
        return Outcome(row.id, "copy-pending", exc)


def _date_of(data: bytes, row: MessageRow) -> datetime:
    """The message's Date header (the copy is dated with it), else when it was sent."""
    from datetime import UTC, datetime
    from email.utils import parsedate_to_datetime

    head = data[: data.find(b"\r\n\r\n")].decode("ascii", "replace")
    for line in head.split("\r\n"):
        if line[:5].lower() == "date:":
            try:
                return parsedate_to_datetime(line[5:].strip())
            except (TypeError, ValueError):
                break
    return datetime.fromtimestamp(row.sent_at or time.time(), UTC)
