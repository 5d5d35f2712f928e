"""``IndoxImageToolSpec``: indoxRouter image generation as LlamaIndex agent tools.

No ``from __future__ import annotations`` here: LlamaIndex reads the tool functions'
annotations at run time to build their argument schemas.
"""


import asyncio
from pathlib import Path
from typing import Annotated, Any, Literal

from llama_index.core.base.llms.types import ImageBlock
from llama_index.core.bridge.pydantic import Field
from llama_index.core.tools.tool_spec.base import SPEC_FUNCTION_TYPE, BaseToolSpec
from llama_index.core.tools.types import ToolMetadata
from llama_index.core.tools.utils import create_schema_from_function

from shared_client import Client
from shared_client.integration import DEFAULT_IMAGE_DIR, LazyClient, save_images


class IndoxImageToolSpec(BaseToolSpec):
    """Image generation for agents: ``to_tool_list()`` gives ``generate_image`` (sync and async).

    The tool returns a plain string: the image's URL, or for base64 replies the
    absolute path of the PNG saved in ``output_dir`` (one line per image, all
    ``n`` of them). With ``image_blocks=True`` it returns ``ImageBlock``s instead,
    for multimodal agents.
    """

    spec_functions: list[SPEC_FUNCTION_TYPE] = [("generate_image", "agenerate_image")]  # noqa: RUF012 (base declares it)

    def __init__(self, model: str = "openai/dall-e-3", size: str = "1024x1024",
                 response_format: Literal["url", "b64_json"] = "url", output_dir: str | Path = DEFAULT_IMAGE_DIR,
                 *, image_blocks: bool = False, api_key: str | None = None, base_url: str | None = None,
                 timeout: float | None = 15, max_retries: int = 2, client: Client | None = None) -> None:
        if response_format not in ("url", "b64_json"):
            raise ValueError(f"response_format must be 'url' or 'b64_json'; got {response_format!r}")
        self.model = model
        self.size = size
        self.response_format = response_format
        self.output_dir = Path(output_dir).expanduser().resolve()
        self.image_blocks = image_blocks
        self._settings: dict[str, Any] = {"api_key": api_key, "base_url": base_url, "timeout": timeout,
                                          "max_retries": max_retries, "client": client}
        self._lazy = LazyClient()

    def __repr__(self) -> str:
        return (f"IndoxImageToolSpec(model={self.model!r}, size={self.size!r}, "
                f"response_format={self.response_format!r}, output_dir={str(self.output_dir)!r})")

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_settings": {**self._settings, "client": None}}

    def get_metadata_from_fn_name(self, fn_name: str,
                                  spec_functions: list[SPEC_FUNCTION_TYPE] | None = None) -> ToolMetadata | None:
        """The tool's name, its docstring as a short description, and its described arguments
        (the default would put the whole Python signature into the description)."""
        func = getattr(self, fn_name)
        return ToolMetadata(name=fn_name, description=" ".join((func.__doc__ or "").split()),
                            fn_schema=create_schema_from_function(fn_name, func))

    @property
    def indox_client(self) -> Client:
        import os

        settings = dict(self._settings)
        settings["api_key"] = settings["api_key"] or os.environ.get("INDOX_ROUTER_API_KEY")
        settings["base_url"] = settings["base_url"] or os.environ.get("INDOX_ROUTER_BASE_URL")
        return self._lazy.get(**settings)

    def generate_image(
        self,
        prompt: Annotated[str, Field(description="A detailed description of the image to generate.")],
        size: Annotated[str | None, Field(description="WIDTHxHEIGHT, e.g. '1024x1024'; omit for the default.")] = None,
        n: Annotated[int, Field(description="How many images to generate (1 to 10).", ge=1, le=10)] = 1,
    ) -> str | list[ImageBlock]:
        """Generate images from a text description. Use it when the user asks for a picture, drawing, photo
        or illustration. Returns where each image is: its URL, or the path of the saved PNG file, one per line."""
        response = self.indox_client.image(prompt, model=self.model, size=size or self.size, n=n,
                                           response_format=self.response_format)
        locations = save_images(response, self.output_dir, prompt)
        if not self.image_blocks:
            return "\n".join(locations)
        return [ImageBlock(url=place) if place.startswith(("http://", "https://")) else ImageBlock(path=Path(place))
                for place in locations]

    async def agenerate_image(
        self,
        prompt: Annotated[str, Field(description="A detailed description of the image to generate.")],
        size: Annotated[str | None, Field(description="WIDTHxHEIGHT, e.g. '1024x1024'; omit for the default.")] = None,
        n: Annotated[int, Field(description="How many images to generate (1 to 10).", ge=1, le=10)] = 1,
    ) -> str | list[ImageBlock]:
        """Generate images from a text description. Returns the image URL or saved file path, one per line."""
        return await asyncio.to_thread(self.generate_image, prompt, size, n)
