"""A local indoxRouter-compatible server with deterministic local models.

Run it with ``python -m shared_client.server`` or start it from Python with
:class:`LocalServer`. It needs the ``[server]`` extra (Starlette and uvicorn);
nothing here is imported by ``shared_client`` itself.
"""

from .accounts import DEFAULT_API_KEY
from .runner import LocalServer
from .state import ServerConfig

__all__ = ["DEFAULT_API_KEY", "LocalServer", "ServerConfig", "create_app"]


def __getattr__(name: str) -> object:
    if name == "create_app":  # imports Starlette; only when asked for
        from .app import create_app

        return create_app
    raise AttributeError(name)
