"""``ChatIndox`` (chat, tools, agents) and ``IndoxLLM`` (text completion) for LlamaIndex."""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import AsyncGenerator, Callable, Generator, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from llama_index.core.base.llms.generic_utils import (
    achat_to_completion_decorator,
    astream_chat_to_completion_decorator,
    chat_to_completion_decorator,
    stream_chat_to_completion_decorator,
)
from llama_index.core.base.llms.generic_utils import (
    messages_to_prompt as generic_messages_to_prompt,
)
from llama_index.core.base.llms.types import (
    ChatMessage,
    ChatResponse,
    ChatResponseAsyncGen,
    ChatResponseGen,
    CompletionResponse,
    CompletionResponseAsyncGen,
    CompletionResponseGen,
    LLMMetadata,
    MessageRole,
    ToolCallBlock,
)
from llama_index.core.bridge.pydantic import Field, PrivateAttr, field_validator
from llama_index.core.llms.callbacks import llm_chat_callback, llm_completion_callback
from llama_index.core.llms.function_calling import FunctionCallingLLM
from llama_index.core.llms.llm import LLM, ToolSelection, default_completion_to_prompt
from llama_index.core.types import PydanticProgramMode

from shared_client import AsyncChunkStream, ChunkStream, IndoxRouterError, ModelInfo, StreamChunk
from shared_client.assembly import parse_partial_json
from shared_client.integration import check_temperature, json_schema_format

from ._connection import IndoxConnection
from ._convert import ChatStream, CompletionStream, from_chat, from_completion, to_wire_messages

if TYPE_CHECKING:
    from llama_index.core.prompts import BasePromptTemplate
    from llama_index.core.tools.types import BaseTool
    from pydantic import BaseModel

logger = logging.getLogger("llamaindex_indox")
Model = TypeVar("Model", bound="BaseModel")
Response = TypeVar("Response")

FALLBACK_CONTEXT_WINDOW = 8192
FALLBACK_NUM_OUTPUT = 1024
_INFO_CACHE: dict[tuple[str, str], ModelInfo] = {}
_INFO_LOCK = threading.Lock()


def _responses(chunks: ChunkStream, convert: Callable[[StreamChunk], Response]) -> Generator[Response, None, None]:
    """One response per chunk; the stream's connection is released however the iteration ends."""
    with chunks:
        for chunk in chunks:
            yield convert(chunk)


async def _aresponses(chunks: AsyncChunkStream,
                      convert: Callable[[StreamChunk], Response]) -> AsyncGenerator[Response, None]:
    """:func:`_responses` for the async client's streams (a cancelled task releases the connection too)."""
    async with chunks:
        async for chunk in chunks:
            yield convert(chunk)


