"""Clients against the session's local server, with their retry waits recorded instead of slept."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from indox_server import LocalServer
from shared_client import Client


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def client(server: LocalServer, sleeps: list[float]) -> Iterator[Client]:
    with Client(api_key=server.api_key, base_url=server.base_url) as made:
        made._sleep = sleeps.append  # the retry waits, recorded instead of slept
        yield made
