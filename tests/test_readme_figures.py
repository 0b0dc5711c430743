"""docs/benchmarks.md quotes the benchmarks' recorded headlines (bench/results/), never figures of its own."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import ROOT

sys.path.insert(0, str(ROOT / "bench"))

from results import BLOCK, DOC, block_text, blocks, render  # noqa: E402


def test_the_benchmarks_page_quotes_every_benchmark_as_recorded():
    text = DOC.read_text()
    assert {"accuracy", "live", "video", "capacity"} <= set(blocks(text))
    assert render(text) == text, "run: python bench/readme_figures.py"
    for m in BLOCK.finditer(text):
        assert m.group("body") == block_text(m.group("name"))


def test_a_changed_result_makes_the_check_fail(tmp_path):
    stale = "<!-- bench:accuracy -->\n```\nferplus_majority=0.99\n```\n<!-- /bench:accuracy -->\n"
    assert render(stale) != stale and "0.99" not in render(stale)
    proc = subprocess.run([sys.executable, str(ROOT / "bench" / "readme_figures.py"), "--check"],
                          capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr
