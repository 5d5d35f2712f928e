"""Who holds a TCP port, for the message when the server cannot listen (Linux ``/proc``; else unknown)."""

from __future__ import annotations

import os
from pathlib import Path


def holder_of(port: int) -> str | None:
    """``"PID 1234 (python -m indox_server)"`` for the process listening on ``port``, if it can be found."""
    inodes = _listening_inodes(port)
    if not inodes:
        return None
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            links = {os.readlink(fd) for fd in (proc / "fd").iterdir()}
        except OSError:  # gone, or not ours to read
            continue
        if any(f"socket:[{inode}]" in links for inode in inodes):
            try:
                command = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
            except OSError:
                command = ""
            return f"PID {proc.name}" + (f" ({command})" if command else "")
    return None


def _listening_inodes(port: int) -> set[str]:
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            local, state, inode = fields[1], fields[3], fields[9]
            if state == "0A" and int(local.rsplit(":", 1)[1], 16) == port:  # 0A: LISTEN
                found.add(inode)
    return found
