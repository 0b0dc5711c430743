"""What the command lines share: the name a ``--help`` shows for the way the command was started."""

from __future__ import annotations

import sys
from pathlib import Path


def prog(module: str) -> str:
    """``fer-predict`` when started as the installed console script, ``python -m fer_core.predict`` otherwise.

    Why: a usage line should be one the user can type again as it is."""
    name = Path(sys.argv[0]).name if sys.argv and sys.argv[0] else ""
    return name if name.startswith("fer-") else f"python -m {module}"


__all__ = ["prog"]
