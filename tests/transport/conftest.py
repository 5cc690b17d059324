"""Fixtures for transport tests against real servers: ``postfix`` (Debian's Postfix, a
private instance for the whole session; see ``postfix_server``) and ``postfix_data``
(another one that does not offer CHUNKING, so messages go after DATA)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from postfix_server import PostfixServer, unavailable


@pytest.fixture(scope="session")
def _postfix_instance() -> Iterator[PostfixServer]:
    why = unavailable()
    if why:
        pytest.skip(why)
    with PostfixServer() as server:
        yield server


@pytest.fixture(scope="session")
def _postfix_data_instance() -> Iterator[PostfixServer]:
    why = unavailable()
    if why:
        pytest.skip(why)
    with PostfixServer(ehlo_without=("chunking",)) as server:
        yield server


@pytest.fixture
def postfix_data(_postfix_data_instance: PostfixServer) -> Iterator[PostfixServer]:
    """A private Postfix without CHUNKING (DATA and dot-stuffing), released after each
    test like ``postfix``."""
    yield _postfix_data_instance
    _postfix_data_instance.policy.release()


@pytest.fixture
def postfix(_postfix_instance: PostfixServer) -> Iterator[PostfixServer]:
    """The session's private Postfix; its policy service answers at once again after
    each test (a test that holds replies cannot leave the next one waiting)."""
    yield _postfix_instance
    _postfix_instance.policy.release()
