"""Guard: tensorflow imported before pylibsrtp segfaults; entry points must import streamlit_webrtc first."""

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _first_import(path: Path) -> str:
    tree = ast.parse(path.read_text())
    for node in tree.body:
        if isinstance(node, ast.Import):
            return node.names[0].name
        if isinstance(node, ast.ImportFrom) and node.module != "__future__":
            return node.module or ""
    return ""


def test_entry_points_import_streamlit_webrtc_first():
    for rel in ("home.py", "tests/conftest.py", "bench/accuracy.py"):
        path = ROOT / rel
        if path.exists():
            assert _first_import(path) == "streamlit_webrtc", f"{rel} must import streamlit_webrtc first"


def test_the_server_module_imports_neither_webrtc_nor_tensorflow():
    """streamlit_app.py is imported before Streamlit's runtime exists: streamlit_webrtc's component declared
    then is never served (the live page shows "trouble loading the component"), and tensorflow must not come
    before it. Checked in a fresh interpreter."""
    code = (f"import sys; sys.path.insert(0, {str(ROOT)!r}); import streamlit_app; "
            "print(sorted(m for m in ('streamlit_webrtc', 'tensorflow', 'aiortc') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1] == "[]"


def test_engine_modules_do_not_import_tensorflow_at_top_level():
    for path in sorted((ROOT / "fer_core").rglob("*.py")):
        tree = ast.parse(path.read_text())
        for node in tree.body:
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else (
                [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            assert not any(n.split(".")[0] in ("tensorflow", "keras") for n in names), path.name


def test_webrtc_then_tensorflow_in_one_process_survives():
    code = "import streamlit_webrtc, aiortc, tensorflow as tf; print(int(tf.constant(2) * 3))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().endswith("6")


def test_the_engine_makes_any_later_import_order_safe():
    """A library user imports fer_core, then tensorflow (the engine's models), then streamlit_webrtc, without
    importing streamlit_webrtc first: importing fer_core loaded pylibsrtp before tensorflow."""
    code = ("import sys, fer_core\n"
            "assert 'streamlit_webrtc' not in sys.modules and 'tensorflow' not in sys.modules\n"
            "import tensorflow as tf, streamlit_webrtc, aiortc\n"
            "print(int(tf.constant(2) * 3))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().endswith("6")
