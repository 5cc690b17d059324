"""PGP/MIME (RFC 3156) through the user's own GnuPG.

The binding is python-gnupg (PyPI ``python-gnupg``): it drives the installed ``gpg``
binary over its status protocol, so everything is the user's GnuPG as they know it —
their keyring, ``GNUPGHOME`` (or ``gnupghome``), ``gpg.conf`` preferences, trust
database, and gpg-agent with their pinentry for passphrases (mailgui never sees one).
It is pure Python and installs into a virtual environment. gpgme's ``gpg`` module is
only packaged by distributions (not on PyPI), and pysequoia brings its own key store
instead of the user's keyring. Imported when a message is signed or encrypted, not
before (``mailgui sendmail``'s start pays nothing for it).

A key counts for an address only when GnuPG itself holds it valid for a user id with
that address: not expired, not revoked, not disabled, with an encryption subkey, and
valid in the trust database (marginal, full or ultimate: signed by the user, locally or
not, or by keys they trust). Anything else is refused with the reason.

Bcc recipients: their keys are given as ``--hidden-recipient``, so the encrypted
message carries a zero key id for them (RFC 4880 5.1 "wildcard"); the others can see
that someone more can read it, never who. Their GnuPG tries each secret key to decrypt.
"""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime
from typing import Any, NamedTuple

from mailgui.core.crypto import mime_parts, problems
from mailgui.core.crypto.mime_parts import Field
from mailgui.core.crypto.problems import CryptoToolError, RecipientKeyError, SenderKeyError
from mailgui.core.crypto.sealing import Recipients

# RFC 4880 9.4 hash algorithm ids, as micalg names (RFC 3156 section 5)
_HASHES = {
    "1": "pgp-md5",
    "2": "pgp-sha1",
    "3": "pgp-ripemd160",
    "8": "pgp-sha256",
    "9": "pgp-sha384",
    "10": "pgp-sha512",
    "11": "pgp-sha224",
}
_VALID = ("m", "f", "u")  # marginal, full, ultimate (gpg --with-colons, field 2)
_KEY_ID = re.compile(r"(?:0x)?([0-9A-Fa-f]{16}|[0-9A-Fa-f]{40}|[0-9A-Fa-f]{64})")
_MBOX = re.compile(r"<([^<>]*)>\s*$")

SIGNATURE_PART = (
    b'Content-Type: application/pgp-signature; name="signature.asc"\r\n'
    b"Content-Description: OpenPGP digital signature\r\n"
    b'Content-Disposition: attachment; filename="signature.asc"\r\n\r\n'
)
VERSION_PART = (
    b"Content-Type: application/pgp-encrypted\r\n"
    b"Content-Description: PGP/MIME version identification\r\n\r\n"
    b"Version: 1\r\n"
)
ENCRYPTED_PART = (
    b'Content-Type: application/octet-stream; name="encrypted.asc"\r\n'
    b"Content-Description: OpenPGP encrypted message\r\n"
    b'Content-Disposition: inline; filename="encrypted.asc"\r\n\r\n'
)
ENCRYPTED_PREAMBLE = "This is an OpenPGP/MIME encrypted message (RFC 4880 and 3156)"


class Key(NamedTuple):
    """A public key as GnuPG sees it (``gpg --with-colons``)."""

    fingerprint: str
    validity: str  # of the key: "u", "f", "m", "-", "q", "n", "e", "r", "i", "d"...
    capabilities: str  # upper case letters: usable for the key as a whole ("E", "S")
    created: int
    expires: int | None  # seconds since the epoch
    uids: tuple[tuple[str, str], ...]  # (user id, its validity)

    def addresses(self) -> list[tuple[str, str]]:
        """(address in lower case, validity) of each user id."""
        found = []
        for uid, validity in self.uids:
            match = _MBOX.search(uid)
            addr = match.group(1) if match else uid.strip()
            found.append((addr.lower(), validity))
        return found


