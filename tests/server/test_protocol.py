"""What every answer shares (section 9), rate limits, and the fault switches."""

from __future__ import annotations

import json
import time

import pytest
import requests

from indox_server import LocalServer
from shared_client._sse import SSEDecoder

from .helpers import CHAT_MODEL, EMBED_MODEL, RawAPI, assert_error, chunks, login, switch

STREAM_BODY = {"model": CHAT_MODEL, "messages": [{"role": "user", "content":
               "Owls hunt at night. Larks sing at dawn. When do owls hunt?"}]}


@pytest.fixture(scope="module")
def api(server: LocalServer) -> RawAPI:
    return RawAPI(server)


def test_every_answer_has_request_id_and_rate_limit_headers(api: RawAPI) -> None:
    for response in (api.get("/models"), api.chat("Hi"), api.get("/models/openai/none"),
                     api.post("/chat/completions", {})):
        assert response.headers["X-Request-ID"].startswith("req_")
        limit = int(response.headers["X-RateLimit-Limit"])
        assert 0 <= int(response.headers["X-RateLimit-Remaining"]) < limit
        assert int(response.headers["X-RateLimit-Reset"]) >= int(time.time())


def test_unknown_route_and_wrong_method(api: RawAPI) -> None:
    assert_error(api.get("/nothing/here"), 404, "not_found")
    assert_error(api.get("/chat/completions"), 405, "method_not_allowed")


def test_trailing_slash_is_the_same_path(api: RawAPI) -> None:
    response = api.get("/models/", allow_redirects=False)
    assert response.status_code == 200 and isinstance(response.json(), list)
    assert api.get("/models/openai/", allow_redirects=False).json()["id"] == "openai"


def test_body_that_is_not_an_object(api: RawAPI) -> None:
    response = api.session.post(api.base + "/chat/completions", data=b"[1, 2]", timeout=10)
    assert_error(response, 422, "validation_error")
    empty = api.session.post(api.base + "/chat/completions", data=b"", timeout=10)
    assert_error(empty, 400, "invalid_parameters")


DEEP_BODIES = {"arrays": "[" * 10_000 + "]" * 10_000,
               "objects": '{"a":' * 10_000 + "1" + "}" * 10_000,
               "under a field": '{"model": "openai/gpt-4o-mini", "messages": ' + "[" * 200 + "]" * 200 + "}"}


@pytest.mark.parametrize("shape", list(DEEP_BODIES))
def test_deeply_nested_json_is_400_and_the_server_keeps_serving(server: LocalServer, api: RawAPI,
                                                                 shape: str) -> None:
    body = DEEP_BODIES[shape].encode()
    for path in ("/chat/completions", "/completions", "/embeddings", "/images/generations"):
        response = api.session.post(api.base + path, data=body, timeout=10,
                                    headers={"Content-Type": "application/json"})
        assert "deeper than" in assert_error(response, 400, "invalid_parameters")["detail"]
    facade = requests.post(f"{server.root_url}/openai/v1/chat/completions", data=body, timeout=10,
                           headers={"Authorization": f"Bearer {server.api_key}",
                                    "Content-Type": "application/json"})
    assert facade.status_code == 400 and facade.json()["error"]["type"] == "invalid_parameters"
    assert switch(server, "POST", "/faults", data=body).status_code == 400
    assert api.chat("Owls hunt at night. When do owls hunt?").json()["data"] == "Owls hunt at night."


def test_deeply_nested_tool_schema_in_a_react_prompt_is_no_500(api: RawAPI) -> None:
    schema = '{"a":' * 10_000 + "1" + "}" * 10_000
    system = f"You have tools.\n> Tool Name: deep\nTool Args: {schema}\nAnswer with Action Input: lines."
    response = api.post("/chat/completions", {"model": CHAT_MODEL, "messages": [
        {"role": "system", "content": system}, {"role": "user", "content": "Use deep."}]})
    assert response.status_code == 200, response.text


def test_rate_limit_answers_429_with_retry_after() -> None:
    with LocalServer(rate_limit=3) as limited:
        api = RawAPI(limited)  # counted against the address; the account has its own window
        remaining = [int(api.get("/user").headers["X-RateLimit-Remaining"]) for _ in range(3)]
        assert remaining == [2, 1, 0]
        refused = api.get("/user")
        assert_error(refused, 429, "rate_limit_exceeded")
        assert 1 <= int(refused.headers["Retry-After"]) <= 60


# --- request faults -------------------------------------------------------------------------


def test_respond_fault_answers_n_times_then_stops(server: LocalServer, api: RawAPI) -> None:
    server.inject_fault("respond", path="/chat/completions", count=2, status=503,
                        headers={"Retry-After": "0.5"})
    for _ in range(2):
        response = api.chat("Hi")
        assert_error(response, 503, "model_unavailable")
        assert response.headers["Retry-After"] == "0.5"
    assert api.chat("Hi").status_code == 200
    assert server.pending_faults() == []


def test_respond_fault_with_custom_body_and_html(server: LocalServer, api: RawAPI) -> None:
    server.inject_fault("respond", path="/models", status=502, body="<html>Bad gateway</html>")
    html = api.get("/models")
    assert html.status_code == 502 and html.text == "<html>Bad gateway</html>"
    assert html.headers["content-type"].startswith("text/html")
    server.inject_fault("respond", path="/models", status=200, body={"odd": True})
    assert api.get("/models").json() == {"odd": True}


