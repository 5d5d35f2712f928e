"""Lazy login, the key sent only to /auth/token, refresh on expiry, from many threads at once."""

from __future__ import annotations

import json
import threading

import pytest

from indox_server import LocalServer
from shared_client import AuthenticationError, Client


def paths(server: LocalServer) -> list[str]:
    return [entry["path"] for entry in server.journal()]


def test_constructing_makes_no_request(server: LocalServer) -> None:
    server.clear_journal()
    client = Client(api_key=server.api_key, base_url=server.base_url)
    assert paths(server) == []
    client.providers()
    assert paths(server) == ["/v1/auth/token", "/v1/providers"]
    client.close()


def test_the_key_goes_only_to_auth_token_and_bearer_everywhere_else(client: Client, server: LocalServer) -> None:
    server.clear_journal()
    client.chat([{"role": "user", "content": "Hi"}], model="openai/gpt-4o-mini")
    client.get_user_info()
    server.expire_tokens(refresh=True)
    client.get_usage()
    journal = server.journal()
    for entry in journal:
        headers = dict(entry["headers"])
        carries_key = server.api_key in entry["body"] or server.api_key in json.dumps(entry["headers"])
        assert carries_key == (entry["path"] == "/v1/auth/token"), entry["path"]
        if not entry["path"].startswith("/v1/auth/"):
            assert headers["authorization"].startswith("Bearer ixa_")
    assert [e["path"] for e in journal].count("/v1/auth/token") == 2


def test_no_key_at_all_fails_at_construction(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("INDOX_ROUTER_API_KEY", raising=False)
    with pytest.raises(AuthenticationError, match="INDOX_ROUTER_API_KEY"):
        Client()


def test_wrong_key_is_an_authentication_error(server: LocalServer) -> None:
    with Client(api_key="wrong", base_url=server.base_url) as client, pytest.raises(AuthenticationError):
        client.providers()


def test_reactive_refresh_after_expiry_uses_the_refresh_token(client: Client, server: LocalServer) -> None:
    client.providers()
    server.expire_tokens()
    server.clear_journal()
    assert client.providers()
    assert paths(server) == ["/v1/providers", "/v1/auth/refresh", "/v1/providers"]


def test_dead_refresh_token_falls_back_to_the_key(client: Client, server: LocalServer) -> None:
    client.providers()
    server.expire_tokens(refresh=True)
    server.clear_journal()
    assert client.providers()
    assert paths(server) == ["/v1/providers", "/v1/auth/refresh", "/v1/auth/token", "/v1/providers"]


def test_proactive_refresh_before_expiry(client: Client, server: LocalServer) -> None:
    now = [1000.0]
    client._tokens._clock = lambda: now[0]
    client.providers()
    now[0] += 3600 - 30  # within the last minute of the token's hour
    server.clear_journal()
    client.providers()
    assert paths(server) == ["/v1/auth/refresh", "/v1/providers"]


def test_without_auto_refresh_an_expired_token_raises(server: LocalServer) -> None:
    with Client(api_key=server.api_key, base_url=server.base_url, auto_refresh=False) as client:
        client.providers()
        server.expire_tokens()
        with pytest.raises(AuthenticationError):
            client.providers()


def test_sixteen_threads_cause_one_refresh(client: Client, server: LocalServer) -> None:
    client.providers()
    server.expire_tokens()
    server.clear_journal()
    barrier, errors = threading.Barrier(16), []

    def call() -> None:
        barrier.wait()
        try:
            client.get_user_info()
        except Exception as exc:  # collected: a thread's failure must fail the test
            errors.append(exc)

    threads = [threading.Thread(target=call) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    logins = [p for p in paths(server) if p.startswith("/v1/auth/")]
    assert logins == ["/v1/auth/refresh"]
    assert paths(server).count("/v1/user/info") >= 16
