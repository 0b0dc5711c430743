"""A stand-in for one sitting: the personal protocol on FER2013 faces and their slightly moved copies.

Why: the posed same-sitting photos the calibration is meant for are sealed; this makes something like
them from FER2013's PublicTest. Each "person" is one face of each of the seven FER2013 classes; each face
gets ``--photos`` - 1 more "photos" of the sitting: rotated up to 6 degrees, scaled up to 7%, moved up to 2
pixels, and brighter or darker by up to 15% and 15 levels (times ``--amount``). The protocol (K=1) is
then run on the model's probabilities for them, as ``evaluate --personal 1`` does.

    .venv/bin/python bench/calibration_sitting.py [--model models/default] [--people 20] [--amount 1]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from fer_core.data.datasets import load_dataset  # noqa: E402
from fer_core.inference.classifier import get_classifier  # noqa: E402
from fer_core.training.personal import personal_protocol  # noqa: E402

FER_NPZ = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "fer2013" / "fer2013.npz"


def moved(img: np.ndarray, amount: float, rng: np.random.Generator) -> np.ndarray:
    """Another photo of the same face in the same sitting: a little turned, scaled, moved and relit."""
    h, w = img.shape[:2]
    centre = (w / 2 + rng.uniform(-2, 2) * amount, h / 2 + rng.uniform(-2, 2) * amount)
    m = cv2.getRotationMatrix2D(centre, rng.uniform(-6, 6) * amount, 1 + rng.uniform(-0.07, 0.07) * amount)
    out = cv2.warpAffine(img, m, (w, h), borderMode=cv2.BORDER_REFLECT).astype(np.float32)
    out = out * (1 + rng.uniform(-0.15, 0.15) * amount) + rng.uniform(-15, 15) * amount
    return np.clip(out, 0, 255).astype(np.uint8)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default="models/default")
    p.add_argument("--data", default=str(FER_NPZ))
    p.add_argument("--people", type=int, default=20)
    p.add_argument("--photos", type=int, default=4, help="photos per face and sitting (the first unmoved)")
    p.add_argument("--amount", type=float, default=1.0, help="how far the photos of one sitting differ")
    p.add_argument("--repeats", type=int, default=10)
    args = p.parse_args()
    ds = load_dataset(args.data)
    split = ds.split("PublicTest")
    clf = get_classifier(args.model)
    names = clf.class_names
    rng = np.random.default_rng(0)
    images, labels, people = [], [], []
    for person in range(args.people):
        for c in (c for c in ds.class_names if c in names):
            face = split.image(int(np.flatnonzero(split.labels == ds.class_names.index(c))[person]))
            for k in range(args.photos):
                images.append(face if k == 0 else moved(face, args.amount, rng))
                labels.append(names.index(c))
                people.append(f"P{person}")
    probs = clf.predict(images).astype(np.float64)
    r = personal_protocol(probs, np.array(labels), people, names, 1, args.repeats)
    print(f"{len(r.people)} people x 7 expressions x {args.photos} photos, amount {args.amount}, K=1, "
          f"{args.repeats} draws: accuracy {(r.y_model == r.y_true).mean():.3f} -> personal_accuracy "
          f"{(r.y_personal == r.y_true).mean():.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
