"""The outbox: one SQLite database (WAL) that the GUI and the CLI share.

Every state change is one transaction; a message is on disk (``synchronous=FULL``)
before ``add`` returns. Senders claim one message at a time with ``BEGIN
IMMEDIATE``, so two senders never hold the same message. A claim names its
process (host, pid, start time); a claim whose process is gone, or whose lease
ran out, goes back to the queue (at-least-once, same bytes, same Message-ID).

States: scheduled → queued → sending → sent | deferred | failed; deferred → queued.
"""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple, TypeVar

from mailgui.core.accounts import RateLimits
from mailgui.core.errors import (
    ConfigError,
    MailguiError,
    OutboxDamagedError,
    OutboxReplacedError,
    StorageError,
    UsageError,
)
from mailgui.core.hints import Said
from mailgui.core.outbox_files import FileGuard, make_private
from mailgui.core.retry import describe_limit, rate_wait

if TYPE_CHECKING:  # a type only: listing the outbox needs no email package
    from mailgui.core.outgoing import Outgoing

_T = TypeVar("_T")

STATES = ("scheduled", "queued", "sending", "sent", "deferred", "failed")
# Waiting, not on the wire: such a message may be edited (taken out) or lose recipients.
EDITABLE = ("scheduled", "queued", "deferred", "failed")
SCHEMA_VERSION = 4
CLAIM_LEASE = 30 * 60.0  # a live sender refreshes its claim well before this
# Bodies above this size go in and out through incremental BLOB I/O, in pieces: binding a
# 35 MB body whole makes SQLite copy it, and reading it through SELECT costs two copies;
# either holds the GIL for tens of ms (the GUI's outbox and sender threads do this).
BODY_CHUNK = 1024 * 1024
# At most this long (seconds) of the sender's outcomes may wait for the disk: what a
# power cut during a flush can make go out twice (see Outbox.transaction).
LAZY_SYNC_AT_MOST = 1.0

_SCHEMA = """
CREATE TABLE messages (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    account TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN
        ('scheduled', 'queued', 'sending', 'sent', 'deferred', 'failed')),
    subject TEXT NOT NULL,
    sender TEXT NOT NULL,
    envelope_from TEXT NOT NULL,
    to_json TEXT NOT NULL,
    cc_json TEXT NOT NULL,
    bcc_json TEXT NOT NULL,
    pending_json TEXT NOT NULL,
    message_id TEXT NOT NULL,
    size INTEGER NOT NULL,
    smtputf8 INTEGER NOT NULL DEFAULT 0,
    created_at REAL NOT NULL,
    queued_at REAL NOT NULL,
    send_at REAL,
    next_attempt_at REAL,
    sent_at REAL,
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    error_hint TEXT,
    sent_copy TEXT CHECK (sent_copy IN ('pending', 'filed', 'failed')),
    copy_error TEXT,
    copy_attempts INTEGER NOT NULL DEFAULT 0,
    copy_next_at REAL,
    copy_claimed_by TEXT,
    copy_claimed_at REAL,
    signed TEXT,
    encrypted TEXT,
    recipient_errors_json TEXT NOT NULL DEFAULT '{}',
    claimed_by TEXT,
    claimed_at REAL,
    updated_at REAL NOT NULL
);
CREATE INDEX messages_by_state ON messages (state, account);
CREATE INDEX messages_by_update ON messages (updated_at);
CREATE INDEX messages_due ON messages (account, state, queued_at);
CREATE TABLE bodies (
    id INTEGER PRIMARY KEY REFERENCES messages (id) ON DELETE CASCADE,
    data BLOB NOT NULL
);
CREATE TABLE events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    message INTEGER NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    at REAL NOT NULL,
    kind TEXT NOT NULL,
    text TEXT NOT NULL
);
CREATE INDEX events_by_message ON events (message);
CREATE INDEX messages_copies ON messages (sent_copy, account);
CREATE TABLE sent_folders (account TEXT PRIMARY KEY, folder TEXT NOT NULL);
CREATE TABLE sent_log (account TEXT NOT NULL, at REAL NOT NULL);
CREATE INDEX sent_log_by_account ON sent_log (account, at);
"""

_COPY_COLUMNS = (
    "sent_copy TEXT CHECK (sent_copy IN ('pending', 'filed', 'failed'))",
    "copy_error TEXT",
    "copy_attempts INTEGER NOT NULL DEFAULT 0",
    "copy_next_at REAL",
    "copy_claimed_by TEXT",
    "copy_claimed_at REAL",
    "signed TEXT",  # and the sealing: "openpgp", "smime" or NULL
    "encrypted TEXT",
)

_COLUMNS = (
    "id, account, state, subject, sender, envelope_from, to_json, cc_json, bcc_json, "
    "pending_json, message_id, size, smtputf8, created_at, queued_at, send_at, "
    "next_attempt_at, sent_at, attempts, last_error, recipient_errors_json, claimed_by, "
    "claimed_at, updated_at, error_hint, sent_copy, copy_error, copy_next_at, signed, encrypted"
)


def _put_body(db: sqlite3.Connection, msg_id: int, data: bytes) -> None:
    """Store (or replace) a message's bytes."""
    db.execute("DELETE FROM bodies WHERE id = ?", (msg_id,))
    if len(data) <= BODY_CHUNK:
        db.execute("INSERT INTO bodies (id, data) VALUES (?, ?)", (msg_id, data))
        return
    # see BODY_CHUNK
    db.execute("INSERT INTO bodies (id, data) VALUES (?, zeroblob(?))", (msg_id, len(data)))
    view = memoryview(data)
    with db.blobopen("bodies", "data", msg_id) as blob:
        for start in range(0, len(view), BODY_CHUNK):
            blob.write(view[start : start + BODY_CHUNK])


