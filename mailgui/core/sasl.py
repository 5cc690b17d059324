"""The SASL messages of OAuth2 sign-in, shared by SMTP and IMAP: ``XOAUTH2`` (what
Microsoft and Google speak) and ``OAUTHBEARER`` (RFC 7628, Google too).

Only the bytes are built here; each protocol sends them its own way (``AUTH`` in SMTP,
``AUTHENTICATE`` in IMAP), base64-encoded. A server that refuses a token first answers
with a challenge holding a JSON error (RFC 7628 §3.2.2; Gmail does it for XOAUTH2 too),
which the client must acknowledge before the final refusal: ``ACKNOWLEDGE`` for each.
"""

from __future__ import annotations

__all__ = ["ACKNOWLEDGE", "OAUTH_MECHANISMS", "oauth_payload", "refusal_reason"]

# In order of preference: the standard one when a server offers both.
OAUTH_MECHANISMS = ("OAUTHBEARER", "XOAUTH2")
# What the client answers to the error challenge: %x01 for OAUTHBEARER (RFC 7628
# §3.2.3), an empty response for XOAUTH2 (Google's and Microsoft's documentation).
ACKNOWLEDGE = {"OAUTHBEARER": b"\x01", "XOAUTH2": b""}


def _saslname(user: str) -> str:
    """RFC 5801's escaping of the authorization identity in the GS2 header."""
    return user.replace("=", "=3D").replace(",", "=2C")


def oauth_payload(mechanism: str, user: str, token: str, host: str, port: int) -> bytes:
    """The client's first message for ``mechanism`` (one of ``OAUTH_MECHANISMS``)."""
    if mechanism == "XOAUTH2":
        text = f"user={user}\x01auth=Bearer {token}\x01\x01"
    elif mechanism == "OAUTHBEARER":
        text = (
            f"n,a={_saslname(user)},\x01host={host}\x01port={port}\x01auth=Bearer {token}\x01\x01"
        )
    else:
        raise ValueError(f"not an OAuth2 mechanism: {mechanism}")
    return text.encode("utf-8")


def refusal_reason(challenge: bytes) -> str:
    """The reason in a server's error challenge (decoded base64), in a few words: the
    JSON's ``status`` (e.g. "invalid_token", "401"), never anything else it holds."""
    import json

    try:
        status = json.loads(challenge.decode("utf-8")).get("status")
    except (ValueError, AttributeError):
        return ""
    return str(status)[:40] if isinstance(status, str | int) else ""
