import json
import subprocess
import sys

import numpy as np
import pytest

from fer_core.data.datasets import load_dataset
from fer_core.training.evaluation import REPORT_KEYS, compute_metrics, evaluate_split
from tests.conftest import ROOT
from tests.helpers import write_folder, write_npz


def test_metrics_checked_by_hand():
    names = ["a", "b", "c"]
    y_true = np.array([0, 0, 0, 1, 1, 2, 2, 2])
    y_pred = np.array([0, 0, 1, 1, -1, 2, 0, 2])  # one missed face (-1)
    r = compute_metrics(y_true, y_pred, names)
    assert r["confusion_matrix"] == [[2, 1, 0], [0, 1, 0], [1, 0, 2]]
    assert r["n"] == 8 and r["missed_faces"] == 1
    assert r["accuracy"] == pytest.approx(5 / 8)
    a = r["per_class"]["a"]
    assert a["precision"] == pytest.approx(2 / 3) and a["recall"] == pytest.approx(2 / 3)
    assert a["support"] == 3 and a["accuracy"] == a["recall"]
    b = r["per_class"]["b"]
    assert b["precision"] == pytest.approx(0.5) and b["recall"] == pytest.approx(0.5)
    c = r["per_class"]["c"]
    assert c["precision"] == pytest.approx(1.0) and c["recall"] == pytest.approx(2 / 3)
    f1 = [2 * 2 / 3 * 2 / 3 / (4 / 3), 0.5, 2 * 2 / 3 / (5 / 3)]
    assert r["macro_f1"] == pytest.approx(np.mean(f1), abs=1e-5)
    assert list(r)[:7] == list(REPORT_KEYS)


def test_evaluate_split_leaves_out_unknown_classes(tiny_model_dir, tmp_path):
    root = write_folder(tmp_path / "d", n_per_class=2, class_dirs=["angry", "happy", "scream"])
    ds = load_dataset(root)
    r = evaluate_split(tiny_model_dir, ds.split(None), ds.class_names)
    assert r["unknown_classes"] == ["scream"]
    assert r["n"] == 4


def test_cli_json_has_exactly_the_documented_keys(tiny_model_dir, tmp_path):
    data = write_npz(tmp_path / "d.npz", n_per_class=6)
    out = tmp_path / "r.json"
    proc = subprocess.run([sys.executable, "-m", "fer_core.evaluate", "--model", str(tiny_model_dir), "--data",
                           str(data), "--split", "PrivateTest", "--json", str(out)], capture_output=True, text=True,
                          cwd=ROOT, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "confusion matrix" in proc.stdout and "accuracy" in proc.stdout
    report = json.loads(out.read_text())
    assert set(report) == set(REPORT_KEYS)
    assert set(report["per_class"]["angry"]) == {"precision", "recall", "f1", "accuracy", "support"}
    assert report["n"] == 6
    assert sum(map(sum, report["confusion_matrix"])) == 6


def test_cli_detect_counts_missed_faces(tiny_model_dir, tmp_path):
    # synthetic bars hold no face: with --detect every photo is a miss and counts as wrong
    root = write_folder(tmp_path / "d", n_per_class=1)
    out = tmp_path / "r.json"
    proc = subprocess.run([sys.executable, "-m", "fer_core.evaluate", "--model", str(tiny_model_dir), "--data",
                           str(root), "--detect", "--detector", "haar", "--json", str(out)],
                          capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    report = json.loads(out.read_text())
    assert report["missed_faces"] == 3 and report["accuracy"] == 0.0


def test_cli_bad_paths(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "fer_core.evaluate", "--model", str(tmp_path / "none"), "--data",
                           str(tmp_path / "none.npz")], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert proc.returncode == 2
    assert proc.stderr.startswith("error:") and "Traceback" not in proc.stderr


def test_predict_among_chooses_only_the_test_sets_classes():
    from fer_core.training.evaluation import predict_among

    probs = np.array([[0.1, 0.2, 0.7], [0.6, 0.3, 0.1]])  # model: happy, sad, contempt
    assert predict_among(probs, ["happy", "sad", "contempt"], ["sad", "happy"]).tolist() == [0, 1]


def test_compare_models_scores_every_model_on_the_same_faces(tiny_model_dir, tmp_path):
    """A class a model does not know counts against it; the own classes get their own figure."""
    from fer_core.inference.classifier import get_classifier
    from fer_core.training.evaluation import compare_models, predict_among

    root = write_folder(tmp_path / "d", n_per_class=3, class_dirs=["angry", "happy", "scream"])
    ds = load_dataset(root)
    split = ds.split(None)
    out = compare_models({"a": tiny_model_dir, "b": tiny_model_dir}, split, ds.class_names, ["happy", "scream"])
    assert out["n"] == 9 and out["n_own"] == 6 and out["own_classes"] == ["happy", "scream"]
    a, b = out["models"]["a"], out["models"]["b"]
    assert a == b  # the same model on the same faces
    assert a["per_class"]["scream"] == 0.0  # the tiny model cannot name scream
    clf = get_classifier(tiny_model_dir)
    pred = predict_among(clf.predict([split.image(i) for i in range(9)]), clf.class_names, ds.class_names)
    right = pred == split.labels
    assert a["accuracy"] == pytest.approx(right.mean(), abs=1e-6)
    assert a["own_accuracy"] == pytest.approx(right[split.labels != 0].mean(), abs=1e-6)
