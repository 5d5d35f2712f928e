"""Rule-based tool calls and JSON output of the local chat model.

The rules (documented in docs/local-server.md):

* ``tool_choice`` ``"none"`` never calls; a named function always calls that
  function; ``"required"`` / ``"any"`` always call the best-matching tool (the
  first one when none matches); ``"auto"`` (the default) calls a tool only when
  the last user message names it: its exact name, or a word of its name (with
  a few synonyms such as picture -> image). Several tools named outright are
  called together unless ``parallel_tool_calls`` is false.
* Under ``"auto"``, once the conversation ends in tool results, the model
  answers from them instead of calling again.
* Arguments come from the tool's JSON schema and the last user message:
  numbers in the order they appear, enum values mentioned, a place after
  "in"/"at" for location-like names, the subject after "image of" for
  prompt-like names, ``name is value`` phrases, quoted text (other than the
  property's own name), then schema defaults, then the message itself.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from typing import Any

from ..errors import invalid
from .text import STOPWORDS, stem, words

_NUMBER_RE = re.compile(r"(?<![\w.])-?\d+(?:\.\d+)?(?![\w])")
_QUOTED_RE = re.compile(r"\"([^\"]+)\"|'([^']{2,})'|`([^`]+)`")
_PLACE_RE = re.compile(r"\b(?:in|at|for|near)\s+([A-Z][\w.'-]*(?:(?:\s+|,\s*)[A-Z][\w.'-]*)*)")
_SUBJECT_RE = re.compile(
    r"\b(?:image|picture|photo|drawing|painting|illustration|sketch)\s+(?:of|showing)\s+(.+?)[.!?]*\s*$",
    re.IGNORECASE | re.DOTALL,
)
_INSTRUCTION_RE = re.compile(r"\s*\b(?:please\s+)?use (?:the|a|your) tools?\b[.!]?", re.IGNORECASE)
_CAMEL_RE = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_LOCATION_NAMES = {"location", "city", "place", "address", "where", "region", "country"}
_SUBJECT_NAMES = {"prompt", "description", "subject", "query", "text", "input", "topic"}
SYNONYMS = {
    "picture": "image", "photo": "image", "drawing": "image", "draw": "image",
    "paint": "image", "painting": "image", "illustration": "image", "illustrate": "image",
    "sketch": "image", "plus": "add", "sum": "add", "times": "multiply", "product": "multiply",
    "forecast": "weather", "temperature": "weather",
}


def _normalised_words(text: str) -> set[str]:
    """The text's words stemmed, plus the tool word each synonym stands for (looked up before
    stemming, which would turn ``times`` into ``time``; stemmed after, as tool names are)."""
    raw = words(text)
    return {stem(w) for w in raw} | {stem(SYNONYMS[w]) for w in raw if w in SYNONYMS}


def name_words(name: str) -> set[str]:
    spaced = _CAMEL_RE.sub(" ", name).replace("_", " ").replace("-", " ")
    return {stem(w) for w in words(spaced) if w not in STOPWORDS and len(w) > 2}


class _Numbers:
    """The numbers of a message, handed out in order."""

    def __init__(self, text: str) -> None:
        self._values = _NUMBER_RE.findall(text)

    def take(self) -> str | None:
        return self._values.pop(0) if self._values else None

    def rest(self) -> list[str]:
        values, self._values = self._values, []
        return values


class SchemaFiller:
    """Builds a value that satisfies a JSON schema from one message's text."""

    def __init__(self, root: dict[str, Any], text: str, fallback_text: str | None = None,
                 fill_optional: bool = False) -> None:
        self.root = root
        self.text = text
        self.clean_text = _INSTRUCTION_RE.sub("", text).strip() or text.strip()
        self.fallback_text = fallback_text if fallback_text is not None else self.clean_text
        self.fill_optional = fill_optional
        self.numbers = _Numbers(text)

    def fill(self) -> Any:
        return self._value(self.root, "", depth=0)[0]

    def _resolve(self, schema: dict[str, Any]) -> dict[str, Any]:
        seen = 0
        while isinstance(schema, dict) and "$ref" in schema and seen < 32:
            ref = schema["$ref"]
            target: Any = self.root
            for part in ref.lstrip("#/").split("/"):
                target = target.get(part, {}) if isinstance(target, dict) else {}
            schema, seen = target, seen + 1
        if not isinstance(schema, dict):
            return {}
        for key in ("anyOf", "oneOf"):
            options = [o for o in schema.get(key, []) if self._resolve(o).get("type") != "null"]
            if options:
                merged = {k: v for k, v in schema.items() if k != key}
                return {**self._resolve(options[0]), **merged}
        if "allOf" in schema:
            merged = {k: v for k, v in schema.items() if k != "allOf"}
            for part in schema["allOf"]:
                merged = {**self._resolve(part), **merged}
            return merged
        return schema

    def _value(self, schema: dict[str, Any], name: str, depth: int) -> tuple[Any, bool]:
        """The value for one schema, and whether the message really supplied it."""
        schema = self._resolve(schema)
        kind = schema.get("type")
        if isinstance(kind, list):
            kind = next((k for k in kind if k != "null"), None)
        if "const" in schema:
            return schema["const"], True
        if schema.get("enum"):
            return self._enum(schema["enum"])
        if kind == "object" or (kind is None and "properties" in schema):
            return self._object(schema, depth)
        if kind == "array":
            return self._array(schema, name, depth)
        if kind in ("integer", "number"):
            return self._number(schema, kind)
        if kind == "boolean":
            said = bool({"true", "yes"} & set(words(self.text)))
            return schema.get("default", said), said
        if kind == "null":
            return None, False
        return self._string(schema, name)

    def _enum(self, options: list[Any]) -> tuple[Any, bool]:
        lowered = self.text.lower()
        for option in options:
            if str(option).lower() in lowered:
                return option, True
        return options[0], False

    def _object(self, schema: dict[str, Any], depth: int) -> tuple[Any, bool]:
        if depth > 8:
            return {}, False
        required = set(schema.get("required", []))
        result: dict[str, Any] = {}
        supplied = False
        for key, sub in schema.get("properties", {}).items():
            value, found = self._value(sub if isinstance(sub, dict) else {}, key, depth + 1)
            if key in required or found or self.fill_optional:
                result[key] = value
                supplied = supplied or found
        return result, supplied

    def _array(self, schema: dict[str, Any], name: str, depth: int) -> tuple[Any, bool]:
        items = self._resolve(schema.get("items", {}) if isinstance(schema.get("items"), dict) else {})
        if items.get("type") in ("integer", "number"):
            values = [self._as_number(v, items["type"]) for v in self.numbers.rest()]
            return values, bool(values)
        value, found = self._value(items, name, depth + 1)
        return [value], found

    @staticmethod
    def _as_number(raw: str, kind: str) -> int | float:
        number = float(raw)
        return int(number) if kind == "integer" else (int(number) if number.is_integer() else number)

    def _number(self, schema: dict[str, Any], kind: str) -> tuple[Any, bool]:
        raw = self.numbers.take()
        if raw is not None:
            return self._as_number(raw, kind), True
        default = schema.get("default", schema.get("minimum", 0))
        return default, False

    def _string(self, schema: dict[str, Any], name: str) -> tuple[Any, bool]:
        key = name.lower()
        key_words = set(key.replace("-", "_").split("_"))
        if key_words & _LOCATION_NAMES:
            place = _PLACE_RE.search(self.text)
            if place:
                return place.group(1).rstrip(".,"), True
        if key_words & _SUBJECT_NAMES or key_words & {"image", "picture"}:
            subject = _SUBJECT_RE.search(self.clean_text)
            if subject:
                return subject.group(1).strip(), True
        if key:
            said = re.search(rf"\b(?i:{re.escape(key)})\s*(?:is|:|=)\s*([\w'-]+(?:\s+[A-Z][\w'-]*)*)",
                             self.text)
            if said:
                return said.group(1), True
        for quoted in _QUOTED_RE.finditer(self.text):
            value = next(g for g in quoted.groups() if g)
            if value.lower() != key:  # 'name' in "reply with 'name' and 'age'" names a key, not a value
                return value, True
        if "default" in schema:
            return schema["default"], False
        return self.fallback_text, False