def test_fault_matches_path_and_method_only(server: LocalServer, api: RawAPI) -> None:
    server.inject_fault("respond", path="/embeddings", status=500)
    server.inject_fault("respond", path="*", method="GET", status=429, error_type="rate_limit_exceeded")
    assert api.chat("Hi").status_code == 200
    assert_error(api.get("/models"), 429, "rate_limit_exceeded")
    assert_error(api.post("/embeddings", {"model": EMBED_MODEL, "text": ["a"]}), 500, "internal_error")


def test_faults_apply_before_auth_and_to_the_login(server: LocalServer) -> None:
    server.inject_fault("respond", path="/auth/api-key", status=500)
    assert_error(login(server), 500, "internal_error")
    server.inject_fault("respond", path="/auth/api-key", status=401, error_type="authentication_error")
    assert_error(login(server), 401, "authentication_error")
    assert login(server).status_code == 200


def test_drop_fault_closes_the_connection(server: LocalServer, api: RawAPI) -> None:
    server.inject_fault("drop", path="/models")
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{api.base}/models", timeout=10, cookies=api.session.cookies)
    assert api.get("/models").status_code == 200


def test_delay_fault(server: LocalServer, api: RawAPI) -> None:
    server.inject_fault("delay", path="/user", delay=0.4)
    started = time.perf_counter()
    assert api.get("/user").status_code == 200
    assert time.perf_counter() - started >= 0.4
    with pytest.raises(requests.Timeout):
        server.inject_fault("delay", path="/user", delay=1.0)
        requests.get(f"{api.base}/user", cookies=api.session.cookies, timeout=0.3)


def test_bad_fault_specs_are_refused(server: LocalServer) -> None:
    for spec in ({"kind": "explode"}, {"kind": "respond", "count": 0}, {"kind": "respond", "stauts": 500},
                 {"kind": "respond", "status": "500"}):
        response = switch(server, "POST", "/faults", json=spec)
        assert response.status_code in (400, 422)


# --- stream faults --------------------------------------------------------------------------


def test_cut_stream_ends_without_done(server: LocalServer, api: RawAPI) -> None:
    server.inject_fault("cut_stream", path="/chat/completions", after_events=3)
    assert api.chat("Hi").status_code == 200  # not streamed: the fault waits for a stream
    events, _ = api.events("/chat/completions", STREAM_BODY)
    assert len(events) == 3 and all(e.data != "[DONE]" for e in events)
    assert chunks(api.events("/chat/completions", STREAM_BODY)[0])  # used up


def test_cut_stream_abort_resets_mid_body(server: LocalServer, api: RawAPI) -> None:
    server.inject_fault("cut_stream", path="/chat/completions", after_events=2, abort=True)
    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        api.events("/chat/completions", STREAM_BODY)


def test_stream_error_event(server: LocalServer, api: RawAPI) -> None:
    server.inject_fault("stream_error", path="/chat/completions", after_events=2, status=502)
    events, raw = api.events("/chat/completions", STREAM_BODY)
    assert len(events) == 3 and b"[DONE]" not in raw
    assert json.loads(events[-1].data) == {"error": {
        "type": "provider_error", "message": "Injected fault: the stream failed.", "status": 502}}


def test_stream_delay_spaces_events(server: LocalServer, api: RawAPI) -> None:
    server.inject_fault("stream_delay", path="/chat/completions", delay=0.05)
    arrivals = []
    decoder = SSEDecoder()
    started = time.perf_counter()
    with api.session.post(api.base + "/chat/completions", json={**STREAM_BODY, "stream": True},
                          stream=True, timeout=10) as response:
        for chunk in response.iter_content(chunk_size=None):
            arrivals += [time.perf_counter() - started for _ in decoder.feed(chunk)]
    assert len(arrivals) >= 8
    assert arrivals[0] < 0.05 * (len(arrivals) - 1) / 2  # the first event long before the end
    assert arrivals[-1] >= 0.05 * (len(arrivals) - 1)


@pytest.mark.parametrize("line_ending", ["\r\n", "\r"])
def test_sse_style_variants_decode_to_the_same_chunks(server: LocalServer, api: RawAPI,
                                                      line_ending: str) -> None:
    plain = chunks(api.events("/chat/completions", STREAM_BODY)[0])
    server.inject_fault("sse_style", path="/chat/completions", line_ending=line_ending, comments=True,
                        multiline=True, split=7)
    events, raw = api.events("/chat/completions", STREAM_BODY)
    assert line_ending.encode() in raw and b": keep-alive" in raw and b"data:{" not in raw[:20]
    styled = chunks(events)
    strip = [{k: v for k, v in c.items() if k not in ("request_id", "usage")} for c in (plain, styled)[0]]
    assert [{k: v for k, v in c.items() if k not in ("request_id", "usage")} for c in styled] == strip


def test_reorder_fault_reverses_embedding_items(server: LocalServer, api: RawAPI) -> None:
    server.inject_fault("reorder", path="/embeddings")
    body = api.post("/embeddings", {"model": EMBED_MODEL, "text": ["a", "b", "c"]}).json()
    assert [item["index"] for item in body["data"]] == [2, 1, 0]