class GnuPG:
    """The user's GnuPG: ``gnupghome`` None means gpg's own choice (``GNUPGHOME``, else
    ``~/.gnupg``)."""

    def __init__(self, gnupghome: str | None = None, binary: str = "gpg") -> None:
        try:
            import gnupg  # type: ignore[import-untyped]
        except ImportError:
            raise CryptoToolError(
                "OpenPGP needs the python-gnupg package, which is not installed; install it "
                "(pip install python-gnupg) or send without signing or encryption."
            ) from None
        try:
            self._gpg: Any = gnupg.GPG(gpgbinary=binary, gnupghome=gnupghome)
        except (OSError, ValueError) as exc:
            raise CryptoToolError(
                f"GnuPG could not be started ({exc}); install gpg, or check the GnuPG home "
                "folder, then try again."
            ) from None
        self._gpg.encoding = "utf-8"  # user ids are UTF-8 (RFC 4880 5.11)

        class _Keys(gnupg.ListKeys):  # type: ignore[misc]
            """python-gnupg's listing, plus each user id's own validity."""

            def uid(self, args: list[str]) -> None:
                super().uid(args)
                self.curkey.setdefault("uid_validity", []).append(args[1])

        self._gpg.result_map = {**self._gpg.result_map, "list": _Keys}

    # --- keys --------------------------------------------------------------------------

    def keys(self, query: str, *, secret: bool = False) -> list[Key]:
        listed = self._gpg.list_keys(secret=secret, keys=[query])
        keys = []
        for entry in listed:
            uids = entry.get("uids", [])
            validity = entry.get("uid_validity", [""] * len(uids))
            keys.append(
                Key(
                    fingerprint=entry.get("fingerprint", ""),
                    validity=entry.get("trust", ""),
                    capabilities=entry.get("cap", ""),
                    created=int(entry.get("date") or 0),
                    expires=int(entry["expires"]) if entry.get("expires") else None,
                    uids=tuple(zip(uids, validity, strict=False)),
                )
            )
        return keys

    def recipient_key(self, addr: str) -> Key:
        """The key to encrypt to for ``addr``; RecipientKeyError with the reason."""
        candidates = [k for k in self.keys(f"<{addr}>") if _uid_validity(k, addr) is not None]
        candidates.sort(key=lambda k: k.created, reverse=True)
        for key in candidates:
            if _problem(key, addr) is None:
                return key
        if not candidates:
            raise RecipientKeyError(
                f"There is no OpenPGP key for {addr} in your GnuPG keyring, so the message "
                "cannot be encrypted to them and nothing was queued; import their key, or "
                "send without encryption.",
                recipient=addr,
                reason=problems.MISSING,
                technology="openpgp",
            )
        reason, why = _problem(candidates[0], addr) or ("", "")
        raise RecipientKeyError(
            f"The OpenPGP key {candidates[0].fingerprint} of {addr} {why}, so the message "
            "cannot be encrypted to them and nothing was queued; "
            + _remedy(reason, addr, candidates[0].fingerprint),
            recipient=addr,
            reason=reason,
            technology="openpgp",
        )

    def own_key(self, key_id: str, addr: str, *, sign: bool = True, encrypt: bool = False) -> Key:
        """The sender's key ``key_id`` (a fingerprint), checked for signing with it
        and/or encrypting to it; SenderKeyError otherwise."""
        match = _KEY_ID.fullmatch(key_id.strip())
        if match is None:
            raise SenderKeyError(
                f"The OpenPGP key {key_id!r} of {addr} is not a key fingerprint; give the "
                "fingerprint shown by gpg --list-secret-keys."
            )
        wanted = match.group(1).upper()
        secret = [k for k in self.keys(wanted, secret=True) if k.fingerprint.endswith(wanted)]
        if not secret:
            raise SenderKeyError(
                f"The OpenPGP key {wanted} of {addr} has no secret key in your GnuPG keyring, "
                "so it cannot sign; import it, or choose another key for the account."
            )
        public = [k for k in self.keys(secret[0].fingerprint) if k.fingerprint.endswith(wanted)]
        key = public[0] if public else secret[0]
        if _uid_validity(key, addr) is None:
            raise SenderKeyError(
                f"Your OpenPGP key {key.fingerprint} has no user id for {addr}, so it cannot "
                "sign mail from that address; add one (gpg --quick-add-uid) or choose another key."
            )
        needs = ("S" if sign else "") + ("E" if encrypt else "")
        found = next((p for n in needs if (p := _problem(key, addr, need=n))), None)
        if found is not None:
            raise SenderKeyError(
                f"Your OpenPGP key {key.fingerprint} {found[1]}, so nothing was queued; "
                "choose a working key for the account (gpg --list-secret-keys)."
            )
        return key

    # --- operations --------------------------------------------------------------------

    def sign_detached(self, data: bytes, key: Key) -> tuple[bytes, str]:
        """An armored detached signature of ``data`` (CRLF lines) and its micalg."""
        result = self._gpg.sign_file(
            io.BytesIO(data), keyid=key.fingerprint, detach=True, clearsign=False, binary=False
        )
        if not result or not result.data:
            raise SenderKeyError(
                f"GnuPG could not sign with the key {key.fingerprint} ({_failure(result)}), so "
                "nothing was queued; check that gpg-agent can ask for its passphrase."
            )
        micalg = _HASHES.get(str(result.hash_algo))
        if micalg is None:
            raise SenderKeyError(
                f"GnuPG signed with hash algorithm {result.hash_algo}, which PGP/MIME cannot "
                "name; set personal-digest-preferences SHA256 in gpg.conf."
            )
        return mime_parts.crlf(result.data), micalg

    def encrypt(self, data: bytes, visible: list[Key], hidden: list[Key]) -> bytes:
        """``data`` encrypted, ASCII-armored with CRLF lines; ``hidden`` keys appear with
        a zero key id."""
        shown = _unique(k.fingerprint for k in visible)
        secret = [f for f in _unique(k.fingerprint for k in hidden) if f not in shown]
        result = self._gpg.encrypt_file(
            io.BytesIO(data), recipients=shown, hidden_recipients=secret or None, armor=True
        )
        if not result.ok or not result.data:
            raise CryptoToolError(
                f"GnuPG could not encrypt the message ({_failure(result)}), so nothing was "
                "queued; check the recipients' keys with gpg --list-keys."
            )
        armored: bytes = result.data
        del result  # python-gnupg's copy: the CRLF one below replaces it
        return armored.replace(b"\n", b"\r\n") if b"\r" not in armored else armored

    def export_minimal(self, key: Key, addr: str) -> bytes:
        """The binary public key for Autocrypt: the user id of ``addr`` and the usable
        encryption subkeys only, with their newest self-signatures."""
        filters = [
            "--export-options",
            "export-minimal",
            "--export-filter",
            f"keep-uid=mbox = {addr.lower()}",
            "--export-filter",
            "drop-subkey=usage !~ e || expired -t || revoked -t",
        ]
        saved = self._gpg.options
        self._gpg.options = [*(saved or []), *filters]
        try:
            data = self._gpg.export_keys(key.fingerprint, armor=False)
        finally:
            self._gpg.options = saved
        assert isinstance(data, bytes)
        return data


