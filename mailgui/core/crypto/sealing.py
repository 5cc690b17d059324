"""The one way a message is signed and/or encrypted, whatever the technology.

The order is fixed: protected headers go into the content first (when encrypting), the
content is signed (multipart/signed, detached), and the signed whole is encrypted — so
that after decryption the signature still covers the real Subject, and a reader can check
it with the ordinary tools (RFC 3156 section 6.1, RFC 8551 section 3.7).

Who a message is encrypted to: every envelope recipient and the sender, so that the
Sent copy can be read. Envelope recipients not shown in To or Cc (Bcc, or extra
``sendmail`` arguments) are *hidden*: the technology must not reveal them to the others.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple, Protocol

from mailgui.core.crypto import mime_parts
from mailgui.core.crypto.mime_parts import Field
from mailgui.core.crypto.protected_headers import protect
from mailgui.core.outgoing import Outgoing, unique


class Recipients(NamedTuple):
    """Whom the message is encrypted to, by address."""

    visible: list[str]  # the sender first, then To/Cc addresses in the envelope
    hidden: list[str]  # envelope recipients not in To or Cc


def recipients_of(out: Outgoing) -> Recipients:
    shown = {a.lower() for a in [out.sender, *out.to, *out.cc]}
    visible = unique([out.sender, *(a for a in out.recipients if a.lower() in shown)])
    hidden = [a for a in out.recipients if a.lower() not in shown]
    return Recipients(visible, hidden)


class Signer(Protocol):
    def sign(self, content: bytes) -> tuple[list[tuple[str, str]], bytes]:
        """The multipart/signed parameters (protocol, micalg) and the signature part
        (an entity: its header fields, an empty line, the body) for ``content``."""
        ...


class Encrypter(Protocol):
    def encrypt(self, content: bytes, to: Recipients) -> tuple[list[Field], list[bytes]]:
        """The Content-* fields and the body (pieces) of the encrypted form of ``content``."""
        ...


SIGNED_PREAMBLE = "This is a signed message in MIME format (RFC 1847)."


def seal(
    out: Outgoing,
    *,
    signer: Signer | None = None,
    encrypter: Encrypter | None = None,
    extra: Sequence[Field] = (),
    protected_headers: bool = True,
) -> Outgoing:
    """``out`` signed by ``signer`` and/or encrypted by ``encrypter``, with ``extra``
    fields (Autocrypt) added to the outer header; the envelope stays as it was."""
    cut = mime_parts.split(out)
    outer, content = cut.outer, cut.content
    if encrypter is not None and protected_headers:
        outer, content = protect(outer, content)
    del cut  # a copy of the whole message: only ``content`` is needed from here
    top: list[Field] | None = None
    body: list[bytes] = []
    if signer is not None:
        content = mime_parts.canonical(content, allow_8bit=out.smtputf8 or encrypter is not None)
        params, signature = signer.sign(content)
        content_type, body = mime_parts.multipart(
            "signed", params, [content, signature], SIGNED_PREAMBLE
        )
        top = [content_type]
        if encrypter is not None:
            content = mime_parts.entity(top, *body)
            body = []
    if encrypter is not None:
        top, body = encrypter.encrypt(content, recipients_of(out))
    if top is None:  # neither: only the extra fields change (the content stays as it is)
        if not extra:
            return out
        fields, rest = mime_parts.split_header(out.data)
        data = mime_parts.entity([*fields, *extra], rest)
        mime_parts.check_wire(data)
        return out._replace(data=data)
    data = mime_parts.message([*outer, *extra], top, body)
    del body, content
    return out._replace(data=data)


def split_bcc(out: Outgoing) -> list[Outgoing]:
    """``out`` as separate copies: one for the To/Cc recipients, one for each hidden
    recipient (same bytes, own envelope), so that each copy can be encrypted to its own
    readers (S/MIME has no hidden recipients). Seal each copy, then queue each."""
    to = recipients_of(out)
    hidden = {a.lower() for a in to.hidden}
    copies = []
    visible = [a for a in out.recipients if a.lower() not in hidden]
    if visible:
        copies.append(out._replace(recipients=visible, bcc=[]))
    for addr in to.hidden:
        copies.append(out._replace(recipients=[addr], bcc=[addr]))
    return copies
