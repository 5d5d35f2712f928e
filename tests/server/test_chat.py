"""Chat completions, plain and streamed: PROTOCOL.md section 3."""

from __future__ import annotations

import json

import pytest

from indox_server import LocalServer

from .helpers import CHAT_MODEL, RawAPI, assert_error, chunks

CONTEXT = ("The Eiffel Tower is in Paris. It was finished in 1889. "
           "The Colosseum stands in Rome. Which city has the Eiffel Tower?")
WEATHER_TOOL = {"type": "function", "function": {
    "name": "get_weather", "description": "Get the weather at a location.",
    "parameters": {"type": "object", "properties": {"location": {"type": "string"}},
                   "required": ["location"]}}}
ADD_TOOL = {"type": "function", "function": {
    "name": "add", "description": "Add two integers.",
    "parameters": {"type": "object", "properties": {"a": {"type": "integer"}, "b": {"type": "integer"}},
                   "required": ["a", "b"]}}}


@pytest.fixture(scope="module")
def api(server: LocalServer) -> RawAPI:
    return RawAPI(server)


def test_answer_envelope_has_every_field(api: RawAPI) -> None:
    response = api.chat(CONTEXT)
    assert response.status_code == 200
    body = response.json()
    assert set(body) >= {"request_id", "created_at", "duration_ms", "provider", "model", "success",
                         "message", "data", "finish_reason", "tool_calls", "usage", "raw_response"}
    assert body["request_id"] == response.headers["X-Request-ID"]
    assert (body["provider"], body["model"], body["success"]) == ("openai", "gpt-4o-mini", True)
    assert body["data"] == "The Eiffel Tower is in Paris."
    assert body["finish_reason"] == "stop" and body["tool_calls"] is None
    usage = body["usage"]
    assert usage["tokens_total"] == usage["tokens_prompt"] + usage["tokens_completion"]
    assert usage["tokens_completion"] == 7  # The Eiffel Tower is in Paris .
    expected = (usage["tokens_prompt"] * 0.00015 + usage["tokens_completion"] * 0.0006) / 1000
    assert usage["cost"] == pytest.approx(expected)


def test_same_request_same_answer(api: RawAPI) -> None:
    first, second = api.chat(CONTEXT, temperature=1.5).json(), api.chat(CONTEXT, temperature=1.5).json()
    assert first["data"] == second["data"] and first["usage"]["tokens_total"] == second["usage"]["tokens_total"]


def test_max_tokens_cuts_with_length(api: RawAPI) -> None:
    body = api.chat(CONTEXT, max_tokens=3).json()
    assert body["data"] == "The Eiffel Tower"
    assert body["finish_reason"] == "length" and body["usage"]["tokens_completion"] == 3


def test_stop_sequences_cut_the_answer(api: RawAPI) -> None:
    body = api.chat(CONTEXT, additional_params={"stop": [" in", "zzz"]}).json()
    assert body["data"] == "The Eiffel Tower is" and body["finish_reason"] == "stop"


def test_multimodal_parts_and_names_are_accepted(api: RawAPI) -> None:
    message = {"role": "user", "name": "ann", "content": [
        {"type": "text", "text": CONTEXT},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}}]}
    body = api.post("/chat/completions", {"model": CHAT_MODEL, "messages": [message]}).json()
    assert body["data"].startswith("I see 1 image.")


def test_llamaindex_style_context_frame(api: RawAPI) -> None:
    prompt = ("Context information is below.\n---------------------\nfile_path: a.md\n\n"
              "Cats sleep sixteen hours a day. Dogs like walks.\n---------------------\n"
              "Given the context information and not prior knowledge, answer the query.\n"
              "Query: How long do cats sleep?\nAnswer: ")
    assert api.chat(prompt).json()["data"] == "Cats sleep sixteen hours a day."


def test_tool_call_from_named_tool(api: RawAPI) -> None:
    body = api.chat("What is the weather in San Francisco, CA?",
                    additional_params={"tools": [WEATHER_TOOL, ADD_TOOL]}).json()
    assert body["finish_reason"] == "tool_calls" and body["data"] == ""
    (call,) = body["tool_calls"]
    assert call["type"] == "function" and call["id"].startswith("call_")
    assert call["function"]["name"] == "get_weather"
    assert json.loads(call["function"]["arguments"]) == {"location": "San Francisco, CA"}


def test_tool_choice_rules(api: RawAPI) -> None:
    tools = {"tools": [WEATHER_TOOL, ADD_TOOL]}
    unrelated = api.chat("Tell me something.", additional_params=tools).json()
    assert unrelated["tool_calls"] is None and unrelated["finish_reason"] == "stop"
    forced = api.chat("Tell me something about 4 and 5.",
                      additional_params={**tools, "tool_choice": {"type": "function",
                                                                  "function": {"name": "add"}}}).json()
    assert json.loads(forced["tool_calls"][0]["function"]["arguments"]) == {"a": 4, "b": 5}
    required = api.chat("Hi", additional_params={**tools, "tool_choice": "required"}).json()
    assert required["tool_calls"][0]["function"]["name"] == "get_weather"
    none = api.chat("What is the weather in Paris?", additional_params={**tools, "tool_choice": "none"}).json()
    assert none["tool_calls"] is None


def test_unknown_tool_choice_is_400(api: RawAPI) -> None:
    response = api.chat("Hi", additional_params={"tools": [ADD_TOOL], "tool_choice": {
        "type": "function", "function": {"name": "missing"}}})
    assert_error(response, 400, "invalid_parameters")


