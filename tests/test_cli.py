"""fer_core.cli: a usage line the user can type again, however the command was started."""

from __future__ import annotations

import subprocess
import sys

import pytest

from fer_core import cli


@pytest.mark.parametrize(("argv0", "shown"), [
    ("/home/me/.venv/bin/fer-predict", "fer-predict"),
    ("/work/fer_core/predict.py", "python -m fer_core.predict"),
    ("", "python -m fer_core.predict"),
])
def test_prog_names_the_way_the_command_was_started(monkeypatch, argv0, shown):
    monkeypatch.setattr(sys, "argv", [argv0])
    assert cli.prog("fer_core.predict") == shown


def test_python_dash_m_help_shows_python_dash_m():
    out = subprocess.run([sys.executable, "-m", "fer_core.calibrate", "--help"], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0 and out.stdout.startswith("usage: python -m fer_core.calibrate"), out.stdout[:200]
