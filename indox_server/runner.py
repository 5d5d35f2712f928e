"""Starting and stopping a local server, in this process or as a subprocess.

``LocalServer`` is the handle fixtures, the demo and the benchmarks use::

    with LocalServer() as server:          # a thread in this process
        Client(api_key=server.api_key, base_url=server.base_url)   # base_url: the origin

    with LocalServer(subprocess=True):     # its own process, e.g. for benchmarks
        ...

The test switches (faults, the request journal, ending sessions, minimal
mode) go over HTTP (``/_local/...``, loopback only, with the server's own
``X-API-Key``), so they work the same in both modes.
"""

from __future__ import annotations

import contextlib
import json
import socket
import subprocess as sp
import sys
import threading
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from types import TracebackType
from typing import Any

from .accounts import DEFAULT_API_KEY
from .journal import redacted


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP explicitly: asyncio sets TCP_NODELAY only on sockets that say so, and
    # without it Nagle holds the first streamed event back for a delayed ACK (~40 ms).
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def origin_of(host: str, port: int) -> str:
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}"


def serve(host: str, port: int, config: Any, on_ready: Callable[[str], None],
          log_level: str = "warning", stop_event: threading.Event | None = None,
          holder: list[Any] | None = None) -> None:
    """Run a server until it is told to stop; ``on_ready(origin)`` once it listens."""
    import uvicorn  # the [server] extra; imported only when a server really starts

    from .app import create_app

    sock = _bind(host, port)
    url = origin_of(host, sock.getsockname()[1])

    class _Server(uvicorn.Server):
        async def startup(self, sockets: list[socket.socket] | None = None) -> None:
            await super().startup(sockets)
            if self.started:
                on_ready(url)

    server = _Server(uvicorn.Config(create_app(config), log_level=log_level, access_log=False,
                                    lifespan="off", timeout_graceful_shutdown=2))
    if holder is not None:
        holder.append(server)
    try:
        server.run(sockets=[sock])
    finally:
        sock.close()