def fill_schema(schema: dict[str, Any], text: str, *, fallback_text: str | None = None,
                fill_optional: bool = False) -> Any:
    return SchemaFiller(schema, text, fallback_text, fill_optional).fill()


def _function_of(tool: Any, index: int) -> dict[str, Any]:
    fn = tool.get("function") if isinstance(tool, dict) else None
    if not isinstance(fn, dict) or not isinstance(fn.get("name"), str) or not fn["name"]:
        raise invalid(f"additional_params.tools[{index}] must be {{'type': 'function', "
                      "'function': {'name': ..., 'parameters': {...}}}.")
    return fn


def _forced_name(tool_choice: Any) -> str | None:
    if isinstance(tool_choice, dict):
        fn = tool_choice.get("function")
        name = fn.get("name") if isinstance(fn, dict) else tool_choice.get("name")
        if not isinstance(name, str):
            raise invalid("additional_params.tool_choice must name a function: "
                          "{'type': 'function', 'function': {'name': ...}}.")
        return name
    return None


def _score(fn: dict[str, Any], said: set[str], text: str) -> int:
    if re.search(rf"\b{re.escape(fn['name'])}\b", text, re.IGNORECASE):
        return 3
    wanted = name_words(fn["name"])
    if wanted and wanted <= said:
        return 2
    return 1 if wanted & said else 0


