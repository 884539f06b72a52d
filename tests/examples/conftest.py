"""Make the example scripts importable by module name, as ``python examples/X.py`` does."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.append(str(Path(__file__).resolve().parents[2] / "examples"))
