"""Why ``IngestionPipeline(num_workers=2)`` hangs offline, and that it works once ``tiktoken``
can find its encoding: the reproduction in ingestion_hang.py, run in subprocesses."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

from indox_server import LocalServer

SCRIPT = Path(__file__).with_name("ingestion_hang.py")


def _run(mode: str, **env: str) -> dict[str, object]:
    done = subprocess.run([sys.executable, str(SCRIPT), mode], capture_output=True, text=True,
                          env={**os.environ, **env}, timeout=300)  # the timeout guards CI, it measures nothing
    assert done.returncode == 0, done.stderr
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def test_unpickling_a_sentence_splitter_offline_raises_an_oserror() -> None:
    """What a spawned worker does first; multiprocessing.Pool takes an OSError there for a closed pipe."""
    raised = _run("cause")["raised"]
    assert isinstance(raised, list) and "builtins.OSError" in raised
    assert raised[0].startswith("requests.exceptions.")


def test_the_pool_loses_its_tasks_with_llamaindexs_own_mock_embedding() -> None:
    """No indoxRouter involved: both workers leave after 0 tasks and run() is still waiting."""
    process = subprocess.Popen([sys.executable, str(SCRIPT), "hang"], stderr=subprocess.PIPE, text=True,
                               start_new_session=True)
    guard = threading.Timer(240, os.killpg, (process.pid, signal.SIGKILL))  # in case it never logs
    guard.start()
    left: set[str] = set()
    try:
        assert process.stderr is not None
        for line in process.stderr:
            if "worker exiting after 0 tasks" in line:
                left.add(line.split("]")[0])
                if len(left) == 2:
                    break
        still_waiting = process.poll() is None
    finally:
        guard.cancel()
        os.killpg(process.pid, signal.SIGKILL)  # the script, its pool's workers and resource tracker
        process.wait()
        if process.stderr is not None:
            process.stderr.close()
    assert len(left) == 2, "the workers did not leave after 0 tasks"
    assert still_waiting


def test_with_tiktoken_pointed_at_llamaindexs_copy_two_workers_embed_as_one_process(server: LocalServer) -> None:
    report = _run("fixed", INDOX_ROUTER_API_KEY=server.api_key, INDOX_ROUTER_BASE_URL=server.base_url)
    assert report == {"nodes": 32, "dimensions": 256, "same_as_one_process": True}
