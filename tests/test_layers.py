"""The engine's layers, read from the source: ``fer_core`` is UI-free, the inference and data layers
never reach into training (a live page must not pull in the trainer), and the data layer knows no
detector or model (inference builds on data, never the other way round)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ENGINE = ROOT / "fer_core"


def imported_modules(path: Path) -> set[str]:
    """Every module ``path`` imports, at top level or inside functions."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{a.name}" for a in node.names)
    return found


def offenders(folder: Path, forbidden: tuple[str, ...]) -> list[str]:
    return [f"{p.relative_to(folder)} imports {m}" for p in sorted(folder.rglob("*.py"))
            for m in sorted(imported_modules(p)) if m.split(".")[0] in forbidden or m.startswith(forbidden)]


def test_the_engine_has_its_layers():
    for layer in ("inference", "training", "data"):
        assert (ENGINE / layer / "__init__.py").is_file(), layer


def test_the_engine_imports_no_ui():
    assert offenders(ENGINE, ("streamlit", "streamlit_webrtc", "webui", "pages")) == []


def test_inference_and_data_do_not_reach_into_training():
    for layer in ("inference", "data"):
        assert offenders(ENGINE / layer, ("fer_core.training",)) == [], layer


def test_data_does_not_reach_into_inference():
    assert offenders(ENGINE / "data", ("fer_core.inference",)) == []


def test_the_check_sees_a_forbidden_import(tmp_path):
    bad = tmp_path / "mod.py"
    bad.write_text("def f():\n    from fer_core.training.trainer import train\n    import streamlit as st\n")
    found = offenders(tmp_path, ("fer_core.training", "streamlit"))
    assert "mod.py imports fer_core.training.trainer" in found and "mod.py imports streamlit" in found
