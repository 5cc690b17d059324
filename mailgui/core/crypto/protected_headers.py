"""Protected headers: the real Subject and addresses travel inside the encryption.

As Thunderbird (78 and later) and Enigmail write them, after the Autocrypt
"protected headers" draft (draft-autocrypt-lamps-protected-headers-02): the root of
the encrypted payload carries ``protected-headers="v1"`` on its Content-Type and a copy
of the message's own header fields; the outer Subject reads ``...``. A reader that knows
the scheme shows the inner fields; others show "..." and the message as it is. Only the
header fields go inside; nothing else about the message changes.
"""

from __future__ import annotations

from collections.abc import Sequence

from mailgui.core.crypto.mime_parts import Field, field, join_fields, replace_field, split_header

PLACEHOLDER_SUBJECT = "..."
# What goes inside, in this order when present. Date and Message-ID too (the draft's
# list), so that a reader can tell a copy was not replayed with other ones.
PROTECTED = (
    *("from", "to", "cc", "reply-to", "followup-to", "subject", "date", "message-id"),
    *("in-reply-to", "references", "keywords"),
)


def protect(outer: Sequence[Field], content: bytes) -> tuple[list[Field], bytes]:
    """The outer fields with the placeholder Subject, and ``content`` with the protected
    fields inside its header and ``protected-headers="v1"`` on its Content-Type."""
    fields, body = split_header(content)
    inner = [f for name in PROTECTED for f in outer if f.name == name]
    typed = [f for f in fields if f.name == "content-type"]
    if typed:
        content_type = Field("content-type", typed[0].raw + b';\r\n protected-headers="v1"')
    else:  # the default type (RFC 2045 5.2), spelt out to carry the parameter
        content_type = field(
            "Content-Type", 'text/plain; charset="us-ascii";\r\n protected-headers="v1"'
        )
    rest = [f for f in fields if f.name != "content-type"]
    protected = join_fields([content_type, *rest, *inner]) + b"\r\n" + body
    return replace_field(list(outer), field("Subject", PLACEHOLDER_SUBJECT)), protected
