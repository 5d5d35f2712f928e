"""The guided tour runs end to end against its embedded server, and saves real PNGs."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_tour_runs_and_ends_with_the_usage_summary(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("INDOX_ROUTER_")}
    result = subprocess.run([sys.executable, str(ROOT / "demo" / "tour.py"), "--output-dir", str(tmp_path)],
                            capture_output=True, text=True, timeout=300, env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    out = result.stdout
    for heading in ("The catalogue", "streamed token by token", "LangChain: prompt | ChatIndox",
                    "LlamaIndex: a vector index", "LangChain agent", "LlamaIndex FunctionAgent"):
        assert heading in out, heading
    last_lines = [line.strip() for line in out.rstrip().splitlines()[-2:]]
    assert last_lines[0].startswith("total") and "nothing was charged" in last_lines[1]
    assert "deterministic stand-ins" in out and out.count("stand-ins, not language models") == 1
    assert "%|" not in out + result.stderr  # no progress bars among the answers
    pngs = sorted(tmp_path.glob("*.png"))
    assert len(pngs) == 2 and all(p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for p in pngs)
    assert "Traceback" not in result.stderr


def test_tour_failure_is_one_clear_line(tmp_path: Path) -> None:
    env = {**os.environ, "INDOX_ROUTER_API_KEY": "k", "INDOX_ROUTER_BASE_URL": "http://127.0.0.1:9/v1"}
    result = subprocess.run([sys.executable, str(ROOT / "demo" / "tour.py"), "--output-dir", str(tmp_path)],
                            capture_output=True, text=True, timeout=300, env=env)
    assert result.returncode == 1
    errors = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(errors) == 1 and errors[0].startswith("error:") and "Traceback" not in result.stderr
