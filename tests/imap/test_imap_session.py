"""The IMAP session against a real Dovecot: TLS both ways, certificates verified, no login
before encryption (checked on the bytes the client sent), login refusals."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import pytest
import trustme
from imap_helpers import SettingsFor, login_of
from imap_server import Dovecot, RecordingProxy
from smtp_servers import reserve_closed_port

from mailgui.core.credentials import Login
from mailgui.core.errors import AuthError, SecurityError, ServerTimeoutError, TransientError
from mailgui.core.hints import Hint
from mailgui.core.imap import ImapSession, list_folders


@pytest.fixture
def proxies() -> Iterator[list[RecordingProxy]]:
    made: list[RecordingProxy] = []
    yield made
    for proxy in made:
        proxy.close()


@pytest.mark.parametrize("security", ["starttls", "tls"])
def test_logs_in_over_tls_with_the_accounts_ca(
    dovecot: Dovecot, settings_for: SettingsFor, security: str
) -> None:
    user = dovecot.add_user()
    with ImapSession(settings_for(security), login_of(user)) as session:
        info = session.open()
        assert info.tls_version in ("TLSv1.2", "TLSv1.3")
        assert info.authenticated_as == user.name
        # Capabilities from after the login (Dovecot shows these only then).
        assert {"SPECIAL-USE", "UIDPLUS"} <= session.capabilities
        assert "Sent" in [f.name for f in list_folders(session)]


@pytest.mark.parametrize("security", ["starttls", "tls"])
def test_a_certificate_from_another_ca_is_refused(
    dovecot: Dovecot,
    settings_for: SettingsFor,
    security: str,
    tmp_path: object,
    proxies: list[RecordingProxy],
) -> None:
    user = dovecot.add_user()
    other = f"{tmp_path}/other-ca.pem"
    trustme.CA().cert_pem.write_to_path(other)
    port = dovecot.tls_port if security == "tls" else dovecot.starttls_port
    proxy = RecordingProxy((dovecot.host, port))
    proxies.append(proxy)
    settings = settings_for(security, port=proxy.port, ca_file=other)
    with pytest.raises(SecurityError) as caught:
        ImapSession(settings, login_of(user)).open()
    assert "could not be verified" in str(caught.value)
    assert "--ca-file" in str(caught.value)
    assert user.password.encode() not in proxy.sent
    assert b"LOGIN" not in proxy.plaintext_sent


def test_the_system_store_does_not_trust_a_private_ca(
    dovecot: Dovecot, settings_for: SettingsFor
) -> None:
    user = dovecot.add_user()
    with pytest.raises(SecurityError, match="could not be verified"):
        ImapSession(settings_for("tls", ca_file=None), login_of(user)).open()


def test_starttls_comes_before_any_login(
    dovecot: Dovecot, settings_for: SettingsFor, proxies: list[RecordingProxy]
) -> None:
    """Dovecot offers LOGIN in plaintext on 127.0.0.1, so only the bytes tell."""
    user = dovecot.add_user()
    # From 127.0.0.1, where Dovecot offers LOGIN and AUTH=PLAIN before encryption.
    proxy = RecordingProxy((dovecot.host, dovecot.starttls_port), source="127.0.0.1")
    proxies.append(proxy)
    with ImapSession(settings_for("starttls", port=proxy.port), login_of(user)) as session:
        session.open()
    assert b"AUTH=PLAIN" in proxy.received  # the server did offer a plaintext login
    plaintext = proxy.plaintext_sent.upper()
    commands = [line.split()[1] for line in plaintext.splitlines() if line.strip()]
    assert commands[-1] == b"STARTTLS"
    assert set(commands) <= {b"CAPABILITY", b"STARTTLS"}
    assert len(plaintext) < len(proxy.sent)  # the rest went inside TLS
    assert user.password.encode() not in proxy.sent


def test_no_starttls_offered_is_refused_without_a_login(
    dovecot: Dovecot, settings_for: SettingsFor, proxies: list[RecordingProxy]
) -> None:
    """Someone on the path strips STARTTLS from the capabilities: no plaintext fallback."""
    user = dovecot.add_user()
    proxy = RecordingProxy(
        (dovecot.host, dovecot.starttls_port),
        rewrite=lambda data: data.replace(b" STARTTLS", b" XSTRIPPED"),
    )
    proxies.append(proxy)
    with pytest.raises(SecurityError) as caught:
        ImapSession(settings_for("starttls", port=proxy.port), login_of(user)).open()
    assert "did not offer encryption (STARTTLS)" in str(caught.value)
    assert b"XSTRIPPED" in proxy.received
    assert b"LOGIN" not in proxy.sent.upper() and b"AUTHENTICATE" not in proxy.sent.upper()
    assert user.password.encode() not in proxy.sent


def test_a_refused_starttls_is_refused_without_a_login(
    dovecot: Dovecot, settings_for: SettingsFor, proxies: list[RecordingProxy]
) -> None:
    """The STARTTLS command fails (here: the proxy garbles it, Dovecot answers BAD)."""
    user = dovecot.add_user()
    proxy = RecordingProxy(
        (dovecot.host, dovecot.starttls_port),
        rewrite_client=lambda data: data.replace(b"STARTTLS", b"XTARTTLS"),
    )
    proxies.append(proxy)
    with pytest.raises(SecurityError) as caught:
        ImapSession(settings_for("starttls", port=proxy.port), login_of(user)).open()
    assert "did not start encryption" in str(caught.value)
    assert b"XTARTTLS" in proxy.sent
    assert b"LOGIN" not in proxy.sent.upper()


def test_preauth_in_plaintext_is_refused(
    settings_for: SettingsFor, proxies: list[RecordingProxy]
) -> None:
    """A PREAUTH greeting would make STARTTLS impossible (the "PREAUTH downgrade")."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    port = listener.getsockname()[1]

    received: list[bytes] = []

    def serve() -> None:
        conn, _ = listener.accept()
        with conn:
            conn.sendall(b"* PREAUTH [CAPABILITY IMAP4rev1 STARTTLS] welcome\r\n")
            data = conn.recv(1024)
            while data:
                received.append(data)
                tag = data.split()[0]
                if b"CAPABILITY" in data.upper():
                    conn.sendall(b"* CAPABILITY IMAP4rev1 STARTTLS\r\n" + tag + b" OK done\r\n")
                else:
                    conn.sendall(tag + b" OK done\r\n")
                data = conn.recv(1024)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        with pytest.raises(SecurityError, match="PREAUTH"):
            ImapSession(settings_for("starttls", port=port), Login("u", "pw")).open()
        assert b"LOGIN" not in b"".join(received).upper()
    finally:
        listener.close()
        thread.join(5)