class _IndoxModel(IndoxConnection):
    """Settings and router-backed metadata shared by ChatIndox and IndoxLLM."""

    model: str = Field(default="openai/gpt-4o-mini", description="The model, as provider/model.")
    temperature: float = Field(default=0.7, description="Sampling temperature, 0 to 2.")
    max_tokens: int | None = Field(default=None, gt=0, description="Tokens to generate at most.")
    top_p: float | None = Field(default=None, description="Nucleus sampling: the probability mass to sample from.")
    seed: int | None = Field(default=None, description="For providers that can repeat a sample.")
    presence_penalty: float | None = Field(default=None)
    frequency_penalty: float | None = Field(default=None)
    stop: list[str] | None = Field(default=None, description="Stop sequences sent with every call.")
    additional_kwargs: dict[str, Any] = Field(
        default_factory=dict,
        description="Further parameters sent with every call (an unknown constructor argument lands here).")
    context_window: int | None = Field(default=None, gt=0,
                                       description="Override of the router's context window for the model.")
    num_output: int | None = Field(default=None, gt=0,
                                   description="Override of the tokens reserved for the answer.")

    _info: ModelInfo | None = PrivateAttr(default=None)
    _info_failed: bool = PrivateAttr(default=False)

    @field_validator("temperature", mode="before")
    @classmethod
    def _temperature_in_range(cls, value: Any) -> Any:
        return check_temperature(value)

    def _model_info(self) -> ModelInfo | None:
        """The router's catalogue entry for ``model``, looked up once per base URL and model."""
        if self._info is not None or self._info_failed:
            return self._info
        provider, _, name = self.model.partition("/")
        try:
            client = self.indox_client
            info = self._cached_info(client.base_url)
            self._remember_info(client.base_url, info or client.model_info(provider, name))
        except IndoxRouterError as exc:
            self._no_info(exc)
        return self._info

    async def _amodel_info(self) -> ModelInfo | None:
        """:meth:`_model_info` on the async client (the same cache)."""
        if self._info is not None or self._info_failed:
            return self._info
        provider, _, name = self.model.partition("/")
        try:
            client = await self.aindox_client()
            info = self._cached_info(client.base_url)
            self._remember_info(client.base_url, info or await client.model_info(provider, name))
        except IndoxRouterError as exc:
            self._no_info(exc)
        return self._info

    def _cached_info(self, base_url: str) -> ModelInfo | None:
        with _INFO_LOCK:
            return _INFO_CACHE.get((base_url, self.model))

    def _remember_info(self, base_url: str, info: ModelInfo) -> None:
        with _INFO_LOCK:
            _INFO_CACHE[(base_url, self.model)] = info
        self._info = info

    def _no_info(self, exc: IndoxRouterError) -> None:
        self._info_failed = True
        logger.warning("No catalogue entry for %s (%s); assuming a %d-token context window and %d "
                       "output tokens. Set context_window / num_output to override.",
                       self.model, exc, FALLBACK_CONTEXT_WINDOW, FALLBACK_NUM_OUTPUT)

    def _metadata(self, *, is_chat_model: bool, is_function_calling_model: bool) -> LLMMetadata:
        info = None if self.context_window and (self.num_output or self.max_tokens) else self._model_info()
        context = self.context_window or (info.context_window if info else None) or FALLBACK_CONTEXT_WINDOW
        num_output = self.num_output or self.max_tokens
        if num_output is None:
            # a quarter of the window at most, so prompts keep room (PromptHelper subtracts it)
            largest = info.max_output_tokens if info and info.max_output_tokens else FALLBACK_NUM_OUTPUT
            num_output = min(largest, context // 4)
        return LLMMetadata(context_window=context, num_output=num_output, is_chat_model=is_chat_model,
                           is_function_calling_model=is_function_calling_model, model_name=self.model,
                           system_role=MessageRole.SYSTEM)

    def _params(self, kwargs: dict[str, Any]) -> dict[str, Any]:
        """Per-call keyword arguments win over ``additional_kwargs``, which win over the named fields."""
        named = {"top_p": self.top_p, "seed": self.seed, "presence_penalty": self.presence_penalty,
                 "frequency_penalty": self.frequency_penalty, "stop": self.stop}
        extra = {**{k: v for k, v in named.items() if v is not None}, **self.additional_kwargs, **kwargs}
        return {"model": extra.pop("model", self.model), "temperature": extra.pop("temperature", self.temperature),
                "max_tokens": extra.pop("max_tokens", self.max_tokens), **extra}


class ChatIndox(_IndoxModel, FunctionCallingLLM):
    """indoxRouter chat models for LlamaIndex: chat, streaming, tool calling, structured output.

    ```python
    from llama_index.core import Settings
    from llamaindex_indox import ChatIndox

    Settings.llm = ChatIndox(model="openai/gpt-4o-mini")   # key from INDOX_ROUTER_API_KEY
    ```

    ``complete()`` sends the prompt as one user message. This is the one for agents.
    """

    @classmethod
    def class_name(cls) -> str:
        return "ChatIndox"

    @property
    def metadata(self) -> LLMMetadata:
        return self._metadata(is_chat_model=True, is_function_calling_model=True)

    # --- the undecorated calls the entry points share ----------------------------------------

    def _chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponse:
        params = self._params(kwargs)
        response = self.indox_client.chat(to_wire_messages(messages), **params)
        return from_chat(response, params["model"])

    def _stream_chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponseGen:
        params = self._params(kwargs)
        chunks = self.indox_client.stream_chat(to_wire_messages(messages), **params)
        return _responses(chunks, ChatStream(params["model"]).response)

    async def _achat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponse:
        params = self._params(kwargs)
        wire = to_wire_messages(messages)
        response = await (await self.aindox_client()).chat(wire, **params)
        return from_chat(response, params["model"])

    async def _astream_chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponseAsyncGen:
        params = self._params(kwargs)
        wire = to_wire_messages(messages)
        chunks = await (await self.aindox_client()).stream_chat(wire, **params)
        return _aresponses(chunks, ChatStream(params["model"]).response)

    # --- the eight entry points, under LlamaIndex's callback decorators ----------------------

    @llm_chat_callback()
    def chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponse:
        return self._chat(messages, **kwargs)

    @llm_chat_callback()
    def stream_chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponseGen:
        return self._stream_chat(messages, **kwargs)

    @llm_completion_callback()
    def complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponse:
        return chat_to_completion_decorator(self._chat)(prompt, **kwargs)

    @llm_completion_callback()
    def stream_complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponseGen:
        return stream_chat_to_completion_decorator(self._stream_chat)(prompt, **kwargs)

    @llm_chat_callback()
    async def achat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponse:
        return await self._achat(messages, **kwargs)

    @llm_chat_callback()
    async def astream_chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponseAsyncGen:
        return await self._astream_chat(messages, **kwargs)

    @llm_completion_callback()
    async def acomplete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponse:
        return await achat_to_completion_decorator(self._achat)(prompt, **kwargs)

    @llm_completion_callback()
    async def astream_complete(self, prompt: str, formatted: bool = False,
                               **kwargs: Any) -> CompletionResponseAsyncGen:
        return await astream_chat_to_completion_decorator(self._astream_chat)(prompt, **kwargs)

    # --- tools -------------------------------------------------------------------------------

    def _prepare_chat_with_tools(self, tools: Sequence[BaseTool], user_msg: str | ChatMessage | None = None,
                                 chat_history: list[ChatMessage] | None = None, verbose: bool = False,
                                 allow_parallel_tool_calls: bool = False, tool_required: bool = False,
                                 tool_choice: str | dict[str, Any] | None = None,
                                 **kwargs: Any) -> dict[str, Any]:
        specs = [tool.metadata.to_openai_tool(skip_length_check=True) for tool in tools]
        messages = list(chat_history or [])
        if isinstance(user_msg, str):
            user_msg = ChatMessage(role=MessageRole.USER, content=user_msg)
        if user_msg is not None:
            messages.append(user_msg)
        prepared: dict[str, Any] = {"messages": messages, **kwargs}
        if specs:
            prepared.update(tools=specs, tool_choice=_tool_choice(tool_choice, tool_required),
                            parallel_tool_calls=allow_parallel_tool_calls)
        return prepared

    def _validate_chat_with_tools_response(self, response: ChatResponse, tools: Sequence[BaseTool],
                                           allow_parallel_tool_calls: bool = False,
                                           **kwargs: Any) -> ChatResponse:
        if not allow_parallel_tool_calls:
            calls = [b for b in response.message.blocks if isinstance(b, ToolCallBlock)]
            if len(calls) > 1:
                first = calls[0]
                response.message.blocks = [b for b in response.message.blocks
                                           if not isinstance(b, ToolCallBlock) or b is first]
        return response

    def get_tool_calls_from_response(self, response: ChatResponse, error_on_no_tool_call: bool = True,
                                     **kwargs: Any) -> list[ToolSelection]:
        """The tool calls of a response, or of a stream so far (half-finished arguments parse as far as they go)."""
        selections = [
            ToolSelection(tool_id=block.tool_call_id or "", tool_name=block.tool_name,
                          tool_kwargs=parse_partial_json(block.tool_kwargs) if isinstance(block.tool_kwargs, str)
                          else block.tool_kwargs)
            for block in response.message.blocks if isinstance(block, ToolCallBlock)
        ]
        if not selections and error_on_no_tool_call:
            raise ValueError("Expected at least one tool call, but the response has none.")
        return selections

    # --- structured output -------------------------------------------------------------------

    def _json_schema_mode(self, info: ModelInfo | None) -> bool:
        """Whether structured output goes by the router's JSON-schema mode (else by a forced tool call)."""
        return self.pydantic_program_mode == PydanticProgramMode.DEFAULT and bool(
            info and "json_mode" in info.capabilities)

    def structured_predict(self, output_cls: type[Model], prompt: BasePromptTemplate,
                           llm_kwargs: dict[str, Any] | None = None, **prompt_args: Any) -> Model:
        """``output_cls`` from the router's JSON-schema mode where the model has it, else a forced tool call."""
        if not self._json_schema_mode(self._model_info()):
            llm_kwargs = {"tool_choice": "required", **(llm_kwargs or {})}
            return super().structured_predict(output_cls, prompt, llm_kwargs=llm_kwargs,  # type: ignore[no-any-return]
                                              **prompt_args)
        messages = self._extend_messages(prompt.format_messages(llm=self, **prompt_args))
        response = self.chat(messages, **_schema_kwargs(output_cls, llm_kwargs))
        return output_cls.model_validate_json(response.message.content or "")

    async def astructured_predict(self, output_cls: type[Model], prompt: BasePromptTemplate,
                                  llm_kwargs: dict[str, Any] | None = None, **prompt_args: Any) -> Model:
        if not self._json_schema_mode(await self._amodel_info()):
            llm_kwargs = {"tool_choice": "required", **(llm_kwargs or {})}
            return await super().astructured_predict(  # type: ignore[no-any-return]
                output_cls, prompt, llm_kwargs=llm_kwargs, **prompt_args)
        messages = self._extend_messages(prompt.format_messages(llm=self, **prompt_args))
        response = await self.achat(messages, **_schema_kwargs(output_cls, llm_kwargs))
        return output_cls.model_validate_json(response.message.content or "")


def _schema_kwargs(output_cls: type[BaseModel], llm_kwargs: dict[str, Any] | None) -> dict[str, Any]:
    schema = output_cls.model_json_schema()
    return {**(llm_kwargs or {}), "response_format": json_schema_format(output_cls.__name__, schema)}


def _tool_choice(choice: str | dict[str, Any] | None, required: bool) -> str | dict[str, Any]:
    if choice is None:
        return "required" if required else "auto"
    if isinstance(choice, str) and choice not in ("auto", "none", "required"):
        return {"type": "function", "function": {"name": choice}}
    return choice


class IndoxLLM(_IndoxModel, LLM):
    """indoxRouter text completion (``/completions``) for LlamaIndex.

    ``chat()`` renders the messages into one prompt with ``messages_to_prompt``.
    """

    model: str = Field(default="openai/gpt-3.5-turbo-instruct", description="The model, as provider/model.")

    @classmethod
    def class_name(cls) -> str:
        return "IndoxLLM"

    @property
    def metadata(self) -> LLMMetadata:
        return self._metadata(is_chat_model=False, is_function_calling_model=False)

    def _complete(self, prompt: str, **kwargs: Any) -> CompletionResponse:
        params = self._params(kwargs)
        return from_completion(self.indox_client.completion(prompt, **params), params["model"])

    def _stream_complete(self, prompt: str, **kwargs: Any) -> CompletionResponseGen:
        params = self._params(kwargs)
        chunks = self.indox_client.stream_completion(prompt, **params)
        return _responses(chunks, CompletionStream(params["model"]).response)

    async def _acomplete(self, prompt: str, **kwargs: Any) -> CompletionResponse:
        params = self._params(kwargs)
        return from_completion(await (await self.aindox_client()).completion(prompt, **params), params["model"])

    async def _astream_complete(self, prompt: str, **kwargs: Any) -> CompletionResponseAsyncGen:
        params = self._params(kwargs)
        chunks = await (await self.aindox_client()).stream_completion(prompt, **params)
        return _aresponses(chunks, CompletionStream(params["model"]).response)

    def _prompt(self, prompt: str, formatted: bool) -> str:
        render = self.completion_to_prompt or default_completion_to_prompt
        return prompt if formatted else render(prompt)

    def _chat_prompt(self, messages: Sequence[ChatMessage]) -> str:
        render = self.messages_to_prompt or generic_messages_to_prompt
        return render(messages)

    @llm_completion_callback()
    def complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponse:
        return self._complete(self._prompt(prompt, formatted), **kwargs)

    @llm_completion_callback()
    def stream_complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponseGen:
        return self._stream_complete(self._prompt(prompt, formatted), **kwargs)

    @llm_chat_callback()
    def chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponse:
        return _as_chat(self._complete(self._chat_prompt(messages), **kwargs))

    @llm_chat_callback()
    def stream_chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponseGen:
        return (_as_chat(r) for r in self._stream_complete(self._chat_prompt(messages), **kwargs))

    @llm_completion_callback()
    async def acomplete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponse:
        return await self._acomplete(self._prompt(prompt, formatted), **kwargs)

    @llm_completion_callback()
    async def astream_complete(self, prompt: str, formatted: bool = False,
                               **kwargs: Any) -> CompletionResponseAsyncGen:
        return await self._astream_complete(self._prompt(prompt, formatted), **kwargs)

    @llm_chat_callback()
    async def achat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponse:
        return _as_chat(await self._acomplete(self._chat_prompt(messages), **kwargs))

    @llm_chat_callback()
    async def astream_chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponseAsyncGen:
        return _as_chats(await self._astream_complete(self._chat_prompt(messages), **kwargs))


def _as_chat(response: CompletionResponse) -> ChatResponse:
    return ChatResponse(message=ChatMessage(role=MessageRole.ASSISTANT, content=response.text),
                        delta=response.delta, raw=response.raw, additional_kwargs=response.additional_kwargs)


async def _as_chats(responses: CompletionResponseAsyncGen) -> ChatResponseAsyncGen:
    async with contextlib.aclosing(responses):  # closing this closes the stream under it
        async for response in responses:
            yield _as_chat(response)


__all__ = ["ChatIndox", "IndoxLLM"]
