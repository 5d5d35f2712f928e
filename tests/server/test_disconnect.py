"""A client that goes away mid-stream (Ctrl-C, a timeout): the server stops writing, logs one line,
and keeps serving."""

from __future__ import annotations

import json
import logging
import socket
import struct
import time

import pytest
import requests

from indox_server import LocalServer


def test_streams_abandoned_by_their_clients_stop_quietly(server: LocalServer, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    token = requests.post(f"{server.api_root}/auth/api-key", headers={"X-API-Key": server.api_key},
                          timeout=10).json()["access_token"]
    words = " ".join(f"w{i}" for i in range(3000))  # a long answer, written as fast as the server can
    body = json.dumps({"model": "openai/gpt-4o-mini", "stream": True, "messages": [
        {"role": "user", "content": f"Owls hunt {words} at night. When do owls hunt?"}]}).encode()
    host, port = server.base_url.removeprefix("http://").rsplit(":", 1)
    for _ in range(10):
        with socket.create_connection((host, int(port))) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # hang up with a reset
            sock.sendall(b"POST /api/v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "
                         + token.encode() + b"\r\nContent-Type: application/json\r\nContent-Length: "
                         + str(len(body)).encode() + b"\r\n\r\n" + body)
            sock.recv(200)
    started = time.perf_counter()
    answer = requests.post(f"{server.api_root}/chat/completions", timeout=10,
                           headers={"Authorization": f"Bearer {token}"},
                           json={"model": "openai/gpt-4o-mini", "messages": [{"role": "user", "content": "Hi"}]})
    assert answer.status_code == 200 and time.perf_counter() - started < 1.0  # still serving, not busy
    deadline = time.monotonic() + 5
    while sum("went away" in r.getMessage() for r in caplog.records) < 10 and time.monotonic() < deadline:
        time.sleep(0.05)
    gone = [r for r in caplog.records if "went away" in r.getMessage()]
    assert len(gone) == 10 and all("\n" not in r.getMessage() and not r.exc_info for r in gone)
    assert not [r for r in caplog.records if "socket.send() raised" in r.getMessage() or r.exc_info]
