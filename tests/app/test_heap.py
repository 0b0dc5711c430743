"""webui.heap: after the first model load, Streamlit's after-run collections skip TensorFlow's objects.

Each check runs in a fresh interpreter: freezing is once per process, and the test process must not
be frozen by a check.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run_python(code: str, home: Path) -> dict:
    """Run ``code`` in a fresh interpreter at the project root; it prints one JSON object last."""
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300,
                         env={"TF_CPP_MIN_LOG_LEVEL": "3", "PATH": "/usr/bin:/bin", "HOME": str(home)})
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_loading_a_model_moves_its_objects_out_of_the_collectors_way(default_model_dir: Path, tmp_path: Path) -> None:
    got = run_python(
        "import gc, json\n"
        "from webui.models import cached_classifier\n"
        "before = len(gc.get_objects())\n"
        f"clf = cached_classifier({str(default_model_dir)!r})\n"
        "gc.collect(2)  # what Streamlit does after every script run\n"
        "print(json.dumps({'before': before, 'frozen': gc.get_freeze_count(), 'walked': len(gc.get_objects()),\n"
        "                  'works': len(clf.class_names)}))\n",
        tmp_path,
    )
    assert got["works"] >= 7
    # TensorFlow, Keras and the model are frozen; a full collection walks only what came after.
    assert got["frozen"] > got["before"] > 1000
    assert got["walked"] < got["frozen"] / 20, got


def test_garbage_is_collected_before_freezing_and_freezing_happens_once(tmp_path: Path) -> None:
    got = run_python(
        "import gc, json, weakref\n"
        "from webui.heap import settle_heap\n"
        "class Node: pass\n"
        "a = Node(); a.self = a; dead = weakref.ref(a); del a  # cyclic garbage, freed only by a collection\n"
        "gc.disable()\n"
        "first = settle_heap()\n"
        "later = [Node() for _ in range(100)]\n"
        "second = settle_heap()\n"
        "tracked = {id(o) for o in gc.get_objects()}\n"
        "print(json.dumps({'freed': dead() is None, 'first': first, 'second': second,\n"
        "                  'later_collectable': all(id(o) in tracked for o in later)}))\n",
        tmp_path,
    )
    assert got["freed"], "garbage alive at the first load would be frozen for good"
    assert got["first"] > 0 and got["second"] <= got["first"], got  # nothing frozen the second time
    assert got["later_collectable"], "objects made after the first load must stay collectable"
