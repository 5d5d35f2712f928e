"""Streaming both ways the API documents, and everything that can go wrong mid-stream."""

from __future__ import annotations

import gc
import json
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from indox_server import LocalServer
from shared_client import Client, NetworkError, ProviderError, StreamChunk

MODEL = "openai/gpt-4o-mini"
LONG = [{"role": "user", "content": "Owls hunt at night in quiet forests far from towns. Larks sing at dawn. "
         "When do owls hunt?"}]
WEATHER = [{"type": "function", "function": {"name": "get_weather", "parameters": {
    "type": "object", "properties": {"location": {"type": "string"}}, "required": ["location"]}}}]


def test_generator_yields_every_chunk_then_stops_at_done(client: Client) -> None:
    chunks = list(client.chat(LONG, model=MODEL, stream=True, return_generator=True))
    assert all(isinstance(c, StreamChunk) for c in chunks)
    assert chunks[0].data == "" and chunks[0].raw["choices"][0]["delta"] == {"role": "assistant"}
    text = "".join(c.data for c in chunks)
    assert text == client.chat(LONG, model=MODEL).data
    assert [c.finish_reason for c in chunks[:-1]] == [None] * (len(chunks) - 1)
    assert chunks[-1].finish_reason == "stop" and chunks[-1].usage is not None
    assert all(c.usage is None for c in chunks[:-1])
    assert chunks[-1].usage.tokens_completion == len(chunks) - 2


def test_stream_without_generator_returns_the_assembled_answer(client: Client) -> None:
    plain = client.chat(LONG, model=MODEL)
    streamed = client.chat(LONG, model=MODEL, stream=True)
    assert (streamed.data, streamed.finish_reason, streamed.model, streamed.provider) == (
        plain.data, plain.finish_reason, plain.model, plain.provider)
    assert streamed.usage.tokens_total == plain.usage.tokens_total
    assert streamed.request_id and streamed.request_id != plain.request_id


def test_streamed_tool_calls_are_assembled(client: Client) -> None:
    asked = [{"role": "user", "content": "What is the weather in Lisbon?"}]
    chunks = list(client.chat(asked, model=MODEL, stream=True, return_generator=True, tools=WEATHER))
    deltas = [d for c in chunks if c.tool_calls for d in c.tool_calls]
    assert len(deltas) > 2 and deltas[0]["function"]["name"] == "get_weather"
    whole = client.chat(asked, model=MODEL, stream=True, tools=WEATHER)
    assert whole.finish_reason == "tool_calls" and whole.data == ""
    assert whole.tool_calls == client.chat(asked, model=MODEL, tools=WEATHER).tool_calls
    assert json.loads(whole.tool_calls[0]["function"]["arguments"]) == {"location": "Lisbon"}


def test_completion_streams(client: Client) -> None:
    prompt = "Snow falls in winter. When does snow fall?"
    chunks = list(client.completion(prompt, model="anthropic/claude-3-haiku", stream=True, return_generator=True))
    assert "".join(c.data for c in chunks) == "Snow falls in winter."
    assert client.completion(prompt, model="anthropic/claude-3-haiku", stream=True).data == "Snow falls in winter."


def test_first_chunk_arrives_long_before_the_stream_ends(client: Client, server: LocalServer) -> None:
    server.inject_fault("stream_delay", path="/chat/completions", delay=0.1)
    started = time.perf_counter()
    stream = client.chat(LONG, model=MODEL, stream=True, return_generator=True)
    first = next(stream)
    first_at = time.perf_counter() - started
    rest = list(stream)
    total = time.perf_counter() - started
    assert first.data == "" and len(rest) >= 10
    assert total >= 0.1 * len(rest)  # every later event waited its delay
    assert first_at < total / 5


@pytest.mark.parametrize("abort", [False, True])
def test_cut_stream_raises_network_error_never_a_short_answer(client: Client, server: LocalServer,
                                                              abort: bool) -> None:
    server.inject_fault("cut_stream", path="/chat/completions", after_events=4, abort=abort)
    received = []
    with pytest.raises(NetworkError):
        for chunk in client.chat(LONG, model=MODEL, stream=True, return_generator=True):
            received.append(chunk)
    assert len(received) == 4  # what arrived was delivered, then the cut was reported
    server.inject_fault("cut_stream", path="/chat/completions", after_events=4, abort=abort)
    with pytest.raises(NetworkError):
        client.chat(LONG, model=MODEL, stream=True)


