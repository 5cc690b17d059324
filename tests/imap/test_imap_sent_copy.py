"""Filing the copy in the Sent folder on a real Dovecot: once, \\Seen, dated with the
message's Date; and each way it can fail, with whether a later try can help."""

from __future__ import annotations

import dataclasses

import pytest
from imap_helpers import DATE, SettingsFor, internal_date, login_of, message
from imap_server import Dovecot, RecordingProxy

from mailgui.core.errors import AuthError, PermanentError, TransientError
from mailgui.core.imap import (
    CopyRefusedError,
    FolderMissingError,
    ImapSession,
    MailboxFullError,
    MessageTooBigError,
    file_copy,
    file_into,
)


@pytest.mark.parametrize("security", ["starttls", "tls"])
def test_filed_once_seen_and_dated_with_the_message(
    dovecot: Dovecot, settings_for: SettingsFor, security: str
) -> None:
    user = dovecot.add_user()
    data, message_id = message(bcc="carol@example.test")
    filed = file_copy(settings_for(security), login_of(user), data, message_id, DATE)
    assert (filed.folder, filed.state) == ("Sent", "filed")
    [stored] = dovecot.messages(user, "Sent")
    assert stored.uid == filed.uid
    assert stored.data == data  # the bytes that were sent, Bcc included
    assert b"Bcc: carol@example.test" in stored.data
    assert "\\Seen" in stored.flags
    # The same moment; Dovecot's maildir keeps it as a file time, without the zone.
    assert internal_date(stored) == DATE


def test_the_same_message_id_is_not_filed_twice(
    dovecot: Dovecot, settings_for: SettingsFor
) -> None:
    """As after a crash between the APPEND and the outbox noting it: the copy is looked
    for first."""
    user = dovecot.add_user()
    data, message_id = message()
    settings = settings_for("tls")
    first = file_copy(settings, login_of(user), data, message_id, DATE)
    again = file_copy(settings, login_of(user), data, message_id, DATE)
    assert again.already_there and again.state == "already there"
    assert again.uid == first.uid
    other, other_id = message(body="Another one.\n")
    assert file_copy(settings, login_of(user), other, other_id, DATE).state == "filed"
    assert len(dovecot.messages(user, "Sent")) == 2


def test_a_known_name_folder_and_its_name_to_remember(
    dovecot: Dovecot, settings_for: SettingsFor
) -> None:
    user = dovecot.add_user(("Gesendet",))
    data, message_id = message()
    filed = file_copy(settings_for("tls"), login_of(user), data, message_id, DATE)
    assert filed.folder == "Gesendet"
    # The caller remembers the name and passes it next time.
    remembered = settings_for("tls", folder=filed.folder)
    assert file_copy(remembered, login_of(user), data, message_id, DATE).already_there
    assert len(dovecot.messages(user, "Gesendet")) == 1


def test_a_named_folder_with_a_non_ascii_name(dovecot: Dovecot, settings_for: SettingsFor) -> None:
    user = dovecot.add_user(("Sent", "Éléments envoyés"))
    data, message_id = message()
    settings = settings_for("starttls", folder="Éléments envoyés")
    assert file_copy(settings, login_of(user), data, message_id, DATE).folder == "Éléments envoyés"
    assert len(dovecot.messages(user, "Éléments envoyés")) == 1
    assert dovecot.messages(user, "Sent") == []


def test_a_named_folder_that_is_missing_is_permanent(
    dovecot: Dovecot, settings_for: SettingsFor
) -> None:
    user = dovecot.add_user()
    data, message_id = message()
    with pytest.raises(FolderMissingError, match="'Copies' does not exist") as caught:
        file_copy(settings_for("tls", folder="Copies"), login_of(user), data, message_id, DATE)
    assert isinstance(caught.value, PermanentError)


