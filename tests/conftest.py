"""Fixtures shared by every test: a real local server on loopback."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from indox_server import LocalServer


@pytest.fixture(scope="session")
def server() -> Iterator[LocalServer]:
    """One in-process local server for the whole run; after each test its faults are cleared and
    minimal mode is switched off."""
    with LocalServer() as running:
        yield running


@pytest.fixture(autouse=True)
def _no_leftover_faults(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    if "server" in request.fixturenames and not request.node.get_closest_marker("vcr"):
        running = request.getfixturevalue("server")
        running.clear_faults()
        running.set_minimal(False)


@pytest.fixture
def dead_url() -> str:
    """An origin (a base URL) where nothing listens: any request sent there fails on the network."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"
