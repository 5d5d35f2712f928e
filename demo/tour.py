"""A guided tour of indoxRouter: the client, LangChain and LlamaIndex, against the embedded local server.

With INDOX_ROUTER_API_KEY and INDOX_ROUTER_BASE_URL set, the same tour runs
against that service instead. Model ids are flags (see --help).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
CONTEXT = (
    "indoxRouter puts many providers' models behind one API key. "
    "Models are named provider/model, such as openai/gpt-4o-mini. "
    "The shared client retries rate limits and server errors with exponential backoff. "
    "Streaming answers arrive as Server-Sent Events ending in [DONE]."
)


def heading(title: str) -> None:
    bold = sys.stdout.isatty()
    print(f"\n\033[1m== {title}\033[0m" if bold else f"\n== {title}", flush=True)


@contextlib.contextmanager
def connection() -> Iterator[tuple[str, str, str]]:
    """(api_key, base_url, where) of the service to tour: the environment's, or a local server."""
    key, url = os.environ.get("INDOX_ROUTER_API_KEY"), os.environ.get("INDOX_ROUTER_BASE_URL")
    if key and url:
        yield key, url, f"the service at {url}"
        return
    from indox_server import LocalServer

    print("Starting the embedded local server ...", flush=True)
    with LocalServer() as server:
        yield server.api_key, server.base_url, f"the embedded local server at {server.base_url}"


def check_png(path: str) -> str:
    data = Path(path).read_bytes()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise RuntimeError(f"{path} is not a PNG")
    width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    return f"{path} ({width}x{height} PNG, {len(data):,} bytes)"


# --- the client -----------------------------------------------------------------------------


def catalogue(client: Any, args: argparse.Namespace) -> None:
    heading("The catalogue: providers(), models(), model_info()")
    providers = client.providers()
    print(f"{len(providers)} providers: {', '.join(p['id'] for p in providers)}\n")
    print(f"  {'model':<46} {'type':<10} {'context':>8} {'$ in/1k':>9} {'$ out/1k':>9}")
    for provider, models in client.models().items():
        for model in models:
            prices = model.get("input_price_per_1k_tokens", 0), model.get("output_price_per_1k_tokens", 0)
            print(f"  {provider + '/' + model['id']:<46} {model['type']:<10} "
                  f"{model.get('context_window') or 0:>8} {prices[0]:>9.5f} {prices[1]:>9.5f}")
    provider, _, name = args.chat_model.partition("/")
    info = client.model_info(provider, name)
    print(f"\nmodel_info({provider!r}, {name!r}): {info.raw_info.get('name', info.name)}, "
          f"{info.context_window:,}-token context, capabilities: {', '.join(info.capabilities)}")


def chat(client: Any, args: argparse.Namespace) -> None:
    question = "How are models named?"
    messages = [{"role": "system", "content": CONTEXT}, {"role": "user", "content": question}]
    heading(f"A chat: {question!r}, with some context")
    answer = client.chat(messages, model=args.chat_model)
    print(f"{answer.data}\n  ({answer.usage.tokens_total} tokens, ${answer.usage.cost:.7f}, "
          f"finish_reason={answer.finish_reason})")
    heading("The same prompt, streamed token by token")
    started, first = time.perf_counter(), None
    for chunk in client.chat(messages, model=args.chat_model, stream=True, return_generator=True):
        if chunk.data and first is None:
            first = time.perf_counter() - started
        print(chunk.data, end="", flush=True)
    print(f"\n  (first token after {1000 * (first or 0):.1f} ms)")


# --- LangChain ------------------------------------------------------------------------------


def langchain_chain(client: Any, args: argparse.Namespace) -> None:
    from langchain_core.callbacks import BaseCallbackHandler
    from langchain_core.output_parsers import StrOutputParser
    from langchain_core.prompts import ChatPromptTemplate

    from langchain_indox import ChatIndox

    class Spend(BaseCallbackHandler):
        """Adds up the tokens and cost each answer reports."""

        def __init__(self) -> None:
            self.tokens, self.cost = 0, 0.0

        def on_llm_end(self, response: Any, **kwargs: Any) -> None:
            for generations in response.generations:
                for generation in generations:
                    message = getattr(generation, "message", None)
                    if message is not None and message.usage_metadata:
                        self.tokens += message.usage_metadata["total_tokens"]
                        self.cost += message.response_metadata.get("cost", 0.0)

    heading("LangChain: prompt | ChatIndox | StrOutputParser")
    prompt = ChatPromptTemplate.from_messages([("system", "Answer from this text: {text}"), ("human", "{question}")])
    chain = prompt | ChatIndox(model=args.chat_model, client=client) | StrOutputParser()
    spend = Spend()
    config = {"callbacks": [spend]}
    questions = ["What does the shared client retry?", "How do streaming answers arrive?"]
    for question, answer in zip(questions, chain.batch([{"text": CONTEXT, "question": q} for q in questions],
                                                       config=config)):
        print(f"  batch  {question}\n         -> {answer}")
    print("  stream How are models named?\n         -> ", end="")
    for piece in chain.stream({"text": CONTEXT, "question": "How are models named?"}, config=config):
        print(piece, end="", flush=True)
    print(f"\n  ({spend.tokens} tokens, ${spend.cost:.7f} for the three answers, as ChatIndox reported them)")


