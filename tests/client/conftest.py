"""Clients against the session's local server, with their retry waits recorded instead of slept;
and, for the raw servers of ``raw_http``, no proxy from the environment and the test certificate
trusted."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from indox_server import LocalServer
from shared_client import Client
from tests.client.raw_http import TLS


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def client(server: LocalServer, sleeps: list[float]) -> Iterator[Client]:
    with Client(api_key=server.api_key, base_url=server.base_url) as made:
        made._sleep = sleeps.append  # the retry waits, recorded instead of slept
        yield made


@pytest.fixture
def no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    """No proxy from the environment: requests to the loopback servers go straight to them."""
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def trust_test_cert(monkeypatch: pytest.MonkeyPatch) -> None:
    """The test certificate (``tls/cert.pem``) trusted, as httpx reads ``SSL_CERT_FILE``."""
    monkeypatch.setenv("SSL_CERT_FILE", str(TLS / "cert.pem"))
