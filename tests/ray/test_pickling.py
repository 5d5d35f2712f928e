"""What Ray (cloudpickle) and forked workers need: used objects travel without their connections,
each process connects on its own, and a forked child leaves its parent's connections alone."""

from __future__ import annotations

import gc
import json
import os
import pickle
import select
import signal
import warnings
from typing import Any

import cloudpickle
import pytest

import langchain_indox
import llamaindex_indox
from indox_server import LocalServer
from shared_client import Client

CHAT = "openai/gpt-4o-mini"
EMBEDDING = "local/hash-embedding-256"


def _use(obj: Any) -> Any:
    """One call through each class's own sync path; what it returned."""
    if isinstance(obj, langchain_indox.IndoxEmbeddings):
        return obj.embed_query("Owls hunt at night.")
    if isinstance(obj, langchain_indox.ChatIndox):
        return obj.invoke("Owls hunt at night. When do owls hunt?").content
    if isinstance(obj, llamaindex_indox.IndoxEmbeddings):
        return obj.get_text_embedding("Owls hunt at night.")
    return obj.complete("Owls hunt at night. When do owls hunt?").text


def _made(server: LocalServer) -> list[Any]:
    settings = {"api_key": server.api_key, "base_url": server.base_url}
    return [langchain_indox.IndoxEmbeddings(model=EMBEDDING, **settings),
            langchain_indox.ChatIndox(model=CHAT, **settings),
            llamaindex_indox.IndoxEmbeddings(model=EMBEDDING, **settings),
            llamaindex_indox.ChatIndox(model=CHAT, **settings)]


@pytest.mark.parametrize("dumper", [pickle, cloudpickle], ids=["pickle", "cloudpickle"])
def test_used_objects_round_trip_without_their_client(server: LocalServer, dumper: Any) -> None:
    for obj in _made(server):
        answer = _use(obj)
        live = obj.indox_client
        assert isinstance(live, Client) and repr(obj._lazy) == "LazyClient(made=True)"
        data = dumper.dumps(obj)
        for part in (b"requests", b"urllib3", b"httpx", b"socket", b"_thread", b"RLock"):
            assert part not in data, (type(obj), part)
        copy = dumper.loads(data)
        assert repr(copy._lazy) == "LazyClient(made=False)", type(obj)
        server.clear_journal()
        assert _use(copy) == answer
        assert copy.indox_client is not live and not live.closed
        logins = [e for e in server.journal() if e["path"].endswith("/auth/api-key")]
        assert len(logins) == 1, type(obj)  # the copy logged in on its own, on first use


def _pooled_ports(client: Client) -> set[int]:
    """The local ports of the idle connections in the client's pool."""
    ports = set()
    for adapter in client._transport.session.adapters.values():
        for key in adapter.poolmanager.pools.keys():  # noqa: SIM118 (urllib3's container refuses iteration)
            for connection in list(adapter.poolmanager.pools[key].pool.queue):
                if connection is not None and connection.sock is not None:
                    ports.add(connection.sock.getsockname()[1])
    return ports


def test_a_forked_child_opens_its_own_connection_and_leaves_the_parents_alone(server: LocalServer) -> None:
    embeddings = langchain_indox.IndoxEmbeddings(model=EMBEDDING, api_key=server.api_key, base_url=server.base_url)
    expected = embeddings.embed_query("before the fork")
    parent_client = embeddings.indox_client
    parent_ports = _pooled_ports(parent_client)
    assert parent_ports  # the parent holds a live connection
    server.clear_journal()
    reader, writer = os.pipe()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # Python 3.12+: fork() of a threaded process
        pid = os.fork()
    if pid == 0:  # the child: report, then leave without running the parent's clean-up
        try:
            os.close(reader)
            vector = embeddings.embed_query("before the fork")
            child_client = embeddings.indox_client
            report: dict[str, Any] = {
                "same_vector": vector == expected, "new_client": child_client is not parent_client,
                "parent_closed": parent_client.closed, "child_ports": sorted(_pooled_ports(child_client))}
            del child_client, parent_client
            gc.collect()  # whatever the child drops is collected here, not at an exit that never runs
        except BaseException as exc:
            report = {"error": repr(exc)}
        os.write(writer, json.dumps(report).encode())
        os._exit(0)
    os.close(writer)
    try:
        chunks = []
        while True:
            ready, _, _ = select.select([reader], [], [], 60)  # a guard against a child that hangs, no timing
            if not ready:
                os.kill(pid, signal.SIGKILL)
                break
            chunk = os.read(reader, 65536)
            if not chunk:
                break
            chunks.append(chunk)
    finally:
        os.close(reader)
        os.waitpid(pid, 0)
    report = json.loads(b"".join(chunks) or b'{"error": "the child hung"}')
    assert "error" not in report, report
    assert report["same_vector"] and report["new_client"] and not report["parent_closed"]
    assert report["child_ports"] and not set(report["child_ports"]) & parent_ports
    child_requests = [(e["method"], e["path"]) for e in server.journal()]
    assert child_requests == [("POST", "/api/v1/auth/api-key"), ("POST", "/api/v1/embeddings")]
    # The parent: the same client, on the same connection, untouched by the child.
    assert embeddings.indox_client is parent_client and _pooled_ports(parent_client) == parent_ports
    assert embeddings.embed_query("before the fork") == expected
    assert _pooled_ports(parent_client) == parent_ports
    assert [(e["method"], e["path"]) for e in server.journal()][2:] == [("POST", "/api/v1/embeddings")]
