"""``dev.py server``: prints what to export, and stopping it stops the server (no child left on the port)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _refuses(origin: str, within: float = 5.0) -> bool:
    host, port = origin.removeprefix("http://").rsplit(":", 1)
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            socket.create_connection((host, int(port)), timeout=0.5).close()
        except OSError:
            return True
        time.sleep(0.05)
    return False


@pytest.mark.skipif(os.name != "posix", reason="signals and exec are POSIX's")
@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGKILL, signal.SIGINT])
def test_stopping_dev_py_server_stops_the_server(stop: signal.Signals) -> None:
    process = subprocess.Popen([sys.executable, str(ROOT / "dev.py"), "server", "--port", "0"],
                               stdout=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        assert process.stdout is not None
        origin = ""
        for _ in range(20):  # past dev.py's own lines, should it have to install first
            origin = process.stdout.readline().strip()
            if origin.startswith("http"):
                break
        assert origin.startswith("http://127.0.0.1:")
        printed = [process.stdout.readline() for _ in range(4)]
        assert f"export INDOX_ROUTER_BASE_URL={origin}\n" in printed
        assert "export INDOX_ROUTER_API_KEY=indox-local-key\n" in printed
        process.send_signal(stop)  # the PID the user sees is the server's own
        process.wait(10)
        assert _refuses(origin)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
