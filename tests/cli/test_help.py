"""Every command's --help is complete and shows examples, without a display or Qt."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest

COMMANDS = [
    [],
    ["account"],
    ["account", "add"],
    ["account", "set"],
    ["account", "list"],
    ["account", "show"],
    ["account", "remove"],
    ["account", "test"],
    ["account", "discover"],
    ["send"],
    ["sendmail"],
    ["outbox"],
    ["outbox", "list"],
    ["outbox", "show"],
    ["outbox", "retry"],
    ["outbox", "delete"],
    ["outbox", "flush"],
    ["agent"],
]


def test_every_help_shows_examples(profile: Any) -> None:
    code = (
        "import contextlib, io, sys\n"
        "from mailgui.cli import main\n"
        "for args in eval(sys.argv[1]):\n"
        "    out = io.StringIO()\n"
        "    with contextlib.redirect_stdout(out):\n"
        "        try:\n"
        "            rc = main([*args, '--help'])\n"
        "        except SystemExit as exc:\n"
        "            rc = exc.code\n"
        "    text = out.getvalue()\n"
        "    assert rc in (0, None), (args, rc)\n"
        "    assert 'example' in text and 'mailgui' in text, (args, text)\n"
        "assert 'PySide6' not in sys.modules\n"
    )
    r = subprocess.run(
        [sys.executable, "-c", code, repr(COMMANDS)],
        env=profile.env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr


@pytest.mark.parametrize("words", ["agent", "sendmail", "mailto:", "Exit codes"])
def test_top_level_help_mentions(profile: Any, words: str) -> None:
    r = profile.run("--help")
    assert r.returncode == 0 and words in r.stdout


def _parsers() -> list[tuple[str, Any]]:
    """Every (sub)command's parser, by its full name ('mailgui outbox list')."""
    import argparse

    from mailgui.cli import build_parser

    found, todo = [], [build_parser()]
    while todo:
        parser = todo.pop()
        found.append((parser.prog, parser))
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                todo += list(action.choices.values())
    return found


def test_every_option_and_argument_has_help_text() -> None:
    import argparse

    missing = [
        f"{prog}: {'/'.join(action.option_strings) or action.dest}"
        for prog, parser in _parsers()
        for action in parser._actions
        if not isinstance(action, argparse._SubParsersAction)
        and not action.help
        and prog != "mailgui sendmail"  # parses its own options (its --help is a page)
    ]
    assert not missing, missing


@pytest.mark.parametrize(
    ("typed", "words"),
    [
        (["sned"], "'sned' is not a command of mailgui; did you mean 'mailgui send'?"),
        (["outbox", "lsit"], "did you mean 'mailgui outbox list'?"),
        (["account", "xyz"], "'xyz' is not a command of mailgui account. See mailgui account"),
    ],
)
def test_a_mistyped_command_gets_did_you_mean(profile: Any, typed: list[str], words: str) -> None:
    r = profile.run(*typed)
    assert r.returncode == 64
    assert words in r.stderr
    assert "Traceback" not in r.stderr
