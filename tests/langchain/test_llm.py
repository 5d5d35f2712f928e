"""IndoxLLM: text completion, to the depth of a standard suite."""

from __future__ import annotations

import json

import pytest
from langchain_core.outputs import GenerationChunk
from langchain_core.prompts import PromptTemplate

from indox_server import LocalServer
from langchain_indox import IndoxLLM
from shared_client import AuthenticationError, ModelNotFoundError

from ..helpers import loop_ticks
from .callbacks import Recorder

PROMPT = "Rain falls in spring. Snow falls in winter. When does snow fall?"


@pytest.fixture
def llm(server: LocalServer) -> IndoxLLM:
    return IndoxLLM(model="openai/gpt-3.5-turbo-instruct", api_key=server.api_key, base_url=server.base_url)


def test_invoke_and_llm_output(llm: IndoxLLM) -> None:
    recorder = Recorder()
    assert llm.invoke(PROMPT, config={"callbacks": [recorder]}) == "Snow falls in winter."
    (result,) = recorder.results
    assert result.llm_output is not None
    usage = result.llm_output["token_usage"]
    assert usage["completion_tokens"] == 5 and usage["total_tokens"] == usage["prompt_tokens"] + 5
    assert result.llm_output["model_name"] == "openai/gpt-3.5-turbo-instruct"
    assert result.llm_output["cost"] > 0
    assert result.generations[0][0].generation_info == {"finish_reason": "stop"}


def test_generate_several_prompts_sums_usage(llm: IndoxLLM) -> None:
    result = llm.generate([PROMPT, "Hello"])
    assert result.generations[0][0].text == "Snow falls in winter."
    single = [llm.generate([p]).llm_output["token_usage"]["total_tokens"] for p in (PROMPT, "Hello")]
    assert result.llm_output["token_usage"]["total_tokens"] == sum(single)


def test_batch_and_chain(llm: IndoxLLM) -> None:
    chain = PromptTemplate.from_template("Cats purr. Dogs bark. {q}") | llm
    assert chain.batch([{"q": "What do cats do?"}, {"q": "What do dogs do?"}]) == ["Cats purr.", "Dogs bark."]


def test_stream_fires_every_token_once(llm: IndoxLLM) -> None:
    recorder = Recorder()
    pieces = list(llm.stream(PROMPT, config={"callbacks": [recorder]}))
    assert "".join(pieces) == "Snow falls in winter."
    assert recorder.tokens == pieces


def test_streaming_invoke_fires_tokens_and_keeps_usage(server: LocalServer) -> None:
    recorder = Recorder()
    llm = IndoxLLM(model="anthropic/claude-3-haiku", streaming=True, api_key=server.api_key,
                   base_url=server.base_url)
    assert llm.invoke(PROMPT, config={"callbacks": [recorder]}) == "Snow falls in winter."
    assert "".join(recorder.tokens) == "Snow falls in winter." and len(recorder.tokens) == 6
    output = recorder.results[0].llm_output
    assert output["token_usage"]["completion_tokens"] == 5
    assert output["model_name"] == "anthropic/claude-3-haiku"
    assert recorder.results[0].generations[0][0].generation_info == {"finish_reason": "stop"}


def test_raw_stream_chunks_carry_final_info(llm: IndoxLLM) -> None:
    chunks: list[GenerationChunk] = list(llm._stream(PROMPT))
    assert chunks[-1].generation_info and chunks[-1].generation_info["finish_reason"] == "stop"
    assert chunks[-1].generation_info["token_usage"]["completion_tokens"] == 5
    assert all(c.generation_info is None for c in chunks[:-1])


def test_stop_max_tokens_and_kwargs(server: LocalServer) -> None:
    llm = IndoxLLM(model="openai/gpt-3.5-turbo-instruct", stop=[" in"], model_kwargs={"seed": 1},
                   api_key=server.api_key, base_url=server.base_url)
    assert llm.invoke(PROMPT) == "Snow falls"
    assert llm.invoke(PROMPT, stop=["winter"]) == "Snow falls in "
    server.clear_journal()
    assert llm.invoke(PROMPT, max_tokens=1) == "Snow"
    sent = json.loads(server.journal()[-1]["body"])
    assert sent["max_tokens"] == 1 and sent["additional_params"] == {"seed": 1, "stop": [" in"]}


async def test_async_forms(llm: IndoxLLM) -> None:
    assert await llm.ainvoke(PROMPT) == "Snow falls in winter."
    assert await llm.abatch([PROMPT, PROMPT]) == ["Snow falls in winter."] * 2
    pieces = [piece async for piece in llm.astream(PROMPT)]
    assert "".join(pieces) == "Snow falls in winter." and len(pieces) > 3


async def test_async_does_not_block_the_loop(llm: IndoxLLM, server: LocalServer) -> None:
    server.inject_fault("delay", path="/completions", delay=0.3)
    async with loop_ticks() as ticks:
        await llm.ainvoke(PROMPT)
    assert ticks[0] >= 15


def test_errors(llm: IndoxLLM, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ModelNotFoundError):
        llm.invoke(PROMPT, model="openai/none")
    monkeypatch.delenv("INDOX_ROUTER_API_KEY", raising=False)
    keyless = IndoxLLM()
    with pytest.raises(AuthenticationError):
        keyless.invoke(PROMPT)


def test_ls_params_and_identity(llm: IndoxLLM) -> None:
    assert llm._llm_type == "indox-completion"
    assert llm._identifying_params["model"] == "openai/gpt-3.5-turbo-instruct"
    params = llm._get_ls_params(stop=["x"])
    assert params["ls_model_type"] == "llm" and params["ls_stop"] == ["x"]
