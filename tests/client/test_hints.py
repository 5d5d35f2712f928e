"""Errors say what to do next: the refused key, the unknown model, the server that is not there."""

from __future__ import annotations

import asyncio

import pytest

from indox_server import LocalServer
from shared_client import (
    AsyncClient,
    AuthenticationError,
    Client,
    InvalidParametersError,
    ModelNotFoundError,
    NetworkError,
)

ASK = [{"role": "user", "content": "Hi"}]


def test_a_refused_key_names_the_variable_and_on_loopback_the_local_key(server: LocalServer) -> None:
    with Client(api_key="wrong-key", base_url=server.base_url) as client, \
            pytest.raises(AuthenticationError) as caught:
        client.chat(ASK, model="openai/gpt-4o-mini")
    assert "INDOX_ROUTER_API_KEY" in str(caught.value) and "'indox-local-key'" in str(caught.value)


def test_an_unknown_model_says_how_to_list_models_and_names_close_matches(client: Client) -> None:
    with pytest.raises(ModelNotFoundError) as caught:
        client.chat(ASK, model="openai/gpt-4o-mni")
    text = str(caught.value)
    assert "client.models()" in text and "Close matches: openai/gpt-4o-mini" in text
    with pytest.raises(ModelNotFoundError, match=r"client\.models") as far:
        client.model_info("openai", "no-such-thing")
    assert "Close matches" not in str(far.value)


def test_the_wrong_kind_of_model_is_worded_well(client: Client) -> None:
    with pytest.raises(InvalidParametersError, match="is an embedding model and does not serve chat requests"):
        client.chat(ASK, model="openai/text-embedding-3-small")


def test_connection_refused_names_the_users_call_the_url_and_the_local_server(dead_url: str) -> None:
    with Client(api_key="k", base_url=dead_url, max_retries=0) as client, pytest.raises(NetworkError) as caught:
        client.chat(ASK, model="openai/gpt-4o-mini")  # the login comes first, but the error is the chat's
    text = str(caught.value)
    assert text.startswith(f"POST /chat/completions could not connect to {dead_url}/api/v1: Connection refused.")
    assert "python -m indox_server" in text and "/auth/" not in text

    async def call() -> str:
        async with AsyncClient(api_key="k", base_url=dead_url, max_retries=0) as made:
            with pytest.raises(NetworkError) as failed:
                await made.chat(ASK, model="openai/gpt-4o-mini")
        return str(failed.value)

    assert asyncio.run(call()) == text


def test_an_unknown_host_suggests_checking_the_base_url() -> None:
    with Client(api_key="k", base_url="https://no-such-host.invalid", max_retries=0) as client, \
            pytest.raises(NetworkError, match=r"GET /models could not connect to https://no-such-host.invalid/api/v1: "
                                              r".*Check base_url \(or INDOX_ROUTER_BASE_URL\)"):
        client.models()
