"""Every row of PROTOCOL.md's error table, odd bodies, and answers the client cannot read."""

from __future__ import annotations

import pickle
from datetime import datetime, timezone

import pytest

from indox_server import LocalServer
from shared_client import (
    APIError,
    AuthenticationError,
    Client,
    IndoxRouterError,
    InsufficientCreditsError,
    InvalidParametersError,
    ModelNotAvailableError,
    ModelNotFoundError,
    NetworkError,
    ProviderError,
    ProviderNotFoundError,
    RateLimitError,
    ValidationError,
)

MESSAGES = [{"role": "user", "content": "Hi"}]
MODEL = "openai/gpt-4o-mini"


@pytest.mark.parametrize(("status", "error_type", "expected"), [
    (400, "invalid_parameters", InvalidParametersError),
    (401, "authentication_error", AuthenticationError),
    (402, "insufficient_credits", InsufficientCreditsError),
    (403, "permission_denied", AuthenticationError),
    (404, "provider_not_found", ProviderNotFoundError),
    (404, "model_not_found", ModelNotFoundError),
    (404, "not_found", APIError),
    (422, "validation_error", ValidationError),
    (429, "rate_limit_exceeded", RateLimitError),
    (500, "internal_error", APIError),
    (502, "provider_error", ProviderError),
    (503, "model_unavailable", ModelNotAvailableError),
    (504, "provider_timeout", ProviderError),
])
def test_error_table(client: Client, server: LocalServer, status: int, error_type: str,
                     expected: type[IndoxRouterError]) -> None:
    client.providers()  # logged in, so the fault meets the call itself
    server.inject_fault("respond", path="/chat/completions", status=status, error_type=error_type, count=5,
                        headers={"Retry-After": "0"})
    with pytest.raises(expected) as caught:
        client.chat(MESSAGES, model=MODEL)
    error = caught.value
    assert type(error) is expected
    assert (error.status_code, error.error_type) == (status, error_type)
    assert error.request_id and error.request_id.startswith("req_")
    assert "Injected fault" in str(error) and "POST /chat/completions" in str(error)


def test_real_server_errors_map_too(client: Client) -> None:
    with pytest.raises(ModelNotFoundError):
        client.chat(MESSAGES, model="openai/gpt-9")
    with pytest.raises(ProviderNotFoundError):
        client.model_info("nobody", "x")
    with pytest.raises(InvalidParametersError, match="max_tokens"):
        client.chat(MESSAGES, model=MODEL, max_tokens=10**7)
    with pytest.raises(InvalidParametersError):
        client.chat(MESSAGES, model="openai/dall-e-3")


@pytest.mark.parametrize(("body", "status", "expected"), [
    ("<html><body>502 Bad Gateway</body></html>", 502, ProviderError),
    ("", 500, APIError),
    ("upstream connect error", 503, APIError),
    ("the model is warming up", 503, ModelNotAvailableError),
    ("<html>Not Found</html>", 404, APIError),
    ("<html>Forbidden</html>", 403, AuthenticationError),
])
def test_non_json_error_bodies_map_by_status(client: Client, server: LocalServer, body: str, status: int,
                                             expected: type[IndoxRouterError]) -> None:
    client.providers()
    server.inject_fault("respond", path="/models", status=status, body=body, count=3)
    with pytest.raises(expected) as caught:
        client.providers()
    assert caught.value.status_code == status and caught.value.error_type is None
    assert caught.value.request_id  # from the X-Request-ID header


@pytest.mark.parametrize("body", [
    "not json at all", "[1, 2]", {"data": 5, "usage": {}}, {"usage": {"tokens_prompt": 1}},
    {"data": "x", "usage": {"tokens_prompt": "many", "tokens_completion": 0, "tokens_total": 0}},
    {"data": ["x"]}, {"data": "x", "usage": None, "tool_calls": "yes"}, {"message": "no data at all"},
])
def test_success_bodies_the_client_cannot_read_raise_api_error(client: Client, server: LocalServer,
                                                               body: object) -> None:
    client.providers()
    server.inject_fault("respond", path="/chat/completions", status=200, body=body,
                        content_type="application/json")
    with pytest.raises(APIError, match="not understood"):
        client.chat(MESSAGES, model=MODEL)


