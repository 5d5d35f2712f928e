"""The benchmark script on its tiny size, so it cannot rot (nothing here is timed)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_benchmark_script_runs_every_section(tmp_path: Path) -> None:
    output = tmp_path / "bench.md"
    result = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "run.py"), "--size", "tiny",
                             "--markdown", str(output)], capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    text = output.read_text()
    for title in ("Client.chat vs raw requests", "LangChain", "LlamaIndex", "Streaming", "Embeddings",
                  "Concurrency", "Async: ", "Async embeddings", "Peak memory", "Import time"):
        assert f"### {title}" in text or title in text, title
    assert "nan" not in text