def choose_tool_calls(tools: Sequence[Any], tool_choice: Any, parallel: bool,
                      user_text: str, after_tool_results: bool, seed: str) -> list[dict[str, Any]]:
    """The tool calls the model makes for this turn, in the OpenAI form."""
    functions = [_function_of(tool, i) for i, tool in enumerate(tools)]
    if tool_choice is None:
        tool_choice = "auto"
    if isinstance(tool_choice, str) and tool_choice not in ("auto", "none", "required", "any"):
        raise invalid(f"additional_params.tool_choice must be 'auto', 'none', 'required' or a "
                      f"function; got '{tool_choice}'.")
    if not functions or tool_choice == "none":
        return []
    forced = _forced_name(tool_choice)
    said = _normalised_words(user_text)
    if forced is not None:
        chosen = [fn for fn in functions if fn["name"] == forced]
        if not chosen:
            raise invalid(f"tool_choice names '{forced}', which is not among the tools offered.")
    else:
        if tool_choice == "auto" and after_tool_results:
            return []
        scored = sorted(((_score(fn, said, user_text), i) for i, fn in enumerate(functions)),
                        key=lambda pair: (-pair[0], pair[1]))
        best = scored[0][0]
        if best == 0 and tool_choice == "auto":
            return []
        named = [functions[i] for score, i in scored if score >= 2] if best >= 2 else []
        chosen = named if (parallel and len(named) > 1) else [functions[scored[0][1]]]
    calls = []
    for position, fn in enumerate(chosen):
        schema = fn.get("parameters") if isinstance(fn.get("parameters"), dict) else {}
        args = fill_schema(schema or {"type": "object", "properties": {}}, user_text)
        arguments = json.dumps(args if isinstance(args, dict) else {})
        digest = hashlib.sha256(f"{seed}|{fn['name']}|{arguments}|{position}".encode()).hexdigest()
        calls.append({"id": f"call_{digest[:24]}", "type": "function",
                      "function": {"name": fn["name"], "arguments": arguments}})
    return calls


def json_reply(response_format: Any, user_text: str, answer: str) -> str | None:
    """The JSON text a ``response_format`` asks for, or None for plain text."""
    if response_format is None:
        return None
    kind = response_format.get("type") if isinstance(response_format, dict) else None
    if kind == "text":
        return None
    if kind == "json_object":
        keys = [next(g for g in m if g) for m in _QUOTED_RE.findall(user_text)]
        keys = [k for k in dict.fromkeys(keys) if re.fullmatch(r"\w+", k)]
        if not keys:
            return json.dumps({"answer": answer})
        keyed: dict[str, Any] = {"type": "object", "properties": {k: {"type": "string"} for k in keys}}
        return json.dumps(fill_schema(keyed, "", fallback_text=answer, fill_optional=True))
    if kind == "json_schema":
        spec = response_format.get("json_schema")
        schema = spec.get("schema") if isinstance(spec, dict) else None
        if not isinstance(schema, dict):
            raise invalid("additional_params.response_format.json_schema.schema must be an object.")
        return json.dumps(fill_schema(schema, user_text, fallback_text=answer, fill_optional=True))
    raise invalid("additional_params.response_format.type must be 'text', 'json_object' or "
                  f"'json_schema'; got {kind!r}.")