def _redate(db: sqlite3.Connection, msg_id: int, now: float) -> None:
    """Date a released message ``now`` (local time), as it leaves: a reader's "sent at"
    is when it went, not when it was written; its Message-ID stays, and retries keep
    this Date. A sealed message keeps the Date it was sealed with (the engine gave it
    the scheduled time): its signature or its protected headers cover that one."""
    from mailgui.core.dating import HEAD, date_span, date_value, redated

    when = datetime.fromtimestamp(now).astimezone()
    value = date_value(when)
    with db.blobopen("bodies", "data", msg_id) as blob:
        span = date_span(blob.read(HEAD))
        if span is None:
            return
        if span[1] - span[0] == len(value):  # always, for the Dates mailgui writes
            blob.seek(span[0])
            blob.write(value)
            return
        blob.seek(0)
        data = redated(blob.read(), when)
    _put_body(db, msg_id, data)
    db.execute("UPDATE messages SET size = ? WHERE id = ?", (len(data), msg_id))


def iso(ts: float | None) -> str | None:
    """ISO-8601 UTC for JSON output, or None."""
    if ts is None:
        return None
    second = int(ts)
    # Far from the next second, the text is that of the whole second (fromtimestamp
    # rounds to microseconds, which can carry into the next second only above .9999995).
    if 0 <= ts - second < 0.999:
        return _iso_second(second)
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="seconds")


@lru_cache(maxsize=4096)  # a backlog's messages share their seconds
def _iso_second(second: int) -> str:
    return datetime.fromtimestamp(second, UTC).isoformat(timespec="seconds")


def _json(text: str) -> Any:
    """``json.loads``, with a shortcut for the empty lists and objects most rows hold
    (it makes listing thousands of messages about twice as fast)."""
    if text == "[]":
        return []
    if text == "{}":
        return {}
    return json.loads(text)


# The records below are named tuples, not dataclasses: the command line's start has no
# time for ``dataclasses`` (see ``mailgui.cli``).


class Held(NamedTuple):
    """``claim_next``'s answer when the account's rate limit says to wait."""

    wait: float  # seconds until one more message may go
    limit: str  # which limit, in words ("2 per minute")


class Event(NamedTuple):
    at: float
    kind: str
    text: str


class MessageRow(NamedTuple):
    """One outbox entry without its body (cheap to list by the thousand)."""

    id: int
    account: str
    state: str
    subject: str
    sender: str
    envelope_from: str
    to: list[str]
    cc: list[str]
    bcc: list[str]
    pending: list[str]
    message_id: str
    size: int
    smtputf8: bool
    created_at: float
    queued_at: float
    send_at: float | None
    next_attempt_at: float | None
    sent_at: float | None
    attempts: int
    last_error: str | None
    recipient_errors: dict[str, str]
    claimed_by: str | None
    claimed_at: float | None
    updated_at: float
    # last_error taken apart (what happened, the fix as data) when the error had a hint
    last_error_said: Said | None = None
    # The copy in the Sent folder (core.sent_copies): None (none wanted, or not sent
    # yet), "pending", "filed" or "failed"; and why it is not filed yet.
    sent_copy: str | None = None
    sent_copy_error: str | None = None
    sent_copy_next_at: float | None = None  # when a pending copy is tried again
    # How it was sealed when queued: "openpgp", "smime" or None.
    signed: str | None = None
    encrypted: str | None = None

    @classmethod
    def from_sql(cls, r: sqlite3.Row) -> MessageRow:
        return cls(
            id=r["id"],
            account=r["account"],
            state=r["state"],
            subject=r["subject"],
            sender=r["sender"],
            envelope_from=r["envelope_from"],
            to=_json(r["to_json"]),
            cc=_json(r["cc_json"]),
            bcc=_json(r["bcc_json"]),
            pending=_json(r["pending_json"]),
            message_id=r["message_id"],
            size=r["size"],
            smtputf8=bool(r["smtputf8"]),
            created_at=r["created_at"],
            queued_at=r["queued_at"],
            send_at=r["send_at"],
            next_attempt_at=r["next_attempt_at"],
            sent_at=r["sent_at"],
            attempts=r["attempts"],
            last_error=r["last_error"],
            recipient_errors=_json(r["recipient_errors_json"]),
            claimed_by=r["claimed_by"],
            claimed_at=r["claimed_at"],
            updated_at=r["updated_at"],
            last_error_said=Said.loads(r["error_hint"]),
            sent_copy=r["sent_copy"],
            sent_copy_error=r["copy_error"],
            sent_copy_next_at=r["copy_next_at"],
            signed=r["signed"],
            encrypted=r["encrypted"],
        )

    def as_json(self) -> dict[str, Any]:
        """The message object of DESIGN.md's ``--json`` contract."""
        return {
            "id": self.id,
            "account": self.account,
            "state": self.state,
            "subject": self.subject,
            "from": self.sender,
            "to": self.to,
            "cc": self.cc,
            "bcc": self.bcc,
            "message_id": self.message_id,
            "size": self.size,
            "created_at": iso(self.created_at),
            "send_at": iso(self.send_at),
            "next_attempt_at": iso(self.next_attempt_at),
            "sent_at": iso(self.sent_at),
            "attempts": self.attempts,
            "last_error": self.last_error,
            "recipient_errors": self.recipient_errors,
            "sent_copy": self.sent_copy,
            "sent_copy_error": self.sent_copy_error,
            "signed": self.signed,
            "encrypted": self.encrypted,
        }


