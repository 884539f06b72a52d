"""The ``gristmill`` command: a JSON Lines file through ``gristmill map``, with its progress.

Writes an input file of ``[doc_id, size]`` pairs (a few bad lines and empty
documents among them), then runs::

    python -m gristmill map _jobs:score_document INPUT -o OUTPUT --star --backend process

with its stderr on this terminal, so a terminal shows the live progress display
(done/total, items/s, ETA, failures) and then the one-line summary. Bad lines and
failing documents become error records; ``--allow-failures`` makes them no reason
to exit with 1. ``make demo`` runs this after ``examples/demo.py``, with more lines.

Run from the repository root::

    .venv/bin/python examples/map_cli.py [--lines N]
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parent


def write_input(path: Path, lines: int) -> None:
    """``[doc_id, size]`` per line; one line in 97 is not JSON, one document in 53 is empty."""
    rng = random.Random(12)
    with path.open("w") as out:
        for doc_id in range(lines):
            if doc_id % 97 == 96:
                out.write(f"[{doc_id}, oops\n")
            else:
                size = 0 if doc_id % 53 == 52 else rng.randrange(2500, 6000)
                out.write(f"[{doc_id}, {size}]\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lines", type=int, default=600, help="input lines (default: 600)")
    lines = parser.parse_args().lines
    with tempfile.TemporaryDirectory(prefix="gristmill-cli-demo-") as tmp:
        source, output = Path(tmp, "documents.jsonl"), Path(tmp, "scores.jsonl")
        write_input(source, lines)
        command = [sys.executable, "-m", "gristmill", "map", "_jobs:score_document"]
        command += [str(source), "-o", str(output), "--star", "--backend", "process"]
        command += ["--workers", "2", "--allow-failures"]
        print(
            f"$ gristmill map _jobs:score_document {source.name} -o {output.name} --star "
            "--backend process --workers 2 --allow-failures",
            flush=True,
        )
        status = subprocess.run(command, cwd=EXAMPLES, check=False).returncode
        records = [json.loads(line) for line in output.read_text().splitlines()]
    errors = Counter(record["error"]["type"] for record in records if "error" in record)
    print(f"exit status {status}; {len(records):,} records, errors by type: {dict(errors)}")
    for record in records[95:98]:
        print("  ", json.dumps(record))
    if status != 0 or len(records) != lines:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
