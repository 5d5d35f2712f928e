"""Why ``IngestionPipeline(...).run(num_workers=2)`` hangs on a machine without internet access.

A standalone reproduction, without indoxRouter (LlamaIndex's own ``MockEmbedding``)::

    python tests/ray/ingestion_hang.py cause   # unpickling a SentenceSplitter in a fresh process raises an OSError
    python tests/ray/ingestion_hang.py hang    # the pipeline's pool loses its tasks and waits forever (Ctrl-C)
    python tests/ray/ingestion_hang.py fixed   # TIKTOKEN_CACHE_DIR set: IndoxEmbeddings in 2 workers, as 1 process

``SentenceSplitter`` pickles its ``tiktoken`` tokenizer. Unpickling it loads the ``cl100k_base``
encoding again, and outside ``llama_index.core.utils.get_tokenizer`` (which points
``TIKTOKEN_CACHE_DIR`` at the copy LlamaIndex ships only while it runs) ``tiktoken`` downloads it.
Offline, that raises ``requests.ConnectionError``, an ``OSError``; ``multiprocessing.Pool``'s worker
takes an ``OSError`` while reading a task for a closed pipe and exits quietly ("worker got EOFError
or OSError -- exiting"), the pool starts a new worker, the task is lost and ``starmap`` waits forever.

To be offline on any machine, this script gives ``tiktoken`` an empty cache and an HTTPS proxy
where nothing listens, after the parent has made its tokenizer (as the parent of a real run has).
``fixed`` needs INDOX_ROUTER_API_KEY and INDOX_ROUTER_BASE_URL (a local server will do).
"""

from __future__ import annotations

import json
import logging
import multiprocessing
import os
import pickle
import socket
import subprocess
import sys
import tempfile
import traceback
from pathlib import Path
from typing import Any


def _documents() -> list[Any]:
    from llama_index.core import Document

    return [Document(text=f"Document {n} says something about topic {n}. " * 20, id_=f"doc-{n}") for n in range(8)]


def _splitter() -> Any:
    from llama_index.core.node_parser import SentenceSplitter

    return SentenceSplitter(chunk_size=64, chunk_overlap=0)


def _go_offline() -> None:
    """From now on (and in every process started from now on) ``tiktoken`` has nothing cached and
    cannot download: as on a machine without internet access."""
    with socket.socket() as sock:  # a port where nothing listens
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    os.environ["TIKTOKEN_CACHE_DIR"] = tempfile.mkdtemp(prefix="empty-tiktoken-cache-")
    for name in ("HTTPS_PROXY", "https_proxy"):
        os.environ[name] = f"http://127.0.0.1:{port}"
    for name in ("NO_PROXY", "no_proxy"):
        os.environ.pop(name, None)


def cause() -> None:
    """Unpickle a pickled SentenceSplitter in a fresh interpreter (what a spawned worker does);
    print the exception's classes and where it was raised, as JSON."""
    splitter = _splitter()
    _go_offline()
    with tempfile.NamedTemporaryFile(suffix=".pkl", delete=False) as file:
        pickle.dump(splitter, file)
    code = ("import json, pickle, sys, traceback\n"
            "try:\n"
            "    pickle.load(open(sys.argv[1], 'rb'))\n"
            "    print(json.dumps({'raised': None}))\n"
            "except BaseException as exc:\n"
            "    print(json.dumps({'raised': [c.__module__ + '.' + c.__qualname__ for c in type(exc).__mro__],\n"
            "                      'traceback': traceback.format_exc()}))\n")
    try:
        out = subprocess.run([sys.executable, "-c", code, file.name], capture_output=True, text=True, check=True)
    finally:
        os.unlink(file.name)
    print(out.stdout.strip().splitlines()[-1])


def hang() -> None:
    """The pipeline with two spawned workers and MockEmbedding; multiprocessing's debug log on
    stderr shows each worker leaving after 0 tasks. Never returns."""
    from llama_index.core.embeddings import MockEmbedding
    from llama_index.core.ingestion import IngestionPipeline

    pipeline = IngestionPipeline(transformations=[_splitter(), MockEmbedding(embed_dim=8)])
    _go_offline()
    multiprocessing.log_to_stderr(logging.DEBUG)
    nodes = pipeline.run(documents=_documents(), num_workers=2)
    print(json.dumps({"nodes": len(nodes)}))  # not reached offline


def fixed() -> None:
    """Offline as above, but with TIKTOKEN_CACHE_DIR set to LlamaIndex's copy for the whole run:
    IndoxEmbeddings in two workers gives the vectors one process gives."""
    import llama_index.core
    from llama_index.core.ingestion import IngestionPipeline

    from llamaindex_indox import IndoxEmbeddings

    embed_model = IndoxEmbeddings(model="local/hash-embedding-256")
    embed_model.get_text_embedding("warm up")  # a live client in the parent; workers make their own
    pipeline = IngestionPipeline(transformations=[_splitter(), embed_model])
    _go_offline()
    os.environ["TIKTOKEN_CACHE_DIR"] = str(Path(llama_index.core.__file__).parent / "_static" / "tiktoken_cache")
    parallel = pipeline.run(documents=_documents(), num_workers=2)
    single = IngestionPipeline(transformations=[_splitter(), embed_model]).run(documents=_documents())
    print(json.dumps({"nodes": len(parallel), "dimensions": len(parallel[0].embedding or []),
                      "same_as_one_process": [n.embedding for n in parallel] == [n.embedding for n in single]
                      and [n.get_content() for n in parallel] == [n.get_content() for n in single]}))


if __name__ == "__main__":  # spawned workers import this module: the guard keeps them from running it
    logging.getLogger().setLevel(logging.ERROR)  # LlamaIndex's notes on what it leaves out of pickles
    modes = {"cause": cause, "hang": hang, "fixed": fixed}
    if len(sys.argv) != 2 or sys.argv[1] not in modes:
        sys.exit(__doc__)
    try:
        modes[sys.argv[1]]()
    except Exception:
        traceback.print_exc()
        sys.exit(1)
