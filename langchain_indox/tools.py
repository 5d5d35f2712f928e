"""``IndoxImageTool``: indoxRouter image generation as a LangChain tool for agents."""

from __future__ import annotations

from typing import Any, Literal

from langchain_core.callbacks import CallbackManagerForToolRun
from langchain_core.tools import BaseTool
from pydantic import BaseModel, Field

from shared_client.integration import DEFAULT_IMAGE_DIR, save_images

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

    ``response_format`` is ``"url"`` (the default: the tool returns the image's URL),
    ``"b64_json"`` (the image is saved in ``output_dir`` and its absolute path
    returned), or ``"content_and_artifact"`` (saved as for ``b64_json``, and the
    image itself travels as the tool message's artifact: a list of base64 image
    content blocks). With ``n`` above 1, one result per line.
    """

    name: str = "generate_image"
    description: str = DESCRIPTION
    args_schema: type[BaseModel] = ImageToolInput
    model: str = Field(default="openai/dall-e-3", alias="model_name")
    size: str = "1024x1024"
    n: int = 1
    response_format: Literal["url", "b64_json", "content", "content_and_artifact"] = "url"  # type: ignore[assignment]
    output_dir: str = DEFAULT_IMAGE_DIR
    model_kwargs: dict[str, Any] = Field(default_factory=dict)

    def _run(self, prompt: str, size: str | None = None,
             run_manager: CallbackManagerForToolRun | None = None) -> Any:
        wire_format = "url" if self.response_format in ("url", "content") else "b64_json"
        response = self.indox_client.image(prompt, model=self.model, size=size or self.size,
                                           n=self.n, response_format=wire_format, **self.model_kwargs)
        locations = save_images(response, self.output_dir, prompt)
        text = "\n".join(locations)
        if self.response_format != "content_and_artifact":
            return text
        artifact = [{"type": "image", "base64": item, "mime_type": "image/png"} for item in response.data
                    if not item.startswith(("http://", "https://"))]
        return text, artifact


__all__ = ["ImageToolInput", "IndoxImageTool"]
