"""``IndoxLLM``: indoxRouter's text completions (``/completions``) as a LangChain ``BaseLLM``."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models.llms import BaseLLM
from langchain_core.outputs import Generation, GenerationChunk, LLMResult
from pydantic import Field

from shared_client import Usage
from shared_client.integration import full_model_name, openai_usage

from ._connection import IndoxModelSettings


class IndoxLLM(IndoxModelSettings, BaseLLM):
    """indoxRouter text completion for LangChain: a prompt in, a continuation out.

    ```python
    from langchain_indox import IndoxLLM

    IndoxLLM(model="openai/gpt-3.5-turbo-instruct").invoke("Once upon a time")
    ```
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

    def _generate(self, prompts: list[str], stop: list[str] | None = None,
                  run_manager: CallbackManagerForLLMRun | None = None, **kwargs: Any) -> LLMResult:
        generations: list[list[Generation]] = []
        totals = {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0}
        cost, model_name = 0.0, self.model
        for prompt in prompts:
            if self.streaming:
                last: GenerationChunk | None = None
                for chunk in self._stream(prompt, stop, run_manager, **kwargs):
                    last = chunk if last is None else last + chunk
                info = dict(last.generation_info or {}) if last else {}
                text = last.text if last else ""
            else:
                request = self._request(prompt, stop, kwargs)
                response = self.indox_client.completion(**request)
                info = _final_info(response.finish_reason, response.usage,
                                   full_model_name(response.provider, response.model, request["model"]))
                text = response.data
            for key, value in info.pop("token_usage", {}).items():
                totals[key] += value
            cost += info.pop("cost", 0.0)
            model_name = info.pop("model_name", model_name)
            generations.append([Generation(text=text, generation_info=info)])
        return LLMResult(generations=generations,
                         llm_output={"token_usage": totals, "model_name": model_name, "cost": cost})

    def _stream(self, prompt: str, stop: list[str] | None = None,
                run_manager: CallbackManagerForLLMRun | None = None, **kwargs: Any) -> Iterator[GenerationChunk]:
        request = self._request(prompt, stop, kwargs)
        with self.indox_client.stream_completion(**request) as chunks:
            for chunk in chunks:
                info: dict[str, Any] | None = None
                if chunk.finish_reason is not None:
                    info = _final_info(chunk.finish_reason, chunk.usage,
                                       full_model_name(chunk.provider, chunk.model, request["model"]))
                piece = GenerationChunk(text=chunk.data, generation_info=info)
                if run_manager is not None:  # core fires no tokens for text LLMs
                    run_manager.on_llm_new_token(piece.text, chunk=piece)
                yield piece


def _final_info(finish_reason: str | None, usage: Usage | None, model_name: str) -> dict[str, Any]:
    """What the last chunk (or the whole answer) tells: why it ended, tokens, cost, model."""
    info: dict[str, Any] = {"finish_reason": finish_reason, "model_name": model_name}
    if usage is not None:
        info.update(token_usage=openai_usage(usage), cost=usage.cost)
    return info