# --- the PGP/MIME parts ------------------------------------------------------------------


class PgpSigner:
    def __init__(self, gpg: GnuPG, key: Key) -> None:
        self.gpg = gpg
        self.key = key

    def sign(self, content: bytes) -> tuple[list[tuple[str, str]], bytes]:
        signature, micalg = self.gpg.sign_detached(content, self.key)
        params = [("protocol", "application/pgp-signature"), ("micalg", micalg)]
        return params, SIGNATURE_PART + signature


class PgpEncrypter:
    def __init__(self, gpg: GnuPG, own: Key) -> None:
        self.gpg = gpg
        self.own = own

    def keys(self, to: Recipients) -> tuple[list[Key], list[Key]]:
        """Every recipient's key (the sender's own first), or RecipientKeyError for the
        first without a usable one."""
        visible = [self.own]
        for addr in to.visible[1:]:
            visible.append(self.gpg.recipient_key(addr))
        hidden = [self.gpg.recipient_key(addr) for addr in to.hidden]
        return visible, hidden

    def encrypt(self, content: bytes, to: Recipients) -> tuple[list[Field], list[bytes]]:
        visible, hidden = self.keys(to)
        encrypted = ENCRYPTED_PART + self.gpg.encrypt(content, visible, hidden)
        content_type, body = mime_parts.multipart(
            "encrypted",
            [("protocol", "application/pgp-encrypted")],
            [VERSION_PART, encrypted],
            ENCRYPTED_PREAMBLE,
        )
        return [content_type], body


