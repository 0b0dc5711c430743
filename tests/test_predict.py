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


def test_predict_whole_classifies_a_crop_the_detector_misses(tiny_model_dir, astronaut, tmp_path):
    from tests.inference.test_pipeline import _tight_crop

    crop = _tight_crop(astronaut)
    path = tmp_path / "crop.png"
    Image.fromarray(crop).save(path)
    base = [sys.executable, "-m", "fer_core.predict", "--model", str(tiny_model_dir), "--detector", "haar"]
    found = subprocess.run(base + [str(path)], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert found.returncode == 0 and json.loads(found.stdout)["faces"] == []
    whole = subprocess.run(base + ["--whole", str(path)], capture_output=True, text=True, cwd=ROOT, timeout=300)
    faces = json.loads(whole.stdout)["faces"]
    assert whole.returncode == 0 and len(faces) == 1
    assert faces[0]["box"] == [0, 0, crop.shape[1], crop.shape[0]] and faces[0]["label"] in faces[0]["probabilities"]
    both = subprocess.run(base + ["--whole", "--largest-only", str(path)], capture_output=True, text=True, cwd=ROOT,
                          timeout=300)
    assert both.returncode == 2 and "not allowed with" in both.stderr
