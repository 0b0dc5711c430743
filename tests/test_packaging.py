"""``pip install .``: the engine as a package, used from outside the checkout.

The package is built from a copy of the engine's files with the venv's own setuptools (no network),
installed into a folder of its own, and used from another folder with only that one on the path:
its console scripts, the shipped models inside it, and ``fer_core.analyze`` on a real photo.
"""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())


def _modules_with_a_main() -> set[str]:
    """Every engine module that defines ``main`` (a command line: ``python -m fer_core.X``)."""
    found = set()
    for path in (ROOT / "fer_core").rglob("*.py"):
        tree = ast.parse(path.read_text())
        if any(isinstance(n, ast.FunctionDef) and n.name == "main" for n in tree.body):
            found.add(".".join(path.relative_to(ROOT).with_suffix("").parts))
    return found


def test_every_command_line_is_a_console_script():
    scripts = PYPROJECT["project"]["scripts"]
    targets = {target.partition(":")[0] for target in scripts.values() if target.endswith(":main")}
    assert targets == _modules_with_a_main()
    assert {"fer-train", "fer-evaluate", "fer-ensemble", "fer-predict", "fer-video"} <= set(scripts)


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The engine installed by pip into a folder of its own (from a copy: the checkout gets no build files)."""
    pytest.importorskip("setuptools")
    base = tmp_path_factory.mktemp("pip")
    src = base / "src"
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    shutil.copytree(ROOT / "fer_core", src / "fer_core", ignore=ignore)
    shutil.copytree(ROOT / "models", src / "models", ignore=ignore)
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, src / name)
    site = base / "site"
    out = subprocess.run([sys.executable, "-m", "pip", "install", str(src), "--no-deps", "--no-build-isolation",
                          "--no-index", "--target", str(site), "--quiet"], capture_output=True, text=True,
                         timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    return site


def _outside(site: Path, tmp_path: Path) -> dict[str, str]:
    """An environment that sees the installed package and not the checkout (nor a models folder set here)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("FER_") and k != "PYTHONPATH"}
    env.update(PYTHONPATH=str(site), TF_CPP_MIN_LOG_LEVEL="2")
    assert not (tmp_path / "models").exists()
    return env


def test_the_installed_console_scripts_run(installed: Path, tmp_path: Path):
    for script in PYPROJECT["project"]["scripts"]:
        assert (installed / "bin" / script).is_file(), script
    out = subprocess.run([str(installed / "bin" / "fer-predict"), "--help"], cwd=tmp_path,
                         env=_outside(installed, tmp_path), capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.startswith("usage: fer-predict") and "--model" in out.stdout  # a line to type again


def test_the_installed_engine_analyses_a_photo_with_its_shipped_model(installed: Path, tmp_path: Path,
                                                                      astronaut: np.ndarray):
    shipped = installed / "fer_core" / "shipped_models"
    assert (shipped / "default" / "model.keras").is_file() and (shipped / "fer2013" / "model.json").is_file()
    Image.fromarray(astronaut).save(tmp_path / "photo.jpg", quality=92)
    code = (
        "import sys, fer_core\n"
        "from fer_core.inference.pipeline import get_pipeline\n"
        "faces = fer_core.analyze('photo.jpg')\n"
        "print(fer_core.__file__)\n"
        "print(get_pipeline().classifier.directory)\n"
        "print(len(faces), faces[0].is_largest, faces[0].label)\n"
        "print(' '.join(get_pipeline().classifier.class_names))\n"
        "print('streamlit_webrtc' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=_outside(installed, tmp_path),
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    module, model_dir, faces, classes, webrtc = out.stdout.strip().splitlines()[-5:]
    assert Path(module).is_relative_to(installed)  # the installed package, not the checkout
    assert Path(model_dir) == shipped / "default"
    count, largest, label = faces.split()
    assert int(count) == 1 and largest == "True" and label in classes.split()
    assert webrtc == "False"  # the library needs no streamlit_webrtc
