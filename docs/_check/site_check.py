"""``make docs-check``: look at the built site as a reader would, offline, at 1280 px.

Serves the built site on 127.0.0.1 and opens pages in headless Chromium, which
has no network here, so a diagram renders only if the site serves Mermaid
itself. For each page it checks the DOM after the scripts ran (every Mermaid
block became a diagram, drawn with the local copy) and saves a 1280×900
screenshot to look at. It also checks that the API reference lists no internal
attribute. Not part of CI: it needs Chromium (``apt-get install chromium``).

Usage: ``python docs/_check/site_check.py SITE_DIR OUT_DIR``
"""

from __future__ import annotations

import functools
import http.server
import os
import shutil
import subprocess
import sys
import tempfile
import threading
from pathlib import Path
from typing import Any, ClassVar

PAGES = ["", "concepts/", "shutdown/", "tuning/", "api/"]
"""Pages to screenshot, relative to the site root."""

LOCAL_MERMAID = "/javascripts/vendor/mermaid.min.js"
INTERNAL_NAMES = ("payload_dumps", "payloads_cross_process", "progress_board")
WIDTH, HEIGHT = 1280, 900


class _Handler(http.server.SimpleHTTPRequestHandler):
    """Serves the site and remembers which paths were asked for."""

    requested: ClassVar[set[str]] = set()

    def log_message(self, format: str, *args: Any) -> None:
        self.requested.add(self.path)


def _chromium() -> str:
    found = os.environ.get("CHROMIUM") or shutil.which("chromium")
    if found is None:
        sys.exit("docs-check needs Chromium: apt-get install chromium (or set CHROMIUM=...)")
    return found


def _browse(chromium: str, url: str, *extra: str) -> str:
    """Run headless Chromium on ``url`` with ``extra`` flags; return what it printed."""
    with tempfile.TemporaryDirectory() as profile:
        done = subprocess.run(
            [
                chromium,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                f"--user-data-dir={profile}",
                f"--window-size={WIDTH},{HEIGHT}",
                "--virtual-time-budget=10000",
                *extra,
                url,
            ],
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        )
    return done.stdout


def check(site: Path, out: Path) -> list[str]:
    """Check ``site`` and write screenshots into ``out``; return the problems found."""
    problems: list[str] = []
    if not (site / LOCAL_MERMAID.lstrip("/")).is_file():
        problems.append(f"the site has no {LOCAL_MERMAID}: `make docs` could not fetch Mermaid")
    api = (site / "api" / "index.html").read_text()
    problems += [
        f"the API reference lists the internal attribute {name}"
        for name in INTERNAL_NAMES
        if f'id="gristmill.LeasedExecutorManager.{name}"' in api
    ]
    chromium = _chromium()
    out.mkdir(parents=True, exist_ok=True)
    handler = functools.partial(_Handler, directory=str(site))
    with http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler) as server:
        threading.Thread(target=server.serve_forever, daemon=True).start()
        root = f"http://127.0.0.1:{server.server_address[1]}/"
        for page in PAGES:
            name = page.strip("/").replace("/", "-") or "index"
            source = (site / page / "index.html").read_text()
            if '<pre class="mermaid">' in source:
                dom = _browse(chromium, root + page, "--dump-dom")
                if '<pre class="mermaid">' in dom or '<div class="mermaid">' not in dom:
                    problems.append(f"{page or '/'}: a Mermaid diagram was left as text")
            _browse(chromium, root + page, f"--screenshot={out / (name + '.png')}")
            print(f"screenshot: {out / (name + '.png')}")
        server.shutdown()
    if LOCAL_MERMAID not in _Handler.requested:
        problems.append("no page asked the site for its own copy of Mermaid")
    return problems


def main(argv: list[str]) -> int:
    """Check the site in ``argv[1]``, screenshots into ``argv[2]``; 1 if anything is wrong."""
    if len(argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    problems = check(Path(argv[1]), Path(argv[2]))
    for problem in problems:
        print(f"docs-check: {problem}", file=sys.stderr)
    if not problems:
        print("docs-check: diagrams render offline; the API reference lists public names only")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
