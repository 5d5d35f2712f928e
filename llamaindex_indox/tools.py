"""``IndoxImageToolSpec``: indoxRouter image generation as LlamaIndex agent tools.

No ``from __future__ import annotations`` here: LlamaIndex reads the tool functions'
annotations at run time to build their argument schemas.
"""

import os
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
    DEFAULT_IMAGE_DIR,
    LazyAsyncClient,
    LazyClient,
    save_images,
)


class IndoxImageToolSpec(BaseToolSpec):
    """Image generation for agents: ``to_tool_list()`` gives ``generate_image`` (sync and async).

    The tool returns a plain string: the image's URL, or for base64 replies the
    absolute path of the PNG saved in ``output_dir`` (one line per image, all
    ``n`` of them). With ``image_blocks=True`` it returns ``ImageBlock``s instead,
    for multimodal agents. The async twin (behind the tool's ``acall``) runs on
    ``shared_client.AsyncClient``: ``async_client`` if given, else one of its own per event loop.
    """

    spec_functions: list[SPEC_FUNCTION_TYPE] = [("generate_image", "agenerate_image")]  # noqa: RUF012 (base declares it)

    def __init__(self, model: str = "openai/dall-e-3", size: str = "1024x1024",
                 response_format: Literal["url", "b64_json"] = "url", output_dir: str | Path = DEFAULT_IMAGE_DIR,
                 *, image_blocks: bool = False, api_key: str | None = None, base_url: str | None = None,
                 timeout: float | None = 15, max_retries: int = 2, client: Client | None = None,
                 async_client: AsyncClient | None = None) -> None:
        if response_format not in ("url", "b64_json"):
            raise ValueError(f"response_format must be 'url' or 'b64_json'; got {response_format!r}")
        self.model = model
        self.size = size
        self.response_format = response_format
        self.output_dir = Path(output_dir).expanduser().resolve()
        self.image_blocks = image_blocks
        self._settings: dict[str, Any] = {"api_key": api_key, "base_url": base_url, "timeout": timeout,
                                          "max_retries": max_retries}
        self.client = client
        self.async_client = async_client
        self._lazy = LazyClient()
        self._alazy = LazyAsyncClient()

    def __repr__(self) -> str:
        return (f"IndoxImageToolSpec(model={self.model!r}, size={self.size!r}, "
                f"response_format={self.response_format!r}, output_dir={str(self.output_dir)!r})")

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

    def _request(self, size: str | None, n: int) -> dict[str, Any]:
        return {"model": self.model, "size": size or self.size, "n": n, "response_format": self.response_format}

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
        n: Annotated[int, Field(description="How many images to generate (1 to 10).", ge=1, le=10)] = 1,
    ) -> str | list[ImageBlock]:
        """Generate images from a text description. Use it when the user asks for a picture, drawing, photo
        or illustration. Returns where each image is: its URL, or the path of the saved PNG file, one per line."""
        return self._result(self.indox_client.image(prompt, **self._request(size, n)), prompt)

    async def agenerate_image(
        self,
        prompt: Annotated[str, Field(description="A detailed description of the image to generate.")],
        size: Annotated[str | None, Field(description="WIDTHxHEIGHT, e.g. '1024x1024'; omit for the default.")] = None,
        n: Annotated[int, Field(description="How many images to generate (1 to 10).", ge=1, le=10)] = 1,
    ) -> str | list[ImageBlock]:
        """Generate images from a text description. Returns the image URL or saved file path, one per line."""
        client = await self.aindox_client()
        return self._result(await client.image(prompt, **self._request(size, n)), prompt)
