"""Copy every benchmark's recorded headline into docs/benchmarks.md: ``python bench/readme_figures.py [--check]``.

With ``--check`` nothing is written; the exit status is 1 when docs/benchmarks.md quotes figures other
than the recorded ones (the test suite runs this check).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from results import DOC, blocks, render  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--check", action="store_true", help="only say whether docs/benchmarks.md is up to date")
    args = p.parse_args(argv)
    text = DOC.read_text()
    new = render(text)
    if args.check:
        if new != text:
            print("docs/benchmarks.md quotes figures other than bench/results/: run python bench/readme_figures.py")
            return 1
        print(f"docs/benchmarks.md quotes the recorded results of {', '.join(blocks(text))}")
        return 0
    DOC.write_text(new)
    print(f"docs/benchmarks.md: {', '.join(blocks(text))} brought up to date")
    return 0


if __name__ == "__main__":
    sys.exit(main())
