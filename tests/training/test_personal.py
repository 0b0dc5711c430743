"""The personal protocol and the calibration command lines, on real FER2013 faces and the shipped model.

A "person" here is a few FER2013 faces, each with two near copies (a little brighter, a pixel over):
faces of one sitting. The faces are picked where the shipped model misreads them among the person's
classes, but not by much, so a calibration from one copy must put the others right.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from fer_core.training.personal import person_of
from tests.conftest import DEFAULT_MODEL, FER_NPZ, ROOT, need_shared

CLASSES = ["angry", "sad", "neutral"]


def test_person_is_read_from_the_file_name():
    assert person_of("KA.AN1.39.png") == "KA"
    assert person_of("Al_Sharpton_0002.jpg") == "Al_Sharpton"
    assert person_of("Dileep_52.jpg") == "Dileep"
    assert person_of("facial-expressions_2868588k.jpg") == "facial-expressions_2868588k"
    assert person_of("s03-happy-2.png", r"^(s\d+)-") == "s03"
    assert person_of("nobody.png", r"^(s\d+)-") is None


def _copies(face: np.ndarray) -> list[np.ndarray]:
    """The face and two near copies of it, as a second photo of one sitting would be."""
    brighter = np.clip(face.astype(np.int16) + 6, 0, 255).astype(np.uint8)
    return [face, brighter, np.roll(face, 1, axis=1)]


@pytest.fixture(scope="module")
def misread_faces() -> dict[str, list[np.ndarray]]:
    """Per class, three FER2013 faces the shipped model misreads among ``CLASSES`` by under 3 nats."""
    need_shared(FER_NPZ)
    from fer_core.data.datasets import load_dataset
    from fer_core.inference.classifier import get_classifier

    split = load_dataset(FER_NPZ).split("PublicTest")
    names = load_dataset(FER_NPZ).class_names
    clf = get_classifier(DEFAULT_MODEL)
    cols = [clf.class_names.index(c) for c in CLASSES]
    picked: dict[str, list[np.ndarray]] = {}
    for c in CLASSES:
        idx = np.flatnonzero(split.labels == names.index(c))[:300]
        faces = [split.image(int(i)) for i in idx]
        logp = np.log(clf.predict(faces)[:, cols])
        own = CLASSES.index(c)
        gap = logp.max(axis=1) - logp[:, own]
        good = [faces[j] for j in np.flatnonzero((gap > 0.3) & (gap < 3.0))[:3]]
        assert len(good) == 3, f"too few misread {c} faces in the first 300"
        picked[c] = good
    return picked


def _write_people(root: Path, misread: dict[str, list[np.ndarray]], people: int) -> Path:
    """``root/<class>/<Person>_<n>.png``: each person has one face of each class and its two copies."""
    for p in range(people):
        for c in CLASSES:
            (root / c).mkdir(parents=True, exist_ok=True)
            for n, img in enumerate(_copies(misread[c][p])):
                Image.fromarray(img).save(root / c / f"Person{p}_{n}.png")
    return root


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", *args], capture_output=True, text=True, cwd=ROOT, timeout=600)


def test_personal_protocol_scores_the_same_faces_with_and_without_calibration(misread_faces, tmp_path):
    data = _write_people(tmp_path / "people", misread_faces, people=3)
    out = tmp_path / "report.json"
    proc = _run("fer_core.evaluate", "--model", str(DEFAULT_MODEL), "--data", str(data), "--personal", "1",
                "--repeats", "3", "--json", str(out))
    assert proc.returncode == 0, proc.stderr
    report = json.loads(out.read_text())
    for key in ("accuracy", "macro_f1", "n", "missed_faces", "class_names", "confusion_matrix", "per_class",
                "personal_accuracy", "people", "test_faces", "repeats"):
        assert key in report
    # three people x three classes x (three faces less one calibration face), three draws
    assert report["people"] == 3 and report["test_faces"] == 18 and report["repeats"] == 3 and report["n"] == 54
    assert report["accuracy"] < 0.5  # the model misreads these faces (a copy now and then may tip over)
    assert report["personal_accuracy"] >= 0.8  # one face of the sitting puts most of its copies right
    assert set(report["per_person"]) == {"Person0", "Person1", "Person2"}
    assert "personal protocol, K=1: 3 people, 18 test faces, 3 repeats" in proc.stdout

    none = _run("fer_core.evaluate", "--model", str(DEFAULT_MODEL), "--data", str(data), "--personal", "3")
    errors = [line for line in none.stderr.splitlines() if line.startswith("error:")]
    assert none.returncode == 2 and errors[0].startswith("error: no person has more than 3 faces")
    both = _run("fer_core.evaluate", "--model", str(DEFAULT_MODEL), "--data", str(data), "--personal", "1",
                "--calibration", str(out))
    assert both.returncode == 2 and both.stderr.strip().endswith("not with --calibration")


def test_calibrate_then_predict_and_evaluate_with_it_and_refuse_another_model(misread_faces, tiny_model_dir,
                                                                              tmp_path):
    me = tmp_path / "me"
    for c in CLASSES:
        (me / c).mkdir(parents=True)
        Image.fromarray(misread_faces[c][0]).save(me / c / "sitting.png")
    cal = tmp_path / "me.json"
    made = _run("fer_core.calibrate", "--model", str(DEFAULT_MODEL), "--data", str(me), "--out", str(cal),
                "--whole")
    assert made.returncode == 0, made.stderr
    assert "calibrated for you (3 expressions): angry 1, sad 1, neutral 1" in made.stdout
    data = json.loads(cal.read_text())
    assert set(data["classes"]) == set(CLASSES) and cal.stat().st_size < 4000  # numbers, never a face

    later = tmp_path / "later"
    for c in CLASSES:
        (later / c).mkdir(parents=True)
        Image.fromarray(_copies(misread_faces[c][0])[1]).save(later / c / "later.png")
    plain_json, tuned_json = tmp_path / "plain.json", tmp_path / "tuned.json"
    base = ["fer_core.evaluate", "--model", str(DEFAULT_MODEL), "--data", str(later)]
    assert _run(*base, "--json", str(plain_json)).returncode == 0
    tuned = _run(*base, "--json", str(tuned_json), "--calibration", str(cal))
    assert tuned.returncode == 0, tuned.stderr
    assert json.loads(tuned_json.read_text())["accuracy"] == 1.0
    assert json.loads(plain_json.read_text())["accuracy"] < 1.0

    face = str(later / "angry" / "later.png")
    plain = _run("fer_core.predict", "--model", str(DEFAULT_MODEL), "--whole", face)
    mine = _run("fer_core.predict", "--model", str(DEFAULT_MODEL), "--whole", "--calibration", str(cal), face)
    assert json.loads(mine.stdout)["faces"][0]["label"] == "angry"
    p0 = json.loads(plain.stdout)["faces"][0]["probabilities"]
    p1 = json.loads(mine.stdout)["faces"][0]["probabilities"]
    assert p1["happy"] == pytest.approx(p0["happy"], abs=2e-4)  # a class nobody calibrated: as the model says

    other = _run("fer_core.predict", "--model", str(tiny_model_dir), "--whole", "--calibration", str(cal), face)
    assert other.returncode == 2 and other.stdout == ""
    errors = [line for line in other.stderr.splitlines() if line.startswith("error:")]
    assert errors == ["error: this calibration was made for another model (default); calibrate again with this one"]
    assert "Traceback" not in other.stderr
    missing = _run("fer_core.calibrate", "--model", str(DEFAULT_MODEL), "--data", str(tmp_path / "nobody"),
                   "--out", str(tmp_path / "x.json"))
    errors = [line for line in missing.stderr.splitlines() if line.startswith("error:")]
    assert missing.returncode == 2 and len(errors) == 1 and "not a folder" in errors[0]