@pytest.mark.parametrize(("path", "body", "call"), [
    ("/embeddings", {"data": [{"index": 0, "embedding": [0.1]}], "usage": {
        "tokens_prompt": 1, "tokens_completion": 0, "tokens_total": 1}}, "embed2"),
    ("/embeddings", {"data": [{"index": 0, "embedding": "!!notbase64"}, {"index": 1, "embedding": [1.0]}],
                     "usage": {"tokens_prompt": 1, "tokens_completion": 0, "tokens_total": 1}}, "embed2"),
    ("/embeddings", {"data": [{"index": 0, "embedding": [1.0]}, {"index": 0, "embedding": [1.0]}],
                     "usage": {"tokens_prompt": 1, "tokens_completion": 0, "tokens_total": 1}}, "embed2"),
    ("/embeddings", {"data": [{"index": 0, "embedding": ["a"]}, {"index": 1, "embedding": [1.0]}],
                     "usage": {"tokens_prompt": 1, "tokens_completion": 0, "tokens_total": 1}}, "embed2"),
    ("/images/generations", {"data": [{"nothing": 1}], "usage": {
        "tokens_prompt": 1, "tokens_completion": 0, "tokens_total": 1}}, "image"),
    ("/models", {"not": "a list"}, "providers"),
    ("/models", [{"id": "x", "models": "none"}], "models"),
    ("/models/openai/gpt-4o-mini", {"name": "no id"}, "model_info"),
    ("/user/usage", [1], "usage"),
])
def test_other_unreadable_answers_raise_api_error(client: Client, server: LocalServer, path: str,
                                                  body: object, call: str) -> None:
    client.providers()
    server.inject_fault("respond", path=path, status=200, body=body)
    calls = {
        "embed2": lambda: client.embeddings(["a", "b"], model="openai/text-embedding-3-small"),
        "image": lambda: client.image("x", model="openai/dall-e-3"),
        "providers": client.providers, "models": client.models,
        "model_info": lambda: client.model_info("openai", "gpt-4o-mini"), "usage": client.get_usage,
    }
    with pytest.raises(APIError, match="not understood"):
        calls[call]()


def test_malformed_stream_chunk_raises_api_error(client: Client, server: LocalServer) -> None:
    client.providers()
    server.inject_fault("respond", path="/chat/completions", status=200,
                        body="data: {\"choices\": 5}\n\ndata: [DONE]\n\n", content_type="text/event-stream")
    with pytest.raises(APIError, match="not understood"):
        client.chat(MESSAGES, model=MODEL, stream=True)


def test_rate_limit_error_carries_retry_after_and_reset_time(client: Client, server: LocalServer) -> None:
    client.providers()
    server.inject_fault("respond", path="/models", status=429, count=1,
                        headers={"Retry-After": "120", "X-RateLimit-Reset": "4102444800"})
    with pytest.raises(RateLimitError) as caught:
        client.providers()
    assert caught.value.retry_after == 120.0
    assert caught.value.reset_time == datetime(2100, 1, 1, tzinfo=timezone.utc)


def test_connection_refused_and_timeout_are_network_errors(dead_url: str, server: LocalServer) -> None:
    with Client(api_key="k", base_url=dead_url, max_retries=0) as nowhere, pytest.raises(NetworkError):
        nowhere.providers()
    with Client(api_key=server.api_key, base_url=server.base_url, timeout=0.3, max_retries=0) as impatient:
        impatient.providers()
        server.inject_fault("delay", path="/models", delay=1.0)
        with pytest.raises(NetworkError, match="timed out"):
            impatient.providers()


def test_dropped_connection_is_a_network_error(server: LocalServer) -> None:
    with Client(api_key=server.api_key, base_url=server.base_url, max_retries=0) as client:
        client.providers()
        server.inject_fault("drop", path="/models")
        with pytest.raises(NetworkError):
            client.providers()


def test_exceptions_pickle_with_their_fields() -> None:
    error = RateLimitError("slow down", retry_after=1.5, status_code=429, error_type="rate_limit_exceeded",
                           request_id="req_1")
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is RateLimitError and copy.retry_after == 1.5 and copy.request_id == "req_1"
    assert str(copy) == str(error)


def test_hierarchy() -> None:
    assert issubclass(ValidationError, InvalidParametersError)
    for cls in (ProviderNotFoundError, ModelNotFoundError, ModelNotAvailableError):
        assert issubclass(cls, ProviderError)
    from shared_client import exceptions

    assert exceptions.RateLimitError is RateLimitError
