"""``python -m fer_core.calibrate --model M --data FOLDER --out FILE``: a personal calibration from labelled photos.

FOLDER holds one person's faces as ``<class>/*`` (class names as the model's, or their usual synonyms);
each photo's largest face is found with the detector, as ``evaluate --detect`` does (``--whole``: each
photo is already a face crop). Classes without photos stay as the model says. The file holds a few
numbers per class and the model's fingerprint, never a face; use it with ``--calibration FILE`` on
``predict``, ``evaluate`` and ``video``.
"""

from __future__ import annotations

import argparse
import logging
import sys

import numpy as np

from fer_core import cli
from fer_core.data.datasets import load_folder
from fer_core.errors import FerError, one_line
from fer_core.inference.calibration import fit_calibration, model_fingerprint
from fer_core.inference.pipeline import get_pipeline
from fer_core.model_folder import resolve_model_dir
from fer_core.training.personal import face_probabilities


def _error(message: object) -> None:
    print(f"error: {one_line(message)}", file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    """Fit and write a calibration; exit 0, or 2 with one line on stderr."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    p = argparse.ArgumentParser(prog=cli.prog("fer_core.calibrate"), description=__doc__.splitlines()[0])
    p.add_argument("--model", default=None, help="model directory or name under models/ (default: default)")
    p.add_argument("--data", required=True, help="a folder of one person's photos as <class>/*")
    p.add_argument("--out", required=True, help="write the calibration (JSON) here")
    p.add_argument("--detector", default=None, help="auto | yunet | haar")
    p.add_argument("--whole", action="store_true", help="each photo is already a face crop: no detection")
    args = p.parse_args(argv)
    try:
        model_dir = resolve_model_dir(args.model)
        pipe = get_pipeline(model_dir, args.detector)
        names = list(pipe.classifier.class_names)
        split = load_folder(args.data, class_names=names).split(None)
        probs, unreadable = face_probabilities(pipe, split, detect=not args.whole)
        found = ~np.isnan(probs).any(axis=1)
        calibration = fit_calibration(probs[found], [names[i] for i in split.labels[found]], names,
                                      model_name=model_dir.name, model_fingerprint=model_fingerprint(model_dir))
        calibration.save(args.out)
    except (FerError, OSError) as exc:
        _error(exc)
        return 2
    for message in unreadable:
        _error(message)
    missed = int((~found).sum()) - len(unreadable)
    counts = ", ".join(f"{c} {n}" for c, n in zip(calibration.calibrated, calibration.faces))
    print(f"{calibration.describe()}: {counts}"
          + (f"; {missed} photo(s) without a face skipped" if missed else ""))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
