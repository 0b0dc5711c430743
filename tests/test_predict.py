import json
import subprocess
import sys

from PIL import Image

from tests.conftest import ROOT


def test_predict_prints_json_lines_and_survives_bad_files(tiny_model_dir, astronaut, tmp_path):
    good = tmp_path / "face.jpg"
    Image.fromarray(astronaut).save(good)
    bad = tmp_path / "broken.jpg"
    bad.write_bytes(b"this is not a jpeg")
    proc = subprocess.run([sys.executable, "-m", "fer_core.predict", "--model", str(tiny_model_dir), "--detector",
                           "haar", str(good), str(bad), str(tmp_path / "missing.png"), str(good)],
                          capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert proc.returncode == 1  # something failed
    lines = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [r["file"] for r in lines] == [str(good), str(good)]
    face = lines[0]["faces"][0]
    assert face["is_largest"] and face["label"] in face["probabilities"]
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 2 and "Traceback" not in proc.stderr


def test_predict_missing_model(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "fer_core.predict", "--model", str(tmp_path / "no_model"), "x.jpg"],
                          capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert proc.returncode == 2 and proc.stderr.startswith("error:")