def langchain_agent(client: Any, args: argparse.Namespace) -> None:
    from langchain_core.messages import HumanMessage

    from langchain_indox import ChatIndox, IndoxImageTool

    heading("A LangChain agent that decides to call the image tool")
    tool = IndoxImageTool(model=args.image_model, size="512x512", image_format="b64_json",
                          output_dir=str(args.output_dir), client=client)
    llm = ChatIndox(model=args.chat_model, client=client).bind_tools([tool])
    messages: list[Any] = [HumanMessage("Please draw a picture of a lighthouse at dusk.")]
    print(f"  user: {messages[0].content}")
    for _ in range(4):  # model, tools, model ...: the classic tool loop
        reply = llm.invoke(messages)
        messages.append(reply)
        if not reply.tool_calls:
            print(f"  agent: {reply.content}")
            break
        for call in reply.tool_calls:
            print(f"  agent calls {call['name']}({call['args']})")
            result = tool.invoke(call)
            messages.append(result)
            print(f"  saved {check_png(str(result.content))}")


# --- LlamaIndex -----------------------------------------------------------------------------


def llamaindex_rag(client: Any, args: argparse.Namespace) -> None:
    from llama_index.core import Settings, SimpleDirectoryReader, VectorStoreIndex

    from llamaindex_indox import ChatIndox, IndoxEmbeddings

    heading("LlamaIndex: a vector index over this project's docs/")
    Settings.llm = ChatIndox(model=args.chat_model, client=client)
    Settings.embed_model = IndoxEmbeddings(model=args.embed_model, client=client, embed_batch_size=64)
    Settings.chunk_size = 256  # small passages: sharper retrieval, readable sources
    documents = SimpleDirectoryReader(str(ROOT / "docs"), required_exts=[".md"]).load_data()
    started = time.perf_counter()
    index = VectorStoreIndex.from_documents(documents)
    chunks = len(index.docstore.docs)
    print(f"  {len(documents)} pages, {chunks} passages embedded in {time.perf_counter() - started:.1f} s")
    engine = index.as_query_engine(streaming=True, similarity_top_k=2)
    for question in ("What is the default API key of the local server?", "What does the drop fault switch do?",
                     "Which error does a stream that ends without [DONE] raise?"):
        print(f"\n  Q: {question}\n  A: ", end="", flush=True)
        response = engine.query(question)
        for token in response.response_gen:
            print(token, end="", flush=True)
        print()
        for source in response.source_nodes:
            snippet = " ".join(source.node.get_content().split())[:90]
            print(f"     [{source.score:.2f}] {source.node.metadata.get('file_name')}: {snippet}...")


def llamaindex_agent(client: Any, args: argparse.Namespace) -> None:
    from llama_index.core.agent.workflow import FunctionAgent, ToolCall, ToolCallResult

    from llamaindex_indox import ChatIndox, IndoxImageToolSpec

    heading("A LlamaIndex FunctionAgent with the image tool spec")
    spec = IndoxImageToolSpec(model=args.image_model, size="512x512", image_format="b64_json",
                              output_dir=args.output_dir, client=client)
    agent = FunctionAgent(tools=spec.to_tool_list(), llm=ChatIndox(model=args.chat_model, client=client))
    request = "Generate an image of a red fox in the snow."
    print(f"  user: {request}")

    async def run() -> str:
        handler = agent.run(user_msg=request)
        async for event in handler.stream_events():
            if isinstance(event, ToolCall) and not isinstance(event, ToolCallResult):
                print(f"  agent calls {event.tool_name}({event.tool_kwargs})")
            elif isinstance(event, ToolCallResult):
                print(f"  saved {check_png(str(event.tool_output.content))}")
        return str(await handler)

    print(f"  agent: {asyncio.run(run())}")


# --- the summary ----------------------------------------------------------------------------


def summary(client: Any, local: bool) -> None:
    heading("Usage, from get_usage()")
    usage = client.get_usage()
    print(f"  {'model':<40} {'requests':>8} {'tokens':>9} {'cost $':>10}")
    for model, row in usage.get("by_model", {}).items():
        print(f"  {model:<40} {row['requests']:>8} {row['tokens']:>9,} {row['cost']:>10.6f}")
    print(f"  {'total':<40} {usage['total_requests']:>8} {usage['total_tokens']:>9,} {usage['total_cost']:>10.6f}")
    if local:
        print("  (Costs are the real models' list prices, as the local stand-ins count them: nothing was charged.)")


STEPS = (catalogue, chat, langchain_chain, llamaindex_rag, langchain_agent, llamaindex_agent)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--chat-model", default="openai/gpt-4o-mini", help="default: %(default)s")
    parser.add_argument("--embed-model", default="openai/text-embedding-3-small", help="default: %(default)s")
    parser.add_argument("--image-model", default="openai/dall-e-3", help="default: %(default)s")
    parser.add_argument("--output-dir", type=Path, default=ROOT / "indox-output",
                        help="where generated images are saved (default: ./indox-output)")
    args = parser.parse_args()
    args.output_dir = args.output_dir.resolve()
    from shared_client import Client, IndoxRouterError

    try:
        with connection() as (key, url, where):
            print(f"Touring indoxRouter on {where}.")
            local = "embedded" in where
            if local:
                print("Its models are deterministic stand-ins, not language models: chat answers are sentences\n"
                      "picked from the prompt, images are patterns. Set INDOX_ROUTER_API_KEY and\n"
                      "INDOX_ROUTER_BASE_URL to tour a real indoxRouter service instead.")
            with Client(api_key=key, base_url=url) as client:
                for step in STEPS:
                    step(client, args)
                summary(client, local)
    except KeyboardInterrupt:
        return 130
    except IndoxRouterError as exc:
        print(f"\nerror: {exc}", file=sys.stderr)
        return 1
    except Exception as exc:  # one clear line, not a traceback
        print(f"\nerror: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
