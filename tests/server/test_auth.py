"""Login and sessions: PROTOCOL.md section 2 (version 2)."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import pytest
import requests

from indox_server import LocalServer

from .helpers import RawAPI, assert_error, login


def claims(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """A JWT's header and payload, read without checking the signature."""

    def part(text: str) -> dict[str, Any]:
        return json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))  # type: ignore[no-any-return]

    header, payload, signature = token.split(".")
    assert signature
    return part(header), part(payload)


def test_login_with_x_api_key_gives_a_session_in_body_and_cookie(server: LocalServer) -> None:
    response = login(server)
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"access_token", "token_type", "expires_in"}
    assert body["token_type"] == "bearer" and body["expires_in"] == 3600
    cookie = response.headers["Set-Cookie"]
    attributes = [part.strip() for part in cookie.split(";")]
    assert attributes[0] == f"access_token={body['access_token']}"
    assert set(attributes[1:]) == {"HttpOnly", "Max-Age=3600", "Path=/", "SameSite=Lax"}  # no Secure over http
    assert response.cookies["access_token"] == body["access_token"]


def test_the_cookie_is_secure_over_https(server: LocalServer) -> None:
    # uvicorn trusts X-Forwarded-Proto from loopback, as it would from a TLS-terminating proxy
    response = requests.post(f"{server.api_root}/auth/api-key", timeout=10,
                             headers={"X-API-Key": server.api_key, "X-Forwarded-Proto": "https"})
    assert "Secure" in [part.strip() for part in response.headers["Set-Cookie"].split(";")]


def test_the_session_is_an_hs256_jwt_with_sub_iat_exp(server: LocalServer) -> None:
    before = time.time()
    token = login(server).json()["access_token"]
    header, payload = claims(token)
    assert header == {"alg": "HS256", "typ": "JWT"}
    assert {"sub", "iat", "exp"} <= set(payload)
    assert payload["sub"] == RawAPI(server).get("/user").json()["id"]
    assert int(before) <= payload["iat"] <= time.time()
    assert 3600 <= payload["exp"] - before <= 3601


def test_a_tampered_or_foreign_token_is_401(server: LocalServer) -> None:
    token = login(server).json()["access_token"]
    header, payload, signature = token.split(".")
    _, claimed = claims(token)
    longer = base64.urlsafe_b64encode(json.dumps({**claimed, "exp": claimed["exp"] + 10**6}).encode())
    forged = f"{header}.{longer.decode().rstrip('=')}.{signature}"
    unsigned = f"{header}.{payload}."
    for bad in (forged, unsigned, "not-a-jwt", token[:-4] + "AAAA"):
        response = requests.get(f"{server.api_root}/user", headers={"Authorization": f"Bearer {bad}"}, timeout=10)
        assert_error(response, 401, "authentication_error")
        assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_cookie_alone_and_bearer_alone_both_work(server: LocalServer) -> None:
    by_cookie = RawAPI(server)
    assert "authorization" not in {k.lower() for k in by_cookie.session.headers}
    assert by_cookie.get("/user").status_code == 200
    by_bearer = RawAPI(server, bearer=True)
    assert not by_bearer.session.cookies
    assert by_bearer.get("/user").status_code == 200


def test_no_session_is_401_with_www_authenticate_bearer(server: LocalServer) -> None:
    response = requests.get(f"{server.api_root}/models", timeout=10)
    assert_error(response, 401, "authentication_error")
    assert response.headers["WWW-Authenticate"] == "Bearer"
    other_scheme = requests.get(f"{server.api_root}/models", headers={"Authorization": "Basic abc"}, timeout=10)
    assert_error(other_scheme, 401, "authentication_error")


def test_the_api_key_is_not_a_session(server: LocalServer) -> None:
    for headers in ({"Authorization": f"Bearer {server.api_key}"}, {"Cookie": f"access_token={server.api_key}"},
                    {"X-API-Key": server.api_key}):
        assert_error(requests.get(f"{server.api_root}/user", headers=headers, timeout=10),
                     401, "authentication_error")


def test_refused_key_is_401_with_a_detail(server: LocalServer) -> None:
    body = assert_error(login(server, "nope"), 401, "authentication_error")
    assert "not valid" in body["detail"]
    missing = requests.post(f"{server.api_root}/auth/api-key", timeout=10)
    assert "X-API-Key" in assert_error(missing, 401, "authentication_error")["detail"]


def test_form_login_fallback_takes_the_key_as_password(server: LocalServer) -> None:
    url = f"{server.api_root}/auth/token"
    for username in (server.api_key, "pip_client"):
        response = requests.post(url, data={"username": username, "password": server.api_key}, timeout=10)
        assert response.status_code == 200, response.text
        assert response.json()["token_type"] == "bearer"
        assert response.cookies["access_token"] == response.json()["access_token"]
    assert_error(requests.post(url, data={"username": "x", "password": "wrong"}, timeout=10),
                 401, "authentication_error")
    assert_error(requests.post(url, data={"username": server.api_key}, timeout=10), 422, "validation_error")


def test_expire_tokens_ends_every_session_but_new_logins_work(server: LocalServer) -> None:
    by_cookie, by_bearer = RawAPI(server), RawAPI(server, bearer=True)
    assert by_cookie.get("/user").status_code == by_bearer.get("/user").status_code == 200
    server.expire_tokens()
    for api in (by_cookie, by_bearer):
        response = api.get("/user")
        assert "log in again" in assert_error(response, 401, "authentication_error")["detail"]
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert RawAPI(server).get("/user").status_code == 200


def test_sessions_expire_after_their_ttl() -> None:
    with LocalServer(token_ttl=0.3) as short:
        api = RawAPI(short, bearer=True)  # the cookie jar itself drops the cookie at its Max-Age
        assert api.tokens["expires_in"] == 1  # whole seconds, rounded up
        _, payload = claims(api.tokens["access_token"])
        assert payload["exp"] - payload["iat"] < 1.5
        assert api.get("/user").status_code == 200
        time.sleep(0.5)  # past the 0.3 s lifetime: expiry is a clock comparison, not a race
        assert "expired" in assert_error(api.get("/user"), 401, "authentication_error")["detail"]


def test_each_api_key_is_its_own_account() -> None:
    with LocalServer(api_keys=("key-a", "key-b")) as two:
        a, b = RawAPI(two, "key-a"), RawAPI(two, "key-b")
        assert a.get("/user").json()["id"] != b.get("/user").json()["id"]
        a.chat("Hello")
        assert a.get("/user/usage").json()["total_requests"] == 1
        assert b.get("/user/usage").json()["total_requests"] == 0


@pytest.mark.parametrize("path", ["/auth/api-key", "/auth/token"])
def test_login_refuses_other_methods(server: LocalServer, path: str) -> None:
    assert_error(requests.get(f"{server.api_root}{path}", timeout=10), 405, "method_not_allowed")
