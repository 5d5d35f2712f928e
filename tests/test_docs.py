"""Every Python sample in the docs and the README runs, against the local server.

Each page's samples run in order in one namespace (a later sample may use an
earlier one's names), with INDOX_ROUTER_API_KEY / INDOX_ROUTER_BASE_URL pointing
at the session's server and the working directory a temporary folder.
"""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

import pytest

from indox_server import LocalServer

ROOT = Path(__file__).resolve().parent.parent
PAGES = [*sorted((ROOT / "docs").glob("*.md")), ROOT / "README.md"]
SAMPLE_RE = re.compile(r"^```python\n(.*?)^```", re.DOTALL | re.MULTILINE)


def samples(page: Path) -> list[str]:
    return SAMPLE_RE.findall(page.read_text())


def test_pages_have_samples() -> None:
    with_samples = {page.name for page in PAGES if samples(page)}
    assert {"quickstart.md", "client.md", "langchain.md", "llamaindex.md", "streaming.md", "errors.md",
            "local-server.md", "README.md"} <= with_samples


@pytest.mark.parametrize("page", [p for p in PAGES if samples(p)], ids=lambda p: p.name)
def test_samples_run(page: Path, server: LocalServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from llama_index.core import Settings

    monkeypatch.setenv("INDOX_ROUTER_API_KEY", server.api_key)
    monkeypatch.setenv("INDOX_ROUTER_BASE_URL", server.base_url)
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, object] = {"__name__": f"docs_{page.stem}"}
    printed = io.StringIO()
    try:
        for number, code in enumerate(samples(page), start=1):
            with contextlib.redirect_stdout(printed):
                try:
                    exec(compile(code, f"{page.name} sample {number}", "exec"), namespace)
                except Exception as exc:
                    raise AssertionError(f"{page.name}, sample {number} failed: {exc!r}\n{code}") from exc
    finally:
        Settings._llm = Settings._embed_model = None
    assert printed.getvalue().strip(), "the samples printed nothing to show"