def test_a_wrong_password_is_an_auth_error_without_the_password(
    dovecot: Dovecot, settings_for: SettingsFor, proxies: list[RecordingProxy]
) -> None:
    user = dovecot.add_user()
    wrong = "not-the-password-7Q"
    proxy = RecordingProxy((dovecot.host, dovecot.tls_port))  # its own address: see there
    proxies.append(proxy)
    session = ImapSession(settings_for("tls", port=proxy.port), login_of(user, wrong))
    with pytest.raises(AuthError) as caught:
        session.open()
    text = str(caught.value)
    assert "refused the user name or password" in text and user.name in text
    assert "AUTHENTICATIONFAILED" in text
    assert wrong not in text and wrong not in repr(caught.value) and wrong not in repr(session)
    assert caught.value.exit_code == 77


def test_a_non_ascii_password_logs_in_with_authenticate_plain(
    dovecot: Dovecot, settings_for: SettingsFor
) -> None:
    user = dovecot.add_user(password="pässwörd-ñ")
    with ImapSession(settings_for("starttls"), login_of(user)) as session:
        assert session.open().authenticated_as == user.name


def test_capabilities_said_before_tls_do_not_count(
    dovecot: Dovecot, settings_for: SettingsFor, proxies: list[RecordingProxy]
) -> None:
    """The proxy hides XOAUTH2 from the plaintext capabilities; the client decides on those
    it asked for inside TLS, so the OAuth2 login still works."""
    user = dovecot.add_user()
    proxy = RecordingProxy(
        (dovecot.host, dovecot.starttls_port),
        source="127.0.0.1",
        rewrite=lambda data: data.replace(b"AUTH=XOAUTH2", b"AUTH=XHIDDEN2").replace(
            b"AUTH=OAUTHBEARER", b"AUTH=XHIDDENBEARER"
        ),
    )
    proxies.append(proxy)
    login = Login(user.name, dovecot.issue_token(user), "oauth2")
    with ImapSession(settings_for("starttls", port=proxy.port), login) as session:
        assert session.open().authenticated_as == user.name
    assert b"AUTH=XHIDDEN2" in proxy.received


def test_a_server_that_is_down_is_transient(settings_for: SettingsFor) -> None:
    closed = reserve_closed_port()
    try:
        settings = settings_for("tls", port=closed.getsockname()[1])
        with pytest.raises(TransientError, match="refused the connection") as caught:
            ImapSession(settings, Login("u", "pw")).open()
        assert caught.value.exit_code == 75
    finally:
        closed.close()


def test_a_server_that_never_answers_times_out(settings_for: SettingsFor) -> None:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)  # accepts (the kernel does), never greets
    try:
        settings = settings_for("starttls", port=listener.getsockname()[1], timeout=0.5)
        with pytest.raises(ServerTimeoutError, match=r"did not answer within 0\.5 seconds"):
            ImapSession(settings, Login("u", "pw")).open()
    finally:
        listener.close()


def test_tls_on_the_starttls_port_is_a_security_error(
    dovecot: Dovecot, settings_for: SettingsFor
) -> None:
    user = dovecot.add_user()
    settings = settings_for("tls", port=dovecot.starttls_port)
    with pytest.raises(SecurityError, match="encrypted connection"):
        ImapSession(settings, login_of(user)).open()


