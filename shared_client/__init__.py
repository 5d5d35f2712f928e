"""The indoxRouter client: one API key, many providers' models, one ``provider/model`` naming.

    from shared_client import Client
    with Client(api_key="...") as client:
        print(client.chat([{"role": "user", "content": "Hi"}], model="openai/gpt-4o-mini").data)
"""

from typing import TYPE_CHECKING, Any

from ._client import Client, IndoxRouter
from ._config import DEFAULT_BASE_URL
from ._streaming import ChunkStream
from .exceptions import (
    APIError,
    AuthenticationError,
    IndoxRouterError,
    InsecureBaseURLWarning,
    InsufficientCreditsError,
    InvalidParametersError,
    ModelNotAvailableError,
    ModelNotFoundError,
    NetworkError,
    ProviderError,
    ProviderNotFoundError,
    RateLimitError,
    RequestTimeoutError,
    ValidationError,
)
from .models import (
    ChatMessage,
    ChatResponse,
    CompletionResponse,
    EmbeddingResponse,
    ImageResponse,
    ModelInfo,
    StreamChunk,
    Usage,
)

if TYPE_CHECKING:
    from ._async_client import AsyncClient
    from ._async_streaming import AsyncChunkStream

__version__ = "0.1.0"

__all__ = [
    "DEFAULT_BASE_URL",
    "APIError",
    "AsyncChunkStream",
    "AsyncClient",
    "AuthenticationError",
    "ChatMessage",
    "ChatResponse",
    "ChunkStream",
    "Client",
    "CompletionResponse",
    "EmbeddingResponse",
    "ImageResponse",
    "IndoxRouter",
    "IndoxRouterError",
    "InsecureBaseURLWarning",
    "InsufficientCreditsError",
    "InvalidParametersError",
    "ModelInfo",
    "ModelNotAvailableError",
    "ModelNotFoundError",
    "NetworkError",
    "ProviderError",
    "ProviderNotFoundError",
    "RateLimitError",
    "RequestTimeoutError",
    "StreamChunk",
    "Usage",
    "ValidationError",
]


def __getattr__(name: str) -> Any:
    """``AsyncClient`` and ``AsyncChunkStream`` load httpx: only when asked for, so the sync
    client alone imports in half the time."""
    if name == "AsyncClient":
        from ._async_client import AsyncClient

        return AsyncClient
    if name == "AsyncChunkStream":
        from ._async_streaming import AsyncChunkStream

        return AsyncChunkStream
    raise AttributeError(f"module 'shared_client' has no attribute {name!r}")
