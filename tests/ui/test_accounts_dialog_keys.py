"""The accounts dialog's "Signing & encryption" tab against the real tools: the secret
keys of a throw-away GnuPG home (made with gpg here), S/MIME certificates made with
``cryptography`` and trustme; Save writes what ``account add --pgp-key / --smime-*`` do."""

from __future__ import annotations

import datetime as dt
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple

import pytest
import trustme
from PySide6.QtWidgets import QMessageBox

from mailgui.core.accounts import AccountStore
from mailgui.core.own_keys import group_fingerprint, read_certificate
from mailgui.ui.accounts_dialog import AccountsDialog
from mailgui.ui.context import AppContext

ADA = "ada@example.test"
WAIT_MS = 20_000


class Keys(NamedTuple):
    home: str
    ada: str  # fingerprints
    expired: str
    other: str


def gpg(home: str, *args: str) -> str:
    done = subprocess.run(
        ["gpg", "--homedir", home, "--batch", "--no-tty", "--passphrase", "", *args],
        capture_output=True,
        timeout=60,
        check=True,
    )
    return done.stdout.decode()


def fingerprint(home: str, uid: str) -> str:
    rows = [r.split(":") for r in gpg(home, "--with-colons", "--list-keys", uid).splitlines()]
    return next(r[9] for r in rows if r[0] == "fpr")


@pytest.fixture(scope="module")
def keys() -> Iterator[Keys]:
    if shutil.which("gpg") is None:
        pytest.skip("gpg is not installed")
    home = tempfile.mkdtemp(prefix="mg-", dir="/tmp")  # short: gpg-agent's socket path
    try:
        gpg(home, "--quick-gen-key", f"Ada Sender <{ADA}>", "future-default", "default", "2y")
        gpg(home, "--faked-system-time", "20200101T000000", "--quick-gen-key",
            f"Ada Old <{ADA}>", "future-default", "default", "1d")  # fmt: skip
        gpg(home, "--quick-gen-key", "Bob Other <bob@example.test>", "future-default",
            "default", "never")  # fmt: skip
        yield Keys(
            home,
            fingerprint(home, "Ada Sender"),
            fingerprint(home, "Ada Old"),
            fingerprint(home, "Bob Other"),
        )
    finally:
        subprocess.run(["gpgconf", "--homedir", home, "--kill", "all"], check=False)
        shutil.rmtree(home, ignore_errors=True)


class Pair(NamedTuple):
    cert: Path
    key: Path


