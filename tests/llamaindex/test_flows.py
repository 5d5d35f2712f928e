"""LlamaIndex end to end on the local server: indexes, query and chat engines, ingestion,
agents, structured output and token counting."""

from __future__ import annotations

import asyncio
import pickle
from pathlib import Path

import pytest
from llama_index.core import Document, Settings, VectorStoreIndex
from llama_index.core.agent.workflow import AgentStream, FunctionAgent, ReActAgent, ToolCallResult
from llama_index.core.callbacks import CallbackManager, TokenCountingHandler
from llama_index.core.ingestion import IngestionPipeline
from llama_index.core.llms import ChatMessage
from llama_index.core.node_parser import SentenceSplitter
from llama_index.core.prompts import PromptTemplate
from llama_index.core.schema import MetadataMode
from llama_index.core.tools import FunctionTool
from pydantic import BaseModel

from indox_server import LocalServer
from llamaindex_indox import ChatIndox, IndoxEmbeddings, IndoxImageToolSpec

from .conftest import server_tokens

DOCUMENTS = [
    Document(text="The Eiffel Tower stands in Paris. It was completed in 1889 for a world fair.",
             metadata={"file_name": "paris.md"}),
    Document(text="The Colosseum is an amphitheatre in Rome. Gladiators once fought there.",
             metadata={"file_name": "rome.md"}),
    Document(text="Big Ben is the bell in the clock tower in London. The tower was renamed in 2012.",
             metadata={"file_name": "london.md"}),
]


@pytest.mark.usefixtures("settings")
def test_vector_index_streaming_query_with_sources() -> None:
    index = VectorStoreIndex.from_documents(DOCUMENTS)
    engine = index.as_query_engine(streaming=True, similarity_top_k=1)
    response = engine.query("Where did gladiators fight?")
    tokens = list(response.response_gen)
    assert len(tokens) > 3 and "".join(tokens) == "Gladiators once fought there."
    (source,) = response.source_nodes
    assert source.node.metadata["file_name"] == "rome.md"


@pytest.mark.usefixtures("settings")
def test_chat_engine_over_several_turns() -> None:
    index = VectorStoreIndex.from_documents(DOCUMENTS)
    chat = index.as_chat_engine(similarity_top_k=1)
    first = chat.chat("When was the Eiffel Tower completed?")
    assert "1889" in str(first)
    second = chat.chat("And when was the London clock tower renamed?")
    assert str(second) == "The tower was renamed in 2012."
    third = chat.stream_chat("Where is the Colosseum?")
    assert "Rome" in "".join(third.response_gen)
    assert len(chat.chat_history) == 6


def test_ingestion_pipeline_run_arun_and_workers(embed_model: IndoxEmbeddings) -> None:
    pipeline = IngestionPipeline(transformations=[SentenceSplitter(chunk_size=32, chunk_overlap=0), embed_model])
    nodes = pipeline.run(documents=DOCUMENTS)
    assert len(nodes) >= 3 and all(len(n.embedding or []) == 1536 for n in nodes)
    again = asyncio.run(IngestionPipeline(transformations=[SentenceSplitter(chunk_size=32, chunk_overlap=0),
                                                           embed_model]).arun(documents=DOCUMENTS))
    assert [n.embedding for n in again] == [n.embedding for n in nodes]
    copy = pickle.loads(pickle.dumps(embed_model))  # what the pipeline's worker processes receive
    assert copy.get_text_embedding(nodes[0].get_content(metadata_mode=MetadataMode.EMBED)) == nodes[0].embedding


def test_async_embedding_batches_are_bounded(server: LocalServer) -> None:
    embed = IndoxEmbeddings(model="local/hash-embedding-256", embed_batch_size=10, num_workers=2,
                            api_key=server.api_key, base_url=server.base_url)
    server.inject_fault("delay", path="/embeddings", delay=0.1, count=10)
    texts = [f"text {i}" for i in range(100)]
    vectors = asyncio.run(embed.aget_text_embedding_batch(texts))
    assert vectors == embed.get_text_embedding_batch(texts) and len(vectors) == 100


def _add(a: int, b: int) -> int:
    """Add two integers and return the sum."""
    return a + b


@pytest.mark.parametrize("streaming", [True, False])
def test_function_agent_with_a_function_tool(llm: ChatIndox, streaming: bool) -> None:
    agent = FunctionAgent(tools=[FunctionTool.from_defaults(fn=_add)], llm=llm, streaming=streaming)

    async def run() -> tuple[str, list[ToolCallResult], int]:
        handler = agent.run(user_msg="Please add 19 and 23.")
        results, deltas = [], 0
        async for event in handler.stream_events():
            if isinstance(event, ToolCallResult):
                results.append(event)
            if isinstance(event, AgentStream) and event.delta:
                deltas += 1
        return str(await handler), results, deltas

    answer, results, deltas = asyncio.run(run())
    (result,) = results
    assert result.tool_name == "_add" and result.tool_kwargs == {"a": 19, "b": 23}
    assert result.tool_output.content == "42" and answer == "_add returned: 42."
    assert (deltas > 1) == streaming


