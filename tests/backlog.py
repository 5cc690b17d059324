"""Messages of a backlog, for tests that fill an outbox with many (issue 19's big
outbox): one recipient, a tiny body, each its own Subject and Message-ID."""

from __future__ import annotations

from datetime import UTC, datetime

from mailgui.core.outgoing import Outgoing


def outgoing(n: int, subject: str = "Backlog {n}") -> Outgoing:
    """Message ``n`` of the backlog; ``subject`` is formatted with ``n``."""
    return Outgoing(
        envelope_from="me@example.org",
        recipients=["bob@example.org"],
        data=f"Subject: Backlog {n}\r\n\r\nbody\r\n".encode(),
        message_id=f"<{n}@example.org>",
        date=datetime.now(UTC),
        subject=subject.format(n=n),
        sender="me@example.org",
        to=["bob@example.org"],
        cc=[],
        bcc=[],
        smtputf8=False,
    )
