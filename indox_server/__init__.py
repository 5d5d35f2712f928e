"""A local indoxRouter-compatible server with deterministic local models.

It serves docs/protocol.md version 2 under ``http://HOST:PORT/api/v1``. Run it with
``python -m indox_server`` (or the ``indox-server`` script) or start it from
Python with :class:`LocalServer`. It needs the ``[server]`` extra (Starlette and uvicorn);
it imports nothing of ``shared_client`` or the frameworks, and nothing there imports it.
"""

from .accounts import DEFAULT_API_KEY
from .journal import redacted
from .runner import LocalServer
from .state import ServerConfig

__all__ = ["DEFAULT_API_KEY", "LocalServer", "ServerConfig", "create_app", "redacted"]


def __getattr__(name: str) -> object:
    if name == "create_app":  # imports Starlette; only when asked for
        from .app import create_app

        return create_app
    raise AttributeError(name)
