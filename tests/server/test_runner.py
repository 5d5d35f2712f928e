"""Starting the server: the command line and the subprocess handle."""

from __future__ import annotations

import subprocess
import sys

import requests

from indox_server import LocalServer

from .helpers import RawAPI


def test_subprocess_handle_serves_and_takes_switches() -> None:
    with LocalServer(subprocess=True, api_keys=("k1",)) as server:
        assert server.base_url.startswith("http://127.0.0.1:") and server.base_url.endswith("/v1")
        api = RawAPI(server)
        assert api.get("/providers").status_code == 200
        server.expire_tokens()
        assert api.get("/providers").status_code == 401
    assert server._process is None


def test_command_line_prints_base_url_then_serves_until_stopped() -> None:
    process = subprocess.Popen([sys.executable, "-m", "indox_server", "--port", "0",
                                "--api-key", "cli-key", "other-key", "--api-key", "third", "--token-ttl", "60"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        url = process.stdout.readline().strip()  # type: ignore[union-attr]
        assert url.startswith("http://127.0.0.1:") and url.endswith("/v1")
        tokens = requests.post(f"{url}/auth/token", json={"api_key": "cli-key"}, timeout=10).json()
        assert tokens["expires_in"] == 60
        for key in ("other-key", "third"):
            assert requests.post(f"{url}/auth/token", json={"api_key": key}, timeout=10).status_code == 200
        assert requests.post(f"{url}/auth/token", json={"api_key": "indox-local-key"}, timeout=10).status_code == 401
    finally:
        process.terminate()
        _, errors = process.communicate(timeout=10)
    # uvicorn shuts down gracefully, then re-raises SIGTERM so the exit status tells how it ended
    assert process.returncode in (0, -15) and "Traceback" not in errors


def test_command_line_refuses_a_busy_port() -> None:
    with LocalServer() as running:
        port = running.base_url.rsplit(":", 1)[1].split("/")[0]
        result = subprocess.run([sys.executable, "-m", "indox_server", "--port", port],
                                capture_output=True, text=True, timeout=30)
    assert result.returncode == 1 and "cannot listen" in result.stderr


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