class LocalServer:
    """A running local indoxRouter server: its ``base_url`` (the origin), ``api_key`` and test switches.

    ``minimal=True`` starts it in minimal mode (see ``indox_server.responses``);
    ``set_minimal`` switches that at run time.
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0, *,
                 api_keys: Sequence[str] = (DEFAULT_API_KEY,), token_ttl: float = 3600.0,
                 rate_limit: int = 100_000, rate_window: float = 60.0, credits: float = 100.0,
                 minimal: bool = False, subprocess: bool = False, startup_timeout: float = 30.0) -> None:
        self.host = host
        self.port = port
        self.api_keys = tuple(api_keys)
        self.token_ttl = token_ttl
        self.rate_limit = rate_limit
        self.rate_window = rate_window
        self.credits = credits
        self.minimal = minimal  # as started; set_minimal() changes the server's mode
        self.subprocess = subprocess
        self.startup_timeout = startup_timeout
        self.base_url = ""
        self._thread: threading.Thread | None = None
        self._servers: list[Any] = []
        self._process: sp.Popen[str] | None = None

    @property
    def api_key(self) -> str:
        return self.api_keys[0]

    @property
    def root_url(self) -> str:
        """The server's origin (an alias of ``base_url``), where the ``/_local`` switches live."""
        return self.base_url

    @property
    def api_root(self) -> str:
        """Where the API lives: the origin plus ``/api/v1``."""
        return self.base_url + "/api/v1"

    def start(self) -> LocalServer:
        if self.subprocess:
            self._start_process()
        else:
            self._start_thread()
        return self

    def _start_thread(self) -> None:
        from .state import ServerConfig

        config = ServerConfig(self.api_keys, self.token_ttl, self.rate_limit, self.rate_window, self.credits,
                              self.minimal)
        ready = threading.Event()
        failure: list[BaseException] = []

        def on_ready(url: str) -> None:
            self.base_url = url
            ready.set()

        def run() -> None:
            try:
                serve(self.host, self.port, config, on_ready, holder=self._servers)
            except BaseException as exc:  # reported to the starting thread below
                failure.append(exc)
                ready.set()

        self._thread = threading.Thread(target=run, name="indox-local-server", daemon=True)
        self._thread.start()
        if not ready.wait(self.startup_timeout) or failure:
            raise RuntimeError(f"The local server did not start: {failure[0] if failure else 'timed out'}")

    def _start_process(self) -> None:
        command = [sys.executable, "-m", "indox_server", "--host", self.host,
                   "--port", str(self.port), "--token-ttl", str(self.token_ttl),
                   "--rate-limit", str(self.rate_limit), "--credits", str(self.credits)]
        for key in self.api_keys:
            command += ["--api-key", key]
        if self.minimal:
            command.append("--minimal")
        self._process = sp.Popen(command, stdout=sp.PIPE, text=True)
        line: list[str] = []
        reader = threading.Thread(target=lambda: line.append(self._process.stdout.readline()),  # type: ignore[union-attr]
                                  daemon=True)
        reader.start()
        reader.join(self.startup_timeout)
        if not line or not line[0].startswith("http"):
            self.stop()
            raise RuntimeError("The local server subprocess did not report its origin.")
        self.base_url = line[0].strip()

    def stop(self) -> None:
        for server in self._servers:
            server.should_exit = True
        if self._thread is not None:
            self._thread.join(10)
            self._thread = None
        self._servers.clear()
        if self._process is not None:
            self._process.terminate()
            try:
                self._process.wait(10)
            except sp.TimeoutExpired:
                self._process.kill()
                self._process.wait()
            if self._process.stdout is not None:
                self._process.stdout.close()
            self._process = None

    def __enter__(self) -> LocalServer:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    # --- test switches, over HTTP so both modes behave the same ------------------------------

    def _call(self, method: str, path: str, body: Any = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.root_url + path, data=data, method=method,
                                         headers={"Content-Type": "application/json", "X-API-Key": self.api_key})
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read())

    def inject_fault(self, kind: str, **spec: Any) -> None:
        """Switch on a fault (see ``indox_server.faults`` for the kinds and fields).

        Its ``path`` is relative to the API root (``/chat/completions``, ``/auth/api-key``), ``"*"`` for all.
        """
        self._call("POST", "/_local/faults", {"kind": kind, **spec})

    def clear_faults(self) -> None:
        self._call("DELETE", "/_local/faults")

    def pending_faults(self) -> list[dict[str, Any]]:
        return list(self._call("GET", "/_local/faults")["pending"])

    def journal(self) -> list[dict[str, Any]]:
        """The requests received, oldest first, secrets redacted (see ``indox_server.journal``).

        Each is ``{"method", "path", "query", "headers", "body", "body_truncated"}``, ``path`` as
        received (``/api/v1/chat/completions``), ``headers`` as ``[name, value]`` pairs.
        """
        return list(self._call("GET", "/_local/journal"))

    def clear_journal(self) -> None:
        self._call("DELETE", "/_local/journal")

    def expire_tokens(self) -> None:
        """End every session issued so far (401 on its next use); new logins work as before."""
        self._call("POST", "/_local/expire-tokens")

    def set_minimal(self, on: bool = True) -> None:
        """Switch minimal mode on or off for every request from now on."""
        self._call("POST", "/_local/minimal", {"minimal": on})

    def is_minimal(self) -> bool:
        return bool(self._call("GET", "/_local/minimal")["minimal"])

    @contextlib.contextmanager
    def minimal_mode(self, on: bool = True) -> Iterator[LocalServer]:
        """``with server.minimal_mode():`` minimal mode inside the block, the mode before it after."""
        before = self.is_minimal()
        self.set_minimal(on)
        try:
            yield self
        finally:
            self.set_minimal(before)

    @staticmethod
    def redacted(secret: str) -> str:
        """What the journal shows in place of ``secret`` (an API key, a token, a ``byok_api_key``)."""
        return redacted(secret)
