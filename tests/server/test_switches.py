"""Version 1's paths are gone, and the /_local test switches answer only loopback callers with a key."""

from __future__ import annotations

from typing import Any

import pytest
import requests

from indox_server import LocalServer
from indox_server.middleware import switch_refusal
from indox_server.state import ServerConfig, ServerState

from .helpers import RawAPI, assert_error, switch

V1_PATHS = [("POST", "/v1/auth/token"), ("POST", "/v1/auth/refresh"), ("POST", "/v1/chat/completions"),
            ("POST", "/v1/completions"), ("POST", "/v1/embeddings"), ("POST", "/v1/images/generations"),
            ("GET", "/v1/providers"), ("GET", "/v1/models"), ("GET", "/v1/models/openai/gpt-4o-mini"),
            ("GET", "/v1/user/usage"), ("GET", "/v1/user/info"), ("GET", "/api/v1/providers"),
            ("GET", "/api/v1/user/info")]


@pytest.mark.parametrize(("method", "path"), V1_PATHS)
def test_version_1_paths_answer_404(server: LocalServer, method: str, path: str) -> None:
    api = RawAPI(server)  # logged in: the 404 is for the path, not for a missing session
    response = api.session.request(method, server.root_url + path, json={"api_key": server.api_key}, timeout=10)
    body = assert_error(response, 404, "not_found")
    assert path in body["detail"]


SWITCHES = [("GET", "/health"), ("GET", "/faults"), ("DELETE", "/faults"), ("GET", "/journal"),
            ("DELETE", "/journal"), ("POST", "/expire-tokens"), ("GET", "/minimal")]


@pytest.mark.parametrize(("method", "path"), SWITCHES)
def test_switches_need_a_valid_api_key(server: LocalServer, method: str, path: str) -> None:
    response = switch(server, method, path, api_key="")
    assert_error(response, 401, "authentication_error")
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert_error(switch(server, method, path, api_key="wrong"), 401, "authentication_error")
    assert switch(server, method, path).status_code == 200


def test_a_session_is_not_a_switch_key(server: LocalServer) -> None:
    api = RawAPI(server, bearer=True)
    response = api.session.get(f"{server.root_url}/_local/journal", timeout=10)
    assert_error(response, 401, "authentication_error")


def test_refused_switches_change_nothing(server: LocalServer) -> None:
    api = RawAPI(server)
    switch(server, "POST", "/faults", api_key="wrong", json={"kind": "respond", "status": 500})
    switch(server, "POST", "/expire-tokens", api_key="")
    switch(server, "POST", "/minimal", api_key="wrong", json={"minimal": True})
    assert server.pending_faults() == [] and not server.is_minimal()
    assert api.get("/user").status_code == 200


def test_switches_are_hidden_from_callers_off_loopback(server: LocalServer) -> None:
    # uvicorn takes the caller's address from X-Forwarded-For when a trusted (loopback) proxy sends it
    for method, path in SWITCHES:
        response = requests.request(method, f"{server.root_url}/_local{path}", timeout=10,
                                    headers={"X-API-Key": server.api_key, "X-Forwarded-For": "203.0.113.7"})
        assert_error(response, 404, "not_found")


def _scope(client: Any, key: str | None) -> dict[str, Any]:
    headers = [] if key is None else [(b"x-api-key", key.encode())]
    return {"type": "http", "method": "GET", "path": "/_local/journal", "client": client, "headers": headers}


@pytest.mark.parametrize("client", [("127.0.0.1", 5000), ("127.8.9.1", 5000), ("::1", 5000),
                                    ("::ffff:127.0.0.1", 5000)])
def test_the_switch_check_lets_loopback_callers_with_a_key_in(client: tuple[str, int]) -> None:
    state = ServerState(ServerConfig(api_keys=("k",)))
    assert switch_refusal(_scope(client, "k"), state) is None
    refusal = switch_refusal(_scope(client, "other"), state)
    assert refusal is not None and refusal.status == 401


@pytest.mark.parametrize("client", [("10.0.0.5", 5000), ("192.168.1.2", 1), ("2001:db8::1", 5000),
                                    ("::ffff:10.0.0.5", 5000), ("testclient", 50000), None])
def test_the_switch_check_hides_switches_from_everyone_else(client: Any) -> None:
    state = ServerState(ServerConfig(api_keys=("k",)))
    refusal = switch_refusal(_scope(client, "k"), state)
    assert refusal is not None and refusal.status == 404 and refusal.error_type == "not_found"