async def test_function_agent_with_the_image_tool_spec(llm: ChatIndox, server: LocalServer, tmp_path: Path) -> None:
    spec = IndoxImageToolSpec(size="32x32", image_format="b64_json", output_dir=tmp_path,
                              api_key=server.api_key, base_url=server.base_url)
    agent = FunctionAgent(tools=spec.to_tool_list(), llm=llm)
    answer = str(await agent.run(user_msg="Generate an image of a red fox in the snow."))
    (png,) = tmp_path.glob("*.png")
    assert png.read_bytes()[:4] == b"\x89PNG" and "a-red-fox-in-the-snow" in png.name
    assert answer == f"generate_image returned: {png}."


def test_image_tool_spec_tools(server: LocalServer, tmp_path: Path) -> None:
    spec = IndoxImageToolSpec(size="16x16", n=3, api_key=server.api_key, base_url=server.base_url)
    (tool,) = spec.to_tool_list()
    assert len(tool.metadata.description) < 1024 and "{" not in tool.metadata.description
    schema = tool.metadata.get_parameters_dict()
    assert set(schema["properties"]) == {"prompt", "size"}  # SURFACE: generate_image(prompt, size=None)
    assert all(schema["properties"][k].get("description") for k in ("prompt", "size"))
    urls = tool.call(prompt="three stars").content.splitlines()
    assert len(urls) == 3 and all(u.startswith(server.base_url) for u in urls)
    assert asyncio.run(tool.acall(prompt="a moon")).content.count("http") == 3
    blocks = IndoxImageToolSpec(size="16x16", image_format="b64_json", output_dir=tmp_path, image_blocks=True, n=2,
                                api_key=server.api_key, base_url=server.base_url).generate_image("a sun")
    assert len(blocks) == 2 and all(Path(b.path).exists() for b in blocks)  # type: ignore[union-attr]


async def test_react_agent_calls_the_tool_and_answers(llm: ChatIndox) -> None:
    agent = ReActAgent(tools=[FunctionTool.from_defaults(fn=_add)], llm=llm)
    handler = agent.run(user_msg="Please add 19 and 23.")
    results = [event async for event in handler.stream_events() if isinstance(event, ToolCallResult)]
    assert str(await handler) == "_add returned: 42."
    (result,) = results
    assert (result.tool_name, result.tool_kwargs, result.tool_output.content) == ("_add", {"a": 19, "b": 23}, "42")
    greeting = str(await agent.run(user_msg="Hello there"))
    assert greeting.startswith("Hello!")  # no tool fits: an answer, not the format instructions


class City(BaseModel):
    name: str
    population: int


def test_structured_predict_and_structured_llm(llm: ChatIndox, server: LocalServer) -> None:
    prompt = PromptTemplate("The city name is {city} and it has {people} people.")
    server.clear_journal()
    city = llm.structured_predict(City, prompt, city="Lyon", people="522000")
    assert city == City(name="Lyon", population=522000)
    import json

    sent = json.loads(server.journal()[-1]["body"])
    assert sent["additional_params"]["response_format"]["type"] == "json_schema"  # the router's schema mode
    structured = llm.as_structured_llm(City)
    response = structured.chat([ChatMessage(role="user", content="The city name is Nice with 342000 people.")])
    assert response.raw == City(name="Nice", population=342000)
    assert asyncio.run(llm.astructured_predict(City, prompt, city="Lille", people="236000")).name == "Lille"


def test_structured_predict_by_tool_call_without_json_mode(server: LocalServer) -> None:
    plain = ChatIndox(model="openai/gpt-4o-mini", api_key=server.api_key, base_url=server.base_url)
    plain._info_failed = True  # as if the router did not say the model has JSON mode
    city = plain.structured_predict(City, PromptTemplate("The city name is {city} with {n} people."),
                                    city="Metz", n="120000")
    assert city == City(name="Metz", population=120000)


def test_token_counting_handler_sees_the_servers_counts(llm: ChatIndox, embed_model: IndoxEmbeddings,
                                                        server: LocalServer) -> None:
    counter = TokenCountingHandler(tokenizer=server_tokens)
    manager = CallbackManager([counter])
    llm.callback_manager = manager
    embed_model.callback_manager = manager
    message = [ChatMessage(role="user", content="Tea comes from China. Where does tea come from?")]
    plain = llm.chat(message)
    assert counter.prompt_llm_token_count == plain.raw["usage"]["prompt_tokens"]
    assert counter.completion_llm_token_count == plain.raw["usage"]["completion_tokens"]
    counter.reset_counts()
    last = list(llm.stream_chat(message))[-1]
    assert counter.prompt_llm_token_count == last.raw["usage"]["prompt_tokens"]
    assert counter.completion_llm_token_count == last.raw["usage"]["completion_tokens"] == 5
    counter.reset_counts()
    texts = ["first text to embed", "and a second one"]
    embed_model.get_text_embedding_batch(texts)
    usage = embed_model.indox_client.embeddings(texts, model=embed_model.model_name).usage
    assert counter.total_embedding_token_count == usage.tokens_prompt


def test_settings_are_ours(settings: None, llm: ChatIndox, embed_model: IndoxEmbeddings) -> None:
    assert Settings.llm is llm and Settings.embed_model is embed_model