def autocrypt_field(gpg: GnuPG, key: Key, addr: str) -> Field:
    from mailgui.core.crypto.autocrypt import header

    return header(addr, gpg.export_minimal(key, addr))


# --- reasons -------------------------------------------------------------------------------


def _uid_validity(key: Key, addr: str) -> str | None:
    """The best validity among the user ids of ``key`` for ``addr`` (None: no such id)."""
    found = [v for a, v in key.addresses() if a == addr.lower()]
    if not found:
        return None
    for best in ("u", "f", "m"):
        if best in found:
            return best
    return found[0]


def _problem(key: Key, addr: str, need: str = "E") -> tuple[str, str] | None:
    """(reason, words) when ``key`` is not usable for ``addr``, else None."""
    if key.validity == "r":
        return problems.REVOKED, "has been revoked"
    if key.validity == "e":
        when = _date(key.expires)
        return problems.EXPIRED, f"expired on {when}" if when else "has expired"
    if "D" in key.capabilities or key.validity == "d":
        return problems.UNUSABLE, "is disabled in your keyring"
    if key.validity == "i":
        return problems.UNUSABLE, "is not valid (GnuPG cannot use it)"
    if need not in key.capabilities:
        what = "encryption" if need == "E" else "signing"
        return problems.UNUSABLE, f"has no usable {what} subkey (expired or revoked)"
    uid = _uid_validity(key, addr)
    if uid == "r":
        return problems.REVOKED, f"has its user id for {addr} revoked"
    if uid not in _VALID or key.validity not in _VALID:
        if need == "S":  # signing needs no trust in one's own key, only a working one
            return None
        return (
            problems.UNTRUSTED,
            "is not verified (neither you nor anyone you trust has signed it)",
        )
    return None


def _remedy(reason: str, addr: str, fingerprint: str) -> str:
    if reason == problems.UNTRUSTED:
        return (
            f"check its fingerprint with {addr} and sign it (gpg --lsign-key {fingerprint}), "
            "or send without encryption."
        )
    return "get a current key from them, or send without encryption."


def _date(stamp: int | None) -> str:
    if not stamp:
        return ""
    return datetime.fromtimestamp(stamp, UTC).date().isoformat()


def _failure(result: Any) -> str:
    """What gpg said went wrong, in a few words."""
    status = getattr(result, "status", None)
    lines = [
        line[5:].strip()
        for line in str(getattr(result, "stderr", "") or "").splitlines()
        if line.startswith("gpg: ")
    ]
    return "; ".join(x for x in [status, *lines[-1:]] if x) or "no reason given"


def _unique(items: Any) -> list[str]:
    seen: list[str] = []
    for item in items:
        if item not in seen:
            seen.append(item)
    return seen


__all__ = ["GnuPG", "Key", "PgpEncrypter", "PgpSigner", "autocrypt_field"]
