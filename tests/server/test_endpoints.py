"""Completions, embeddings, images, catalogue and account: PROTOCOL.md sections 4 to 8."""

from __future__ import annotations

import base64
import math
import struct
import zlib
from array import array

import pytest
import requests

from indox_server import LocalServer

from .helpers import CHAT_MODEL, EMBED_MODEL, IMAGE_MODEL, RawAPI, assert_error, chunks


@pytest.fixture(scope="module")
def api(server: LocalServer) -> RawAPI:
    return RawAPI(server)


def png_size(png: bytes) -> tuple[int, int]:
    """Width and height of a PNG, after checking its signature and chunk CRCs."""
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    position, kinds = 8, []
    while position < len(png):
        (length,) = struct.unpack(">I", png[position:position + 4])
        kind, data = png[position + 4:position + 8], png[position + 8:position + 8 + length]
        (crc,) = struct.unpack(">I", png[position + 8 + length:position + 12 + length])
        assert zlib.crc32(kind + data) & 0xFFFFFFFF == crc
        kinds.append(kind)
        position += 12 + length
    assert kinds[0] == b"IHDR" and kinds[-1] == b"IEND" and b"IDAT" in kinds
    width, height = struct.unpack(">II", png[16:24])
    return width, height


# --- completions ----------------------------------------------------------------------------


def test_completion_plain_and_streamed(api: RawAPI) -> None:
    body = {"model": "anthropic/claude-3-haiku", "prompt": "Rain falls in spring. Snow falls in winter. "
            "When does snow fall?", "max_tokens": 50}
    plain = api.post("/completions", body).json()
    assert plain["data"] == "Snow falls in winter." and plain["finish_reason"] == "stop"
    assert (plain["provider"], plain["model"]) == ("anthropic", "claude-3-haiku")
    parts = chunks(api.events("/completions", body)[0])
    assert "".join(p["choices"][0]["text"] for p in parts) == plain["data"]
    assert parts[-1]["choices"][0]["finish_reason"] == "stop" and parts[-1]["usage"]["tokens_total"] > 0
    assert all("delta" not in p["choices"][0] for p in parts)


def test_completion_only_model_refuses_chat_and_embedding_model_refuses_completion(api: RawAPI) -> None:
    instruct = "openai/gpt-3.5-turbo-instruct"
    assert api.post("/completions", {"model": instruct, "prompt": "Hi"}).status_code == 200
    assert_error(api.post("/chat/completions", {"model": instruct, "messages": [
        {"role": "user", "content": "Hi"}]}), 400, "invalid_parameters")
    assert_error(api.post("/completions", {"model": EMBED_MODEL, "prompt": "Hi"}), 400, "invalid_parameters")
    assert_error(api.post("/completions", {"model": CHAT_MODEL}), 422, "validation_error")


# --- embeddings -----------------------------------------------------------------------------


def _vectors(body: dict) -> list[list[float]]:
    return [item["embedding"] for item in sorted(body["data"], key=lambda item: item["index"])]


def test_embeddings_are_unit_vectors_with_lexical_similarity(api: RawAPI) -> None:
    texts = ["cats sleep all day", "a cat sleeps most of the day", "stock markets fell sharply"]
    body = api.post("/embeddings", {"model": EMBED_MODEL, "text": texts}).json()
    assert body["dimensions"] == 1536 and len(body["data"]) == 3
    vectors = _vectors(body)
    assert all(len(v) == 1536 and math.isclose(sum(x * x for x in v), 1.0, rel_tol=1e-9) for v in vectors)

    def cosine(a: list[float], b: list[float]) -> float:
        return sum(x * y for x, y in zip(a, b, strict=False))

    assert cosine(vectors[0], vectors[1]) > 0.3 > abs(cosine(vectors[0], vectors[2]))
    assert body["usage"]["tokens_prompt"] == body["usage"]["tokens_total"] > 0
    assert body["usage"]["tokens_completion"] == 0


def test_embeddings_base64_matches_float_form_and_dimensions_honoured(api: RawAPI) -> None:
    texts = ["alpha beta", "gamma"]
    floats = _vectors(api.post("/embeddings", {"model": EMBED_MODEL, "text": texts,
                                               "additional_params": {"dimensions": 64}}).json())
    encoded = api.post("/embeddings", {"model": EMBED_MODEL, "text": texts, "additional_params": {
        "dimensions": 64, "encoding_format": "base64"}}).json()
    assert encoded["dimensions"] == 64
    for item, expected in zip(sorted(encoded["data"], key=lambda i: i["index"]), floats, strict=False):
        decoded = array("f", base64.b64decode(item["embedding"]))
        assert len(decoded) == 64
        assert decoded.tolist() == pytest.approx(expected, abs=1e-6)