def _message_rows(cursor: Any) -> list[MessageRow]:
    """The MessageRows of a ``SELECT {_COLUMNS}`` cursor, read as plain tuples.

    The same rows ``MessageRow.from_sql`` makes, at about a third of its cost (a list of
    100 000 messages took 2 s that way): no ``sqlite3.Row`` name lookups, rows fetched a
    thousand at a time, and each distinct JSON text (most messages of a backlog share
    their recipients) decoded once and copied, so no two rows share a list."""
    cursor.row_factory = None  # the columns come in MessageRow's order
    decoded: dict[str, Any] = {}
    said: dict[str, Said | None] = {}

    def value(text: str) -> Any:
        found = decoded.get(text)
        if found is None:
            found = _json(text)
            if len(decoded) < 4096:
                decoded[text] = found
            else:
                return found
        return found.copy()

    def hint(text: str | None) -> Said | None:
        if not text:
            return None
        if text not in said:
            said[text] = Said.loads(text)
        return said[text]

    make = MessageRow._make
    out: list[MessageRow] = []
    while chunk := cursor.fetchmany(1000):
        out += [
            make(
                (
                    *r[:6],
                    value(r[6]),
                    value(r[7]),
                    value(r[8]),
                    value(r[9]),
                    r[10],
                    r[11],
                    bool(r[12]),
                    *r[13:20],
                    value(r[20]),
                    r[21],
                    r[22],
                    r[23],
                    hint(r[24]),
                    *r[25:],
                )
            )
            for r in chunk
        ]
    return out


