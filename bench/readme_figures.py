"""Copy every benchmark's recorded headline into the README: ``python bench/readme_figures.py [--check]``.

With ``--check`` nothing is written; the exit status is 1 when the README quotes figures other than
the recorded ones (the test suite runs this check).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from results import README, blocks, render  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--check", action="store_true", help="only say whether the README is up to date")
    args = p.parse_args(argv)
    text = README.read_text()
    new = render(text)
    if args.check:
        if new != text:
            print("README.md quotes figures other than bench/results/: run python bench/readme_figures.py")
            return 1
        print(f"README.md quotes the recorded results of {', '.join(blocks(text))}")
        return 0
    README.write_text(new)
    print(f"README.md: {', '.join(blocks(text))} brought up to date")
    return 0


if __name__ == "__main__":
    sys.exit(main())