def smime_pair(folder: Path, name: str, *, expired: bool = False) -> Pair:
    """A certificate for ADA made for e-mail (emailProtection), and its key."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = dt.datetime.now(dt.UTC)
    ca_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Example Mail CA")])
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    start, end = now - dt.timedelta(days=1), now + dt.timedelta(days=365)
    if expired:
        start, end = now - dt.timedelta(days=400), now - dt.timedelta(days=35)
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, "Ada Sender"),
            x509.NameAttribute(NameOID.EMAIL_ADDRESS, ADA),
        ]
    )
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(True, False, True, False, False, False, False, False, False),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), False)
        .add_extension(x509.SubjectAlternativeName([x509.RFC822Name(ADA)]), False)
        .sign(ca_key, hashes.SHA256())
    )
    pair = Pair(folder / f"{name}.pem", folder / f"{name}.key")
    pair.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    pair.key.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return pair


@pytest.fixture
def dialog(
    qtbot: Any, ctx: AppContext, keys: Keys, monkeypatch: pytest.MonkeyPatch
) -> Iterator[AccountsDialog]:
    monkeypatch.setenv("GNUPGHOME", keys.home)
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.StandardButton.Discard)
    dlg = AccountsDialog(ctx)
    qtbot.addWidget(dlg)
    dlg.show()
    dlg.add_account()
    dlg.name_edit.setText("Ada")
    dlg.email_edit.setText(ADA)
    dlg.host_edit.setText("smtp.example.test")
    dlg.username_edit.setText(ADA)
    yield dlg


def open_keys_tab(qtbot: Any, dlg: AccountsDialog) -> None:
    dlg.pages.setCurrentWidget(dlg._keys_scroll)  # the first show asks GnuPG
    qtbot.waitUntil(lambda: dlg.keys_page._keys is not None, timeout=WAIT_MS)


def choose_key(dlg: AccountsDialog, fpr: str) -> None:
    combo = dlg.keys_page.pgp_combo
    index = combo.findData(fpr)
    assert index >= 0, [combo.itemText(i) for i in range(combo.count())]
    combo.setCurrentIndex(index)
    combo.activated.emit(index)


def wait_facts(qtbot: Any, dlg: AccountsDialog) -> None:
    qtbot.waitUntil(lambda: dlg.keys_page.facts() is not None, timeout=WAIT_MS)


def test_gnupg_is_not_asked_until_the_tab_is_shown(qtbot: Any, dialog: AccountsDialog) -> None:
    qtbot.wait(100)
    assert dialog.keys_page._keys is None
    assert dialog.keys_page._list_request == 0


def test_secret_keys_are_listed_and_the_chosen_one_saved(
    qtbot: Any, dialog: AccountsDialog, keys: Keys, ctx: AppContext
) -> None:
    page = dialog.keys_page
    open_keys_tab(qtbot, dialog)
    texts = [page.pgp_combo.itemText(i) for i in range(page.pgp_combo.count())]
    assert texts[0] == "None — no OpenPGP"
    assert len(texts) == 4, texts
    assert f"Ada Sender <{ADA}>  [{group_fingerprint(keys.ada[-16:])}]" in texts
    assert any(t.startswith(f"Ada Old <{ADA}>") and t.endswith("not usable") for t in texts)
    assert not page.pgp_details.isVisibleTo(page)  # "None": nothing to say

    choose_key(dialog, keys.ada)
    details = page.pgp_details.text()  # rich text: a table of escaped values
    assert "Fingerprint:" in details and group_fingerprint(keys.ada) in details
    assert len(group_fingerprint(keys.ada).split()) == 10  # gpg's groups of four
    expiry = (dt.date.today() + dt.timedelta(days=2 * 365)).year
    assert "Expires:" in details
    assert f">{expiry}-" in details or f">{expiry + 1}-" in details
    assert not page.pgp_warning.isVisibleTo(page)

    assert dialog.save()
    saved = AccountStore(ctx.profile.accounts_file).get("Ada")
    assert saved.pgp_key == keys.ada
    assert (saved.smime_cert, saved.smime_key) == ("", "")
    dialog._reload(select="Ada")
    qtbot.waitUntil(lambda: page.pgp_combo.currentData() == keys.ada, timeout=WAIT_MS)
    assert not dialog.is_dirty()

    # back to None
    choose_key(dialog, "")
    assert dialog.save()
    assert AccountStore(ctx.profile.accounts_file).get("Ada").pgp_key == ""


def test_unusable_keys_are_warned_about(qtbot: Any, dialog: AccountsDialog, keys: Keys) -> None:
    page = dialog.keys_page
    open_keys_tab(qtbot, dialog)
    choose_key(dialog, keys.expired)
    assert page.pgp_warning.isVisibleTo(page)
    assert "Mail cannot be signed with it: this key expired on 2020-01-02." in (
        page.pgp_warning.text()
    )
    choose_key(dialog, keys.other)
    assert f"this key has no user id for {ADA}" in page.pgp_warning.text()
    dialog.email_edit.setText("bob@example.test")  # the warning follows the address
    assert not page.pgp_warning.isVisibleTo(page)


def test_a_stored_key_gnupg_does_not_have(
    qtbot: Any, dialog: AccountsDialog, ctx: AppContext
) -> None:
    missing = "0123456789ABCDEF0123456789ABCDEF01234567"
    account = dialog._account_from_form()._replace(pgp_key=missing)
    ctx.accounts.save(account)
    dialog._reload(select="Ada")
    open_keys_tab(qtbot, dialog)
    page = dialog.keys_page
    assert page.pgp_combo.currentData() == missing
    assert "(not among your secret keys)" in page.pgp_combo.currentText()
    assert "GnuPG has no secret key 0123 4567" in page.pgp_warning.text()
    assert not dialog.is_dirty()


def test_smime_certificate_is_shown_checked_and_saved(
    qtbot: Any, dialog: AccountsDialog, tmp_path: Path, ctx: AppContext
) -> None:
    good = smime_pair(tmp_path, "good")
    page = dialog.keys_page
    dialog.pages.setCurrentWidget(dialog._keys_scroll)
    page.cert_edit.setText(str(good.cert))
    page.key_edit.setText(str(good.key))
    page.key_edit.editingFinished.emit()
    wait_facts(qtbot, dialog)
    details = page.cert_details.text()
    facts = read_certificate(str(good.cert))
    cells = [
        ("Subject:", "Ada Sender"),
        ("Issued by:", "Example Mail CA"),
        ("For:", ADA),
        ("Valid:", f"{facts.not_before} to {facts.not_after}"),
        ("Key:", "the private key belongs to it"),
    ]
    for label, value in cells:
        assert f"{label}</td><td>{value}</td>" in details, (label, details)
    assert "expired" not in details
    assert facts.fingerprint[:47] + "<br>" + facts.fingerprint[48:] in details  # 16 + 16 bytes
    assert not page.cert_warning.isVisibleTo(page)

    assert dialog.save()
    saved = AccountStore(ctx.profile.accounts_file).get("Ada")
    assert (saved.smime_cert, saved.smime_key) == (str(good.cert), str(good.key))


def test_smime_problems_are_warned_about(
    qtbot: Any, dialog: AccountsDialog, tmp_path: Path, ca: trustme.CA
) -> None:
    page = dialog.keys_page
    dialog.pages.setCurrentWidget(dialog._keys_scroll)

    def show(cert: Path, key: Path | str) -> str:
        page.cert_edit.setText(str(cert))
        page.key_edit.setText(str(key))
        page._check_files()
        wait_facts(qtbot, dialog)
        return page.cert_warning.text()

    old = smime_pair(tmp_path, "old", expired=True)
    warning = show(old.cert, old.key)
    assert "⚠ This certificate expired on " in warning
    assert " (expired)" in page.cert_details.text()

    other = smime_pair(tmp_path, "other")
    good = smime_pair(tmp_path, "good")
    assert "The key does not belong to this certificate" in show(good.cert, other.key)

    tls = ca.issue_cert(ADA, common_name="Ada TLS")  # a trustme certificate: not for mail
    tls.cert_chain_pems[0].write_to_path(str(tmp_path / "tls.pem"))
    tls.private_key_pem.write_to_path(str(tmp_path / "tls.key"))
    assert "is not for e-mail" in show(tmp_path / "tls.pem", tmp_path / "tls.key")

    assert "holds no certificate" in show(good.key, good.key)  # the key as certificate

    # half a pair is not saved, and the tab says why
    page.cert_edit.setText(str(good.cert))
    page.key_edit.clear()
    dialog.pages.setCurrentIndex(0)
    assert not dialog.save()
    assert "choose the private key too" in dialog.message.text()
    assert dialog.pages.currentWidget() is dialog._keys_scroll


def test_sign_and_encrypt_for_every_message_are_saved_with_a_key_only(
    qtbot: Any, dialog: AccountsDialog, keys: Keys, ctx: AppContext
) -> None:
    page = dialog.keys_page
    open_keys_tab(qtbot, dialog)
    page.always_sign_check.setChecked(True)
    page.encrypt_check.setChecked(True)
    assert dialog.save()  # no key chosen: nothing to sign with, so the defaults stay off
    saved = AccountStore(ctx.profile.accounts_file).get("Ada")
    assert (saved.always_sign, saved.encrypt_when_possible) == (False, False)

    choose_key(dialog, keys.ada)
    page.always_sign_check.setChecked(True)
    page.encrypt_check.setChecked(True)
    assert dialog.save()
    saved = AccountStore(ctx.profile.accounts_file).get("Ada")
    assert (saved.pgp_key, saved.always_sign, saved.encrypt_when_possible) == (
        keys.ada, True, True,
    )  # fmt: skip
    dialog._reload(select="Ada")
    qtbot.waitUntil(lambda: page.pgp_combo.currentData() == keys.ada, timeout=WAIT_MS)
    assert page.always_sign_check.isChecked() and page.encrypt_check.isChecked()
    assert not dialog.is_dirty()
