"""IMAP's modified UTF-7 for mailbox names (RFC 3501 5.1.3).

Printable ASCII stands for itself except ``&``, written ``&-``; anything else is UTF-16BE
in base64 with ``,`` for ``/``, between ``&`` and ``-``. ``Envoyés`` is ``Envoy&AOk-s``.
"""

from __future__ import annotations

import base64
import binascii

__all__ = ["decode", "encode"]


def encode(name: str) -> str:
    out: list[str] = []
    pending: list[str] = []

    def flush() -> None:
        if pending:
            raw = "".join(pending).encode("utf-16-be", "surrogatepass")
            text = base64.b64encode(raw).decode("ascii").rstrip("=")
            out.append("&" + text.replace("/", ",") + "-")
            pending.clear()

    for ch in name:
        if 0x20 <= ord(ch) <= 0x7E:
            flush()
            out.append("&-" if ch == "&" else ch)
        else:
            pending.append(ch)
    flush()
    return "".join(out)


def decode(name: str) -> str:
    """The name people read; a name that is not valid modified UTF-7 (some servers send
    raw UTF-8, or a stray ``&``) is returned as it came, so it can still be used."""
    out: list[str] = []
    i = 0
    while i < len(name):
        ch = name[i]
        if ch != "&":
            out.append(ch)
            i += 1
            continue
        end = name.find("-", i + 1)
        if end < 0:
            return name
        if end == i + 1:
            out.append("&")
        else:
            chunk = name[i + 1 : end].replace(",", "/")
            try:
                raw = base64.b64decode(chunk + "=" * (-len(chunk) % 4), validate=True)
                out.append(raw.decode("utf-16-be"))
            except (binascii.Error, UnicodeDecodeError, ValueError):
                return name
        i = end + 1
    return "".join(out)
