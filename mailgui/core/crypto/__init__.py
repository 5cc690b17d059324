"""Signing and encryption of outgoing mail: PGP/MIME (``openpgp``) and S/MIME (``smime``).

The engine calls a *sealer* (``Engine.seal``) on each built message; ``sealer(options)``
makes one from what the user asked for. It returns a new ``Outgoing`` whose ``data`` is
the final message (same envelope, same guarantees: CRLF, lines of 998 octets at most, no
Bcc header), or raises — a recipient without a usable key is ``RecipientKeyError``
(an InputError, exit 65) naming them, and nothing is produced: never sent in clear.

Importing this package costs nothing: GnuPG, python-gnupg and ``cryptography`` are
loaded only when a message is sealed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

from mailgui.core.crypto.problems import (
    CryptoToolError,
    RecipientKeyError,
    SenderKeyError,
)

if TYPE_CHECKING:
    from collections.abc import Callable

    from mailgui.core.accounts import Account
    from mailgui.core.outgoing import Outgoing

__all__ = [
    "OPENPGP",
    "SMIME",
    "CryptoToolError",
    "RecipientKeyError",
    "SealOptions",
    "SenderKeyError",
    "seal",
    "sealer",
    "split_bcc",
]

OPENPGP = "openpgp"
SMIME = "smime"


class SealOptions(NamedTuple):
    """What the user asked for one message, and the keys to do it with.

    ``technology`` empty: OpenPGP when ``pgp_key`` is set, else S/MIME when
    ``smime_cert`` is (the contract: an account with both uses OpenPGP)."""

    sign: bool = False
    encrypt: bool = False
    technology: str = ""  # "openpgp", "smime" or "" (choose from the keys given)
    # OpenPGP: the identity's key (fingerprint); GnuPG home (None: GNUPGHOME or ~/.gnupg)
    pgp_key: str = ""
    gnupghome: str | None = None
    gpg_binary: str = "gpg"
    # S/MIME: the identity's certificate (PEM, intermediates may follow) and key files,
    # the key's passphrase (from the keyring), recipients' certificates (PEM or DER data)
    smime_cert: str = ""
    smime_key: str = ""
    smime_key_password: bytes | None = None
    smime_recipient_certs: tuple[bytes, ...] = ()
    autocrypt: bool = True  # an Autocrypt header whenever there is an OpenPGP key
    protected_headers: bool = True  # real Subject inside, "..." outside, when encrypting

    def chosen(self) -> str | None:
        """The technology these options use, or None when there is nothing to do."""
        if self.technology:
            if self.technology not in (OPENPGP, SMIME):
                from mailgui.core.errors import UsageError

                raise UsageError(
                    f"Unknown signing technology {self.technology!r}; use openpgp or smime."
                )
            return self.technology
        if self.pgp_key:
            return OPENPGP
        if self.smime_cert:
            return SMIME
        return None

    def kinds(self) -> tuple[str | None, str | None]:
        """(signed, encrypted) as the outbox's ``--json`` shows them: "openpgp",
        "smime" or None each."""
        technology = self.chosen() if (self.sign or self.encrypt) else None
        return (technology if self.sign else None, technology if self.encrypt else None)


def seal(options: SealOptions, out: Outgoing) -> Outgoing:
    """``out`` signed and/or encrypted as ``options`` say (with the Autocrypt header
    when there is an OpenPGP key); ``out`` itself when there is nothing to do."""
    from mailgui.core.crypto.sealing import seal as seal_with

    technology = options.chosen()
    if technology is None:
        if options.sign or options.encrypt:
            from mailgui.core.errors import ConfigError

            raise ConfigError(
                "Signing or encryption was asked for, but the account has no OpenPGP key "
                "and no S/MIME certificate; add one (account add --pgp-key or --smime-cert)."
            )
        return out
    if technology == OPENPGP or (options.pgp_key and options.autocrypt):
        from mailgui.core.crypto import openpgp

        gpg = openpgp.GnuPG(options.gnupghome, options.gpg_binary)
        use_pgp = technology == OPENPGP
        if use_pgp and (options.sign or options.encrypt) and not options.pgp_key:
            raise SenderKeyError(
                "OpenPGP was asked for, but the account has no OpenPGP key; set one "
                "(account add --pgp-key FINGERPRINT) or use S/MIME."
            )
        key = gpg.own_key(
            options.pgp_key,
            out.sender,
            sign=True,
            encrypt=use_pgp and options.encrypt,
        )
        extra = [openpgp.autocrypt_field(gpg, key, out.sender)] if options.autocrypt else []
        if use_pgp:
            return seal_with(
                out,
                signer=openpgp.PgpSigner(gpg, key) if options.sign else None,
                encrypter=openpgp.PgpEncrypter(gpg, key) if options.encrypt else None,
                extra=extra,
                protected_headers=options.protected_headers,
            )
    else:
        extra = []
    if not (options.sign or options.encrypt):
        return seal_with(out, extra=extra)
    from mailgui.core.crypto import smime

    if not (options.smime_cert and options.smime_key):
        raise SenderKeyError(
            "S/MIME was asked for, but the account has no S/MIME certificate and key; set "
            "them (account add --smime-cert PEM --smime-key PEM) or use OpenPGP."
        )
    identity = smime.load_identity(
        options.smime_cert, options.smime_key, options.smime_key_password, out.sender
    )
    encrypter = None
    if options.encrypt:
        book = smime.CertificateBook.from_data(options.smime_recipient_certs)
        encrypter = smime.SmimeEncrypter(identity.cert, book)
    return seal_with(
        out,
        signer=smime.SmimeSigner(identity) if options.sign else None,
        encrypter=encrypter,
        extra=extra,
        protected_headers=options.protected_headers,
    )


def sealer(options: SealOptions) -> Callable[[Account, Outgoing], Outgoing]:
    """A ``core.engine.Sealer`` doing ``seal(options, ...)`` on every message."""

    def sealing(account: Account, out: Outgoing) -> Outgoing:
        return seal(options, out)

    return sealing


def split_bcc(out: Outgoing) -> list[Outgoing]:
    """One copy for the To/Cc recipients and one per Bcc recipient, for S/MIME
    encryption (which cannot hide recipients): seal and queue each copy."""
    from mailgui.core.crypto.sealing import split_bcc as split

    return split(out)
