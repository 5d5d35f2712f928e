"""Token auth: PROTOCOL.md section 2."""

from __future__ import annotations

import time

import requests

from indox_server import LocalServer

from .helpers import RawAPI, assert_error


def test_token_exchange_gives_bearer_tokens(server: LocalServer) -> None:
    response = requests.post(f"{server.base_url}/auth/token", json={"api_key": server.api_key}, timeout=10)
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"access_token", "refresh_token", "token_type", "expires_in"}
    assert body["token_type"] == "bearer"
    assert isinstance(body["expires_in"], int) and body["expires_in"] > 0
    assert body["access_token"] != body["refresh_token"]


def test_wrong_api_key_is_401(server: LocalServer) -> None:
    response = requests.post(f"{server.base_url}/auth/token", json={"api_key": "nope"}, timeout=10)
    assert_error(response, 401, "authentication_error")


def test_token_request_without_key_is_422_and_bad_json_is_400(server: LocalServer) -> None:
    assert_error(requests.post(f"{server.base_url}/auth/token", json={}, timeout=10),
                 422, "validation_error")
    assert_error(requests.post(f"{server.base_url}/auth/token", data=b"{not json", timeout=10),
                 400, "invalid_parameters")


def test_refresh_rotates_and_old_refresh_token_dies(server: LocalServer) -> None:
    api = RawAPI(server)
    first = api.tokens["refresh_token"]
    renewed = requests.post(f"{server.base_url}/auth/refresh", json={"refresh_token": first}, timeout=10)
    assert renewed.status_code == 200
    fresh = renewed.json()
    assert fresh["refresh_token"] != first and fresh["access_token"] != api.tokens["access_token"]
    again = requests.post(f"{server.base_url}/auth/refresh", json={"refresh_token": first}, timeout=10)
    assert_error(again, 401, "authentication_error")
    works = requests.get(f"{server.base_url}/user/info", timeout=10,
                         headers={"Authorization": f"Bearer {fresh['access_token']}"})
    assert works.status_code == 200


def test_unknown_refresh_token_is_401(server: LocalServer) -> None:
    response = requests.post(f"{server.base_url}/auth/refresh", json={"refresh_token": "ixr_x"}, timeout=10)
    assert_error(response, 401, "authentication_error")


def test_missing_or_unknown_bearer_is_401_with_www_authenticate(server: LocalServer) -> None:
    for headers in ({}, {"Authorization": "Bearer ixa_unknown"}, {"Authorization": "Basic abc"}):
        response = requests.get(f"{server.base_url}/providers", headers=headers, timeout=10)
        assert_error(response, 401, "authentication_error")
        assert response.headers["WWW-Authenticate"] == 'Bearer error="invalid_token"'


def test_api_key_is_not_a_bearer_token(server: LocalServer) -> None:
    response = requests.get(f"{server.base_url}/providers", timeout=10,
                            headers={"Authorization": f"Bearer {server.api_key}"})
    assert_error(response, 401, "authentication_error")


def test_expire_switch_kills_access_tokens_but_refresh_still_works(server: LocalServer) -> None:
    api = RawAPI(server)
    assert api.get("/user/info").status_code == 200
    server.expire_tokens()
    assert_error(api.get("/user/info"), 401, "authentication_error")
    renewed = requests.post(f"{server.base_url}/auth/refresh",
                            json={"refresh_token": api.tokens["refresh_token"]}, timeout=10)
    assert renewed.status_code == 200


def test_expire_switch_with_refresh_kills_refresh_tokens(server: LocalServer) -> None:
    api = RawAPI(server)
    server.expire_tokens(refresh=True)
    renewed = requests.post(f"{server.base_url}/auth/refresh",
                            json={"refresh_token": api.tokens["refresh_token"]}, timeout=10)
    assert_error(renewed, 401, "authentication_error")


def test_access_tokens_expire_after_their_ttl() -> None:
    with LocalServer(token_ttl=0.3) as short:
        api = RawAPI(short)
        assert api.tokens["expires_in"] == 1  # whole seconds, rounded up
        assert api.get("/user/info").status_code == 200
        time.sleep(0.5)  # past the 0.3 s lifetime: expiry is a clock comparison, not a race
        assert_error(api.get("/user/info"), 401, "authentication_error")


def test_each_api_key_is_its_own_account() -> None:
    with LocalServer(api_keys=("key-a", "key-b")) as two:
        a, b = RawAPI(two, "key-a"), RawAPI(two, "key-b")
        assert a.get("/user/info").json()["id"] != b.get("/user/info").json()["id"]
        a.chat("Hello")
        assert a.get("/user/usage").json()["total_requests"] == 1
        assert b.get("/user/usage").json()["total_requests"] == 0
