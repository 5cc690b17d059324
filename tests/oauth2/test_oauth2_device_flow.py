"""``mailgui account login NAME --device`` (RFC 8628), against the test server's device
endpoint, with a fake clock and sleep so the polling is checked without waiting."""

from __future__ import annotations

import threading

import pytest
from oauth2_mock import MockOAuth2Server
from processes import Profile

from mailgui.core import passwords
from mailgui.core.errors import EX_NOPERM, AuthError, ConfigError
from mailgui.core.oauth2 import (
    DeviceCode,
    OAuth2Settings,
    SignInCancelled,
    authorize_device,
    sign_in_device,
)


class FakeTime:
    """``sleep`` that only moves ``clock`` on, and remembers each wait."""

    def __init__(self) -> None:
        self.now = 100.0
        self.waits: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.now += seconds


@pytest.fixture
def device_server(oauth2_server_factory) -> MockOAuth2Server:
    server: MockOAuth2Server = oauth2_server_factory(device=True)
    return server


@pytest.fixture
def device_settings(device_server: MockOAuth2Server) -> OAuth2Settings:
    return OAuth2Settings(
        issuer=device_server.issuer, client_id="mailgui-tests", scopes=("smtp", "offline")
    )


def test_signs_in_honouring_interval_and_slow_down(
    device_server: MockOAuth2Server, device_settings: OAuth2Settings, keyring_profile: Profile
) -> None:
    device_server.configure(
        device_interval=2,
        device_script=["authorization_pending", "slow_down", "authorization_pending", "ok"],
    )
    shown: list[DeviceCode] = []
    time = FakeTime()
    done = sign_in_device(
        device_settings, "work", show_code=shown.append, sleep=time.sleep, clock=time.clock
    )
    (code,) = shown
    assert code.user_code == "WDJB-MJHT"
    assert code.verification_uri == f"{device_server.issuer}/device"
    assert code.expires_in == 600
    assert time.waits == [2, 2, 7, 7]  # slow_down: 5 s more from then on
    assert passwords.load("work") == done.tokens.refresh_token
    assert done.tokens.access_token not in repr(done)
    (asked,) = device_server.log()["device"]
    assert asked == {"client_id": "mailgui-tests", "scope": "smtp offline"}
    polls = device_server.token_requests("urn:ietf:params:oauth:grant-type:device_code")
    assert len(polls) == 4


@pytest.mark.parametrize(
    ("answer", "words"),
    [("access_denied", "was declined"), ("expired_token", "code expired")],
)
def test_a_refusal_ends_the_wait(
    device_server: MockOAuth2Server,
    device_settings: OAuth2Settings,
    keyring_profile: Profile,
    answer: str,
    words: str,
) -> None:
    device_server.configure(device_script=["authorization_pending", answer])
    time = FakeTime()
    with pytest.raises(AuthError, match=words) as raised:
        sign_in_device(
            device_settings, "work", show_code=lambda c: None, sleep=time.sleep, clock=time.clock
        )
    assert raised.value.exit_code == EX_NOPERM
    assert "mailgui account login work --device" in str(raised.value)
    assert passwords.load("work") is None


def test_gives_up_when_the_code_runs_out(
    device_server: MockOAuth2Server, device_settings: OAuth2Settings
) -> None:
    device_server.configure(device_script=["authorization_pending"], device_interval=100)
    time = FakeTime()
    with pytest.raises(AuthError, match="code expired"):
        authorize_device(
            device_settings, "work", show_code=lambda c: None, sleep=time.sleep, clock=time.clock
        )
    assert len(time.waits) == 6  # 600 s of code at 100 s per poll


def test_cancel_stops_the_polling(
    device_server: MockOAuth2Server, device_settings: OAuth2Settings
) -> None:
    device_server.configure(device_script=["authorization_pending"], device_interval=1)
    cancel = threading.Event()
    threading.Timer(0.3, cancel.set).start()
    with pytest.raises(SignInCancelled):
        authorize_device(device_settings, "work", show_code=lambda c: None, cancel=cancel)


def test_a_provider_without_a_device_endpoint(settings: OAuth2Settings) -> None:
    with pytest.raises(ConfigError, match="offers no sign-in by code"):
        authorize_device(settings, "work", show_code=lambda c: None)