@pytest.mark.parametrize(
    ("mechanisms", "used"),
    [(("OAUTHBEARER", "XOAUTH2"), "OAUTHBEARER"), (("XOAUTH2",), "XOAUTH2")],
)
def test_oauth2_logs_in_with_oauthbearer_or_xoauth2(
    dovecot: Dovecot, settings_for: SettingsFor, mechanisms: tuple[str, ...], used: str
) -> None:
    """Dovecot's oauth2 passdb asks the fixture about the token (RFC 7662) and checks that
    the user in the OAUTHBEARER (RFC 7628, preferred when offered) or XOAUTH2 string is
    the token's."""
    user = dovecot.add_user()
    token = dovecot.issue_token(user)
    login = Login(user.name, token, "oauth2")
    for security in ("starttls", "tls"):
        with ImapSession(settings_for(security), login, mechanisms=mechanisms) as session:
            info = session.open()
            assert (info.authenticated_as, info.mechanism) == (user.name, used)
            assert "Sent" in [f.name for f in list_folders(session)]


def test_a_refused_oauth2_token_is_an_auth_error_without_it(
    dovecot: Dovecot, settings_for: SettingsFor, proxies: list[RecordingProxy]
) -> None:
    user = dovecot.add_user()
    token = dovecot.issue_token(user)
    dovecot.revoke(token)
    proxy = RecordingProxy((dovecot.host, dovecot.tls_port))  # a refusal slows its address
    proxies.append(proxy)
    session = ImapSession(settings_for("tls", port=proxy.port), Login(user.name, token, "oauth2"))
    with pytest.raises(AuthError) as caught:
        session.open()
    text = str(caught.value)
    assert "refused the OAuth2 access token" in text and "sign in to the account again" in text
    assert "status invalid_token" in text  # from the server's JSON error challenge
    assert token not in text and token not in repr(session)


@pytest.mark.parametrize("mechanism", ["OAUTHBEARER", "XOAUTH2"])
def test_a_refused_token_names_the_accounts_fix(
    dovecot: Dovecot, settings_for: SettingsFor, proxies: list[RecordingProxy], mechanism: str
) -> None:
    """With the account's hint (ImapFiler gives it), the sentence says how to sign in
    again in command-line words, and the app finds the hint to word it its own way."""
    user = dovecot.add_user()
    token = dovecot.issue_token(user)
    dovecot.revoke(token)
    proxy = RecordingProxy((dovecot.host, dovecot.tls_port))
    proxies.append(proxy)
    session = ImapSession(
        settings_for("tls", port=proxy.port),
        Login(user.name, token, "oauth2"),
        fix=Hint("sign-in", "work"),
        mechanisms=(mechanism,),
    )
    with pytest.raises(AuthError) as caught:
        session.open()
    said = caught.value.said
    assert said is not None and said.hint == Hint("sign-in", "work")
    assert str(caught.value).endswith("; sign in with 'mailgui account login work'.")
    # the JSON challenge's status: RFC 7628's word, or Google's HTTP-like code for XOAUTH2
    status = {"OAUTHBEARER": "invalid_token", "XOAUTH2": "401"}[mechanism]
    assert f"status {status}" in str(caught.value) and token not in str(caught.value)


def test_a_server_that_stops_answering_is_hung_up_on_without_logout(
    settings_for: SettingsFor,
) -> None:
    """It greets and answers CAPABILITY, then never answers STARTTLS: a timeout, and no
    LOGOUT sent into the silence (it would only wait for the timeout once more)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    received: list[bytes] = []

    def serve() -> None:
        conn, _ = listener.accept()
        with conn:
            conn.sendall(b"* OK hello\r\n")
            while data := conn.recv(1024):
                received.append(data)
                if b"CAPABILITY" in data:
                    tag = data.split()[0]
                    conn.sendall(b"* CAPABILITY IMAP4rev1 STARTTLS\r\n" + tag + b" OK done\r\n")

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        settings = settings_for("starttls", port=listener.getsockname()[1], timeout=0.5)
        with pytest.raises(ServerTimeoutError, match="while connecting"):
            ImapSession(settings, Login("u", "pw")).open()
        thread.join(5)
    finally:
        listener.close()
    sent = b"".join(received)
    assert b"STARTTLS" in sent and b"LOGOUT" not in sent and b"LOGIN" not in sent


@pytest.mark.parametrize("security", ["tls", "starttls"])
def test_abort_cuts_a_connection_that_is_still_opening(
    settings_for: SettingsFor, security: str
) -> None:
    """A server that accepts and never speaks: abort() from another thread ends open()
    at once (Cancel, quitting), not at the 30 s timeout, during the TLS handshake or
    while the greeting is awaited inside imaplib's constructor."""
    import time

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    try:
        settings = settings_for(security, port=listener.getsockname()[1], timeout=30)
        session = ImapSession(settings, Login("u", "pw"))
        failed: list[BaseException] = []

        def opening() -> None:
            try:
                session.open()
            except Exception as exc:
                failed.append(exc)

        thread = threading.Thread(target=opening)
        started = time.monotonic()
        thread.start()
        time.sleep(0.3)
        session.abort()
        thread.join(timeout=5)
        assert not thread.is_alive() and time.monotonic() - started < 5
        assert failed and isinstance(failed[0], TransientError | SecurityError), failed
    finally:
        listener.close()
