"""``IndoxImageToolSpec``: indoxRouter image generation as LlamaIndex agent tools.

No ``from __future__ import annotations`` here: LlamaIndex reads the tool functions'
annotations at run time to build their argument schemas.
"""

import os
import warnings
from pathlib import Path
from typing import Annotated, Any, Literal

from llama_index.core.base.llms.types import ImageBlock
from llama_index.core.bridge.pydantic import Field
from llama_index.core.tools.tool_spec.base import SPEC_FUNCTION_TYPE, BaseToolSpec
from llama_index.core.tools.types import ToolMetadata
from llama_index.core.tools.utils import create_schema_from_function

from shared_client import AsyncClient, Client, ImageResponse
from shared_client.integration import (
    API_KEY_ENV,
    BASE_URL_ENV,
    LazyAsyncClient,
    LazyClient,
    image_request,
    save_images,
)


class IndoxImageToolSpec(BaseToolSpec):
    """Image generation for agents: ``to_tool_list()`` gives ``generate_image`` (sync and async).

    The same fields and defaults as LangChain's ``IndoxImageTool``: ``model``, ``size``, ``n``,
    ``image_format`` and ``output_dir``. The tool returns a plain string: the image's URL
    (``image_format="url"``), or for ``"b64_json"`` the absolute path of the PNG saved in
    ``output_dir``, a temporary folder unless given (one line per image, all ``n`` of them).
    With ``image_blocks=True`` it returns ``ImageBlock``s instead, for multimodal agents. The
    async twin (behind the tool's ``acall``) runs on
    ``shared_client.AsyncClient``: ``async_client`` if given, else one of its own per event loop.
    """

    spec_functions: list[SPEC_FUNCTION_TYPE] = [("generate_image", "agenerate_image")]  # noqa: RUF012 (base declares it)

    def __init__(self, model: str = "openai/dall-e-3", size: str = "1024x1024",
                 image_format: Literal["url", "b64_json"] = "url", output_dir: str | Path | None = None,
                 *, n: int = 1, image_blocks: bool = False, api_key: str | None = None, base_url: str | None = None,
                 timeout: float | None = 15, max_retries: int = 2, client: Client | None = None,
                 async_client: AsyncClient | None = None, response_format: str | None = None) -> None:
        if response_format is not None:
            warnings.warn("IndoxImageToolSpec(response_format=...) is deprecated: pass image_format=...",
                          DeprecationWarning, stacklevel=2)
            image_format = response_format  # type: ignore[assignment]
        if image_format not in ("url", "b64_json"):
            raise ValueError(f"image_format must be 'url' or 'b64_json'; got {image_format!r}")
        if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= 10:
            raise ValueError(f"n must be a whole number from 1 to 10; got {n!r}")
        self.model = model
        self.size = size
        self.n = n
        self.image_format = image_format
        self.output_dir = Path(output_dir).expanduser().resolve() if output_dir is not None else None
        self.image_blocks = image_blocks
        self._settings: dict[str, Any] = {"api_key": api_key, "base_url": base_url, "timeout": timeout,
                                          "max_retries": max_retries}
        self.client = client
        self.async_client = async_client
        self._lazy = LazyClient()
        self._alazy = LazyAsyncClient()

    def __repr__(self) -> str:
        folder = str(self.output_dir) if self.output_dir is not None else None
        return (f"IndoxImageToolSpec(model={self.model!r}, size={self.size!r}, n={self.n}, "
                f"image_format={self.image_format!r}, output_dir={folder!r})")

    def __getstate__(self) -> dict[str, Any]:
        """Pickle without shared clients (their locks and sockets stay in this process)."""
        return {**self.__dict__, "client": None, "async_client": None}

    def get_metadata_from_fn_name(self, fn_name: str,
                                  spec_functions: list[SPEC_FUNCTION_TYPE] | None = None) -> ToolMetadata | None:
        """The tool's name, its docstring as a short description, and its described arguments
        (the default would put the whole Python signature into the description)."""
        func = getattr(self, fn_name)
        return ToolMetadata(name=fn_name, description=" ".join((func.__doc__ or "").split()),
                            fn_schema=create_schema_from_function(fn_name, func))

    def _connection(self) -> dict[str, Any]:
        settings = dict(self._settings)
        settings["api_key"] = settings["api_key"] or os.environ.get(API_KEY_ENV)
        settings["base_url"] = settings["base_url"] or os.environ.get(BASE_URL_ENV)
        return settings

    @property
    def indox_client(self) -> Client:
        """The client the sync tool calls: ``client`` if given, else one made on first use."""
        return self._lazy.get(client=self.client, **self._connection())

    async def aindox_client(self) -> AsyncClient:
        """The client the async tool calls: ``async_client`` if given, else one per event loop (with the
        settings of ``client`` if given)."""
        return await self._alazy.get(async_client=self.async_client, client=self.client, **self._connection())

    def _request(self, prompt: str, size: str | None) -> dict[str, Any]:
        return image_request(prompt, model=self.model, size=size or self.size, n=self.n,
                             image_format=self.image_format)

    def _result(self, response: ImageResponse, prompt: str) -> str | list[ImageBlock]:
        locations = save_images(response, self.output_dir, prompt)
        if not self.image_blocks:
            return "\n".join(locations)
        return [ImageBlock(url=place) if place.startswith(("http://", "https://")) else ImageBlock(path=Path(place))
                for place in locations]

    def generate_image(
        self,
        prompt: Annotated[str, Field(description="A detailed description of the image to generate.")],
        size: Annotated[str | None, Field(description="WIDTHxHEIGHT, e.g. '1024x1024'; omit for the default.")] = None,
    ) -> str | list[ImageBlock]:
        """Generate images from a text description. Use it when the user asks for a picture, drawing, photo
        or illustration. Returns where each image is: its URL, or the path of the saved PNG file, one per line."""
        return self._result(self.indox_client.image(**self._request(prompt, size)), prompt)

    async def agenerate_image(
        self,
        prompt: Annotated[str, Field(description="A detailed description of the image to generate.")],
        size: Annotated[str | None, Field(description="WIDTHxHEIGHT, e.g. '1024x1024'; omit for the default.")] = None,
    ) -> str | list[ImageBlock]:
        """Generate images from a text description. Returns the image URL or saved file path, one per line."""
        client = await self.aindox_client()
        return self._result(await client.image(**self._request(prompt, size)), prompt)
