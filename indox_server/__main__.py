"""``python -m indox_server`` (or the ``indox-server`` script): serve docs/protocol.md locally until interrupted."""

from __future__ import annotations

import argparse
import errno
import importlib
import sys

from ._ports import holder_of
from .accounts import DEFAULT_API_KEY, DEFAULT_CREDITS
from .runner import serve
from .state import ServerConfig

SERVER_EXTRA = ("starlette", "uvicorn")  # what the [server] extra installs


def missing_server_extra() -> list[str]:
    """The modules of the ``[server]`` extra that are not installed."""
    missing = []
    for name in SERVER_EXTRA:
        try:
            importlib.import_module(name)
        except ImportError:
            missing.append(name)
    return missing


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m indox_server",
        description="A local indoxRouter-compatible server with deterministic local models, serving "
                    "the API under http://HOST:PORT/api/v1; prints its origin http://HOST:PORT once ready.")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8765, help="port (default 8765; 0 picks a free one)")
    parser.add_argument("--api-key", action="extend", nargs="+", dest="api_keys", metavar="KEY",
                        help=f"API keys to accept, each its own account: --api-key A B, or the flag "
                             f"repeated (default {DEFAULT_API_KEY})")
    parser.add_argument("--token-ttl", type=float, default=3600.0, metavar="SECONDS",
                        help="lifetime of sessions (default 3600)")
    parser.add_argument("--rate-limit", type=int, default=100_000, metavar="N",
                        help="requests per minute per caller (default 100000)")
    parser.add_argument("--credits", type=float, default=DEFAULT_CREDITS, metavar="USD",
                        help=f"credits of each account (default {DEFAULT_CREDITS})")
    parser.add_argument("--minimal", action="store_true",
                        help="answer like a minimal server: no usage, no error type or request id, no embedding "
                             "index, tool calls only in raw_response (the test switches can change it)")
    parser.add_argument("--log-level", default="warning", help="uvicorn's log level (default warning)")
    args = parser.parse_args(argv)
    if args.token_ttl <= 0 or args.rate_limit < 1:
        parser.error("--token-ttl must be positive and --rate-limit at least 1")
    missing = missing_server_extra()
    if missing:
        print(f"error: the local server needs {' and '.join(missing)}: install the server extra with "
              f"pip install \".[server]\" (or pip install \"indox-integrations[server]\")", file=sys.stderr)
        return 1
    config = ServerConfig(api_keys=tuple(args.api_keys or (DEFAULT_API_KEY,)), token_ttl=args.token_ttl,
                          rate_limit=args.rate_limit, credits=args.credits, minimal=args.minimal)

    def announce(origin: str) -> None:
        print(origin, flush=True)  # the first line: LocalServer(subprocess=True) reads it
        key = config.api_keys[0] if config.api_keys[0] == DEFAULT_API_KEY else "<one of your --api-key values>"
        print(f"\n# Point the client, the demo and the samples at this server:\n"
              f"export INDOX_ROUTER_BASE_URL={origin}\nexport INDOX_ROUTER_API_KEY={key}\n", flush=True)

    try:
        serve(args.host, args.port, config, announce, log_level=args.log_level)
    except OSError as exc:
        message = f"error: cannot listen on {args.host}:{args.port}: {exc.strerror or exc}"
        if exc.errno == errno.EADDRINUSE:
            holder = holder_of(args.port)
            message += (f"; it is held by {holder}: stop that process, or pick another --port" if holder
                        else "; another process listens there: stop it, or pick another --port")
        print(message, file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        pass
    return 0


def run() -> None:
    """The ``indox-server`` console script."""
    sys.exit(main())


if __name__ == "__main__":
    run()
