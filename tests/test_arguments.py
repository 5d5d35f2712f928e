"""Constructor arguments in both integrations: unknown ones travel with a warning, misspelt ones
raise at once, named sampling fields reach the wire, and temperature is checked at construction."""

from __future__ import annotations

import json
import warnings
from typing import Any

import pytest

from indox_server import LocalServer

SECRET = "sk-never-shown-1234"


def _classes() -> list[tuple[type[Any], str]]:
    from langchain_indox import ChatIndox as LangChainChat
    from langchain_indox import IndoxLLM as LangChainLLM
    from llamaindex_indox import ChatIndox as LlamaChat
    from llamaindex_indox import IndoxLLM as LlamaLLM

    return [(LangChainChat, "model_kwargs"), (LangChainLLM, "model_kwargs"), (LlamaChat, "additional_kwargs"),
            (LlamaLLM, "additional_kwargs")]


@pytest.mark.parametrize("index", range(4))
def test_a_misspelt_field_raises_and_names_the_field(index: int) -> None:
    cls, _ = _classes()[index]
    with pytest.raises(TypeError, match=r"unexpected keyword argument 'modle'; did you mean 'model'\?") as caught:
        cls(modle="anthropic/claude-3-haiku", top_p=0.1, api_key=SECRET)
    assert SECRET not in str(caught.value)


@pytest.mark.parametrize("index", range(4))
def test_an_unknown_argument_travels_with_a_warning_that_names_it(index: int) -> None:
    cls, into = _classes()[index]
    with pytest.warns(UserWarning, match=rf"'top_k' is not one of its fields; it is sent with every call as {into}"):
        made = cls(model="anthropic/claude-3-haiku", top_k=3, api_key="k")
    assert getattr(made, into) == {"top_k": 3}
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        cls(model="anthropic/claude-3-haiku", top_p=0.3, seed=7, presence_penalty=0.1, frequency_penalty=0.2,
            api_key="k")  # named fields: no warning


@pytest.mark.parametrize("index", range(4))
def test_temperature_is_refused_at_construction_with_one_message(index: int) -> None:
    cls, _ = _classes()[index]
    with pytest.raises(ValueError, match=r"temperature must be a number from 0 to 2; got 7\."):
        cls(model="anthropic/claude-3-haiku", temperature=7, api_key="k")


def test_named_fields_and_unknown_arguments_reach_the_wire(server: LocalServer) -> None:
    from llama_index.core.llms import ChatMessage

    from langchain_indox import ChatIndox as LangChainChat
    from llamaindex_indox import ChatIndox as LlamaChat

    settings = {"model": "openai/gpt-4o-mini", "api_key": server.api_key, "base_url": server.base_url,
                "top_p": 0.3, "seed": 7, "presence_penalty": 0.1, "frequency_penalty": 0.2}
    with pytest.warns(UserWarning):
        langchain = LangChainChat(**settings, stop=["zzz"], top_k=5)
    with pytest.warns(UserWarning):
        llama = LlamaChat(**settings, stop=["zzz"], top_k=5)
    server.clear_journal()
    langchain.invoke("Hi")
    llama.chat([ChatMessage(role="user", content="Hi")])
    sent = [json.loads(e["body"])["additional_params"] for e in server.journal()
            if e["path"].endswith("/chat/completions")]
    expected = {"top_p": 0.3, "seed": 7, "presence_penalty": 0.1, "frequency_penalty": 0.2, "stop": ["zzz"],
                "top_k": 5}
    assert sent == [expected, expected]