@pytest.mark.parametrize(("extra", "texts", "status", "error_type"), [
    ({}, [], 400, "invalid_parameters"),
    ({}, ["x"] * 2049, 400, "invalid_parameters"),
    ({}, [1, 2], 422, "validation_error"),
    ({"dimensions": 0}, ["x"], 400, "invalid_parameters"),
    ({"dimensions": 5000}, ["x"], 400, "invalid_parameters"),
    ({"encoding_format": "hex"}, ["x"], 400, "invalid_parameters"),
])
def test_bad_embedding_requests(api: RawAPI, extra: dict, texts: list, status: int, error_type: str) -> None:
    response = api.post("/embeddings", {"model": EMBED_MODEL, "text": texts, "additional_params": extra})
    assert_error(response, status, error_type)


def test_embeddings_accept_2048_items_and_a_bare_string(api: RawAPI) -> None:
    full = api.post("/embeddings", {"model": "local/hash-embedding-256", "text": [f"t{i}" for i in range(2048)]})
    assert full.status_code == 200 and len(full.json()["data"]) == 2048
    single = api.post("/embeddings", {"model": EMBED_MODEL, "text": "just one"}).json()
    assert len(single["data"]) == 1


# --- images ---------------------------------------------------------------------------------


def test_image_urls_serve_real_pngs_of_the_asked_size(api: RawAPI) -> None:
    body = api.post("/images/generations", {"model": IMAGE_MODEL, "prompt": "a red lighthouse",
                                            "size": "320x200", "n": 2}).json()
    assert len(body["data"]) == 2 and body["usage"]["cost"] == pytest.approx(0.08)
    pngs = []
    for item in body["data"]:
        assert item["revised_prompt"] == "a red lighthouse"
        assert item["url"].startswith(api.base + "/files/images/")
        fetched = requests.get(item["url"], timeout=10)  # public, like a signed CDN URL
        assert fetched.status_code == 200 and fetched.headers["content-type"] == "image/png"
        assert png_size(fetched.content) == (320, 200)
        pngs.append(fetched.content)
    assert pngs[0] != pngs[1]


def test_image_b64_json_and_every_top_level_parameter(api: RawAPI) -> None:
    body = api.post("/images/generations", {
        "model": IMAGE_MODEL, "prompt": "a blue cat", "size": "64x48", "n": 3, "response_format": "b64_json",
        "quality": "hd", "style": "natural", "user": "u-1", "seed": 7, "negative_prompt": "dogs",
        "byok_api_key": None, "additional_params": {"background": "transparent"}}).json()
    assert len(body["data"]) == 3
    assert all(png_size(base64.b64decode(item["b64_json"])) == (64, 48) for item in body["data"])
    assert body["usage"]["cost"] == pytest.approx(0.12)


def test_image_without_size_is_1024_square_and_ignores_fields_it_does_not_know(api: RawAPI) -> None:
    # The official client leaves size out unless asked, and may send provider-specific fields
    body = api.post("/images/generations", {"model": IMAGE_MODEL, "prompt": "a blue cat",
                                            "response_format": "b64_json", "guidance_scale": 3.5}).json()
    assert png_size(base64.b64decode(body["data"][0]["b64_json"])) == (1024, 1024)


@pytest.mark.parametrize(("body", "status", "error_type"), [
    ({"model": IMAGE_MODEL, "prompt": "x", "size": "big"}, 400, "invalid_parameters"),
    ({"model": IMAGE_MODEL, "prompt": "x", "size": "0x10"}, 400, "invalid_parameters"),
    ({"model": IMAGE_MODEL, "prompt": "x", "n": 11}, 400, "invalid_parameters"),
    ({"model": IMAGE_MODEL, "prompt": "x", "n": 0}, 400, "invalid_parameters"),
    ({"model": IMAGE_MODEL, "prompt": "x", "n": "2"}, 422, "validation_error"),
    ({"model": IMAGE_MODEL, "prompt": "x", "response_format": "gif"}, 400, "invalid_parameters"),
    ({"model": IMAGE_MODEL, "prompt": "x", "seed": "seven"}, 422, "validation_error"),
    ({"model": IMAGE_MODEL, "prompt": "x", "byok_api_key": 5}, 422, "validation_error"),
    ({"model": IMAGE_MODEL}, 422, "validation_error"),
    ({"model": CHAT_MODEL, "prompt": "x"}, 400, "invalid_parameters"),
])
def test_bad_image_requests(api: RawAPI, body: dict, status: int, error_type: str) -> None:
    assert_error(api.post("/images/generations", body), status, error_type)


def test_unknown_image_file_is_404(server: LocalServer) -> None:
    assert_error(requests.get(f"{server.api_root}/files/images/nothing.png", timeout=10), 404, "not_found")


# --- catalogue ------------------------------------------------------------------------------


