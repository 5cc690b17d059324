"""``--oauth2-token-command``: the command's first output line is the access token;
failures are one sentence naming the program, never the token or the arguments."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

import pytest
from oauth2_checks import assert_no_secret

from mailgui.core.accounts import Account
from mailgui.core.credentials import Login
from mailgui.core.errors import EX_NOPERM, AuthError, ConfigError
from mailgui.core.oauth2 import TokenCommand, run_token_command

WORK = Account(name="work", email="me@example.test", host="smtp.example.test")


def python(code: str, *args: str) -> str:
    return shlex.join([sys.executable, "-c", code, *args])


def test_the_first_line_is_the_token() -> None:
    command = python("print('tok-123 '); print('ignored')")
    credentials = TokenCommand(lambda account: command)
    assert credentials.login(WORK) == Login("me@example.test", "tok-123", "oauth2")
    named = WORK._replace(username="someone")
    assert credentials.login(named) == Login("someone", "tok-123", "oauth2")


def test_no_command_no_login() -> None:
    assert TokenCommand(lambda account: None).login(WORK) is None


def test_arguments_are_split_like_a_shell_line_but_no_shell_runs(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    command = python("import sys; print(sys.argv[1])", f"a b; touch {marker}")
    assert run_token_command(command) == f"a b; touch {marker}"
    assert not marker.exists()


def test_refused_runs_the_command_once_more(tmp_path: Path) -> None:
    counter = tmp_path / "count"
    counter.write_text("0")
    code = (
        "import pathlib, sys; p = pathlib.Path(sys.argv[1]); n = int(p.read_text()) + 1; "
        "p.write_text(str(n)); print(f'tok-{n}')"
    )
    credentials = TokenCommand(lambda account: python(code, str(counter)))
    first = credentials.login(WORK)
    assert first is not None and first.secret == "tok-1"
    again = credentials.refused(WORK, first)
    assert again is not None and again.secret == "tok-2"
    same = TokenCommand(lambda account: python("print('always')"))
    login = same.login(WORK)
    assert login is not None and same.refused(WORK, login) is None


def test_a_failing_command() -> None:
    command = python(
        "import sys; print('tok-secret'); print('tok-secret', file=sys.stderr); "
        "print('the vault is locked', file=sys.stderr); sys.exit(3)",
        "--password=hunter2",
    )
    with pytest.raises(AuthError) as raised:
        run_token_command(command)
    message = str(raised.value)
    program = Path(sys.executable).name
    assert message == (
        f"The OAuth2 token command {program} failed (exit status 3: the vault is locked), "
        "so nothing was sent; run it yourself to see why."
    )
    assert raised.value.exit_code == EX_NOPERM
    assert_no_secret([message], ["tok-secret", "hunter2"])


def test_stderr_holding_the_token_is_not_quoted() -> None:
    command = python("import sys; print('tok-x'); print('got tok-x', file=sys.stderr); exit(1)")
    with pytest.raises(AuthError, match=r"failed \(exit status 1\)") as raised:
        run_token_command(command)
    assert "tok-x" not in str(raised.value)


def test_a_missing_program() -> None:
    with pytest.raises(AuthError, match="token command no-such-helper was not found"):
        run_token_command("/nowhere/no-such-helper --flag")


def test_a_command_that_hangs() -> None:
    with pytest.raises(AuthError, match=r"did not finish within 0\.5 seconds"):
        run_token_command(python("import time; time.sleep(10)"), timeout=0.5)


def test_a_command_that_prints_nothing() -> None:
    with pytest.raises(AuthError, match="printed no access token"):
        run_token_command(python("pass"))


def test_a_command_line_that_cannot_be_split() -> None:
    with pytest.raises(ConfigError, match="cannot be read as a command line"):
        run_token_command("helper 'unbalanced")
    with pytest.raises(ConfigError, match="is empty"):
        run_token_command("  ")
