"""mailgui's side of the flush figure: ``Delivery.flush`` of the profile in
MAILGUI_HOME (every queued message, one connection, every outcome recorded), timed
from before the connection opens to after the last outcome is committed. Exits 1
unless every message ended up sent.

Modules are imported before the clock starts, as the raw script imports smtplib and ssl
before its clock: the delivery engine, and the two it imports on first use (keyring, and
the address parser that checks the account). Everything else a flush does is timed: the
keyring backend's start and the password look-up, the TLS context, every claim, commit
and reply. The "whole process" row of the table times `mailgui outbox flush` from fork to
exit, imports included.

    MAILGUI_HOME=... python mailgui_flush.py EXPECTED_COUNT
"""

import sys
import time

import keyring  # noqa: F401  (imported on first use by Delivery; see above)

import mailgui.core.addresses  # noqa: F401  (imported on first use by Account.validate)
from mailgui.core.accounts import AccountStore
from mailgui.core.delivery import Delivery
from mailgui.core.outbox import Outbox
from mailgui.core.paths import Profile


def main() -> None:
    expected = int(sys.argv[1])
    profile = Profile.from_env()
    with Outbox(profile.outbox_file) as outbox:
        delivery = Delivery(outbox, AccountStore(profile.accounts_file))
        started = time.perf_counter()
        report = delivery.flush(include_deferred=True)
        took = time.perf_counter() - started
        sent = outbox.counts()["sent"]
    if sent != expected or len(report.outcomes) != expected:
        errors = {str(o.error) for o in report.outcomes if o.error}
        print(f"only {sent} of {expected} sent: {errors}", file=sys.stderr)
        raise SystemExit(1)
    print(f"{took:.6f}")


if __name__ == "__main__":
    main()
