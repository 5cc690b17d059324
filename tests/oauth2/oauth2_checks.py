"""Checks shared by the OAuth2 tests: no secret in anything a person or a log sees."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path


def assert_no_secret(texts: Iterable[str], secrets: Iterable[str | None]) -> None:
    """None of ``secrets`` (tokens, codes, verifiers) appears in any of ``texts``."""
    texts = list(texts)
    for secret in secrets:
        if not secret:
            continue
        for text in texts:
            assert secret not in text, "a secret leaked into output meant for people or logs"


def files_holding(root: Path, secret: str, *, except_under: Path | None = None) -> list[Path]:
    """Files below ``root`` (outside ``except_under``) that contain ``secret``."""
    found = []
    for path in root.rglob("*"):
        if not path.is_file():
            continue
        if except_under is not None and except_under in path.parents:
            continue
        if secret.encode() in path.read_bytes():
            found.append(path)
    return found
