"""``IndoxImageTool``: indoxRouter image generation as a LangChain tool for agents."""

from __future__ import annotations

import warnings
from typing import Any, Literal

from langchain_core.callbacks import AsyncCallbackManagerForToolRun, CallbackManagerForToolRun
from langchain_core.tools import BaseTool
from pydantic import BaseModel, Field, model_validator

from shared_client import ImageResponse
from shared_client.integration import image_request, save_images

from ._connection import IndoxConnection

DESCRIPTION = (
    "Generates an image from a text description and returns where it is: a URL, or the path of "
    "the saved PNG file. Use it when the user asks for a picture, drawing, photo or illustration. "
    "Input: a detailed description of the image; optionally its size as WIDTHxHEIGHT."
)


class ImageToolInput(BaseModel):
    prompt: str = Field(description="A detailed description of the image to generate.")
    size: str | None = Field(default=None, description="Image size as WIDTHxHEIGHT, e.g. '1024x1024'. "
                             "Leave out for the tool's default.")


class IndoxImageTool(IndoxConnection, BaseTool):
    """Lets an agent generate images with an indoxRouter image model.

    The same fields and defaults as LlamaIndex's ``IndoxImageToolSpec``: ``model``, ``size``,
    ``n``, ``image_format`` and ``output_dir``. ``image_format`` is what the router returns:
    ``"url"`` (the default: the tool returns the image's URL) or ``"b64_json"`` (the image
    is saved as a PNG in ``output_dir``, a temporary folder unless given, and its absolute
    path returned). With ``n`` above 1, one result per line.

    ``response_format`` keeps ``BaseTool``'s meaning: ``"content"`` (the default: the text
    above) or ``"content_and_artifact"`` (the tool message also carries the images as its
    artifact, a list of image content blocks: base64 for saved images, else URLs).
    ``ainvoke`` runs natively on ``shared_client.AsyncClient``.
    """

    name: str = "generate_image"
    description: str = DESCRIPTION
    args_schema: type[BaseModel] = ImageToolInput
    model: str = Field(default="openai/dall-e-3", alias="model_name")
    size: str = "1024x1024"
    n: int = 1
    image_format: Literal["url", "b64_json"] = "url"
    """What the router returns: image URLs, or base64 images saved as files in ``output_dir``."""
    output_dir: str | None = None
    """Where base64 images are saved; a temporary folder of this process unless given."""
    model_kwargs: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _image_format_once_given_as_response_format(cls, data: Any) -> Any:
        """``response_format="url"``/``"b64_json"`` meant ``image_format`` in earlier releases."""
        if isinstance(data, dict) and data.get("response_format") in ("url", "b64_json"):
            warnings.warn("IndoxImageTool(response_format='url'/'b64_json') is deprecated: pass image_format=... "
                          "(response_format keeps BaseTool's meaning, 'content' or 'content_and_artifact')",
                          DeprecationWarning, stacklevel=2)
            data = dict(data)
            data.setdefault("image_format", data.pop("response_format"))
            data.pop("response_format", None)
        return data

    def _request(self, prompt: str, size: str | None) -> dict[str, Any]:
        return image_request(prompt, model=self.model, size=size or self.size, n=self.n,
                             image_format=self.image_format, extra=self.model_kwargs)

    def _output(self, response: ImageResponse, prompt: str) -> str | tuple[str, list[dict[str, Any]]]:
        text = "\n".join(save_images(response, self.output_dir, prompt))
        if self.response_format != "content_and_artifact":
            return text
        artifact: list[dict[str, Any]] = [
            {"type": "image", "url": item} if item.startswith(("http://", "https://"))
            else {"type": "image", "base64": item, "mime_type": "image/png"}
            for item in response.data]
        return text, artifact

    def _run(self, prompt: str, size: str | None = None,
             run_manager: CallbackManagerForToolRun | None = None) -> Any:
        return self._output(self.indox_client.image(**self._request(prompt, size)), prompt)

    async def _arun(self, prompt: str, size: str | None = None,
                    run_manager: AsyncCallbackManagerForToolRun | None = None) -> Any:
        client = await self._aindox_client()
        return self._output(await client.image(**self._request(prompt, size)), prompt)


__all__ = ["ImageToolInput", "IndoxImageTool"]