def test_answer_after_tool_result(api: RawAPI) -> None:
    messages = [
        {"role": "user", "content": "Use add on 1 and 2."},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "call_1", "type": "function", "function": {"name": "add", "arguments": "{\"a\": 1, \"b\": 2}"}}]},
        {"role": "tool", "tool_call_id": "call_1", "content": "3"},
    ]
    body = api.post("/chat/completions", {"model": CHAT_MODEL, "messages": messages,
                                          "additional_params": {"tools": [ADD_TOOL]}}).json()
    assert body["tool_calls"] is None and body["data"] == "add returned: 3."


def test_json_modes(api: RawAPI) -> None:
    plain = api.chat("Tell a joke about cats. Reply as JSON with 'setup' and 'punchline' keys.",
                     additional_params={"response_format": {"type": "json_object"}}).json()
    assert set(json.loads(plain["data"])) == {"setup", "punchline"}
    schema = {"type": "object", "properties": {"name": {"type": "string"}, "age": {"type": "integer"}},
              "required": ["name", "age"]}
    shaped = api.chat("My name is Ada and I am 36.", additional_params={"response_format": {
        "type": "json_schema", "json_schema": {"name": "person", "schema": schema}}}).json()
    assert json.loads(shaped["data"]) == {"name": "Ada", "age": 36}


def test_stream_framing_and_reassembly(api: RawAPI) -> None:
    events, raw = api.events("/chat/completions", {
        "model": CHAT_MODEL, "messages": [{"role": "user", "content": CONTEXT}]})
    assert raw.endswith(b"data: [DONE]\n\n") and b"\r" not in raw
    parts = chunks(events)
    assert parts[0]["choices"][0]["delta"] == {"role": "assistant"}
    text = "".join(p["choices"][0]["delta"].get("content", "") for p in parts)
    assert text == "The Eiffel Tower is in Paris."
    assert all(p["usage"] is None and p["choices"][0]["finish_reason"] is None for p in parts[:-1])
    last = parts[-1]
    assert last["choices"][0]["delta"] == {} and last["choices"][0]["finish_reason"] == "stop"
    assert last["usage"]["tokens_completion"] == len(parts) - 2
    assert {p["request_id"] for p in parts} == {parts[0]["request_id"]}


def test_stream_tool_call_deltas(api: RawAPI) -> None:
    events, _ = api.events("/chat/completions", {
        "model": CHAT_MODEL, "messages": [{"role": "user", "content": "What is the weather in Rome?"}],
        "additional_params": {"tools": [WEATHER_TOOL]}})
    deltas = [c for p in chunks(events) for c in p["choices"][0]["delta"].get("tool_calls", [])]
    assert deltas[0]["id"].startswith("call_") and deltas[0]["function"]["name"] == "get_weather"
    assert all(d["index"] == 0 and "id" not in d for d in deltas[1:]) and len(deltas) > 1
    arguments = "".join(d["function"]["arguments"] for d in deltas)
    assert json.loads(arguments) == {"location": "Rome"}
    assert chunks(events)[-1]["choices"][0]["finish_reason"] == "tool_calls"


@pytest.mark.parametrize(("body", "status", "error_type"), [
    ({"messages": [{"role": "user", "content": "x"}]}, 422, "validation_error"),
    ({"model": CHAT_MODEL}, 422, "validation_error"),
    ({"model": CHAT_MODEL, "messages": []}, 400, "invalid_parameters"),
    ({"model": CHAT_MODEL, "messages": [{"role": "robot", "content": "x"}]}, 422, "validation_error"),
    ({"model": CHAT_MODEL, "messages": [{"role": "user"}]}, 422, "validation_error"),
    ({"model": CHAT_MODEL, "messages": [{"role": "user", "content": 5}]}, 422, "validation_error"),
    ({"model": CHAT_MODEL, "messages": [{"role": "tool", "content": "3"}]}, 422, "validation_error"),
    ({"model": CHAT_MODEL, "messages": "hi"}, 422, "validation_error"),
    ({"model": CHAT_MODEL, "messages": [{"role": "user", "content": "x"}], "temperature": "hot"},
     422, "validation_error"),
    ({"model": CHAT_MODEL, "messages": [{"role": "user", "content": "x"}], "temperature": 3},
     400, "invalid_parameters"),
    ({"model": CHAT_MODEL, "messages": [{"role": "user", "content": "x"}], "max_tokens": 0},
     400, "invalid_parameters"),
    ({"model": CHAT_MODEL, "messages": [{"role": "user", "content": "x"}], "max_tokens": 10**6},
     400, "invalid_parameters"),
    ({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "x"}]}, 400, "invalid_parameters"),
    ({"model": "nobody/gpt", "messages": [{"role": "user", "content": "x"}]}, 404, "provider_not_found"),
    ({"model": "openai/gpt-9", "messages": [{"role": "user", "content": "x"}]}, 404, "model_not_found"),
    ({"model": "openai/dall-e-3", "messages": [{"role": "user", "content": "x"}]}, 400, "invalid_parameters"),
    ({"model": CHAT_MODEL, "messages": [{"role": "user", "content": "x"}],
      "additional_params": {"stop": 5}}, 400, "invalid_parameters"),
    ({"model": CHAT_MODEL, "messages": [{"role": "user", "content": "x"}],
      "additional_params": {"response_format": {"type": "yaml"}}}, 400, "invalid_parameters"),
])
def test_bad_chat_requests(api: RawAPI, body: dict, status: int, error_type: str) -> None:
    assert_error(api.post("/chat/completions", body), status, error_type)


def test_model_id_with_slash_is_served(api: RawAPI) -> None:
    body = api.post("/chat/completions", {"model": "huggingface/meta-llama/Llama-3.1-8B-Instruct",
                                          "messages": [{"role": "user", "content": CONTEXT}]}).json()
    assert (body["provider"], body["model"]) == ("huggingface", "meta-llama/Llama-3.1-8B-Instruct")
