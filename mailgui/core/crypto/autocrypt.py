"""The Autocrypt header (Level 1, https://autocrypt.org/level1.html), which hands the
sender's OpenPGP public key to the recipients' clients in every message.

``keydata`` is the minimal key Level 1 asks for: the primary key, the one user id of
the sending address, the encryption subkeys that still work, each with its newest
self-signature only (GnuPG's ``export-minimal`` and export filters do the cutting).
"""

from __future__ import annotations

import base64
import re

from mailgui.core.crypto.mime_parts import Field

_KEYDATA_LINE = 76  # characters of base64 per folded line (line, with the space: 77)
_ATTRIBUTE = re.compile(r"\s*([A-Za-z_-]+)\s*=\s*([^;]*)\s*(?:;|$)")


def header(addr: str, keydata: bytes, *, prefer_encrypt: bool = False) -> Field:
    """The ``Autocrypt`` field for ``addr`` with the binary key ``keydata``, folded."""
    if not keydata:
        raise ValueError("no key data")
    text = base64.b64encode(keydata).decode("ascii")
    lines = [text[i : i + _KEYDATA_LINE] for i in range(0, len(text), _KEYDATA_LINE)]
    attrs = f"addr={addr};" + (" prefer-encrypt=mutual;" if prefer_encrypt else "")
    value = f"Autocrypt: {attrs} keydata=\r\n " + "\r\n ".join(lines)
    return Field("autocrypt", value.encode("utf-8"))


def parse(value: str) -> dict[str, str]:
    """The attributes of an Autocrypt header value; ``keydata`` with its white space
    removed. ValueError when ``addr`` or ``keydata`` is missing or an unknown attribute
    is critical (Level 1: names not starting with ``_``)."""
    attrs: dict[str, str] = {}
    for name, raw in _ATTRIBUTE.findall(" ".join(value.split())):
        attrs[name.lower()] = "".join(raw.split()) if name.lower() == "keydata" else raw.strip()
    unknown = [n for n in attrs if n not in ("addr", "keydata", "prefer-encrypt")]
    if "addr" not in attrs or "keydata" not in attrs or any(not n.startswith("_") for n in unknown):
        raise ValueError(f"not a usable Autocrypt header: {value[:60]!r}")
    base64.b64decode(attrs["keydata"], validate=True)
    return attrs
