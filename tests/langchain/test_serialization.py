"""Serialization round trips, and the key never in what is serialized or shown."""

from __future__ import annotations

import json
import pickle

import pytest
from langchain_core.load import dumpd, dumps, load, loads

from langchain_indox import ChatIndox, IndoxEmbeddings, IndoxLLM

SECRET = "sk-serialization-secret"


@pytest.mark.parametrize("cls", [ChatIndox, IndoxLLM])
def test_round_trip_without_the_key(cls: type, monkeypatch: pytest.MonkeyPatch) -> None:
    model = cls(model="openai/gpt-4o-mini", api_key=SECRET, temperature=0.1, max_tokens=50,
                model_kwargs={"seed": 3})
    text = dumps(model)
    assert SECRET not in text
    assert json.loads(text)["kwargs"]["api_key"] == {"lc": 1, "type": "secret", "id": ["INDOX_ROUTER_API_KEY"]}
    monkeypatch.setenv("INDOX_ROUTER_API_KEY", "key-from-env")
    restored = loads(text, allowed_objects=[cls], valid_namespaces=["langchain_indox"], secrets_from_env=True)
    assert type(restored) is cls
    assert restored.api_key.get_secret_value() == "key-from-env"
    assert (restored.model, restored.temperature, restored.max_tokens, restored.model_kwargs) == (
        "openai/gpt-4o-mini", 0.1, 50, {"seed": 3})
    again = load(dumpd(model), allowed_objects=[cls], valid_namespaces=["langchain_indox"],
                 secrets_map={"INDOX_ROUTER_API_KEY": "mapped"})
    assert again.api_key.get_secret_value() == "mapped"


def test_alias_given_key_is_hidden_too() -> None:
    model = ChatIndox(indox_api_key=SECRET)
    assert SECRET not in dumps(model)


def test_key_not_in_repr_str_or_dump() -> None:
    for model in (ChatIndox(api_key=SECRET), IndoxLLM(api_key=SECRET), IndoxEmbeddings(api_key=SECRET)):
        assert SECRET not in repr(model) and SECRET not in str(model)
        assert SECRET not in json.dumps(model.model_dump(mode="json"))


def test_models_pickle_without_their_client(server) -> None:
    model = ChatIndox(model="openai/gpt-4o-mini", api_key=server.api_key, base_url=server.base_url)
    model.invoke("Hi")  # its client now exists
    copy = pickle.loads(pickle.dumps(model))
    assert copy.invoke("Hi").content == model.invoke("Hi").content
