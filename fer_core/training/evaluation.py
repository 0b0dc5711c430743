"""Evaluation: ``python -m fer_core.evaluate --model DIR --data PATH [--split NAME] [--detect] [--json OUT]``.

Runs a model over a dataset split exactly as the app would (the same classifier, and with
``--detect`` the whole detect-largest-classify pipeline) and reports accuracy, macro F1,
per-class precision/recall/F1/accuracy and the confusion matrix (rows true, columns predicted).
"""

from __future__ import annotations

import argparse
import json
import logging
import re
import sys
from pathlib import Path
from typing import Any

import numpy as np

from fer_core import cli, model_folder
from fer_core.data.datasets import Split, load_dataset
from fer_core.data.labels import canonical_class
from fer_core.errors import DatasetError, FerError, ImageError
from fer_core.inference.calibration import CalibratedClassifier, Calibration, load_calibration
from fer_core.inference.card import load_card
from fer_core.inference.classifier import forget_classifier, get_classifier
from fer_core.inference.detection import make_detector
from fer_core.inference.pipeline import Pipeline
from fer_core.training.personal import face_probabilities, person_of, personal_protocol
from fer_core.training.reports import report_key, trained_key

log = logging.getLogger(__name__)

REPORT_KEYS = ("accuracy", "macro_f1", "n", "missed_faces", "class_names", "confusion_matrix", "per_class")
PERSONAL_KEYS = ("personal_accuracy", "personal_macro_f1", "people", "test_faces", "repeats", "personal_k",
                 "per_person")


def compute_metrics(y_true: np.ndarray, y_pred: np.ndarray, class_names: list[str]) -> dict[str, Any]:
    """The report for integer labels; ``y_pred == -1`` marks a photo with no face found (always wrong).

    Per-class ``accuracy`` is the share of that class's examples predicted correctly (its recall).
    Missed faces count in ``n`` and as errors, but sit in no column of the confusion matrix.
    """
    y_true = np.asarray(y_true, dtype=np.int64)
    y_pred = np.asarray(y_pred, dtype=np.int64)
    k = len(class_names)
    found = y_pred >= 0
    cm = np.zeros((k, k), dtype=np.int64)
    np.add.at(cm, (y_true[found], y_pred[found]), 1)
    support = np.bincount(y_true, minlength=k)[:k]
    per_class: dict[str, dict[str, float | int]] = {}
    f1s = []
    for i, name in enumerate(class_names):
        tp = int(cm[i, i])
        predicted = int(cm[:, i].sum())
        precision = tp / predicted if predicted else 0.0
        recall = tp / int(support[i]) if support[i] else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        per_class[name] = {
            "precision": round(precision, 6),
            "recall": round(recall, 6),
            "f1": round(f1, 6),
            "accuracy": round(recall, 6),
            "support": int(support[i]),
        }
        if support[i]:
            f1s.append(f1)
    n = int(len(y_true))
    return {
        "accuracy": round(float((y_true == y_pred).sum()) / n, 6) if n else 0.0,
        "macro_f1": round(float(np.mean(f1s)), 6) if f1s else 0.0,
        "n": n,
        "missed_faces": int((~found).sum()),
        "class_names": list(class_names),
        "confusion_matrix": cm.tolist(),
        "per_class": per_class,
    }


def label_map(data_classes: list[str], model_classes: list[str]) -> tuple[np.ndarray, list[str]]:
    """Dataset label -> model class index (-1 when the model does not know the class)."""
    model_index = {canonical_class(c): i for i, c in enumerate(model_classes)}
    mapping = np.array([model_index.get(canonical_class(c), -1) for c in data_classes], dtype=np.int64)
    unknown = [c for c, m in zip(data_classes, mapping) if m < 0]
    return mapping, unknown


def predict_among(probs: np.ndarray, model_classes: list[str], data_classes: list[str]) -> np.ndarray:
    """The data-class index per row, the model choosing only among the classes the test set has.

    Why: an eight-class model on a seven-class test set is not marked wrong for a class the set
    cannot contain (contempt on FER2013's own labels); the evaluator and the benchmark agree on it.
    """
    mapping, _ = label_map(data_classes, model_classes)
    shared = np.flatnonzero(mapping >= 0)  # data classes the model knows
    return shared[np.argmax(probs[:, mapping[shared]], axis=1)]