def test_cut_right_before_done_still_raises(client: Client, server: LocalServer) -> None:
    events = len(list(client.chat(LONG, model=MODEL, stream=True, return_generator=True)))
    server.inject_fault("cut_stream", path="/chat/completions", after_events=events)
    with pytest.raises(NetworkError, match="DONE"):
        client.chat(LONG, model=MODEL, stream=True)


def test_error_event_raises_the_mapped_exception(client: Client, server: LocalServer) -> None:
    server.inject_fault("stream_error", path="/chat/completions", after_events=3, status=502)
    stream = client.chat(LONG, model=MODEL, stream=True, return_generator=True)
    assert [next(stream) for _ in range(3)]
    with pytest.raises(ProviderError) as caught:
        next(stream)
    assert caught.value.status_code == 502 and caught.value.error_type == "provider_error"


@pytest.mark.parametrize("line_ending", ["\n", "\r\n", "\r"])
def test_odd_but_valid_sse_is_read_the_same(client: Client, server: LocalServer, line_ending: str) -> None:
    expected = client.chat(LONG, model=MODEL).data
    server.inject_fault("sse_style", path="/chat/completions", line_ending=line_ending, comments=True,
                        multiline=True, split=5)
    assert client.chat(LONG, model=MODEL, stream=True).data == expected


def test_stream_failing_after_an_event_is_not_retried(client: Client, server: LocalServer,
                                                      sleeps: list[float]) -> None:
    server.inject_fault("cut_stream", path="/chat/completions", after_events=1)
    server.clear_journal()
    with pytest.raises(NetworkError):
        client.chat(LONG, model=MODEL, stream=True)
    assert sleeps == [] and len([e for e in server.journal() if e["path"] == "/api/v1/chat/completions"]) == 1


def _connections(client: Client) -> int:
    pools = client._transport.session.get_adapter(client.base_url).poolmanager.pools
    return sum(pool.num_connections for pool in pools._container.values())


def test_closing_or_dropping_a_stream_releases_its_connection(client: Client, server: LocalServer) -> None:
    server.inject_fault("stream_delay", path="/chat/completions", delay=0.05, count=3)
    stream = client.chat(LONG, model=MODEL, stream=True, return_generator=True)
    next(stream)
    stream.close()
    with pytest.raises(StopIteration):
        next(stream)
    with client.chat(LONG, model=MODEL, stream=True, return_generator=True) as second:
        next(second)
    abandoned = client.chat(LONG, model=MODEL, stream=True, return_generator=True)
    next(abandoned)
    del abandoned
    gc.collect()
    never_read = client.chat(LONG, model=MODEL, stream=True, return_generator=True)
    del never_read
    gc.collect()
    # every closed stream gave its socket back: a fresh call still works, on a sane number of connections
    assert client.chat(LONG, model=MODEL).data
    assert _connections(client) <= 5


def test_finished_streams_reuse_one_connection(client: Client) -> None:
    for _ in range(5):
        client.chat(LONG, model=MODEL, stream=True)
    assert _connections(client) == 1


def test_a_server_slow_to_close_after_done_does_not_hold_the_caller(client: Client, server: LocalServer) -> None:
    expected = client.chat(LONG, model=MODEL).data
    server.inject_fault("sse_style", path="/chat/completions", linger=3.0)
    started = time.perf_counter()
    assert client.chat(LONG, model=MODEL, stream=True).data == expected
    assert time.perf_counter() - started < 2.0  # drained for at most half a second, then let go
    assert client.chat(LONG, model=MODEL).data == expected  # and the client carries on


def test_abandoned_streams_leave_no_unclosed_socket(tmp_path: Path) -> None:
    """Five streams dropped mid-answer under ``python -X dev -W error::ResourceWarning``: each
    releases its socket when it is dropped, so nothing is left for the garbage collector to warn about."""
    script = tmp_path / "abandon.py"
    script.write_text(textwrap.dedent("""
        import gc
        from indox_server import LocalServer
        from shared_client import Client

        with LocalServer() as server, Client(api_key=server.api_key, base_url=server.base_url) as client:
            server.inject_fault("stream_delay", path="/chat/completions", delay=0.05, count=1000)
            for _ in range(5):
                stream = client.chat([{"role": "user", "content": "Owls hunt at night. When do owls hunt?"}],
                                     model="openai/gpt-4o-mini", stream=True, return_generator=True)
                next(stream)
                del stream
            gc.collect()
            print("abandoned 5")
    """))
    done = subprocess.run([sys.executable, "-X", "dev", "-W", "error::ResourceWarning", str(script)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and "abandoned 5" in done.stdout, done.stderr[-2000:]
    assert "ResourceWarning" not in done.stderr, done.stderr[-2000:]