def _proc_start(pid: int) -> str:
    """The process's start time in clock ticks (Linux), to tell a reused pid apart."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return ""
    fields = stat[stat.rfind(")") + 2 :].split()
    # fields[0] is the state (field 3); start time is field 22.
    return "Z" if fields[0] in ("Z", "X") else fields[19]


def _claimer_alive(claimer: str) -> bool | None:
    """True/False when the claiming process is on this host, None when unknown."""
    host, pid_text, start, *_ = [*claimer.split("|"), "", "", ""]
    if host != socket.gethostname():
        return None
    try:
        pid = int(pid_text)
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (ValueError, OSError):
        return None
    now_start = _proc_start(pid)
    if now_start == "Z":
        return False
    return not (start and now_start and start != now_start)


# The translated errors are also sqlite3 errors, so code that catches sqlite3.Error
# (the GUI's outbox service) keeps catching them, now with a sentence to show.
class _Damaged(OutboxDamagedError, sqlite3.DatabaseError):
    pass


class _Storage(StorageError, sqlite3.OperationalError):
    pass


class _Unusable(ConfigError, sqlite3.OperationalError):
    pass


class _Replaced(OutboxReplacedError, sqlite3.OperationalError):
    pass


def _db_error(exc: sqlite3.Error, path: Path) -> Exception:
    """A sentence naming the outbox file and what to do, for an SQLite error that comes
    from the file or the disk (sqlite3's own would reach the person as "internal error").
    Errors of mailgui's own making (misuse, constraints) are returned unchanged."""
    if isinstance(
        exc,
        sqlite3.ProgrammingError
        | sqlite3.IntegrityError
        | sqlite3.InterfaceError
        | sqlite3.NotSupportedError,
    ):
        return exc
    name = getattr(exc, "sqlite_errorname", "") or ""
    if name.startswith(("SQLITE_CORRUPT", "SQLITE_NOTADB")):
        return _Damaged(
            f"The outbox {path} is damaged ({exc}), so mailgui stopped and deleted nothing; "
            "move the file aside (mailgui then starts a new, empty outbox) and recover its "
            "messages as the README says under 'If the outbox is damaged'."
        )
    if name.startswith(("SQLITE_FULL", "SQLITE_IOERR")):
        return _Storage(
            f"The outbox {path} could not be written ({exc}), so nothing was saved and a "
            "new message was not queued; free some disk space and try again."
        )
    if name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")):
        return _Storage(
            f"The outbox {path} is locked by another program, so nothing was saved; close "
            "that program (an sqlite3 shell, a backup tool) and try again."
        )
    if name.startswith(("SQLITE_CANTOPEN", "SQLITE_READONLY", "SQLITE_PERM", "SQLITE_AUTH")):
        return _Unusable(
            f"The outbox {path} cannot be opened for writing ({exc}); check that the file "
            "and its folder exist and belong to you."
        )
    return _Storage(
        f"The outbox {path} could not be used ({exc}); try again, and if it keeps "
        "failing, report it with the log file of your profile."
    )


class _Cursor(sqlite3.Cursor):
    """Rows are read lazily: a damaged page can show up while iterating."""

    def _error(self, exc: sqlite3.Error) -> Exception:
        conn = self.connection
        return _db_error(exc, conn.path if isinstance(conn, _Connection) else Path("?"))

    def __next__(self) -> Any:
        try:
            return super().__next__()
        except sqlite3.Error as exc:
            raise self._error(exc) from exc

    def fetchone(self) -> Any:
        try:
            return super().fetchone()
        except sqlite3.Error as exc:
            raise self._error(exc) from exc

    def fetchall(self) -> list[Any]:
        try:
            return super().fetchall()
        except sqlite3.Error as exc:
            raise self._error(exc) from exc

    def fetchmany(self, size: int | None = 1) -> list[Any]:
        try:
            return super().fetchmany(size)
        except sqlite3.Error as exc:
            raise self._error(exc) from exc


class _Connection(sqlite3.Connection):
    """The outbox connection: SQLite errors become MailguiErrors naming the file."""

    path = Path("?")

    def cursor(self, factory: Any = _Cursor) -> Any:
        return super().cursor(factory)

    def execute(self, sql: str, parameters: Any = (), /) -> Any:
        # Not super().execute(): it makes a plain sqlite3.Cursor, whose lazy reads
        # would escape the translation.
        try:
            return self.cursor().execute(sql, parameters)
        except sqlite3.Error as exc:
            raise _db_error(exc, self.path) from exc


def new_claimer() -> str:
    """An id for this sender: host, pid and process start time, plus a random part."""
    pid = os.getpid()
    # os.urandom, not uuid: importing uuid (and platform) adds ~10 ms to every start
    return f"{socket.gethostname()}|{pid}|{_proc_start(pid)}|{os.urandom(4).hex()}"


def _next_due(
    account: str, include_deferred: bool, ids: Sequence[int] | None, since: float
) -> tuple[str, list[Any]]:
    """SQL for the id of ``account``'s oldest due message, and its arguments. The oldest
    queued and the oldest deferred come each straight from messages_due, then the older
    of the two: one OR over both states would sort every due message on every claim
    (150 µs per claim at 300 due, quadratic in a long backlog)."""
    only = f" AND id IN ({', '.join('?' * len(ids)) or 'NULL'})" if ids is not None else ""
    oldest = (
        "SELECT * FROM (SELECT id, queued_at FROM messages WHERE account = ? AND "
        "state = ?{} ORDER BY queued_at, id LIMIT 1)"
    )
    sql = oldest.format(only)
    args: list[Any] = [account, "queued", *(ids or ())]
    if include_deferred:
        sql += " UNION ALL " + oldest.format(" AND updated_at < ?" + only)
        args += [account, "deferred", since, *(ids or ())]
    return f"SELECT id FROM ({sql}) ORDER BY queued_at, id LIMIT 1", args


class Outbox:
    """The outbox database. One instance per thread (sqlite3 connections are not shared)."""

    def __init__(self, path: Path, *, clock: Any = time.time, busy_timeout: float = 30.0) -> None:
        self.path = path
        self.clock = clock
        self._batched = False  # inside transaction(): see there
        self._synced = -LAZY_SYNC_AT_MOST  # the last commit that reached the disk (fsync)
        self._unsynced = False  # a lazy commit since then
        self._guard = FileGuard(path)
        try:
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            make_private(path)
        except OSError as exc:
            raise ConfigError(
                f"The outbox {path} cannot be created ({exc.strerror or exc}); check that "
                "its folder exists and belongs to you."
            ) from None
        try:
            db = sqlite3.connect(
                path, timeout=busy_timeout, isolation_level=None, factory=_Connection
            )
        except sqlite3.Error as exc:
            raise _db_error(exc, path) from exc
        assert isinstance(db, _Connection)
        db.path = path
        self.db: sqlite3.Connection = db
        self.db.row_factory = sqlite3.Row
        try:
            self._use_wal()
            self.db.execute("PRAGMA synchronous=FULL")
            self.db.execute("PRAGMA foreign_keys=ON")
            self._migrate()
        except BaseException:
            self.db.close()
            raise

    def _use_wal(self) -> None:
        """Switch a new database to WAL. The switch needs an exclusive lock and SQLite's
        busy timeout does not cover it, so several processes opening a new outbox at
        once retry here for a while."""
        deadline = time.monotonic() + 30.0
        while True:
            try:
                if self.db.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                    self.db.execute("PRAGMA journal_mode=WAL")
                return
            except StorageError as exc:  # made from sqlite3's "database is locked"
                if "locked" not in str(exc.__cause__) or time.monotonic() > deadline:
                    raise
                time.sleep(0.02)

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> Outbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _write(self, *, lazy: bool = False) -> Iterator[sqlite3.Connection]:
        """One write transaction, taken at once so claims never race. Its commit reaches
        the disk before this returns, unless ``lazy`` (see ``transaction``)."""
        if self._batched:  # part of the enclosing transaction(), committed with it
            yield self.db
            return
        self._check_files()  # never write into a journal nobody else reads
        lazy = lazy and time.monotonic() - self._synced < LAZY_SYNC_AT_MOST
        if lazy:
            self.db.execute("PRAGMA synchronous=NORMAL")
        try:
            self.db.execute("BEGIN IMMEDIATE")
            yield self.db
            self.db.execute("COMMIT")
            self._unsynced = lazy
            if not lazy:
                self._synced = time.monotonic()
            self._check_files(committed=True)  # deleted meanwhile: the change may be lost
        except BaseException as exc:
            # SQLite may already have rolled back (disk full): keep the first error.
            if self.db.in_transaction:
                try:
                    self.db.execute("ROLLBACK")
                except MailguiError:
                    pass
            if isinstance(exc, sqlite3.Error) and not isinstance(exc, MailguiError):
                error = _db_error(exc, self.path)  # from a blob, which execute() does not see
                if error is not exc:
                    raise error from exc
            raise
        finally:
            if lazy:
                self.db.execute("PRAGMA synchronous=FULL")

    @contextmanager
    def transaction(self, *, lazy: bool = False) -> Iterator[None]:
        """Several state changes as one transaction: all of them or none are on disk, with
        one commit (one fsync, synchronous=FULL) for all. The sender records a message's
        outcome and claims the next message this way. An error inside rolls back all.

        ``lazy`` (the sender's outcome + claim only): the commit may skip its fsync, as
        long as one reached the disk in the last LAZY_SYNC_AT_MOST seconds. WAL with
        synchronous=NORMAL never corrupts the file and survives a killed process; a
        power cut can only lose the newest lazy commits, and losing an outcome or a
        claim only sends that message again (a duplicate, never a loss). A queued
        message is always committed with an fsync, and that fsync makes every commit
        before it durable too, so a lost tail of lazy commits never holds one."""
        if self._batched:
            yield
            return
        with self._write(lazy=lazy):
            self._batched = True
            try:
                yield
            finally:
                self._batched = False

    def settle(self) -> None:
        """Put the lazy commits on disk now (the sender, at the end of a flush)."""
        if not self._unsynced:
            return
        try:
            fd = os.open(f"{self.path}-wal", os.O_RDONLY)
        except FileNotFoundError:  # checkpointed and removed: on disk already
            self._unsynced = False
            return
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        self._unsynced = False
        self._synced = time.monotonic()

    def _check_files(self, *, committed: bool = False) -> None:
        """Refuse to go on when a file SQLite has open was deleted or replaced under this
        process (``core.outbox_files``): a write now could land where nobody reads it."""
        found = self._guard.problem()
        if found is None:
            return
        done = (
            "so the change just made may be lost and mailgui stops writing to the outbox"
            if committed
            else "so mailgui stopped writing to the outbox to lose nothing"
        )
        raise _Replaced(
            f"The outbox file {found}, {done}; quit every mailgui (windows and the agent) "
            "and start it again."
        )

    def _migrate(self) -> None:
        with self._write() as db:
            version = db.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise UsageError(
                    f"The outbox {self.path} was written by a newer mailgui; upgrade mailgui."
                )
            if version == 0:
                # executescript() would commit our transaction; run statements one by one.
                for statement in _SCHEMA.split(";"):
                    if statement.strip():
                        db.execute(statement)
            if version == 1:  # 2: the index that lets claim_next read the oldest at once
                db.execute("CREATE INDEX messages_due ON messages (account, state, queued_at)")
            if version in (1, 2):  # 3: the last error's hint (core.hints), for each face
                db.execute("ALTER TABLE messages ADD COLUMN error_hint TEXT")
            if version in (1, 2, 3):  # 4: the copy in the Sent folder (core.sent_copies)
                for column in _COPY_COLUMNS:
                    db.execute(f"ALTER TABLE messages ADD COLUMN {column}")
                db.execute("CREATE INDEX messages_copies ON messages (sent_copy, account)")
                db.execute(
                    "CREATE TABLE sent_folders (account TEXT PRIMARY KEY, folder TEXT NOT NULL)"
                )
            if version < SCHEMA_VERSION:
                db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")

    def data_version(self) -> int:
        """Changes when another connection commits: a cheap "did anything change?" poll.
        Every face polls it, so it is also where a replaced outbox file is noticed."""
        self._check_files()
        return int(self.db.execute("PRAGMA data_version").fetchone()[0])

    def _event(self, db: sqlite3.Connection, msg_id: int, kind: str, text: str) -> None:
        db.execute(
            "INSERT INTO events (message, at, kind, text) VALUES (?, ?, ?, ?)",
            (msg_id, self.clock(), kind, text),
        )

    # --- adding and reading ---------------------------------------------------------

    def add(
        self,
        account: str,
        out: Outgoing,
        *,
        send_at: float | None = None,
        sealed: tuple[str | None, str | None] = (None, None),
    ) -> int:
        """Store a message durably; returns its id. ``send_at`` in the future = scheduled;
        ``sealed`` is (signed, encrypted): "openpgp", "smime" or None each."""
        now = self.clock()
        state = "scheduled" if send_at is not None and send_at > now else "queued"
        with self._write() as db:
            cur = db.execute(
                "INSERT INTO messages (account, state, subject, sender, envelope_from, "
                "to_json, cc_json, bcc_json, pending_json, message_id, size, smtputf8, "
                "created_at, queued_at, send_at, updated_at, signed, encrypted) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    account,
                    state,
                    out.subject,
                    out.sender,
                    out.envelope_from,
                    json.dumps(out.to),
                    json.dumps(out.cc),
                    json.dumps(out.bcc),
                    json.dumps(out.recipients),
                    out.message_id,
                    len(out.data),
                    int(out.smtputf8),
                    now,
                    max(now, send_at or now),
                    send_at,
                    now,
                    *sealed,
                ),
            )
            msg_id = int(cur.lastrowid or 0)
            _put_body(db, msg_id, out.data)
            self._event(db, msg_id, state, "Scheduled." if state == "scheduled" else "Queued.")
        return msg_id

    def get(self, msg_id: int) -> MessageRow:
        row = self.db.execute(f"SELECT {_COLUMNS} FROM messages WHERE id = ?", (msg_id,)).fetchone()
        if row is None:
            raise UsageError(
                f"There is no message {msg_id} in the outbox; see 'mailgui outbox list'."
            )
        return MessageRow.from_sql(row)

    def body(self, msg_id: int) -> bytes:
        row = self.db.execute(
            "SELECT length(data), CASE WHEN length(data) <= ? THEN data END "
            "FROM bodies WHERE id = ?",
            (BODY_CHUNK, msg_id),
        ).fetchone()
        if row is None:
            raise UsageError(f"There is no message {msg_id} in the outbox.")
        if row[1] is not None:
            return bytes(row[1])
        with self.db.blobopen("bodies", "data", msg_id, readonly=True) as blob:
            return blob.read()  # see BODY_CHUNK

    def events(self, msg_id: int) -> list[Event]:
        rows = self.db.execute(
            "SELECT at, kind, text FROM events WHERE message = ? ORDER BY seq", (msg_id,)
        )
        return [Event(r["at"], r["kind"], r["text"]) for r in rows]

    def list_messages(
        self, *, state: str | None = None, account: str | None = None
    ) -> list[MessageRow]:
        sql = f"SELECT {_COLUMNS} FROM messages WHERE 1=1"
        args: list[Any] = []
        if state is not None:
            sql += " AND state = ?"
            args.append(state)
        if account is not None:
            sql += " AND account = ?"
            args.append(account)
        return _message_rows(self.db.execute(sql + " ORDER BY id", args))

    def versions(self) -> dict[int, float]:
        """``id → updated_at`` of every message: tells a viewer which rows changed
        without reading them all."""
        cursor = self.db.execute("SELECT id, updated_at FROM messages")
        cursor.row_factory = None  # pairs, made into the dict in C: 100 000 in ~45 ms
        return dict(cursor.fetchall())

    def get_many(self, ids: Sequence[int]) -> list[MessageRow]:
        """The messages of ``ids`` that still exist, in the order of ``ids``."""
        rows = self.db.execute(
            f"SELECT {_COLUMNS} FROM messages WHERE id IN (SELECT value FROM json_each(?))",
            (json.dumps(list(ids)),),
        )
        found = {r.id: r for r in _message_rows(rows)}
        return [found[i] for i in ids if i in found]

    def counts(self) -> dict[str, int]:
        rows = self.db.execute("SELECT state, COUNT(*) FROM messages GROUP BY state")
        return {state: 0 for state in STATES} | {r[0]: r[1] for r in rows}

    # --- user actions ---------------------------------------------------------------

    def retry(self, msg_id: int) -> MessageRow:
        """Clear back-off (and ``failed`` → ``queued``) so the next flush takes it."""
        row = self.get(msg_id)
        if row.state == "sent" and row.sent_copy in ("pending", "failed"):
            self.retry_copy(msg_id)  # the message itself is never sent again
            return self.get(msg_id)
        if row.state in ("sent", "sending"):
            what = "was already sent" if row.state == "sent" else "is being sent right now"
            raise UsageError(f"Message {msg_id} {what}; there is nothing to retry.")
        now = self.clock()
        with self._write() as db:
            db.execute(
                "UPDATE messages SET state = 'queued', next_attempt_at = NULL, "
                "queued_at = ?, updated_at = ? "
                "WHERE id = ? AND state IN ('queued', 'deferred', 'failed', 'scheduled')",
                (now, now, msg_id),
            )
            self._event(db, msg_id, "retry", "Retry requested.")
        return self.get(msg_id)

    def retry_copy(self, msg_id: int) -> bool:
        """ "Retry copy": a failed or waiting Sent copy (core.sent_copies) is tried at the
        next flush."""
        with self._write() as db:
            n = db.execute(
                "UPDATE messages SET sent_copy = 'pending', copy_next_at = NULL, "
                "copy_attempts = 0, copy_claimed_at = NULL, updated_at = ? "
                "WHERE id = ? AND sent_copy IN ('pending', 'failed')",
                (self.clock(), msg_id),
            ).rowcount
            if n:
                self._event(db, msg_id, "copy-retry", "Retry of the Sent copy requested.")
        return bool(n)

    def retry_all(self) -> list[int]:
        now = self.clock()
        with self._write() as db:
            ids = [
                r[0]
                for r in db.execute(
                    "SELECT id FROM messages WHERE state IN ('deferred', 'failed') ORDER BY id"
                )
            ]
            for msg_id in ids:
                db.execute(
                    "UPDATE messages SET state = 'queued', next_attempt_at = NULL, "
                    "queued_at = ?, updated_at = ? WHERE id = ?",
                    (now, now, msg_id),
                )
                self._event(db, msg_id, "retry", "Retry requested.")
        return ids

    def delete(self, msg_id: int) -> None:
        row = self.get(msg_id)
        with self._write() as db:
            n = db.execute(
                "DELETE FROM messages WHERE id = ? AND state != 'sending'", (msg_id,)
            ).rowcount
        if n == 0 and row.state == "sending":
            raise UsageError(
                f"Message {msg_id} is being sent right now; wait for the attempt to end "
                "and delete it then."
            )

    def cancel_scheduled(self, msg_id: int) -> bool:
        """Delete a message only while it is still ``scheduled`` (Undo send): one
        statement, so a sender that promoted or claimed it first wins. False if not."""
        with self._write() as db:
            n = db.execute(
                "DELETE FROM messages WHERE id = ? AND state = 'scheduled'", (msg_id,)
            ).rowcount
        return bool(n)

    # --- the sender's side ----------------------------------------------------------

    def recover_stale(self) -> list[int]:
        """Put messages whose sender died back in the queue (they may arrive twice)."""
        now = self.clock()
        rows = self.db.execute(
            "SELECT id, claimed_by, claimed_at FROM messages WHERE state = 'sending'"
        ).fetchall()
        recovered = []
        for r in rows:
            alive = _claimer_alive(r["claimed_by"] or "")
            expired = now - (r["claimed_at"] or 0) > CLAIM_LEASE
            if alive is False or (alive is None and expired):
                with self._write() as db:
                    n = db.execute(
                        "UPDATE messages SET state = 'queued', claimed_by = NULL, "
                        "claimed_at = NULL, next_attempt_at = NULL, updated_at = ?, "
                        "last_error = ?, error_hint = NULL "
                        "WHERE id = ? AND state = 'sending' AND claimed_by = ?",
                        (
                            now,
                            "The sender stopped while sending this message; it will be sent "
                            "again, and may arrive twice.",
                            r["id"],
                            r["claimed_by"],
                        ),
                    ).rowcount
                    if n:
                        self._event(db, r["id"], "recovered", "Sender stopped mid-send.")
                        recovered.append(r["id"])
        return recovered

    def promote_due(self) -> None:
        """scheduled → queued at their time, dated then (see ``_redate``); deferred →
        queued when their back-off ends."""
        now = self.clock()
        with self._write() as db:
            released = db.execute(
                "SELECT id FROM messages WHERE state = 'scheduled' AND send_at <= ? "
                "AND signed IS NULL AND encrypted IS NULL",
                (now,),
            ).fetchall()
            for (msg_id,) in released:
                _redate(db, msg_id, now)
            db.execute(
                "UPDATE messages SET state = 'queued', next_attempt_at = NULL, updated_at = ? "
                "WHERE (state = 'scheduled' AND send_at <= ?) "
                "OR (state = 'deferred' AND next_attempt_at <= ?)",
                (now, now, now),
            )

    @staticmethod
    def _due(
        include_deferred: bool, ids: Sequence[int] | None, since: float
    ) -> tuple[str, list[Any]]:
        """SQL for "may be taken now". With ``include_deferred`` (flush, retry), deferred
        messages count too, except those this very flush already tried (updated since)."""
        clause = "(state = 'queued'"
        args: list[Any] = []
        if include_deferred:
            clause += " OR (state = 'deferred' AND updated_at < ?)"
            args.append(since)
        clause += ")"
        if ids is not None:
            clause += f" AND id IN ({', '.join('?' * len(ids)) or 'NULL'})"
            args.extend(ids)
        return clause, args

    def due_accounts(
        self, *, include_deferred: bool, ids: Sequence[int] | None = None, since: float = 0.0
    ) -> list[str]:
        clause, args = self._due(include_deferred, ids, since)
        rows = self.db.execute(f"SELECT DISTINCT account FROM messages WHERE {clause}", args)
        return [r[0] for r in rows]

    def claim_next(
        self,
        claimer: str,
        account: str,
        *,
        include_deferred: bool = False,
        ids: Sequence[int] | None = None,
        since: float = 0.0,
        limits: RateLimits | None = None,
    ) -> MessageRow | Held | None:
        """Atomically take the oldest due message of ``account`` for ``claimer``.

        With ``limits``, the account's rate limit is checked in the same transaction,
        counting messages sent and messages other senders hold right now, so two
        senders together never exceed it; ``Held`` says how long to wait."""
        now = self.clock()
        sql, args = _next_due(account, include_deferred, ids, since)
        with self._write() as db:
            if limits is not None and (limits.per_minute or limits.per_hour or limits.per_day):
                times = [
                    r[0]
                    for r in db.execute(
                        "SELECT at FROM sent_log WHERE account = ? AND at > ? UNION ALL "
                        "SELECT claimed_at FROM messages WHERE account = ? AND state = 'sending'",
                        (account, now - 86400.0, account),
                    )
                ]
                wait = rate_wait(times, limits, now)
                if wait > 0:
                    return Held(wait, describe_limit(limits, times, now))
            # One statement takes the message and returns it as claimed (the flush used
            # to run SELECT, UPDATE and get(): three statements per message).
            row = db.execute(
                "UPDATE messages SET state = 'sending', claimed_by = ?, claimed_at = ?, "
                f"attempts = attempts + 1, updated_at = ? WHERE id = ({sql}) "
                f"RETURNING {_COLUMNS}",
                [claimer, now, now, *args],
            ).fetchone()
        return None if row is None else MessageRow.from_sql(row)

    def peek_next(
        self,
        account: str,
        *,
        include_deferred: bool = False,
        ids: Sequence[int] | None = None,
        since: float = 0.0,
    ) -> MessageRow | None:
        """The message ``claim_next`` would take now (rate limits aside), not taken: the
        sender writes its envelope ahead; another sender may still take it first."""
        sql, args = _next_due(account, include_deferred, ids, since)
        row = self.db.execute(
            f"SELECT {_COLUMNS} FROM messages WHERE id = ({sql})", args
        ).fetchone()
        return None if row is None else MessageRow.from_sql(row)

    def touch(self, msg_id: int, claimer: str) -> None:
        """Renew a claim during a long transfer so nobody takes it over."""
        with self._write() as db:
            db.execute(
                "UPDATE messages SET claimed_at = ? WHERE id = ? AND claimed_by = ?",
                (self.clock(), msg_id, claimer),
            )

    def finish(
        self,
        msg_id: int,
        claimer: str,
        state: str,
        *,
        note: str,
        error: str | None = None,
        said: Said | None = None,
        sent_copy: bool = False,
        next_attempt_at: float | None = None,
        recipient_errors: dict[str, str | None] | None = None,
        pending: list[str] | None = None,
        count_attempt: bool = True,
    ) -> None:
        """Record the outcome of one attempt; only the claimer may do this.

        ``recipient_errors`` is merged into the stored ones; None removes an address."""
        assert state in ("sent", "deferred", "failed", "queued")
        now = self.clock()
        sets = [
            "state = ?",
            "claimed_by = NULL",
            "claimed_at = NULL",
            "updated_at = ?",
            "next_attempt_at = ?",
        ]
        args: list[Any] = [state, now, next_attempt_at]
        if error is not None or state == "sent":
            sets.append("last_error = ?, error_hint = ?")
            args += [error, None if said is None else said.dumps()]
        if state == "sent":
            sets.append("sent_at = ?")
            args.append(now)
            if sent_copy:
                sets.append("sent_copy = 'pending', copy_next_at = NULL")
        if recipient_errors:
            sets.append("recipient_errors_json = json_patch(recipient_errors_json, ?)")
            args.append(json.dumps(recipient_errors))
        if pending is not None:
            sets.append("pending_json = ?")
            args.append(json.dumps(pending))
        if not count_attempt:
            sets.append("attempts = attempts - 1")
        with self._write() as db:
            row = db.execute(
                f"UPDATE messages SET {', '.join(sets)} "
                "WHERE id = ? AND state = 'sending' AND claimed_by = ? RETURNING account",
                [*args, msg_id, claimer],
            ).fetchone()
            if row is None:
                return  # the claim was taken over (lease expired); its new owner decides
            if state == "sent":
                db.execute("INSERT INTO sent_log (account, at) VALUES (?, ?)", (row[0], now))
            self._event(db, msg_id, state, note)

    def next_wakeup(self) -> float | None:
        """When the next deferred or scheduled message, or a Sent copy to file, becomes
        due (None: nothing waits)."""
        row = self.db.execute(
            "SELECT MIN(t) FROM ("
            "SELECT MIN(next_attempt_at) AS t FROM messages WHERE state = 'deferred' "
            "UNION ALL SELECT MIN(send_at) FROM messages WHERE state = 'scheduled' "
            "UNION ALL SELECT MIN(COALESCE(copy_next_at, 0)) FROM messages "
            "WHERE sent_copy = 'pending' AND copy_claimed_by IS NULL)"
        ).fetchone()
        return None if row[0] is None else float(row[0])

    def recent_sends(self, account: str, window: float = 86400.0) -> list[float]:
        since = self.clock() - window
        rows = self.db.execute(
            "SELECT at FROM sent_log WHERE account = ? AND at > ?", (account, since)
        )
        return [r[0] for r in rows]

    def prune_sent_log(self) -> None:
        with self._write() as db:
            db.execute("DELETE FROM sent_log WHERE at < ?", (self.clock() - 86400.0,))

    # --- taking a message (or some of its recipients) out before it is sent --------------
    # (recipient checks and Edit; kept in one block of its own)

    def refuse_recipients(self, msg_id: int, reasons: dict[str, str]) -> MessageRow | None:
        """Take recipients out of a waiting message for good, before a try reaches them
        (a domain that publishes a null MX accepts no mail, RFC 7505). Each address of
        ``reasons`` still pending gets its reason in ``recipient_errors``; a message left
        with nobody to send to fails. None when a sender holds the message right now (or
        it was sent, or is gone): then nothing changes."""
        now = self.clock()
        with self._write() as db:
            found = db.execute(
                f"SELECT {_COLUMNS} FROM messages WHERE id = ? AND state IN "
                f"({', '.join('?' * len(EDITABLE))})",
                (msg_id, *EDITABLE),
            ).fetchone()
            if found is None:
                return None
            row = MessageRow.from_sql(found)
            refused = {a: r for a, r in reasons.items() if a in row.pending}
            if not refused:
                return row
            pending = [a for a in row.pending if a not in refused]
            sets = "pending_json = ?, recipient_errors_json = json_patch(recipient_errors_json, ?)"
            args: list[Any] = [json.dumps(pending), json.dumps(refused)]
            if not pending:
                texts = list(dict.fromkeys(refused.values()))
                sets += ", state = 'failed', next_attempt_at = NULL, last_error = ?"
                sets += ", error_hint = NULL"
                args.append(" ".join(texts))
            db.execute(
                f"UPDATE messages SET {sets}, updated_at = ? WHERE id = ?", [*args, now, msg_id]
            )
            for addr, reason in refused.items():
                self._event(db, msg_id, "refused", f"Not sent to {addr}: {reason}")
            if not pending:
                self._event(db, msg_id, "failed", "No recipient left to send to.")
        return self.get(msg_id)

    def still_has(self, msg_id: int, message_id: str) -> bool:
        """Whether message ``msg_id`` with this Message-ID is in the outbox (any state).
        Ids are never reused (AUTOINCREMENT), so a row that left cannot come back."""
        found = self.db.execute(
            "SELECT 1 FROM messages WHERE id = ? AND message_id = ?", (msg_id, message_id)
        ).fetchone()
        return found is not None

    def take_out(self, msg_id: int, keep: Callable[[MessageRow, bytes], _T]) -> _T:
        """Remove a message that waits (scheduled, queued, deferred or failed) to edit it.

        ``keep(row, body)`` stores it durably first (as a draft); only then is the row
        deleted, in the same ``BEGIN IMMEDIATE`` transaction, so no sender can claim it in
        between, and a crash at any point leaves it in the outbox or in the drafts (both
        at worst), never nowhere. A message being sent, or sent, is refused with a sentence
        (UsageError); so is one that is gone. Returns what ``keep`` returned."""
        with self._write() as db:
            found = db.execute(
                f"SELECT {_COLUMNS} FROM messages WHERE id = ?", (msg_id,)
            ).fetchone()
            if found is None:
                raise UsageError(
                    f"There is no message {msg_id} in the outbox; see 'mailgui outbox list'."
                )
            row = MessageRow.from_sql(found)
            if row.state == "sending":
                raise UsageError(
                    f"Message {msg_id} is being sent right now, so it cannot be edited; "
                    "wait for this try to end and edit it then."
                )
            if row.state == "sent":
                raise UsageError(f"Message {msg_id} was already sent; it cannot be edited.")
            kept = keep(row, self.body(msg_id))
            db.execute("DELETE FROM messages WHERE id = ?", (msg_id,))
        return kept