def evaluate_split(model_dir: str | Path, split: Split, data_classes: list[str], detect: bool = False,
                   detector: str | None = None, batch_size: int = 256,
                   progress: Any = None, calibration: Calibration | None = None) -> dict[str, Any]:
    """Evaluate a model directory on one split (through ``calibration`` when given); adds
    ``unknown_classes`` and ``unreadable`` lists."""
    clf: Any = get_classifier(model_dir)
    if calibration is not None:
        clf = CalibratedClassifier(clf, calibration)
    mapping, unknown = label_map(data_classes, clf.class_names)
    keep = np.flatnonzero(mapping[split.labels] >= 0)
    y_true = mapping[split.labels[keep]]
    y_pred = np.full(len(keep), -1, dtype=np.int64)
    unreadable: list[str] = []
    if detect:
        pipe = Pipeline(clf, make_detector(detector))
        for j, i in enumerate(keep):
            try:
                faces = pipe.analyze(split.image(int(i)), classify="largest")
            except ImageError as exc:
                unreadable.append(str(exc))
                continue
            top = next((f for f in faces if f.is_largest and f.label is not None), None)
            if top is not None and top.label is not None:
                y_pred[j] = clf.class_names.index(top.label)
            if progress:
                progress(j + 1, len(keep))
    else:
        for start in range(0, len(keep), batch_size):
            idx = keep[start:start + batch_size]
            crops, ok = [], []
            for j, i in enumerate(idx):
                try:
                    crops.append(split.image(int(i)))
                    ok.append(start + j)
                except ImageError as exc:
                    unreadable.append(str(exc))
            if crops:
                y_pred[ok] = mapping[predict_among(clf.predict(crops), clf.class_names, data_classes)]
            if progress:
                progress(min(start + batch_size, len(keep)), len(keep))
    report = compute_metrics(y_true, y_pred, clf.class_names)
    if not detect:
        report["missed_faces"] = 0
    report["unknown_classes"] = unknown
    report["unreadable"] = unreadable
    return report


def evaluate_personal(model_dir: str | Path, split: Split, data_classes: list[str], k: int, repeats: int = 1,
                      pattern: str | None = None, detect: bool = False, detector: str | None = None,
                      seed: int = 0, progress: Any = None) -> dict[str, Any]:
    """The personal protocol (``training/personal.py``) on one split of named files.

    The report's usual keys describe the model without calibration on the test faces (pooled over
    the repeats); ``personal_accuracy`` and ``personal_macro_f1`` the same faces calibrated.
    """
    if split.paths is None:
        raise DatasetError("--personal needs a folder of image files: the person is read from each file name")
    clf = get_classifier(model_dir)
    mapping, unknown = label_map(data_classes, clf.class_names)
    keep = np.flatnonzero(mapping[split.labels] >= 0)
    sub = Split(split.name, split.labels[keep], paths=[split.paths[i] for i in keep])
    pipe = Pipeline(clf, make_detector(detector))
    probs, unreadable = face_probabilities(pipe, sub, detect, progress)
    people = [person_of(p.name, pattern) for p in sub.paths or []]
    result = personal_protocol(probs, mapping[sub.labels], people, clf.class_names, k, repeats, seed)
    if not result.people:
        raise DatasetError(f"no person has more than {k} faces of two or more classes; "
                           "check --person-pattern or lower --personal")
    report = compute_metrics(result.y_true, result.y_model, clf.class_names)
    personal = compute_metrics(result.y_true, result.y_personal, clf.class_names)
    report |= {"unknown_classes": unknown, "unreadable": unreadable,
               "personal_accuracy": personal["accuracy"], "personal_macro_f1": personal["macro_f1"],
               "people": len(result.people), "test_faces": result.test_faces, "repeats": repeats,
               "personal_k": k, "per_person": result.per_person}
    return report
