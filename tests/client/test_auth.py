"""Login by docs/protocol.md section 2: lazy, the key on the login request only, the session by
cookie and bearer, renewal before a known end and on 401, one login for many threads, a refused
key never tried again."""

from __future__ import annotations

import json
import threading

import pytest

from indox_server import LocalServer
from shared_client import AuthenticationError, Client

LOGIN = "/api/v1/auth/api-key"


def paths(server: LocalServer) -> list[str]:
    return [entry["path"] for entry in server.journal()]


def test_constructing_makes_no_request(server: LocalServer) -> None:
    server.clear_journal()
    client = Client(api_key=server.api_key, base_url=server.base_url)
    assert paths(server) == []
    client.providers()
    assert paths(server) == [LOGIN, "/api/v1/models"]
    client.close()


def test_the_key_goes_only_to_the_login_and_the_session_everywhere_else(client: Client,
                                                                        server: LocalServer) -> None:
    server.clear_journal()
    client.chat([{"role": "user", "content": "Hi"}], model="openai/gpt-4o-mini")
    client.get_user_info()
    server.expire_tokens()
    client.get_usage()
    marker = LocalServer.redacted(server.api_key)
    journal = server.journal()
    for entry in journal:
        headers = dict(entry["headers"])
        carries_key = marker in entry["body"] or marker in json.dumps(entry["headers"])
        assert carries_key == (entry["path"] == LOGIN), entry["path"]
        if entry["path"] == LOGIN:
            assert headers["x-api-key"] == marker and entry["body"] == ""
        else:
            assert headers["authorization"].startswith("Bearer ") and "access_token=" in headers["cookie"]
    assert paths(server).count(LOGIN) == 2


def test_no_key_at_all_fails_at_construction(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("INDOX_ROUTER_API_KEY", raising=False)
    with pytest.raises(AuthenticationError, match="INDOX_ROUTER_API_KEY"):
        Client()


def test_a_refused_key_raises_with_the_servers_detail_and_is_not_tried_again(server: LocalServer) -> None:
    server.clear_journal()
    with Client(api_key="wrong", base_url=server.base_url) as client:
        with pytest.raises(AuthenticationError) as first:
            client.providers()
        with pytest.raises(AuthenticationError) as second:
            client.models()
    assert first.value.status_code == 401 and "INDOX_ROUTER_API_KEY" in str(first.value)
    assert "indox-local-key" in str(first.value)  # loopback: the local server's default key is named
    assert "wrong" not in str(first.value) and str(second.value) == str(first.value)
    assert ".. Check" not in str(first.value) and ". Check INDOX_ROUTER_API_KEY" in str(first.value)
    assert paths(server) == [LOGIN]  # the refused key was sent once


def test_a_server_without_the_api_key_login_gets_the_form(client: Client, server: LocalServer) -> None:
    server.inject_fault("respond", path="/auth/api-key", status=404, count=1)
    server.clear_journal()
    with Client(api_key=server.api_key, base_url=server.base_url) as fresh:
        assert fresh.providers()
    journal = server.journal()
    assert [e["path"] for e in journal] == [LOGIN, "/api/v1/auth/token", "/api/v1/models"]
    form = journal[1]
    assert dict(form["headers"])["content-type"] == "application/x-www-form-urlencoded"
    assert "username=" in form["body"] and "password=" in form["body"]


def test_an_expired_session_is_renewed_once_with_the_key(client: Client, server: LocalServer) -> None:
    client.providers()
    server.expire_tokens()
    server.clear_journal()
    assert client.providers()
    assert paths(server) == ["/api/v1/models", LOGIN, "/api/v1/models"]


def test_renewal_before_the_known_end(client: Client, server: LocalServer) -> None:
    now = [1000.0]
    client._core.session._clock = lambda: now[0]
    client.providers()
    server.clear_journal()
    now[0] += 3600 - 31  # 31 s left: still good
    client.providers()
    now[0] += 2  # 29 s left: renew first
    client.providers()
    assert paths(server) == ["/api/v1/models", LOGIN, "/api/v1/models"]


def test_the_end_is_read_from_the_token_when_the_body_does_not_say(server: LocalServer) -> None:
    """In minimal mode the login body has no expires_in; the JWT's exp claim still tells the end."""
    with server.minimal_mode(), Client(api_key=server.api_key, base_url=server.base_url) as client:
        client.providers()
        ends = client._core.session._current
        assert ends is not None and ends[2] is not None


def test_without_auto_refresh_an_expired_session_raises(server: LocalServer) -> None:
    with Client(api_key=server.api_key, base_url=server.base_url, auto_refresh=False) as client:
        client.providers()
        server.expire_tokens()
        with pytest.raises(AuthenticationError):
            client.providers()


def test_sixteen_threads_cause_one_login(client: Client, server: LocalServer) -> None:
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
    assert [p for p in paths(server) if "/auth/" in p] == [LOGIN]
    assert paths(server).count("/api/v1/user") >= 16