def test_models_lists_providers_each_with_its_models(api: RawAPI) -> None:
    providers = {p["id"]: p for p in api.get("/models").json()}
    assert {"openai", "anthropic", "huggingface", "local"} <= set(providers)
    openai = providers["openai"]
    assert set(openai) == {"name", "id", "display_name", "description", "models"}
    assert openai["name"] == openai["id"] == "openai" and openai["display_name"] == "OpenAI"
    model = next(m for m in openai["models"] if m["id"] == "gpt-4o-mini")
    assert set(model) >= {"id", "name", "provider", "type", "description", "input_price_per_1k_tokens",
                          "output_price_per_1k_tokens", "context_window", "max_output_tokens",
                          "capabilities", "recommended", "commercial", "pricey", "deterministic"}
    assert model["deterministic"] is True and "stand-in" in model["description"]
    assert set(model["capabilities"]) <= {"streaming", "tools", "json_mode", "vision", "completion", "dimensions"}
    assert {m["type"] for p in providers.values() for m in p["models"]} == {"chat", "completion", "embedding",
                                                                            "image"}


def test_one_provider(api: RawAPI) -> None:
    anthropic = api.get("/models/anthropic").json()
    assert anthropic["id"] == anthropic["name"] == "anthropic"
    assert {m["id"] for m in anthropic["models"]} == {"claude-3-haiku", "claude-3-5-sonnet"}
    body = assert_error(api.get("/models/nobody"), 404, "provider_not_found")
    assert "nobody" in body["detail"]


def test_model_info_including_ids_with_slashes(api: RawAPI) -> None:
    info = api.get("/models/openai/text-embedding-3-small").json()
    assert info["type"] == "embedding" and "dimensions" in info["capabilities"]
    slashed = api.get("/models/huggingface/meta-llama/Llama-3.1-8B-Instruct").json()
    assert slashed["id"] == "meta-llama/Llama-3.1-8B-Instruct"
    missing = assert_error(api.get("/models/openai/gpt-9"), 404, "model_not_found")
    # worded for the official client's rules: the model named, the word "provider" nowhere
    assert "gpt-9" in missing["detail"] and "provider" not in missing["detail"].lower()
    assert "nobody" in assert_error(api.get("/models/nobody/gpt"), 404, "provider_not_found")["detail"]


def test_unknown_model_and_provider_in_a_request_are_worded_the_same(api: RawAPI) -> None:
    missing = assert_error(api.chat("Hi", model="openai/gpt-9"), 404, "model_not_found")
    assert "openai/gpt-9" in missing["detail"] and "provider" not in missing["detail"].lower()
    nobody = assert_error(api.chat("Hi", model="nobody/gpt"), 404, "provider_not_found")
    assert "provider" in nobody["detail"].lower() and "nobody" in nobody["detail"]


# --- account --------------------------------------------------------------------------------


def test_usage_counts_what_was_served(server: LocalServer) -> None:
    api = RawAPI(server)
    before = api.get("/user/usage").json()
    served = [api.chat("Hello"), api.post("/embeddings", {"model": EMBED_MODEL, "text": ["a b c"]})]
    api.chat("x", max_tokens=0)  # refused: not counted
    after = api.get("/user/usage").json()
    assert after["total_requests"] - before["total_requests"] == 2
    tokens = sum(r.json()["usage"]["tokens_total"] for r in served)
    cost = sum(r.json()["usage"]["cost"] for r in served)
    assert after["total_tokens"] - before["total_tokens"] == tokens
    assert after["total_cost"] - before["total_cost"] == pytest.approx(cost)
    assert after["remaining_credits"] == pytest.approx(100.0 - after["total_cost"])
    chat_model = after["by_model"][CHAT_MODEL]
    assert set(chat_model) == {"requests", "tokens", "cost"} and chat_model["requests"] >= 1


def test_user(api: RawAPI) -> None:
    info = api.get("/user").json()
    assert set(info) == {"id", "email", "name", "plan", "credits"}
    assert isinstance(info["credits"], float)


def test_no_credits_is_402() -> None:
    with LocalServer(credits=0.0) as broke:
        assert_error(RawAPI(broke).chat("Hello"), 402, "insufficient_credits")


ENVELOPE = {"request_id", "created_at", "duration_ms", "provider", "model", "success", "message", "data",
            "usage", "raw_response"}


@pytest.mark.parametrize(("path", "body", "extra"), [
    ("/chat/completions", {"model": CHAT_MODEL, "messages": [{"role": "user", "content": "Hi"}]},
     {"finish_reason", "tool_calls"}),
    ("/completions", {"model": CHAT_MODEL, "prompt": "Hi"}, {"finish_reason", "tool_calls"}),
    ("/embeddings", {"model": EMBED_MODEL, "text": ["Hi"]}, {"dimensions"}),
    ("/images/generations", {"model": IMAGE_MODEL, "prompt": "Hi", "size": "8x8"}, set()),
])
def test_every_success_answer_has_the_whole_envelope(api: RawAPI, path: str, body: dict, extra: set) -> None:
    response = api.post(path, {**body, "byok_api_key": "sk-own-provider-key", "additional_params": {}})
    assert response.status_code == 200, response.text
    answer = response.json()
    assert set(answer) == ENVELOPE | extra
    assert answer["request_id"] == response.headers["X-Request-ID"] and answer["success"] is True
    assert set(answer["usage"]) == {"tokens_prompt", "tokens_completion", "tokens_total", "cost", "latency",
                                    "timestamp"}
    assert answer["provider"] == "openai" and "/" not in answer["model"]
