"""Secrets stay secret: reprs, logs, exceptions, netrc, redirects, plain HTTP."""

from __future__ import annotations

import logging
import os
import warnings
from pathlib import Path

import pytest

from indox_server import LocalServer
from shared_client import Client, IndoxRouterError, InsecureBaseURLWarning

SECRET = "sk-very-secret-key-123"
BYOK = "sk-my-own-provider-key-456"


@pytest.fixture
def secret_server() -> LocalServer:
    with LocalServer(api_keys=(SECRET,)) as server:
        yield server


def test_key_and_tokens_never_in_repr_str_logs_or_errors(secret_server: LocalServer,
                                                         caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    client = Client(api_key=SECRET, base_url=secret_server.base_url)
    client.chat([{"role": "user", "content": "Hi"}], model="openai/gpt-4o-mini")
    client.chat([{"role": "user", "content": "Hi"}], model="openai/gpt-4o-mini", stream=True,
                byok_api_key=BYOK)
    secret_server.inject_fault("respond", path="/models", status=400)
    with pytest.raises(IndoxRouterError) as caught:
        client.providers()
    session_headers = client._core.session.credentials()[1]
    token = session_headers["Authorization"].removeprefix("Bearer ")
    cookie = session_headers["Cookie"].removeprefix("access_token=")
    assert token and cookie
    texts = [repr(client), str(client), repr(client._core.session), str(caught.value), repr(caught.value),
             caplog.text, repr(vars(client)), repr(vars(client._core))]
    for text in texts:
        assert SECRET not in text and token not in text and cookie not in text and BYOK not in text
    assert "POST /chat/completions -> 200" in caplog.text  # the debug log does say what happened
    client.close()


def test_netrc_does_not_replace_the_bearer_token(secret_server: LocalServer, tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    netrc = tmp_path / ".netrc"
    netrc.write_text("machine 127.0.0.1 login someone password hunter2\n")
    os.chmod(netrc, 0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    monkeypatch.setenv("HOME", str(tmp_path))
    with Client(api_key=SECRET, base_url=secret_server.base_url) as client:
        secret_server.clear_journal()
        assert client.providers()
    headers = dict(secret_server.journal()[-1]["headers"])
    assert headers["authorization"].startswith("Bearer ")


def test_redirects_are_not_followed(secret_server: LocalServer, server: LocalServer) -> None:
    with Client(api_key=SECRET, base_url=secret_server.base_url) as client:
        client.providers()
        elsewhere = f"{server.api_root}/models"
        secret_server.inject_fault("respond", path="/models", status=307, headers={"Location": elsewhere})
        server.clear_journal()
        with pytest.raises(IndoxRouterError, match="redirected"):
            client.providers()
        secret_server.inject_fault("respond", path="/auth/api-key", status=308,
                                   headers={"Location": f"{server.api_root}/auth/api-key"})
        secret_server.expire_tokens()
        with pytest.raises(IndoxRouterError, match="redirected"):
            client.providers()
    assert server.journal() == []  # neither the token nor the key reached the other origin


def test_plain_http_to_another_machine_warns_but_loopback_does_not() -> None:
    with pytest.warns(InsecureBaseURLWarning):
        Client(api_key="k", base_url="http://router.example.com/v1").close()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        Client(api_key="k", base_url="http://127.0.0.1:9/v1").close()
        Client(api_key="k", base_url="http://localhost:9/v1").close()
        Client(api_key="k", base_url="https://router.example.com/v1").close()


def test_tls_verification_is_on() -> None:
    with Client(api_key="k") as client:
        assert client._transport.session.verify is True
