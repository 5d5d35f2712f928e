"""Raw HTTP to the local server, for tests that check the wire itself."""

from __future__ import annotations

import json
from typing import Any

import requests

from indox_server import LocalServer
from shared_client._sse import SSEDecoder, SSEEvent

CHAT_MODEL = "openai/gpt-4o-mini"
EMBED_MODEL = "openai/text-embedding-3-small"
IMAGE_MODEL = "openai/dall-e-3"


class RawAPI:
    """A logged-in ``requests`` session against one local server's API root.

    It logs in as PROTOCOL.md section 2 says (``X-API-Key``, no body) and then
    authenticates by the ``access_token`` cookie the login set, as the real
    service's clients do; ``bearer=True`` sends the token as a bearer header
    instead, with no cookie.
    """

    def __init__(self, server: LocalServer, api_key: str | None = None, *, bearer: bool = False) -> None:
        self.base = server.api_root
        self.session = requests.Session()
        login = self.session.post(f"{self.base}/auth/api-key", timeout=10,
                                  headers={"X-API-Key": api_key or server.api_key})
        login.raise_for_status()
        self.tokens: dict[str, Any] = login.json()
        if bearer:
            self.session.cookies.clear()
            self.session.headers["Authorization"] = f"Bearer {self.tokens['access_token']}"

    def post(self, path: str, body: Any, **kwargs: Any) -> requests.Response:
        return self.session.post(self.base + path, json=body, timeout=10, **kwargs)

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return self.session.get(self.base + path, timeout=10, **kwargs)

    def chat(self, content: str, **fields: Any) -> requests.Response:
        return self.post("/chat/completions", {"model": CHAT_MODEL,
                                               "messages": [{"role": "user", "content": content}],
                                               **fields})

    def events(self, path: str, body: dict[str, Any]) -> tuple[list[SSEEvent], bytes]:
        """Every SSE event of a streamed answer, and the raw bytes it came in."""
        with self.session.post(self.base + path, json={**body, "stream": True}, stream=True,
                               timeout=10) as response:
            assert response.status_code == 200, response.text
            assert response.headers["content-type"].startswith("text/event-stream")
            decoder, events, raw = SSEDecoder(), [], b""
            for chunk in response.iter_content(chunk_size=None):
                raw += chunk
                events.extend(decoder.feed(chunk))
        return events, raw


def chunks(events: list[SSEEvent]) -> list[dict[str, Any]]:
    """The JSON chunks of a stream that ended in ``[DONE]``."""
    assert events and events[-1].data == "[DONE]", "stream did not end in [DONE]"
    return [json.loads(e.data) for e in events[:-1]]


def login(server: LocalServer, api_key: str | None = None) -> requests.Response:
    """A bare login (no session kept) with ``X-API-Key``."""
    return requests.post(f"{server.api_root}/auth/api-key", headers={"X-API-Key": api_key or server.api_key},
                         timeout=10)


def switch(server: LocalServer, method: str, path: str, api_key: str | None = None, **kwargs: Any) -> requests.Response:
    """A raw call of a ``/_local`` test switch, with the server's key unless told otherwise."""
    headers = {} if api_key == "" else {"X-API-Key": api_key or server.api_key}
    return requests.request(method, f"{server.root_url}/_local{path}", headers=headers, timeout=10, **kwargs)


def assert_error(response: requests.Response, status: int, error_type: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"detail", "type", "request_id"}
    assert body["type"] == error_type
    assert body["detail"]
    assert body["request_id"] == response.headers["X-Request-ID"]
    return body
