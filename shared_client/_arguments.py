"""Constructor arguments of the integrations: unknown ones passed on with a warning, misspelt
ones refused, and the temperature checked, the same way in both frameworks."""

from __future__ import annotations

import difflib
import os
import sys
import warnings
from typing import Any

import pydantic

# Parameters providers take that are not fields of the integrations: passed on, never taken for a typo.
PROVIDER_PARAMETERS = frozenset({
    "top_k", "top_p", "min_p", "seed", "user", "n", "stop", "logprobs", "top_logprobs", "logit_bias",
    "presence_penalty", "frequency_penalty", "repetition_penalty", "response_format", "tools", "tool_choice",
    "parallel_tool_calls", "reasoning_effort", "dimensions", "encoding_format", "quality", "style", "metadata",
    "service_tier", "safety_settings", "max_completion_tokens", "modalities", "prediction", "store",
})


def argument_names(model: type[pydantic.BaseModel]) -> set[str]:
    """Every keyword a pydantic model takes for its fields: names, aliases, validation aliases."""
    names: set[str] = set()
    for name, field in model.model_fields.items():
        names.add(name)
        if field.alias:
            names.add(field.alias)
        chosen = field.validation_alias
        choices = chosen.choices if isinstance(chosen, pydantic.AliasChoices) else [chosen]
        names.update(choice for choice in choices if isinstance(choice, str))
    return names


def gather_extra_arguments(values: Any, fields: set[str], into: str, owner: str) -> Any:
    """Constructor arguments that are no field of ``owner``: each is moved into ``values[into]``
    (sent with every call) with a warning that names it, as ``ChatOpenAI`` does; one that is
    a near-miss of a field (``modle``) raises at once instead of being sent."""
    if not isinstance(values, dict):
        return values
    unknown = [name for name in values if name not in fields]
    if not unknown:
        return values
    values = dict(values)
    extra = dict(values.get(into) or {})
    for name in unknown:
        close = difflib.get_close_matches(name, sorted(fields), n=1, cutoff=0.75)
        # TypeError, as Python says it of a bad keyword; it also keeps pydantic from printing the
        # whole input (the API key with it) the way it does for a ValueError in a model validator
        if close and name not in PROVIDER_PARAMETERS:
            raise TypeError(f"{owner} got an unexpected keyword argument {name!r}; did you mean {close[0]!r}?")
        if name in extra:
            raise TypeError(f"{owner}: {name!r} is given both as an argument and in {into}; give it once.")
        warnings.warn(f"{owner}: {name!r} is not one of its fields; it is sent with every call as "
                      f"{into}[{name!r}].", UserWarning, stacklevel=_callers_level())
        extra[name] = values.pop(name)
    values[into] = extra
    return values


_LIBRARY_PARTS = ("pydantic", "langchain_core", "llama_index", "shared_client", "langchain_indox",
                  "llamaindex_indox")


def _callers_level() -> int:
    """The ``stacklevel`` of the first frame outside pydantic, the frameworks and this project's
    packages: where the user constructed the object, so the warning points there."""
    level, frame = 1, sys._getframe(1)
    while frame is not None and any(f"{os.sep}{part}{os.sep}" in frame.f_code.co_filename
                                    for part in _LIBRARY_PARTS):
        frame, level = frame.f_back, level + 1  # type: ignore[assignment]
    return level


def check_temperature(value: Any) -> Any:
    """The one message both frameworks give for a temperature out of range, at construction."""
    if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))
                              or not 0 <= value <= 2):
        raise ValueError(f"temperature must be a number from 0 to 2; got {value!r}.")
    return value
