"""The request loop on the paths users hit: repeated POSTs with bodies, streams, renewals, broken connections.

Each repeat is checked on the server's journal: it must be byte-for-byte the request first sent.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests

from indox_server import LocalServer
from shared_client import Client, NetworkError, RequestTimeoutError

CHAT = [{"role": "user", "content": "Owls hunt at night. When do owls hunt?"}]

# Each user-facing call: (path it POSTs to, the call itself).
CALLS: dict[str, tuple[str, Callable[[Client], Any]]] = {
    "chat": ("/chat/completions", lambda c: c.chat(CHAT, model="openai/gpt-4o-mini", top_p=0.5).data),
    "chat-stream": ("/chat/completions",
                    lambda c: "".join(x.data for x in c.chat(CHAT, model="openai/gpt-4o-mini", stream=True,
                                                             return_generator=True))),
    "completion": ("/completions",
                   lambda c: c.completion("Snow falls in winter.", model="anthropic/claude-3-haiku").data),
    "completion-stream": ("/completions",
                          lambda c: c.completion("Snow falls in winter.", model="anthropic/claude-3-haiku",
                                                 stream=True).data),
    "embeddings": ("/embeddings", lambda c: c.embeddings(["a", "b"], model="openai/text-embedding-3-small").data),
    "image": ("/images/generations", lambda c: c.image("a red owl", model="openai/dall-e-3", n=1).data),
}


def posts_to(server: LocalServer, path: str) -> list[dict[str, Any]]:
    return [e for e in server.journal() if e["method"] == "POST" and e["path"].endswith(path)
            and "/auth/" not in e["path"]]


def assert_repeats_are_identical(entries: list[dict[str, Any]], count: int) -> None:
    assert len(entries) == count, [e["path"] for e in entries]
    first = entries[0]
    for repeat in entries[1:]:
        assert repeat["body"] == first["body"] and not repeat["body_truncated"]
        assert dict(repeat["headers"]).get("content-type") == dict(first["headers"]).get("content-type")


@pytest.fixture(autouse=True)
def _logged_in(client: Client, server: LocalServer) -> None:
    client.models()
    server.clear_journal()


@pytest.mark.parametrize("call", CALLS)
@pytest.mark.parametrize("status", [408, 429, 500, 502, 503, 504])
def test_a_repeated_request_is_the_first_one_byte_for_byte(client: Client, server: LocalServer,
                                                           sleeps: list[float], status: int, call: str) -> None:
    path, run = CALLS[call]
    server.inject_fault("respond", path=path, status=status, count=1)
    assert run(client)
    assert_repeats_are_identical(posts_to(server, path), 2)
    assert len(sleeps) == 1


@pytest.mark.parametrize("call", CALLS)
def test_a_request_repeated_after_renewing_the_session_is_the_first_one(client: Client, server: LocalServer,
                                                                       sleeps: list[float], call: str) -> None:
    path, run = CALLS[call]
    server.expire_tokens()  # the session dies on the server; the client learns it from a 401
    assert run(client)
    assert_repeats_are_identical(posts_to(server, path), 2)
    assert sleeps == []  # a renewal is not a retry


def test_a_post_that_could_not_connect_is_repeated(server: LocalServer) -> None:
    """Nothing was sent, so repeating is safe: the repeat reaches a server started on the same port meanwhile."""
    first = LocalServer(api_keys=server.api_keys).start()
    port = int(first.base_url.rsplit(":", 1)[1])
    second: list[LocalServer] = []
    try:
        with Client(api_key=server.api_key, base_url=first.base_url) as client:
            client.models()  # logged in at the first server
            first.stop()
            client._sleep = lambda delay: second.append(LocalServer(port=port, api_keys=server.api_keys).start())
            assert client.chat(CHAT, model="openai/gpt-4o-mini").data
        assert len(second) == 1  # one refused connection, one wait, then the new server answered
        entries = posts_to(second[0], "/chat/completions")
        assert len(entries) >= 1 and all(e["body"] == entries[0]["body"] for e in entries)
    finally:
        first.stop()
        for running in second:
            running.stop()


@pytest.mark.parametrize("call", ["chat", "chat-stream", "embeddings", "image"])
def test_a_post_whose_connection_broke_after_sending_is_not_repeated(client: Client, server: LocalServer,
                                                                     sleeps: list[float], call: str) -> None:
    path, run = CALLS[call]
    server.inject_fault("drop", path=path, count=1)
    with pytest.raises(NetworkError, match="may have been processed") as caught:
        run(client)
    assert caught.value.__cause__ is not None  # the transport's own error is kept
    assert len(posts_to(server, path)) == 1 and sleeps == []


def test_a_get_whose_connection_broke_is_repeated(client: Client, server: LocalServer,
                                                  sleeps: list[float]) -> None:
    server.inject_fault("drop", path="/models", count=2)
    assert client.models()
    assert sum(1 for e in server.journal() if e["path"].endswith("/models")) == 3 and len(sleeps) == 2


def test_one_retry_budget_per_streamed_call(server: LocalServer, sleeps: list[float]) -> None:
    """Two 503s, then a stream cut before its first event: 1 + max_retries POSTs, not 5."""
    with Client(api_key=server.api_key, base_url=server.base_url, max_retries=2) as client:
        client._sleep = sleeps.append
        client.models()
        server.clear_journal()
        server.inject_fault("respond", path="/chat/completions", status=503, count=2)
        server.inject_fault("cut_stream", path="/chat/completions", after_events=0, count=3)
        with pytest.raises(NetworkError, match="cut"):
            list(client.chat(CHAT, model="openai/gpt-4o-mini", stream=True, return_generator=True))
    assert_repeats_are_identical(posts_to(server, "/chat/completions"), 3)
    assert len(sleeps) == 2


def test_a_stream_cut_after_its_answer_began_is_not_reopened(client: Client, server: LocalServer,
                                                             sleeps: list[float]) -> None:
    server.inject_fault("cut_stream", path="/chat/completions", after_events=0, abort=True, count=3)
    with pytest.raises(NetworkError):
        list(client.chat(CHAT, model="openai/gpt-4o-mini", stream=True, return_generator=True))
    assert len(posts_to(server, "/chat/completions")) == 1 and sleeps == []


def test_a_post_that_timed_out_is_not_repeated_and_says_so(server: LocalServer, sleeps: list[float]) -> None:
    with Client(api_key=server.api_key, base_url=server.base_url, timeout=0.3) as client:
        client._sleep = sleeps.append
        client.models()
        server.clear_journal()
        server.inject_fault("delay", path="/chat/completions", delay=1.0, count=1)
        with pytest.raises(RequestTimeoutError, match="may have been processed") as caught:
            client.chat(CHAT, model="openai/gpt-4o-mini")
        assert isinstance(caught.value, NetworkError)
        assert isinstance(caught.value.__cause__, requests.Timeout)
        assert len(posts_to(server, "/chat/completions")) == 1 and sleeps == []
        server.inject_fault("delay", path="/models", delay=1.0, count=1)
        assert client.models()  # a GET that timed out is repeated
        assert len(sleeps) == 1


def test_a_refused_connection_keeps_its_cause(dead_url: str) -> None:
    with Client(api_key="k", base_url=dead_url, max_retries=0) as client, \
            pytest.raises(NetworkError) as caught:
        client.models()
    assert not isinstance(caught.value, RequestTimeoutError)
    assert isinstance(caught.value.__cause__, requests.ConnectionError)


# --- [DONE] ends the iteration at once, whatever the server does after it ---------------------------


def test_done_ends_the_iteration_though_the_server_lingers(client: Client, server: LocalServer) -> None:
    server.inject_fault("sse_style", path="/chat/completions", linger=3.0)
    started = time.perf_counter()
    text = "".join(c.data for c in client.chat(CHAT, model="openai/gpt-4o-mini", stream=True,
                                                return_generator=True))
    assert text and time.perf_counter() - started < 0.4


@pytest.fixture
def close_delimited_server() -> Iterator[str]:
    """An HTTP server that logs anyone in, then answers a stream without chunked encoding and keeps
    the connection open 3 s after ``[DONE]`` (a body that ends only when the connection closes)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    stop = threading.Event()

    def answer(conn: socket.socket) -> None:
        with conn:
            request = b""
            while b"\r\n\r\n" not in request:
                request += conn.recv(65536)
            head, _, body = request.partition(b"\r\n\r\n")
            length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n")
                           if line.lower().startswith(b"content-length:")), 0)
            while len(body) < length:
                body += conn.recv(65536)
            if b"/auth/" in head.split(b"\r\n")[0]:
                token = b'{"access_token":"t","token_type":"bearer","expires_in":3600}'
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n"
                             b"Content-Length: %d\r\n\r\n%s" % (len(token), token))
                return
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\n"
                         b'data: {"choices":[{"index":0,"delta":{"content":"Hi"},"finish_reason":"stop"}]}\n\n'
                         b"data: [DONE]\n\n")
            stop.wait(3.0)

    def serve() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                continue
            threading.Thread(target=answer, args=(conn,), daemon=True).start()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        stop.set()
        thread.join(5)
        listener.close()


def test_done_ends_a_close_delimited_stream_at_once(close_delimited_server: str) -> None:
    with Client(api_key="k", base_url=close_delimited_server) as client:
        started = time.perf_counter()
        chunks = list(client.chat(CHAT, model="openai/gpt-4o-mini", stream=True, return_generator=True))
        assert [c.data for c in chunks] == ["Hi"]
        assert time.perf_counter() - started < 0.4