def test_a_wrong_password_files_nothing(dovecot: Dovecot, settings_for: SettingsFor) -> None:
    user = dovecot.add_user()
    data, message_id = message()
    proxy = RecordingProxy((dovecot.host, dovecot.tls_port))  # a wrong password slows its IP
    try:
        settings = settings_for("tls", port=proxy.port)
        with pytest.raises(AuthError) as caught:
            file_copy(settings, login_of(user, "wrong-pw-42"), data, message_id, DATE)
    finally:
        proxy.close()
    assert "wrong-pw-42" not in str(caught.value)
    assert dovecot.messages(user, "Sent") == []


def test_server_down_is_transient_then_filed_once(
    own_dovecot: Dovecot, settings_for: SettingsFor
) -> None:
    user = own_dovecot.add_user()
    data, message_id = message()
    settings = settings_for("tls", server=own_dovecot)
    own_dovecot.stop()
    with pytest.raises(TransientError, match="refused the connection") as caught:
        file_copy(settings, login_of(user), data, message_id, DATE)
    assert not caught.value.permanent
    own_dovecot.start()
    assert file_copy(settings, login_of(user), data, message_id, DATE).state == "filed"
    assert file_copy(settings, login_of(user), data, message_id, DATE).already_there
    assert len(own_dovecot.messages(user, "Sent")) == 1


def test_over_quota_is_a_full_mailbox_worth_trying_again(
    dovecot: Dovecot, settings_for: SettingsFor
) -> None:
    user = dovecot.add_user(quota="1k")
    data, message_id = message(body="x" * 3000 + "\n")
    with pytest.raises(MailboxFullError) as caught:
        file_copy(settings_for("tls"), login_of(user), data, message_id, DATE)
    text = str(caught.value)
    assert "is full ([OVERQUOTA]" in text and "tried again later" in text
    assert isinstance(caught.value, TransientError)
    assert caught.value.imap_code == "OVERQUOTA"


def test_over_the_servers_size_limit_is_permanent(
    dovecot: Dovecot, settings_for: SettingsFor
) -> None:
    """Dovecot's quota_max_mail_size answers [LIMIT] (it has no APPENDLIMIT)."""
    user = dovecot.add_user()
    data, message_id = message(body="y" * 250_000 + "\n")  # the fixture allows 200 000 bytes
    with pytest.raises(CopyRefusedError) as caught:
        file_copy(settings_for("tls"), login_of(user), data, message_id, DATE)
    assert caught.value.imap_code == "LIMIT" and caught.value.permanent
    assert "[LIMIT]" in str(caught.value) and "will not help" in str(caught.value)
    assert dovecot.messages(user, "Sent") == []


def test_appendlimit_is_checked_before_the_literal_is_sent(
    dovecot: Dovecot, settings_for: SettingsFor
) -> None:
    """Dovecot 2.3 does not advertise APPENDLIMIT (RFC 7889): the session is told it did."""
    user = dovecot.add_user()
    data, message_id = message(body="z" * 2000 + "\n")
    with ImapSession(settings_for("tls"), login_of(user)) as session:
        session.open()
        session.capabilities = session.capabilities | {"APPENDLIMIT=1000"}
        with pytest.raises(MessageTooBigError) as caught:
            file_into(session, "auto", data, message_id, DATE)
        assert (caught.value.size, caught.value.limit) == (len(data), 1000)
        assert caught.value.permanent
        # A bare APPENDLIMIT asks the folder's STATUS, which Dovecot does not know: no limit.
        session.capabilities = (session.capabilities - {"APPENDLIMIT=1000"}) | {"APPENDLIMIT"}
        assert file_into(session, "auto", data, message_id, DATE).state == "filed"
    assert len(dovecot.messages(user, "Sent")) == 1


def test_a_message_without_message_id_is_filed_without_looking(
    dovecot: Dovecot, settings_for: SettingsFor
) -> None:
    user = dovecot.add_user()
    data, _ = message()
    settings = dataclasses.replace(settings_for("tls"))
    assert file_copy(settings, login_of(user), data, "", DATE).state == "filed"
