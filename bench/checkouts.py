"""Which code a benchmark ran: a checkout's commit, marked when its tree has changes."""

from __future__ import annotations

import subprocess
from pathlib import Path


def commit(checkout: Path) -> str:
    """The checkout's short commit, with ``+changes`` when tracked files differ from it."""
    head = subprocess.run(
        ["git", "-C", str(checkout), "rev-parse", "--short", "HEAD"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    changed = subprocess.run(
        ["git", "-C", str(checkout), "status", "--porcelain", "--untracked-files=no"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    return f"{head}+changes" if changed else head
