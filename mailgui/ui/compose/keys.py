"""Recipients' keys for the compose window's Encrypt toggle, looked up in the background.

Whether a recipient has a usable OpenPGP key (the user's GnuPG: ``openpgp.GnuPG``) or
S/MIME certificate (the imported ones: ``core.certificates``) is the core's answer,
with the core's reason ("missing", "expired", "revoked", "untrusted", "unusable"). Each
look-up runs gpg or reads certificate files, so it runs in a pool of one thread of
its own (gpg calls never overlap, and never wait behind other background work); the
results come back to the GUI thread as plain data. The window asks again whenever the
recipients change, so an imported key shows the next time the address is looked at.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, NamedTuple

from PySide6.QtCore import QObject, Signal

from mailgui.core.crypto import OPENPGP, RecipientKeyError
from mailgui.core.errors import MailguiError
from mailgui.core.log import get_logger
from mailgui.ui import background

if TYPE_CHECKING:
    from mailgui.core.paths import Profile

__all__ = ["FOUND", "UNKNOWN", "KeyChecker", "KeyState", "look_up"]

log = get_logger(__name__)

FOUND = "found"  # besides the core's reasons (core.crypto.problems)
UNKNOWN = "unknown"  # the look-up itself failed (no gpg, an unreadable certificate)
POOL_THREADS = 1


class KeyState(NamedTuple):
    """One recipient's key as the core sees it: ``reason`` is FOUND, UNKNOWN or one of
    ``core.crypto.problems``; ``detail`` is the core's sentence, when there is one."""

    reason: str
    detail: str = ""

    @property
    def usable(self) -> bool:
        return self.reason == FOUND


def look_up(technology: str, addresses: list[str], profile: Profile) -> dict[str, KeyState]:
    """The key state of each address, for ``technology`` ("openpgp" or "smime").

    Slow (gpg, files): never on the GUI thread. Never raises: a failure is UNKNOWN."""
    find: Callable[[str], object]
    try:
        if technology == OPENPGP:
            from mailgui.core.crypto.openpgp import GnuPG

            gpg = GnuPG()  # GNUPGHOME, else ~/.gnupg: what sealing uses
            find = gpg.recipient_key
        else:
            from mailgui.core import certificates
            from mailgui.core.crypto.smime import CertificateBook

            book = CertificateBook.from_data(certificates.all_data(profile))
            find = book.certificate
    except MailguiError as exc:
        return {addr: KeyState(UNKNOWN, str(exc)) for addr in addresses}
    except Exception as exc:  # advice only: never break the window
        log.warning("looking up keys failed: %s", exc)
        return {addr: KeyState(UNKNOWN, str(exc)) for addr in addresses}
    found: dict[str, KeyState] = {}
    for addr in addresses:
        try:
            find(addr)
            found[addr] = KeyState(FOUND)
        except RecipientKeyError as exc:
            found[addr] = KeyState(exc.reason, str(exc))
        except MailguiError as exc:
            found[addr] = KeyState(UNKNOWN, str(exc))
        except Exception as exc:
            log.warning("looking up the key of %s failed: %s", addr, exc)
            found[addr] = KeyState(UNKNOWN, str(exc))
    return found


class KeyChecker(QObject):
    """Looks up recipients' keys for one compose window; answers are kept until
    ``forget`` (the window forgets them when the recipients or the account change).

    Signals:
        checked(): new states arrived (``state`` has them).
    """

    checked = Signal()

    def __init__(self, profile: Profile, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._profile = profile
        self._states: dict[tuple[str, str], KeyState] = {}  # (technology, addr) -> state
        self._running: dict[int, list[tuple[str, str]]] = {}  # request -> what it asked
        self.requests = 0  # look-ups started (the tests count them)

    def request(self, technology: str, addresses: Iterable[str]) -> None:
        """Look up the addresses not known or being looked up yet, in one job."""
        asking = {k for keys in self._running.values() for k in keys}
        wanted: list[str] = []
        for raw in addresses:
            key = (technology, raw.lower())
            if key in self._states or key in asking or raw.lower() in wanted:
                continue
            wanted.append(raw.lower())
        if not wanted:
            return
        self.requests += 1
        pool = background.pool("recipient-keys", POOL_THREADS)
        job = functools.partial(look_up, technology, wanted, self._profile)
        request = background.run(job, self._on_done, pool)
        self._running[request] = [(technology, a) for a in wanted]

    def state(self, technology: str, addr: str) -> KeyState | None:
        """The known state (None: not looked up yet, or still being looked up)."""
        return self._states.get((technology, addr.lower()))

    def is_running(self, technology: str, addr: str) -> bool:
        key = (technology, addr.lower())
        return any(key in keys for keys in self._running.values())

    def forget(self, addresses: Iterable[str] | None = None) -> None:
        """Drop what is known (of ``addresses``; None: of everyone), to look again."""
        if addresses is None:
            self._states.clear()
            return
        gone = {a.lower() for a in addresses}
        self._states = {k: v for k, v in self._states.items() if k[1] not in gone}

    def _on_done(self, request: int, found: dict[str, KeyState]) -> None:
        """In the GUI thread, and only while this checker exists (``background.run``)."""
        asked = self._running.pop(request, [])
        for technology, addr in asked:
            self._states[(technology, addr)] = found.get(addr, KeyState(UNKNOWN))
        self.checked.emit()
