"""Many threads sharing one client: one pool, no churn, no 'pool is full' warnings."""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor

import pytest

from indox_server import LocalServer
from shared_client import Client


def test_thirty_two_threads_share_one_pool(server: LocalServer, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="urllib3")
    with Client(api_key=server.api_key, base_url=server.base_url) as client:
        client.providers()
        server.inject_fault("delay", path="/chat/completions", delay=0.05, count=64)

        def call(i: int) -> str:
            return client.chat([{"role": "user", "content": f"Hello {i}"}], model="openai/gpt-4o-mini").data

        with ThreadPoolExecutor(32) as pool:
            answers = list(pool.map(call, range(256)))
        assert len(answers) == 256 and all(answers)
        pools = client._transport.session.get_adapter(client.base_url).poolmanager.pools
        opened = sum(p.num_connections for p in pools._container.values())
        assert 1 <= opened <= 32
    assert "Connection pool is full" not in caplog.text
