"""Secrets (the API key, sessions, byok_api_key) never reach the journal in clear, nor a log line."""

from __future__ import annotations

import json
import logging
import subprocess
import sys

import pytest
import requests

from indox_server import LocalServer, redacted

from .helpers import CHAT_MODEL, EMBED_MODEL, IMAGE_MODEL, RawAPI

BYOK = "sk-byok-7f3a9c2e51d04b6e"
REQUESTS = [
    ("/chat/completions", {"model": CHAT_MODEL, "messages": [{"role": "user", "content": "Hi"}]}),
    ("/chat/completions", {"model": CHAT_MODEL, "messages": [{"role": "user", "content": "Hi"}], "stream": True}),
    ("/completions", {"model": CHAT_MODEL, "prompt": "Hi"}),
    ("/embeddings", {"model": EMBED_MODEL, "text": ["Hi"]}),
    ("/images/generations", {"model": IMAGE_MODEL, "prompt": "Hi", "size": "8x8"}),
    ("/chat/completions", {"model": "openai/gpt-9", "messages": [{"role": "user", "content": "Hi"}]}),  # 404
    ("/chat/completions", {"model": CHAT_MODEL, "messages": "not a list"}),  # 422
]


def _send_everything(server: LocalServer) -> RawAPI:
    api = RawAPI(server)
    for path, body in REQUESTS:
        api.post(path, {**body, "byok_api_key": BYOK}).close()
    api.session.post(f"{server.api_root}/auth/token", data={"username": "pip_client", "password": server.api_key},
                     timeout=10)
    return api


def test_no_secret_is_in_the_journal_in_clear(server: LocalServer) -> None:
    server.clear_journal()
    api = _send_everything(server)
    journal = server.journal()
    text = json.dumps(journal)
    token = api.tokens["access_token"]
    for secret in (BYOK, server.api_key, token, token.split(".")[2]):
        assert secret not in text
    sent = [e for e in journal if not e["path"].startswith("/api/v1/auth/")]
    assert len(sent) == len(REQUESTS)
    assert all(json.loads(e["body"])["byok_api_key"] == redacted(BYOK) for e in sent)
    assert all(dict(e["headers"])["cookie"] == f"access_token={redacted(token)}" for e in sent)
    form = journal[-1]
    assert form["body"] == f"username={redacted('pip_client')}&password={redacted(server.api_key)}".replace(
        "[", "%5B").replace("]", "%5D").replace(":", "%3A")
    server.clear_journal()
    RawAPI(server, bearer=True).get("/user")
    login, call = server.journal()
    assert dict(login["headers"])["x-api-key"] == server.redacted(server.api_key)
    assert dict(call["headers"])["authorization"].startswith("Bearer [redacted:")


def test_a_repeated_request_has_a_byte_identical_journal_body(server: LocalServer) -> None:
    api = RawAPI(server)
    raw = json.dumps({"model": CHAT_MODEL, "messages": [{"role": "user", "content": "Héllo \u2603"}],
                      "byok_api_key": BYOK, "additional_params": {"top_p": 0.5}}, indent=1).encode()
    server.inject_fault("respond", path="/chat/completions", status=503)
    server.clear_journal()
    for _ in range(2):
        api.session.post(api.base + "/chat/completions", data=raw, timeout=10,
                         headers={"Content-Type": "application/json"})
    first, second = server.journal()
    assert first["body"] == second["body"] == raw.decode().replace(BYOK, redacted(BYOK))
    assert not first["body_truncated"]


def test_journal_paths_and_queries_are_as_received(server: LocalServer) -> None:
    api = RawAPI(server)
    server.clear_journal()
    api.session.get(f"{api.base}/models/?x=1", timeout=10)
    api.session.get(f"{server.root_url}/v1/providers", timeout=10)
    server.journal()  # the switches themselves are not journaled
    assert [(e["method"], e["path"], e["query"]) for e in server.journal()] == [
        ("GET", "/api/v1/models/", "x=1"), ("GET", "/v1/providers", "")]


def test_byok_is_never_logged(server: LocalServer, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG):
        _send_everything(server)
        requests.post(f"{server.api_root}/chat/completions", timeout=10,  # logged out, a bad body
                      data=b'{"byok_api_key": "' + BYOK.encode() + b'", "model": [[[')
    assert BYOK not in caplog.text and server.api_key not in caplog.text


def test_byok_is_never_logged_by_a_server_at_debug_level() -> None:
    process = subprocess.Popen([sys.executable, "-m", "indox_server", "--port", "0", "--log-level", "debug"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        origin = process.stdout.readline().strip()  # type: ignore[union-attr]
        server = LocalServer()
        server.base_url = origin  # a handle on the running process, for its switches and addresses
        _send_everything(server)
        assert server.journal()
    finally:
        process.terminate()
        _, errors = process.communicate(timeout=10)
    assert "Started server process" in errors  # its log really is there
    assert BYOK not in errors and "indox-local-key" not in errors
