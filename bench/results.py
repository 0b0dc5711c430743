"""Where each benchmark's headline is kept, and how docs/benchmarks.md quotes it.

Why: hand-copied figures go stale while the benchmarks move on. Each benchmark writes its headline
line(s) to ``bench/results/<name>.txt`` (with the command and the date), and
``bench/readme_figures.py`` copies them into docs/benchmarks.md between ``<!-- bench:<name> -->``
markers; a test fails when that page and the results disagree.
"""

from __future__ import annotations

import platform
import re
import sys
from datetime import UTC, datetime
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"
DOC = Path(__file__).resolve().parent.parent / "docs" / "benchmarks.md"
BLOCK = re.compile(r"(<!-- bench:(?P<name>[a-z_]+) -->\n)(?P<body>.*?)(<!-- /bench:(?P=name) -->)", re.S)


def record(name: str, headlines: list[str], argv: list[str] | None = None) -> Path:
    """Keep ``headlines`` as benchmark ``name``'s latest result (only for a run of the whole benchmark)."""
    args = " ".join(argv if argv is not None else sys.argv[1:])
    when = datetime.now(UTC).strftime("%Y-%m-%d")
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{name}.txt"
    machine = f"{platform.machine()}, {_cores()} cores"
    path.write_text(f"# bench/{name}.py {args}".rstrip() + f"  ({when}, {machine})\n" + "\n".join(headlines) + "\n")
    return path


def _cores() -> int:
    import os

    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def block_text(name: str) -> str:
    """The quoted block of benchmark ``name``: its recorded result as a code block."""
    path = RESULTS / f"{name}.txt"
    text = path.read_text().strip() if path.is_file() else f"# bench/{name}.py has not been recorded yet"
    return f"```\n{text}\n```\n"


def render(doc: str) -> str:
    """``doc`` with every bench block replaced by the recorded result."""
    return BLOCK.sub(lambda m: m.group(1) + block_text(m.group("name")) + m.group(4), doc)


def blocks(doc: str) -> list[str]:
    """The benchmark names ``doc`` quotes."""
    return [m.group("name") for m in BLOCK.finditer(doc)]
