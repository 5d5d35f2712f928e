"""LlamaIndex tests: models pointed at the session's local server, and Settings restored after each test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from llama_index.core import Settings

from indox_server import LocalServer
from indox_server.engine.text import tokenize
from llamaindex_indox import ChatIndox, IndoxEmbeddings


@pytest.fixture
def llm(server: LocalServer) -> ChatIndox:
    return ChatIndox(model="openai/gpt-4o-mini", api_key=server.api_key, base_url=server.base_url)


@pytest.fixture
def embed_model(server: LocalServer) -> IndoxEmbeddings:
    return IndoxEmbeddings(model="openai/text-embedding-3-small", api_key=server.api_key, base_url=server.base_url)


@pytest.fixture
def settings(llm: ChatIndox, embed_model: IndoxEmbeddings) -> Iterator[None]:
    """``Settings.llm`` and ``Settings.embed_model`` set to ours, for the test only."""
    Settings.llm, Settings.embed_model = llm, embed_model
    yield
    Settings._llm = Settings._embed_model = Settings._callback_manager = None


def server_tokens(text: str) -> list[str]:
    """The local server's own tokenizer, so client-side counts can be compared with its usage."""
    return tokenize(text)
