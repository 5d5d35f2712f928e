"""LangChain tests construct models from the environment; ``indox_env`` points it at the
session's local server (unit tests run without it: they must need no server)."""

from __future__ import annotations

import pytest

from indox_server import LocalServer


@pytest.fixture
def indox_env(server: LocalServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INDOX_ROUTER_API_KEY", server.api_key)
    monkeypatch.setenv("INDOX_ROUTER_BASE_URL", server.base_url)
