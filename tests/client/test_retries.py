"""The retry policy of PROTOCOL.md section 9, counted on the wire."""

from __future__ import annotations

import time

import pytest

from indox_server import LocalServer
from shared_client import (
    Client,
    InvalidParametersError,
    ModelNotAvailableError,
    NetworkError,
    RateLimitError,
)
from shared_client._errors import parse_retry_after
from shared_client._retry import backoff_delay, retry_delay


def calls_to(server: LocalServer, path: str) -> int:
    return sum(1 for entry in server.journal() if entry["path"] == "/api/v1" + path)


@pytest.fixture(autouse=True)
def _logged_in(client: Client, server: LocalServer) -> None:
    client.providers()
    server.clear_journal()


@pytest.mark.parametrize("status", [408, 429, 500, 502, 503, 504])
def test_retryable_statuses_are_retried_up_to_max_retries(client: Client, server: LocalServer,
                                                          sleeps: list[float], status: int) -> None:
    server.inject_fault("respond", path="/models", status=status, count=2)
    assert client.providers()
    assert calls_to(server, "/models") == 3 and len(sleeps) == 2


def test_gives_up_after_max_retries_with_backoff(client: Client, server: LocalServer, sleeps: list[float]) -> None:
    server.inject_fault("respond", path="/models", status=503, count=3)
    with pytest.raises(ModelNotAvailableError):
        client.providers()
    assert calls_to(server, "/models") == 3
    assert 0.375 <= sleeps[0] <= 0.5 and 0.75 <= sleeps[1] <= 1.0


@pytest.mark.parametrize("status", [400, 402, 403, 404, 422])
def test_client_errors_are_never_retried(client: Client, server: LocalServer, sleeps: list[float],
                                         status: int) -> None:
    server.inject_fault("respond", path="/models", status=status, count=1)
    with pytest.raises(Exception):  # noqa: B017 (the mapping is test_errors' subject)
        client.providers()
    assert calls_to(server, "/models") == 1 and sleeps == []


def test_401_logs_in_again_once_then_raises(client: Client, server: LocalServer, sleeps: list[float]) -> None:
    server.inject_fault("respond", path="/models", status=401, count=5)
    with pytest.raises(Exception, match="401"):
        client.providers()
    journal = [e["path"] for e in server.journal()]
    assert journal == ["/api/v1/models", "/api/v1/auth/api-key", "/api/v1/models"] and sleeps == []


def test_retry_after_is_honoured_in_all_its_forms(client: Client, server: LocalServer,
                                                  sleeps: list[float]) -> None:
    for value in ("2", "0.25"):
        server.inject_fault("respond", path="/models", status=429, headers={"Retry-After": value})
        client.providers()
    assert sleeps == [2.0, 0.25]
    soon = time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(time.time() + 30))
    server.inject_fault("respond", path="/models", status=503, headers={"Retry-After": soon})
    client.providers()
    assert 27 <= sleeps[2] <= 30.5


def test_retry_after_above_the_cap_raises_at_once(client: Client, server: LocalServer,
                                                  sleeps: list[float]) -> None:
    server.inject_fault("respond", path="/models", status=429, headers={"Retry-After": "61"}, count=3)
    with pytest.raises(RateLimitError) as caught:
        client.providers()
    assert caught.value.retry_after == 61.0 and sleeps == [] and calls_to(server, "/models") == 1


def test_real_wait_follows_retry_after(server: LocalServer) -> None:
    with Client(api_key=server.api_key, base_url=server.base_url) as client:
        client.providers()
        server.inject_fault("respond", path="/models", status=429, headers={"Retry-After": "0.3"})
        started = time.perf_counter()
        client.providers()
        assert time.perf_counter() - started >= 0.3


def test_network_errors_are_retried(client: Client, server: LocalServer, sleeps: list[float]) -> None:
    server.inject_fault("drop", path="/models", count=2)
    assert client.providers() and len(sleeps) == 2
    server.inject_fault("drop", path="/models", count=3)
    with pytest.raises(NetworkError):
        client.providers()


def test_max_retries_zero(server: LocalServer) -> None:
    with Client(api_key=server.api_key, base_url=server.base_url, max_retries=0) as client:
        client.providers()
        server.inject_fault("respond", path="/models", status=503)
        with pytest.raises(ModelNotAvailableError):
            client.providers()
    with pytest.raises(InvalidParametersError):
        Client(api_key="k", max_retries=-1)


def test_policy_functions() -> None:
    assert backoff_delay(0, lambda: 0.0) == 0.375 and backoff_delay(0, lambda: 1.0) == 0.5
    assert backoff_delay(3, lambda: 1.0) == 4.0 and backoff_delay(10, lambda: 1.0) == 8.0
    assert retry_delay(5, 60.0) == 60.0 and retry_delay(0, 60.5) is None
    assert parse_retry_after("3") == 3.0 and parse_retry_after("1.5") == 1.5
    assert parse_retry_after("-4") == 0.0 and parse_retry_after("soon") is None
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412470.0) == 10.0
