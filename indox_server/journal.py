"""The request journal: what clients sent, so tests can check the wire, with every secret redacted.

Each entry is ``{"method", "path", "query", "headers", "body", "body_truncated"}``:
``path`` as received (``/api/v1/chat/completions``), ``headers`` as
``[name, value]`` pairs with lower-case names, ``body`` the exact text
received (UTF-8). Secrets never enter it in clear: the ``X-API-Key`` header,
the token of ``Authorization``, every cookie value, the form fields of a
login (``username``, ``password``) and JSON string fields named
``byok_api_key`` or ``api_key`` become :func:`redacted` markers. A marker
depends only on the secret, so two requests that were byte for byte the same
still have equal journal bodies, and a test can look for ``redacted(key)``.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import deque
from collections.abc import MutableMapping
from typing import Any
from urllib.parse import quote_plus, unquote_plus

SECRET_JSON_FIELDS = ("byok_api_key", "api_key")
SECRET_FORM_FIELDS = ("username", "password", "api_key", "byok_api_key")
_NAMES = "|".join(SECRET_JSON_FIELDS)
_JSON_SECRET_RE = re.compile(rf'("(?:{_NAMES})"\s*:\s*)"((?:[^"\\]|\\.)*)"')


def redacted(secret: str) -> str:
    """What the journal shows instead of ``secret``: a marker naming a short hash of it."""
    return f"[redacted:{hashlib.sha256(secret.encode('utf-8')).hexdigest()[:12]}]"


def _redact_header(name: str, value: str) -> str:
    if name in ("x-api-key", "proxy-authorization"):
        return redacted(value)
    if name == "authorization":
        scheme, space, credential = value.partition(" ")
        return f"{scheme} {redacted(credential.strip())}" if space else redacted(value)
    if name == "cookie":
        cookies = (part.strip().partition("=") for part in value.split(";") if part.strip())
        return "; ".join(f"{key}={redacted(val)}" if eq else key for key, eq, val in cookies)
    return value


def _redact_form(text: str) -> str:
    def one(pair: str) -> str:
        key, eq, value = pair.partition("=")
        if eq and unquote_plus(key) in SECRET_FORM_FIELDS:
            return f"{key}={quote_plus(redacted(unquote_plus(value)))}"
        return pair

    return "&".join(one(pair) for pair in text.split("&"))


def _redact_json(text: str) -> str:
    def one(match: re.Match[str]) -> str:
        try:
            secret = json.loads(f'"{match.group(2)}"')
        except ValueError:
            secret = match.group(2)
        return f'{match.group(1)}"{redacted(secret)}"'

    kept = _JSON_SECRET_RE.sub(one, text)
    if not _clean(kept):  # a field name written with escapes: give up the exact text
        value = json.loads(text)
        _redact_value(value)
        return json.dumps(value, ensure_ascii=False)
    return kept


def _clean(text: str) -> bool:
    """Whether no secret field of the JSON ``text`` still holds a value in clear."""
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):
        return True  # not JSON: the pattern above is all that can be done
    return not _redact_value(value)


def _redact_value(value: Any) -> bool:
    """Redact the secret fields of a decoded JSON ``value`` in place; whether there were any in clear."""
    stack, found = [value], False
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            for key, child in item.items():
                if key in SECRET_JSON_FIELDS and isinstance(child, str) and not child.startswith("[redacted:"):
                    item[key], found = redacted(child), True
                else:
                    stack.append(child)
        elif isinstance(item, list):
            stack.extend(item)
    return found


def redact_body(text: str, content_type: str) -> str:
    if content_type.startswith("application/x-www-form-urlencoded"):
        return _redact_form(text)
    suspect = "\\u" in text or any(name in text for name in SECRET_JSON_FIELDS)
    return _redact_json(text) if suspect else text


class Journal:
    """The last ``capacity`` requests received (all but the ``/_local`` switches), oldest first.

    Bodies are kept up to ``body_limit`` bytes each, so a long benchmark run stays small.
    """

    def __init__(self, capacity: int = 1000, body_limit: int = 256 * 1024) -> None:
        self._entries: deque[dict[str, Any]] = deque(maxlen=capacity)
        self.body_limit = body_limit

    def record(self, scope: MutableMapping[str, Any], body: bytes) -> None:
        headers = [(k.decode("latin-1").lower(), v.decode("latin-1")) for k, v in scope.get("headers", [])]
        content_type = next((v for k, v in headers if k == "content-type"), "")
        text = redact_body(body.decode("utf-8", "replace"), content_type.lower())
        kept = text.encode("utf-8")
        self._entries.append({
            "method": scope["method"], "path": scope["path"],
            "query": scope.get("query_string", b"").decode("latin-1"),
            "headers": [[k, _redact_header(k, v)] for k, v in headers],
            "body": kept[: self.body_limit].decode("utf-8", "ignore"),
            "body_truncated": len(kept) > self.body_limit,
        })

    def entries(self) -> list[dict[str, Any]]:
        return list(self._entries)

    def clear(self) -> None:
        self._entries.clear()
