"""A guided tour of indoxRouter through the shared client, against the embedded local server.

With INDOX_ROUTER_API_KEY and INDOX_ROUTER_BASE_URL set, the same tour runs
against that service instead.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from shared_client import Client, IndoxRouterError

ROOT = Path(__file__).resolve().parent.parent
CONTEXT = (
    "indoxRouter puts many providers' models behind one API key. "
    "Models are named provider/model, such as openai/gpt-4o-mini. "
    "The shared client retries rate limits and server errors with exponential backoff. "
    "Streaming answers arrive as Server-Sent Events ending in [DONE]."
)


def heading(title: str) -> None:
    print(f"\n\033[1m== {title}\033[0m" if sys.stdout.isatty() else f"\n== {title}", flush=True)


@contextlib.contextmanager
def connection() -> Iterator[tuple[str, str, str]]:
    """(api_key, base_url, where) of the service to tour: the environment's, or a local server."""
    key, url = os.environ.get("INDOX_ROUTER_API_KEY"), os.environ.get("INDOX_ROUTER_BASE_URL")
    if key and url:
        yield key, url, f"the service at {url}"
        return
    from shared_client.server import LocalServer

    with LocalServer() as server:
        yield server.api_key, server.base_url, f"the embedded local server at {server.base_url}"


def tour(client: Client, args: argparse.Namespace) -> None:
    heading("The catalogue: providers(), models(), model_info()")
    print(f"{'model':<48} {'type':<10} {'context':>8} {'$ in/1k':>9} {'$ out/1k':>9}")
    for provider, models in client.models().items():
        for model in models:
            prices = model.get("input_price_per_1k_tokens", 0), model.get("output_price_per_1k_tokens", 0)
            print(f"{provider + '/' + model['id']:<48} {model['type']:<10} {model.get('context_window') or 0:>8} "
                  f"{prices[0]:>9.5f} {prices[1]:>9.5f}")
    provider, _, name = args.chat_model.partition("/")
    info = client.model_info(provider, name)
    print(f"\nmodel_info({provider!r}, {name!r}): {info.raw_info.get('name', info.name)}, "
          f"capabilities {', '.join(info.capabilities)}")

    question = "How are models named?"
    heading(f"A chat: {question!r} with context")
    messages = [{"role": "system", "content": CONTEXT}, {"role": "user", "content": question}]
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

    heading("Embeddings: which sentence is closest to the question?")
    sentences = [s if s.endswith(".") else s + "." for s in CONTEXT.split(". ")]
    vectors = client.embeddings([question, *sentences], model=args.embed_model).data
    scores = [sum(a * b for a, b in zip(vectors[0], v)) for v in vectors[1:]]
    for score, sentence in sorted(zip(scores, sentences), reverse=True):
        print(f"  {score:5.2f}  {sentence}")

    heading("An image, saved as a PNG")
    image = client.image("a lighthouse at dusk", model=args.image_model, size="256x256",
                         response_format="b64_json")
    args.output_dir.mkdir(parents=True, exist_ok=True)
    path = (args.output_dir / "lighthouse.png").resolve()
    path.write_bytes(base64.b64decode(image.data[0]))
    print(f"  saved {path} ({path.stat().st_size} bytes)")

    heading("Usage so far: get_usage()")
    usage = client.get_usage()
    print(f"{'model':<40} {'requests':>8} {'tokens':>8} {'cost $':>10}")
    for model, row in usage.get("by_model", {}).items():
        print(f"{model:<40} {row['requests']:>8} {row['tokens']:>8} {row['cost']:>10.6f}")
    print(f"{'total':<40} {usage['total_requests']:>8} {usage['total_tokens']:>8} {usage['total_cost']:>10.6f}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--chat-model", default="openai/gpt-4o-mini")
    parser.add_argument("--embed-model", default="openai/text-embedding-3-small")
    parser.add_argument("--image-model", default="openai/dall-e-3")
    parser.add_argument("--output-dir", type=Path, default=ROOT / "indox-output",
                        help="where images are saved (default ./indox-output)")
    args = parser.parse_args()
    try:
        with connection() as (key, url, where):
            print(f"Touring indoxRouter on {where}.")
            with Client(api_key=key, base_url=url) as client:
                tour(client, args)
    except IndoxRouterError as exc:
        print(f"\nerror: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
