"""Starting the server: the command line and the subprocess handle."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from indox_server import LocalServer

from .helpers import RawAPI


def test_addresses_are_the_origin_and_the_api_root(server: LocalServer) -> None:
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+", server.base_url)
    assert server.root_url == server.base_url and server.api_root == server.base_url + "/api/v1"


def test_subprocess_handle_serves_and_takes_switches() -> None:
    with LocalServer(subprocess=True, api_keys=("k1",), minimal=True) as server:
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+", server.base_url)
        api = RawAPI(server)
        assert "usage" not in api.chat("Hi").json()  # started minimal
        server.set_minimal(False)
        assert "usage" in api.chat("Hi").json()
        server.expire_tokens()
        assert api.get("/models").status_code == 401
    assert server._process is None


def _login(origin: str, key: str) -> requests.Response:
    return requests.post(f"{origin}/api/v1/auth/api-key", headers={"X-API-Key": key}, timeout=10)


@pytest.mark.parametrize("command", [[sys.executable, "-m", "indox_server"],
                                     [str(Path(sys.executable).with_name("indox-server"))]],
                         ids=["module", "script"])
def test_command_line_prints_origin_then_serves_until_stopped(command: list[str]) -> None:
    process = subprocess.Popen([*command, "--port", "0", "--api-key", "cli-key", "other-key",
                                "--api-key", "third", "--token-ttl", "60", "--minimal"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        url = process.stdout.readline().strip()  # type: ignore[union-attr]
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+", url)
        assert _login(url, "cli-key").json()["expires_in"] == 60
        for key in ("other-key", "third"):
            assert _login(url, key).status_code == 200
        assert _login(url, "indox-local-key").status_code == 401
        minimal = requests.get(f"{url}/_local/minimal", headers={"X-API-Key": "third"}, timeout=10)
        assert minimal.json() == {"minimal": True}
    finally:
        process.terminate()
        _, errors = process.communicate(timeout=10)
    # uvicorn shuts down gracefully, then re-raises SIGTERM so the exit status tells how it ended
    assert process.returncode in (0, -15) and "Traceback" not in errors


def test_command_line_refuses_a_busy_port() -> None:
    with LocalServer() as running:
        port = running.base_url.rsplit(":", 1)[1]
        result = subprocess.run([sys.executable, "-m", "indox_server", "--port", port],
                                capture_output=True, text=True, timeout=30)
    assert result.returncode == 1 and "cannot listen" in result.stderr
    # the server above runs in this process: the message names it, and what to do
    assert f"held by PID {os.getpid()}" in result.stderr and "pick another --port" in result.stderr


def test_without_the_server_extra_the_command_names_it_in_one_line() -> None:
    code = ("import sys; sys.modules['uvicorn'] = None; "
            "from indox_server.__main__ import main; sys.exit(main(['--port', '0']))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30)
    assert result.returncode == 1 and result.stdout == ""
    (line,) = result.stderr.splitlines()
    assert "uvicorn" in line and 'pip install ".[server]"' in line and "Traceback" not in result.stderr


def test_server_and_client_packages_do_not_import_each_other() -> None:
    code = ("import sys, indox_server, indox_server.__main__, indox_server.app; "
            "print(sorted({m.split('.')[0] for m in sys.modules} & {'shared_client', 'indoxRouter', "
            "'langchain_core', 'llama_index', 'langchain_indox', 'llamaindex_indox'}))")
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert loaded.strip() == "[]"
    code = ("import sys, shared_client, indoxRouter, shared_client.integration; "
            "print('indox_server' in {m.split('.')[0] for m in sys.modules})")
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True).stdout.strip() == "False"
