"""Starting the server: the command line and the subprocess handle."""

from __future__ import annotations

import subprocess
import sys

import requests

from shared_client.server import LocalServer

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
    process = subprocess.Popen([sys.executable, "-m", "shared_client.server", "--port", "0",
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
        result = subprocess.run([sys.executable, "-m", "shared_client.server", "--port", port],
                                capture_output=True, text=True, timeout=30)
    assert result.returncode == 1 and "cannot listen" in result.stderr
