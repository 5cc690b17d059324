"""Finding the Sent folder on a real Dovecot: SPECIAL-USE, known names, named folders."""

from __future__ import annotations

import pytest
from imap_helpers import SettingsFor, login_of
from imap_server import Dovecot

from mailgui.core.imap import Folder, FolderMissingError, ImapSession, list_folders, resolve_folder


def _resolve(
    dovecot: Dovecot, settings_for: SettingsFor, folders: tuple[str, ...], wanted: str
) -> Folder:
    user = dovecot.add_user(folders)
    with ImapSession(settings_for("tls"), login_of(user)) as session:
        session.open()
        return resolve_folder(session, wanted)


def test_auto_takes_the_folder_flagged_sent(dovecot: Dovecot, settings_for: SettingsFor) -> None:
    """``Mail I Sent`` is flagged \\Sent in the server's config; ``Gesendet`` is a known name
    that loses to it."""
    folder = _resolve(dovecot, settings_for, ("Gesendet", "Mail I Sent"), "auto")
    assert folder.name == "Mail I Sent"
    assert folder.special_use == "\\Sent"


@pytest.mark.parametrize(
    ("folders", "chosen"),
    [
        (("Drafts", "Gesendet"), "Gesendet"),
        (("INBOX.Sent",), "INBOX.Sent"),
        (("Éléments envoyés", "Archive"), "Éléments envoyés"),
        (("Sent Items", "Sent Messages"), "Sent Items"),
    ],
)
def test_auto_falls_back_to_a_known_name(
    dovecot: Dovecot, settings_for: SettingsFor, folders: tuple[str, ...], chosen: str
) -> None:
    folder = _resolve(dovecot, settings_for, folders, "auto")
    assert folder.name == chosen
    assert folder.special_use is None


def test_auto_without_any_sent_folder_says_what_to_do(
    dovecot: Dovecot, settings_for: SettingsFor
) -> None:
    with pytest.raises(FolderMissingError) as caught:
        _resolve(dovecot, settings_for, ("Archive", "Notes"), "auto")
    assert "has no Sent folder" in str(caught.value)
    assert "--sent-folder NAME" in str(caught.value)
    assert caught.value.permanent


def test_a_named_folder_with_a_non_ascii_name(dovecot: Dovecot, settings_for: SettingsFor) -> None:
    folder = _resolve(dovecot, settings_for, ("Sent", "Envoyés"), "Envoyés")
    assert (folder.name, folder.wire) == ("Envoyés", "Envoy&AOk-s")


def test_a_named_folder_that_does_not_exist(dovecot: Dovecot, settings_for: SettingsFor) -> None:
    with pytest.raises(FolderMissingError) as caught:
        _resolve(dovecot, settings_for, ("Sent",), "Copies")
    assert str(caught.value).startswith("The folder 'Copies' does not exist on the IMAP server")
    assert caught.value.folder == "Copies"
    assert caught.value.exit_code == 69


def test_the_folder_list_for_the_picker(dovecot: Dovecot, settings_for: SettingsFor) -> None:
    user = dovecot.add_user(("Sent", "Envoyés", "Projects.2026"))
    with ImapSession(settings_for("starttls"), login_of(user)) as session:
        session.open()
        folders = list_folders(session)
    names = [f.name for f in folders]
    assert names[0] == "INBOX"
    assert set(names) >= {"Sent", "Envoyés", "Projects", "Projects.2026"}
    by_name = {f.name: f for f in folders}
    assert by_name["Sent"].special_use == "\\Sent"
    assert by_name["Projects.2026"].delimiter == "."
