"""``IndoxLLM``: indoxRouter's text completions (``/completions``) as a LangChain ``BaseLLM``."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from functools import partial
from typing import Any

from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun
from langchain_core.language_models.llms import BaseLLM
from langchain_core.outputs import GenerationChunk, LLMResult
from pydantic import Field

from shared_client.integration import gather_bounded

from ._connection import IndoxModelSettings
from ._convert import Answer, completion_answer, streamed_answer, to_generation_chunk, to_llm_result


class IndoxLLM(IndoxModelSettings, BaseLLM):
    """indoxRouter text completion for LangChain: a prompt in, a continuation out.

    ```python
    from langchain_indox import IndoxLLM

    IndoxLLM(model="openai/gpt-3.5-turbo-instruct").invoke("Once upon a time")
    ```

    ``ainvoke``, ``astream`` and ``abatch`` run natively on ``shared_client.AsyncClient``.
    """

    model: str = Field(default="openai/gpt-3.5-turbo-instruct", alias="model_name")
    """The model, as ``provider/model``; chat models with the ``completion`` capability work too."""

    @property
    def _llm_type(self) -> str:
        return "indox-completion"

    @classmethod
    def get_lc_namespace(cls) -> list[str]:
        return ["langchain_indox", "llms"]

    def _request(self, prompt: str, stop: list[str] | None, kwargs: dict[str, Any]) -> dict[str, Any]:
        return {"prompt": prompt, **self._call_params(stop, kwargs)}

    # --- sync ---------------------------------------------------------------------------------

    def _generate(self, prompts: list[str], stop: list[str] | None = None,
                  run_manager: CallbackManagerForLLMRun | None = None, **kwargs: Any) -> LLMResult:
        return to_llm_result([self._answer(prompt, stop, run_manager, kwargs) for prompt in prompts], self.model)

    def _answer(self, prompt: str, stop: list[str] | None, run_manager: CallbackManagerForLLMRun | None,
                kwargs: dict[str, Any]) -> Answer:
        if self.streaming:
            joined: GenerationChunk | None = None
            for chunk in self._stream(prompt, stop, run_manager, **kwargs):
                joined = chunk if joined is None else joined + chunk
            return streamed_answer(joined)
        request = self._request(prompt, stop, kwargs)
        return completion_answer(self.indox_client.completion(**request), request["model"])

    def _stream(self, prompt: str, stop: list[str] | None = None,
                run_manager: CallbackManagerForLLMRun | None = None, **kwargs: Any) -> Iterator[GenerationChunk]:
        request = self._request(prompt, stop, kwargs)
        with self.indox_client.stream_completion(**request) as chunks:
            for chunk in chunks:
                piece = to_generation_chunk(chunk, request["model"])
                if run_manager is not None:  # core fires no tokens for text LLMs
                    run_manager.on_llm_new_token(piece.text, chunk=piece)
                yield piece

    # --- async: the same, on AsyncClient ------------------------------------------------------

    async def _agenerate(self, prompts: list[str], stop: list[str] | None = None,
                         run_manager: AsyncCallbackManagerForLLMRun | None = None, **kwargs: Any) -> LLMResult:
        # Several prompts go concurrently, except when streaming into one run's callbacks.
        calls = [partial(self._aanswer, prompt, stop, run_manager, kwargs) for prompt in prompts]
        answers = await gather_bounded(calls, 1 if self.streaming else len(calls) or 1)
        return to_llm_result(answers, self.model)

    async def _aanswer(self, prompt: str, stop: list[str] | None, run_manager: AsyncCallbackManagerForLLMRun | None,
                       kwargs: dict[str, Any]) -> Answer:
        if self.streaming:
            joined: GenerationChunk | None = None
            async for chunk in self._astream(prompt, stop, run_manager, **kwargs):
                joined = chunk if joined is None else joined + chunk
            return streamed_answer(joined)
        request = self._request(prompt, stop, kwargs)
        client = await self._aindox_client()
        return completion_answer(await client.completion(**request), request["model"])

    async def _astream(self, prompt: str, stop: list[str] | None = None,
                       run_manager: AsyncCallbackManagerForLLMRun | None = None,
                       **kwargs: Any) -> AsyncIterator[GenerationChunk]:
        request = self._request(prompt, stop, kwargs)
        client = await self._aindox_client()
        async with await client.stream_completion(**request) as chunks:
            async for chunk in chunks:
                piece = to_generation_chunk(chunk, request["model"])
                if run_manager is not None:
                    await run_manager.on_llm_new_token(piece.text, chunk=piece)
                yield piece
