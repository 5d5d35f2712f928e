"""``ChatIndox``: indoxRouter's chat models as a LangChain ``BaseChatModel``."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from operator import itemgetter
from typing import Any, Literal

from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel, LangSmithParams, LanguageModelInput
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.output_parsers import JsonOutputParser, PydanticOutputParser
from langchain_core.output_parsers.openai_tools import JsonOutputKeyToolsParser, PydanticToolsParser
from langchain_core.outputs import ChatGenerationChunk, ChatResult
from langchain_core.runnables import Runnable, RunnableMap, RunnablePassthrough
from langchain_core.tools import BaseTool
from langchain_core.utils.function_calling import convert_to_json_schema, convert_to_openai_tool
from langchain_core.utils.pydantic import is_basemodel_subclass
from pydantic import BaseModel, Field

from shared_client.integration import json_schema_format

from ._connection import IndoxModelSettings
from ._convert import PROVIDER, to_chat_generation_chunk, to_chat_result, to_wire_messages


class ChatIndox(IndoxModelSettings, BaseChatModel):
    """indoxRouter chat models (``provider/model``) for LangChain.

    ```python
    from langchain_indox import ChatIndox

    llm = ChatIndox(model="openai/gpt-4o-mini")   # key from INDOX_ROUTER_API_KEY
    llm.invoke("Hello!").content
    ```

    Streams token by token, reports ``usage_metadata`` on invoke and stream,
    calls tools (``bind_tools``) and returns structured output
    (``with_structured_output``). ``ainvoke``, ``astream`` and ``abatch`` run natively on
    ``shared_client.AsyncClient``. Several models can share one ``shared_client.Client``
    through ``client=`` (and one ``AsyncClient`` through ``async_client=``).
    """

    model: str = Field(default="openai/gpt-4o-mini", alias="model_name")
    """The model, as ``provider/model``."""

    @property
    def _llm_type(self) -> str:
        return "indox-chat"

    @classmethod
    def get_lc_namespace(cls) -> list[str]:
        return ["langchain_indox", "chat_models"]

    def _get_ls_params(self, stop: list[str] | None = None, **kwargs: Any) -> LangSmithParams:
        params = LangSmithParams(
            ls_provider=PROVIDER, ls_model_name=kwargs.get("model", self.model), ls_model_type="chat",
            ls_temperature=kwargs.get("temperature", self.temperature))
        max_tokens = kwargs.get("max_tokens", self.max_tokens)
        if max_tokens is not None:
            params["ls_max_tokens"] = max_tokens
        if stop or self.stop:
            params["ls_stop"] = stop or self.stop
        return params

    # --- calls --------------------------------------------------------------------------------

    def _request(self, messages: list[BaseMessage], stop: list[str] | None, kwargs: dict[str, Any]) -> dict[str, Any]:
        return {"messages": to_wire_messages(messages), **self._call_params(stop, kwargs)}

    def _generate(self, messages: list[BaseMessage], stop: list[str] | None = None,
                  run_manager: CallbackManagerForLLMRun | None = None, **kwargs: Any) -> ChatResult:
        request = self._request(messages, stop, kwargs)
        return to_chat_result(self.indox_client.chat(**request), request["model"])

    async def _agenerate(self, messages: list[BaseMessage], stop: list[str] | None = None,
                         run_manager: AsyncCallbackManagerForLLMRun | None = None, **kwargs: Any) -> ChatResult:
        request = self._request(messages, stop, kwargs)
        client = await self._aindox_client()
        return to_chat_result(await client.chat(**request), request["model"])

    # LangChain core fires on_llm_new_token for each chunk _stream/_astream yield (and does not
    # even hand _astream a run manager); firing it here too would report every token twice.

    def _stream(self, messages: list[BaseMessage], stop: list[str] | None = None,
                run_manager: CallbackManagerForLLMRun | None = None, **kwargs: Any) -> Iterator[ChatGenerationChunk]:
        request = self._request(messages, stop, kwargs)
        with self.indox_client.stream_chat(**request) as chunks:
            for chunk in chunks:
                yield to_chat_generation_chunk(chunk, request["model"])

    async def _astream(self, messages: list[BaseMessage], stop: list[str] | None = None,
                       run_manager: AsyncCallbackManagerForLLMRun | None = None,
                       **kwargs: Any) -> AsyncIterator[ChatGenerationChunk]:
        request = self._request(messages, stop, kwargs)
        client = await self._aindox_client()
        async with await client.stream_chat(**request) as chunks:
            async for chunk in chunks:
                yield to_chat_generation_chunk(chunk, request["model"])

    # --- tools and structured output ----------------------------------------------------------

    def bind_tools(self, tools: Sequence[dict[str, Any] | type | Callable[..., Any] | BaseTool], *,
                   tool_choice: dict[str, Any] | str | bool | None = None,
                   parallel_tool_calls: bool | None = None,
                   **kwargs: Any) -> Runnable[LanguageModelInput, AIMessage]:
        """Offer ``tools`` to the model.

        ``tool_choice``: ``"auto"``, ``"none"``, ``"any"``/``"required"``/``True`` (call
        some tool), a tool's name, or the OpenAI dict form.
        """
        formatted = [convert_to_openai_tool(tool) for tool in tools]
        names = [tool["function"]["name"] for tool in formatted if "function" in tool]
        if tool_choice is not None and tool_choice is not False:
            kwargs["tool_choice"] = _tool_choice(tool_choice, names)
        if parallel_tool_calls is not None:
            kwargs["parallel_tool_calls"] = parallel_tool_calls
        return super().bind(tools=formatted, **kwargs)

    def with_structured_output(
        self, schema: dict[str, Any] | type, *, include_raw: bool = False,
        method: Literal["function_calling", "json_mode", "json_schema"] = "function_calling",
        strict: bool | None = None, **kwargs: Any,
    ) -> Runnable[LanguageModelInput, dict[str, Any] | BaseModel]:
        """A runnable answering with ``schema``'s shape, through a forced tool call
        (``function_calling``, the default), JSON mode or the router's JSON-schema mode."""
        if kwargs:
            raise ValueError(f"Unexpected arguments: {sorted(kwargs)}")
        is_pydantic = isinstance(schema, type) and is_basemodel_subclass(schema)
        trace = {"kwargs": {"method": method, "strict": strict}, "schema": schema}
        parser: Runnable[Any, Any]
        if method == "function_calling":
            tool = convert_to_openai_tool(schema, strict=strict)
            name = tool["function"]["name"]
            llm = self.bind_tools([tool], tool_choice=name, ls_structured_output_format=trace)
            parser = (PydanticToolsParser(tools=[schema], first_tool_only=True) if is_pydantic  # type: ignore[list-item]
                      else JsonOutputKeyToolsParser(key_name=name, first_tool_only=True))
        elif method in ("json_mode", "json_schema"):
            if method == "json_mode":
                response_format: dict[str, Any] = {"type": "json_object"}
            else:
                json_schema = convert_to_json_schema(schema)
                response_format = json_schema_format(json_schema.get("title", "output"), json_schema, strict)
            llm = self.bind(response_format=response_format, ls_structured_output_format=trace)
            parser = (PydanticOutputParser(pydantic_object=schema) if is_pydantic  # type: ignore[arg-type]
                      else JsonOutputParser())
        else:
            raise ValueError(f"method must be 'function_calling', 'json_mode' or 'json_schema'; got {method!r}")
        if not include_raw:
            return llm | parser
        parsed = RunnablePassthrough.assign(parsed=itemgetter("raw") | parser, parsing_error=lambda _: None)
        fallback = RunnablePassthrough.assign(parsed=lambda _: None)
        return RunnableMap(raw=llm) | parsed.with_fallbacks([fallback], exception_key="parsing_error")


def _tool_choice(choice: dict[str, Any] | str | bool, names: list[str]) -> dict[str, Any] | str:
    if choice is True or choice == "any":
        return "required"
    if isinstance(choice, str) and choice not in ("auto", "none", "required"):
        if choice not in names:
            raise ValueError(f"tool_choice {choice!r} is not one of the bound tools {names}")
        return {"type": "function", "function": {"name": choice}}
    return choice  # type: ignore[return-value]
