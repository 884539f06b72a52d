"""The tree carries no leftovers of a merge: no conflict markers in any tracked text file."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
MARKER = re.compile(r"^(<{7}|>{7}) \S", re.MULTILINE)


def _tracked_text_files() -> list[Path]:
    try:
        listing = subprocess.run(
            ["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("not a git checkout")
    suffixes = {".py", ".md", ".toml", ".yml", ".yaml", ".txt", ".cfg", ""}
    return [ROOT / name for name in listing.splitlines() if Path(name).suffix in suffixes]


def test_no_tracked_file_contains_a_merge_conflict_marker() -> None:
    conflicted = [
        str(path.relative_to(ROOT))
        for path in _tracked_text_files()
        if path.is_file() and MARKER.search(path.read_text(errors="replace"))
    ]
    assert conflicted == []
