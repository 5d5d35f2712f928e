"""What both image tools do alike: the request they send and where base64 images are saved."""

from __future__ import annotations

import base64
import hashlib
import os
import tempfile
from pathlib import Path
from typing import Any

from .exceptions import InvalidParametersError
from .models import ImageResponse

IMAGE_FORMATS = ("url", "b64_json")


def image_request(prompt: str, *, model: str, size: str, n: int, image_format: str,
                  extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """The ``Client.image`` arguments both image tools send."""
    if image_format not in IMAGE_FORMATS:
        raise InvalidParametersError(f"image_format must be 'url' or 'b64_json'; got {image_format!r}.")
    return {"prompt": prompt, "model": model, "size": size, "n": n, "response_format": image_format,
            **(extra or {})}


_TEMPORARY_IMAGE_DIR: tuple[int, Path] | None = None


def image_folder(output_dir: str | Path | None) -> Path:
    """Where base64 images are saved: ``output_dir``, else a temporary folder of this process
    (made on first use), so nothing lands in the working directory unasked."""
    global _TEMPORARY_IMAGE_DIR
    if output_dir is not None:
        return Path(output_dir).expanduser().resolve()
    if _TEMPORARY_IMAGE_DIR is None or _TEMPORARY_IMAGE_DIR[0] != os.getpid():
        _TEMPORARY_IMAGE_DIR = (os.getpid(), Path(tempfile.mkdtemp(prefix="indox-images-")))
    return _TEMPORARY_IMAGE_DIR[1]


def save_images(response: ImageResponse, output_dir: str | Path | None, prompt: str) -> list[str]:
    """URLs as they are; base64 images written as PNG files into :func:`image_folder`.
    Absolute paths or URLs, in order."""
    results: list[str] = []
    folder: Path | None = None
    for position, item in enumerate(response.data):
        if item.startswith(("http://", "https://")):
            results.append(item)
            continue
        if folder is None:
            folder = image_folder(output_dir)
            folder.mkdir(parents=True, exist_ok=True)
        png = base64.b64decode(item)
        digest = hashlib.sha256(png).hexdigest()[:12]
        slug = "-".join("".join(c if c.isalnum() else " " for c in prompt.lower()).split()[:6]) or "image"
        path = folder / f"{slug}-{digest}-{position}.png"
        path.write_bytes(png)
        results.append(str(path))
    return results
