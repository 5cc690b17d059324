"""The Sent-copy queue (core/sent_copies.py) on a real outbox file: a copy is filed once,
waits with back-off, gives up for good on a permanent refusal, survives a dead filer,
and never sends the message again. The filer here is a folder kept in memory; the real
IMAP filer is tested against Dovecot in tests/imap/test_sent_copy_flow.py."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest
from clock import Clock

from mailgui.core.accounts import Account, AccountStore
from mailgui.core.addresses import Mailbox
from mailgui.core.credentials import Login, Passwords
from mailgui.core.errors import PermanentError, TransientError
from mailgui.core.message import Draft, build
from mailgui.core.outbox import Outbox, new_claimer
from mailgui.core.sent_copies import CopyQueue, Filed, SentCopies, with_bcc

ACCOUNT = Account(name="work", email="me@example.org", host="smtp.example.org",
                  imap_host="imap.example.org")  # fmt: skip


class Folder:
    """A Sent folder: it keeps what was filed, by Message-ID, and fails when told."""

    def __init__(self) -> None:
        self.kept: dict[str, bytes] = {}
        self.fail: Exception | None = None
        self.opened = 0

    def __call__(self, account: Account, login: Login | None) -> Folder:
        self.opened += 1
        return self

    def file(self, data: bytes, message_id: str, date: datetime, folder: str) -> Filed:
        if self.fail is not None:
            raise self.fail
        already = message_id in self.kept
        self.kept.setdefault(message_id, data)
        return Filed("Sent", already)

    def close(self) -> None:
        pass


@pytest.fixture
def setup(tmp_path: Path) -> tuple[Outbox, AccountStore, Clock]:
    clock = Clock(1_000_000.0)
    store = AccountStore(tmp_path / "accounts.toml")
    store.save(ACCOUNT)
    return Outbox(tmp_path / "outbox.sqlite3", clock=clock), store, clock


def _sent(outbox: Outbox, *, copy: bool = True) -> int:
    draft = Draft(sender=Mailbox("", "me@example.org"), to=[Mailbox("", "bob@example.org")],
                  bcc=[Mailbox("Carol", "carol@example.org")], subject="Hi", text="x")  # fmt: skip
    msg_id = outbox.add("work", build(draft))
    me = new_claimer()
    assert outbox.claim_next(me, "work") is not None
    outbox.finish(msg_id, me, "sent", note="Sent.", sent_copy=copy)
    return msg_id


def _step(folder: Folder, clock: Clock) -> SentCopies:
    return SentCopies(Passwords(lambda name: None), folder, clock=clock)


def test_filed_once_with_the_bcc(setup: tuple[Outbox, AccountStore, Clock]) -> None:
    outbox, store, clock = setup
    msg_id = _sent(outbox)
    folder = Folder()
    outcomes = _step(folder, clock).flush(outbox, store, account=None, ids=None,
                                          include_deferred=False)  # fmt: skip
    assert [(o.id, o.state) for o in outcomes] == [(msg_id, "copy-filed")]
    row = outbox.get(msg_id)
    assert (row.state, row.sent_copy, row.sent_copy_error) == ("sent", "filed", None)
    (data,) = folder.kept.values()
    assert b"Bcc: carol@example.org\r\n" in data  # the outbox keeps Bcc addresses only
    assert data == with_bcc(outbox.body(msg_id), row.bcc)
    assert _step(folder, clock).flush(outbox, store, account=None, ids=None,
                                      include_deferred=True) == []  # fmt: skip
    assert [e.kind for e in outbox.events(msg_id)][-1] == "copy-filed"


def test_a_transient_failure_waits_with_back_off(setup: tuple[Outbox, AccountStore, Clock]) -> None:
    outbox, store, clock = setup
    msg_id = _sent(outbox)
    folder = Folder()
    folder.fail = TransientError("The IMAP server at imap.example.org:993 refused the connection.")
    step = _step(folder, clock)
    outcomes = step.flush(outbox, store, account=None, ids=None, include_deferred=False)
    assert [o.state for o in outcomes] == ["copy-pending"]
    row = outbox.get(msg_id)
    assert row.sent_copy == "pending" and "refused the connection" in (row.sent_copy_error or "")
    assert row.sent_copy_next_at == clock.now + ACCOUNT.retry.first_delay
    assert outbox.next_wakeup() == row.sent_copy_next_at  # the sender wakes up for it
    folder.fail = None
    assert step.flush(outbox, store, account=None, ids=None, include_deferred=False) == []
    clock.advance(ACCOUNT.retry.first_delay)
    outcomes = step.flush(outbox, store, account=None, ids=None, include_deferred=False)
    assert [o.state for o in outcomes] == ["copy-filed"]
    assert outbox.get(msg_id).state == "sent"


def test_a_permanent_refusal_fails_the_copy_and_retry_puts_it_back(
    setup: tuple[Outbox, AccountStore, Clock],
) -> None:
    outbox, store, clock = setup
    msg_id = _sent(outbox)
    folder = Folder()
    folder.fail = PermanentError("The folder 'Versandt' does not exist on imap.example.org.")
    outcomes = _step(folder, clock).flush(outbox, store, account=None, ids=None,
                                          include_deferred=True)  # fmt: skip
    assert [o.state for o in outcomes] == ["copy-failed"]
    assert outbox.get(msg_id).sent_copy == "failed"
    assert outbox.retry(msg_id).sent_copy == "pending"  # "Retry copy": never a resend
    folder.fail = None
    outcomes = _step(folder, clock).flush(outbox, store, account=None, ids=[msg_id],
                                          include_deferred=True)  # fmt: skip
    assert [o.state for o in outcomes] == ["copy-filed"]
    assert outbox.get(msg_id).state == "sent" and outbox.get(msg_id).attempts == 1


def test_a_dead_filers_claim_is_taken_over(setup: tuple[Outbox, AccountStore, Clock]) -> None:
    outbox, store, clock = setup
    _sent(outbox)
    queue = CopyQueue(outbox)
    dead = f"{new_claimer().split('|')[0]}|999999999|0|x"  # this host, a pid not running
    assert queue.claim(dead, "work", everything=True, ids=None, since=clock.now + 1) is not None
    assert outbox.next_wakeup() is None  # claimed: nobody wakes up for it meanwhile
    folder = Folder()
    outcomes = _step(folder, clock).flush(outbox, store, account=None, ids=None,
                                          include_deferred=False)  # fmt: skip
    assert [o.state for o in outcomes] == ["copy-filed"] and len(folder.kept) == 1


def test_no_copy_wanted_or_account_gone(setup: tuple[Outbox, AccountStore, Clock]) -> None:
    outbox, store, clock = setup
    none = _sent(outbox, copy=False)
    assert outbox.get(none).sent_copy is None
    gone = _sent(outbox)
    store.remove("work")
    outcomes = _step(Folder(), clock).flush(outbox, store, account=None, ids=None,
                                            include_deferred=True)  # fmt: skip
    assert [(o.id, o.state) for o in outcomes] == [(gone, "copy-failed")]
    assert "gone" in (outbox.get(gone).sent_copy_error or "")