def compare_models(models: dict[str, str | Path], split: Split, data_classes: list[str],
                   own_classes: list[str], batch_size: int = 256) -> dict[str, Any]:
    """Each model's accuracy on the same faces of ``split``: all of them, and those of ``own_classes``.

    Why: a fine-tune on a few captures can end up worse than the model it started from; only a
    score of both on the very same held-out faces says so. A face of a class a model does not
    know counts as wrong for that model (it cannot name it), so every model is scored on every face.
    Returns ``{"n", "n_own", "own_classes", "models": {name: {"accuracy", "own_accuracy", "per_class"}}}``.
    """
    crops, labels = [], []
    for i in range(len(split)):
        try:
            crops.append(split.image(i))
            labels.append(int(split.labels[i]))
        except ImageError:
            continue
    y_true = np.asarray(labels, dtype=np.int64)
    own = [c for c in own_classes if c in data_classes]
    own_mask = np.isin(y_true, [data_classes.index(c) for c in own])
    out: dict[str, Any] = {"n": len(y_true), "n_own": int(own_mask.sum()), "own_classes": own, "models": {}}
    for name, model_dir in models.items():
        clf = get_classifier(model_dir)
        y_pred = np.full(len(y_true), -1, dtype=np.int64)
        if (label_map(data_classes, clf.class_names)[0] >= 0).any():
            for start in range(0, len(crops), batch_size):
                chunk = crops[start:start + batch_size]
                y_pred[start:start + len(chunk)] = predict_among(clf.predict(chunk), clf.class_names, data_classes)
        right = y_pred == y_true
        out["models"][name] = {
            "accuracy": round(float(right.mean()), 6) if len(right) else 0.0,
            "own_accuracy": round(float(right[own_mask].mean()), 6) if own_mask.any() else None,
            "per_class": {c: round(float(right[y_true == k].mean()), 6)
                          for k, c in enumerate(data_classes) if (y_true == k).any()},
        }
    return out


def public_report(report: dict[str, Any]) -> dict[str, Any]:
    """Only the documented keys, in order (and the personal protocol's, when it ran)."""
    return {k: report[k] for k in REPORT_KEYS + PERSONAL_KEYS if k in report}


def write_report(model_dir: str | Path, report: dict[str, Any], split_name: str, data: str,
                 labels: str = "fer2013", compared: dict[str, Any] | None = None) -> Path:
    """Save the report beside the model and put its headline figures on the card.

    The test set the model was trained for goes to the model's own report and its split's line on
    the card; any other (FER+ votes for a FER2013 model, faces from elsewhere) to the report named by
    its key and a line ``<split> [<key>]``, so no figure overwrites another. ``compared``
    (``compare_models``: the new model beside the one it started from) is kept in the report.
    """
    d = Path(model_dir)
    card = load_card(d)
    key = report_key(data, labels)
    body = public_report(report) | {"split": split_name, "data": str(data), "labels": labels, "test_set": key}
    if compared is not None:
        body["compared"] = compared
    own = key == trained_key(card)
    path = model_folder.write_report(d, body, None if own else key)
    line = split_name if own else f"{split_name} [{key}]"
    card.metrics[line] = {"accuracy": report["accuracy"], "macro_f1": report["macro_f1"], "n": report["n"],
                          "data": Path(str(data)).name, "labels": labels}
    card.save(d)
    forget_classifier(d)
    return path


def format_table(report: dict[str, Any]) -> str:
    """A readable per-class table plus the headline figures."""
    lines = [f"{'class':<12}{'precision':>10}{'recall':>10}{'f1':>10}{'support':>10}"]
    for name, m in report["per_class"].items():
        lines.append(f"{name:<12}{m['precision']:>10.3f}{m['recall']:>10.3f}{m['f1']:>10.3f}{m['support']:>10d}")
    lines.append("")
    lines.append(f"accuracy {report['accuracy']:.4f}   macro F1 {report['macro_f1']:.4f}   n {report['n']}"
                 f"   missed faces {report['missed_faces']}")
    names = report["class_names"]
    width = max(6, max(len(n) for n in names) + 1)
    lines.append("")
    lines.append("confusion matrix (rows true, columns predicted)")
    lines.append(" " * width + "".join(f"{n[:width - 1]:>{width}}" for n in names))
    for name, row in zip(names, report["confusion_matrix"]):
        lines.append(f"{name[:width - 1]:<{width}}" + "".join(f"{v:>{width}d}" for v in row))
    if report.get("unknown_classes"):
        lines.append("")
        lines.append("left out (classes the model does not know): " + ", ".join(report["unknown_classes"]))
    if report.get("unreadable"):
        lines.append(f"unreadable files skipped: {len(report['unreadable'])}")
    return "\n".join(lines)


