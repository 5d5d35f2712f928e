"""The client's settings and their defaults, written once for ``Client``, ``AsyncClient`` and the adapters."""

from __future__ import annotations

import ipaddress
import os
import urllib.parse
import warnings
from dataclasses import dataclass
from typing import Any

from pydantic import SecretStr

from .exceptions import AuthenticationError, InsecureBaseURLWarning, InvalidParametersError

DEFAULT_BASE_URL = "https://api.indoxrouter.com/v1"
DEFAULT_TIMEOUT = 15.0
DEFAULT_MAX_RETRIES = 2
API_KEY_ENV = "INDOX_ROUTER_API_KEY"
BASE_URL_ENV = "INDOX_ROUTER_BASE_URL"
SERVICE_HOST = "api.indoxrouter.com"
API_ROOT_PATH = "/api/v1"
LOCAL_SERVER_KEY = "indox-local-key"


@dataclass(frozen=True)
class Settings:
    """What a client was configured with, checked; ``api_root`` is where every endpoint lives."""

    api_key: SecretStr
    base_url: str
    api_root: str
    timeout: float | tuple[float, float]
    connect_timeout: float
    read_timeout: float
    auto_refresh: bool
    max_retries: int

    @property
    def is_loopback(self) -> bool:
        return is_loopback(urllib.parse.urlsplit(self.api_root).hostname or "")


def resolve_settings(api_key: Any, base_url: Any, timeout: Any, auto_refresh: Any, max_retries: Any,
                     *, stacklevel: int = 4) -> Settings:
    key = api_key if api_key is not None else os.environ.get(API_KEY_ENV)
    if isinstance(key, SecretStr):
        key = key.get_secret_value()
    if not isinstance(key, str) or not key.strip():
        raise AuthenticationError(f"No API key: pass api_key=... or set {API_KEY_ENV}.")
    if isinstance(max_retries, bool) or not isinstance(max_retries, int) or max_retries < 0:
        raise InvalidParametersError(f"max_retries must be a whole number >= 0; got {max_retries!r}.")
    connect, read = _timeouts(timeout)
    url = _base_url(base_url, stacklevel)
    return Settings(api_key=SecretStr(key.strip()), base_url=url, api_root=api_root_of(url), timeout=timeout,
                    connect_timeout=connect, read_timeout=read, auto_refresh=bool(auto_refresh),
                    max_retries=max_retries)


def api_root_of(base_url: str) -> str:
    """docs/protocol.md section 1: no path -> ``/api/v1`` appended; the service's documented ``/v1``
    -> ``/api/v1``; any other path used as given."""
    parts = urllib.parse.urlsplit(base_url)
    path = parts.path.rstrip("/")
    if not path or (parts.hostname == SERVICE_HOST and path == "/v1"):
        path = API_ROOT_PATH
    return urllib.parse.urlunsplit((parts.scheme, parts.netloc, path, "", ""))


def _base_url(base_url: Any, stacklevel: int) -> str:
    if base_url is None or base_url == DEFAULT_BASE_URL:
        base_url = os.environ.get(BASE_URL_ENV) or DEFAULT_BASE_URL
    if not isinstance(base_url, str):
        raise InvalidParametersError(f"base_url must be a string; got {type(base_url).__name__}.")
    parts = urllib.parse.urlsplit(base_url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidParametersError(f"base_url must be an http:// or https:// URL; got {base_url!r}.")
    if parts.username or parts.password:
        raise InvalidParametersError("base_url must not carry credentials; pass api_key instead.")
    if parts.query or parts.fragment:
        raise InvalidParametersError(f"base_url must not have a query or fragment; got {base_url!r}.")
    if parts.scheme == "http" and not is_loopback(parts.hostname):
        warnings.warn(f"base_url {base_url!r} is plain http:// to another machine: the API key and tokens "
                      "would cross the network unencrypted. Use https://.", InsecureBaseURLWarning,
                      stacklevel=stacklevel)
    return base_url.strip().rstrip("/")


def _timeouts(timeout: Any) -> tuple[float, float]:
    values = timeout if isinstance(timeout, tuple) else (timeout, timeout)
    if len(values) != 2 or not all(isinstance(v, (int, float)) and not isinstance(v, bool) and v > 0
                                   for v in values):
        raise InvalidParametersError(f"timeout must be positive seconds, or a (connect, read) pair; got {timeout!r}.")
    return float(values[0]), float(values[1])


def is_loopback(host: str) -> bool:
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False
