#!/usr/bin/env python3
"""Set up the project's environment and run its jobs, with nothing but Python 3.10+.

    python3 dev.py demo [--help]   the guided tour against the embedded local server
    python3 dev.py test [ARGS]     ruff, mypy, the docs build and the whole test suite (ARGS go to pytest)
    python3 dev.py server [ARGS]   the local server alone (ARGS go to the server)

The first run creates ``.venv`` and installs the project into it, editable,
with the extras the job needs; later runs reinstall only when
``pyproject.toml`` changed.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import time
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
EXTRAS = {"demo": "all", "server": "server", "test": "dev"}
LEVELS = ["server", "all", "dev"]  # each extra includes the ones before it


def _venv_python() -> Path:
    return VENV / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def _run(*command: str | Path) -> int:
    return subprocess.call([str(part) for part in command], cwd=ROOT)


def _install(python: Path, *args: str) -> int:
    """``pip install`` quietly (errors only: pip still prints those), with a line every 15 s so a long
    first install does not look stuck."""
    started = time.monotonic()
    # setuptools' note on editable installs is information, not a problem: keep it off the screen
    quiet = {**os.environ, "PYTHONWARNINGS": "ignore::Warning:setuptools.command.editable_wheel"}
    with subprocess.Popen([str(python), "-m", "pip", "install", "-qq", "--disable-pip-version-check", *args],
                          cwd=ROOT, env=quiet) as pip:
        while True:
            try:
                return pip.wait(timeout=15)
            except subprocess.TimeoutExpired:
                print(f"  ... still installing ({time.monotonic() - started:.0f} s)", flush=True)


def ensure_environment(extras: str) -> Path:
    """The venv's interpreter, with the project installed with ``extras``."""
    python = _venv_python()
    created = not python.exists()
    if created:
        print(f"Creating {VENV.name}/ ...", flush=True)
        venv.EnvBuilder(with_pip=True, clear=True).create(VENV)
    digest = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    stamp = VENV / ".indox-installed"
    installed, _, stamp_digest = (stamp.read_text().partition(" ") if stamp.exists() else ("", "", ""))
    if stamp_digest == digest and installed in LEVELS and LEVELS.index(installed) >= LEVELS.index(extras):
        return python
    if installed in LEVELS and LEVELS.index(installed) > LEVELS.index(extras):
        extras = installed  # a reinstall keeps what a larger job installed
    if created or not installed:
        why = "the first run; a few minutes, once"
    elif stamp_digest != digest:
        why = "pyproject.toml changed"
    else:
        why = f"this job needs more than the [{installed}] installed so far; once"
    print(f"Installing the project with [{extras}] into {VENV.name}/ ({why}) ...", flush=True)
    if _install(python, "--upgrade", "pip") != 0 or _install(python, "-e", f".[{extras}]") != 0:
        sys.exit("Installing the project failed; see pip's message above.")
    stamp.write_text(f"{extras} {digest}")
    print("Installed.", flush=True)
    return python


def run_tests(python: Path, pytest_args: list[str]) -> int:
    os.environ.setdefault("NO_MKDOCS_2_WARNING", "1")  # mkdocs-material's banner about its successor
    steps = [
        ("ruff", [python, "-m", "ruff", "check", "."]),
        ("mypy", [python, "-m", "mypy"]),
        ("docs", [python, "-m", "mkdocs", "build", "--strict", "--quiet", "--site-dir", str(ROOT / "site")]),
        ("pytest", [python, "-m", "pytest", *pytest_args]),
    ]
    for name, command in steps:
        print(f"== {name}", flush=True)
        code = _run(*command)
        if code != 0:
            print(f"== {name} failed (exit {code})", flush=True)
            return code
    return 0


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in EXTRAS:
        print(__doc__.strip())
        return 2
    job, rest = argv[0], argv[1:]
    python = ensure_environment(EXTRAS[job])
    if job == "test":
        return run_tests(python, rest)
    if job == "server":
        command = [str(python), "-m", "indox_server", *rest]
        if os.name == "posix":  # become the server: stopping this process stops it, no child left behind
            os.chdir(ROOT)
            os.execv(command[0], command)
        return _run(*command)
    return _run(python, ROOT / "demo" / "tour.py", *rest)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