def format_personal(report: dict[str, Any]) -> str:
    """The personal protocol's headline and its figures per person."""
    lines = ["", f"personal protocol, K={report['personal_k']}: {report['people']} people, "
                 f"{report['test_faces']} test faces, {report['repeats']} repeats (the table above: uncalibrated)",
             f"accuracy {report['accuracy']:.4f} -> calibrated {report['personal_accuracy']:.4f}   "
             f"macro F1 {report['macro_f1']:.4f} -> {report['personal_macro_f1']:.4f}",
             f"{'person':<24}{'faces':>7}{'model':>8}{'calibrated':>12}"]
    for person, row in report["per_person"].items():
        lines.append(f"{person[:23]:<24}{row['test_faces']:>7}{row['accuracy']:>8.3f}{row['personal_accuracy']:>12.3f}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    p = argparse.ArgumentParser(prog=cli.prog("fer_core.evaluate"), description=__doc__.splitlines()[0])
    p.add_argument("--model", required=True, help="model directory (or a name under models/)")
    p.add_argument("--data", required=True, help="npz, csv or image folder")
    p.add_argument("--split", default=None, help="Training, PublicTest, PrivateTest, or a split folder name")
    p.add_argument("--labels", default="fer2013",
                   help="fer2013 (the data's own labels), ferplus (FER+ votes beside fer2013.npz, majority "
                        "protocol) or the path of a FER+ votes file")
    p.add_argument("--detect", action="store_true", help="run full photos through detection first")
    p.add_argument("--detector", default=None, help="auto | yunet | haar (with --detect)")
    p.add_argument("--json", default=None, help="write the report as JSON here")
    p.add_argument("--update-card", action="store_true",
                   help=f"store the report beside the model ({model_folder.REPORT_FILE} for the test set it was "
                        f"trained for, {model_folder.EXTRA_REPORT_GLOB} for others) and its headline on the card")
    p.add_argument("--calibration", default=None,
                   help="score through this personal calibration (python -m fer_core.calibrate)")
    p.add_argument("--personal", type=int, default=None, metavar="K",
                   help="the personal protocol: per person (from the file name), K faces of each class that has "
                        "more than K calibrate, the person's other faces of those classes are scored with and "
                        "without calibration")
    p.add_argument("--person-pattern", default=None, metavar="REGEX",
                   help="with --personal: the person is this pattern's first group in the file name (default: "
                        "the name up to its first dot, less a trailing _<digits>)")
    p.add_argument("--repeats", type=int, default=1, help="with --personal: draws of the calibration faces (seeded)")
    args = p.parse_args(argv)
    clash = ("--update-card stores the model's own figures; not with --personal or --calibration"
             if args.update_card and (args.personal is not None or args.calibration) else
             "--personal fits a calibration per person; not with --calibration"
             if args.personal is not None and args.calibration else
             "--personal and --repeats must be at least 1"
             if (args.personal is not None and args.personal < 1) or args.repeats < 1 else "")
    if clash:
        print(f"error: {clash}", file=sys.stderr)
        return 2
    try:
        model_dir = model_folder.resolve_model_dir(args.model)
        ds = load_dataset(args.data, labels=args.labels)
        split = ds.split(args.split)
        if args.personal is not None:
            report = evaluate_personal(model_dir, split, ds.class_names, args.personal, args.repeats,
                                       args.person_pattern, detect=args.detect, detector=args.detector)
        else:
            calibration = load_calibration(args.calibration) if args.calibration else None
            report = evaluate_split(model_dir, split, ds.class_names, detect=args.detect, detector=args.detector,
                                    calibration=calibration)
    except (FerError, re.error) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"model {model_dir}  data {args.data}  split {split.name}  labels {args.labels}")
    if args.labels != "fer2013":
        print(f"FER+ majority protocol: {len(split)} faces kept, {split.left_out} left out "
              "(no majority, or unknown / not a face)")
    print(format_table(report))
    if args.personal is not None:
        print(format_personal(report))
    if args.json:
        Path(args.json).write_text(json.dumps(public_report(report), indent=1) + "\n", encoding="utf-8")
    if args.update_card:
        write_report(model_dir, report, split.name, args.data, labels=args.labels)
    return 0


if __name__ == "__main__":
    sys.exit(main())
