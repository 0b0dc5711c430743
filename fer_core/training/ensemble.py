"""Average trained models into one model directory: ``python -m fer_core.ensemble``.

Why: on two CPU cores one network cannot be trained long enough to reach the accuracy of
the best published ones, but two or three networks trained by ``fer_core.train`` (for example
a model and its warm restart) make different mistakes, and the mean of their probabilities
can be right more often than either; check it on the validation split (here an ensemble of
the shipped network and its weaker first stage lost to the network alone). The result is an ordinary model
directory: one ``.keras``
file (the members side by side, then an ``Average`` layer, no custom code, so it loads with
``safe_mode=True``), a card, a history holding every member's epochs, and a report.
"""

from __future__ import annotations

import argparse
import logging
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fer_core.data.datasets import load_dataset
from fer_core.errors import FerError
from fer_core.inference.card import ModelCard, load_card
from fer_core.inference.classifier import load_keras_model
from fer_core.model_folder import earlier_epochs, member_phase_prefix, write_model_folder
from fer_core.training.architectures import MEMBER_PREFIX
from fer_core.training.evaluation import evaluate_split, write_report
from fer_core.training.tta import candidates_within, choose_tta_on_split

log = logging.getLogger(__name__)


def _same_input(a: ModelCard, b: ModelCard) -> str:
    """Empty when two cards feed their models alike, else what differs."""
    for key in ("class_names", "input_size", "color_mode"):
        if getattr(a, key) != getattr(b, key):
            return key
    if (a.normalization.scale, a.normalization.mean, a.normalization.std) != (
            b.normalization.scale, b.normalization.mean, b.normalization.std):
        return "normalization"
    return ""


def build_ensemble(members: list[str | Path], out: str | Path, name: str = "", notes: str = "") -> Path:
    """Write a model directory whose model averages ``members``' probabilities; return it.

    Every member must take the same input (classes in the same order, size, colour mode and
    normalisation); ``ValueError`` says which one does not. The card keeps the first member's
    test-time views; ``tta.choose_tta`` can pick them again on validation data.
    """
    if len(members) < 2:
        raise ValueError("an ensemble needs at least two member models")
    dirs = [Path(m) for m in members]
    out = Path(out)
    if any(d.resolve() == out.resolve() for d in dirs):
        raise ValueError(f"--out {out} is one of the members; pick another folder")
    cards = [load_card(d) for d in dirs]
    for d, card in zip(dirs[1:], cards[1:]):
        differs = _same_input(cards[0], card)
        if differs:
            raise ValueError(f"{d}: its {differs} differs from {dirs[0]}'s; members must take the same input")
    net = _average_of(dirs, cards)
    card = _ensemble_card(dirs, cards, name or out.name, notes, int(net.count_params()))
    history = [row for i, d in enumerate(dirs) for row in earlier_epochs(d, member_phase_prefix(i + 1))]
    write_model_folder(out, net, card, history)
    log.info("ensemble of %d models written to %s", len(dirs), out)
    return out


def _average_of(dirs: list[Path], cards: list[ModelCard]) -> Any:
    """One Keras model: the members side by side on the same input, then the mean of their probabilities."""
    import keras

    keras.mixed_precision.set_global_policy("float32")
    first = cards[0]
    inputs = keras.Input(shape=(first.input_size[0], first.input_size[1], first.channels), name="image")
    outputs = []
    for i, (d, card) in enumerate(zip(dirs, cards)):
        model = load_keras_model(d, card)
        wrapped = keras.Model(model.input, model.output, name=f"{MEMBER_PREFIX}{i}")  # single tensors
        outputs.append(wrapped(inputs))
    mean = keras.layers.Average(name="mean_probabilities", dtype="float32")(outputs)
    return keras.Model(inputs, mean, name="fer_ensemble")


def _ensemble_card(dirs: list[Path], cards: list[ModelCard], name: str, notes: str, params: int) -> ModelCard:
    """The first member's input conventions, every member's figures, and the first member's training config."""
    first = cards[0]
    member_info = []
    for d, card in zip(dirs, cards):
        training = card.training if isinstance(card.training, dict) else {}
        member_info.append({"name": card.name, "folder": str(d), "backbone": card.backbone, "weights": card.weights,
                            "params": training.get("params"), "epochs_run": training.get("epochs_run"),
                            "best_val_accuracy": training.get("best_val_accuracy"), "metrics": card.metrics})
    base_training = first.training if isinstance(first.training, dict) else {}
    return ModelCard(
        name=name,
        class_names=list(first.class_names),
        input_size=first.input_size,
        color_mode=first.color_mode,
        normalization=first.normalization,
        backbone=first.backbone if all(c.backbone == first.backbone for c in cards) else "ensemble",
        weights="ensemble of " + ", ".join(c.name or str(d) for c, d in zip(cards, dirs)),
        trained_on=first.trained_on,
        face_margin=first.face_margin,
        tta=list(first.tta),
        training={
            # the first member's settings: fine-tuning from this folder starts from that member
            "config": base_training.get("config", {}),
            "ensemble": member_info,
            "params": params,
            "seconds": round(sum(float((c.training or {}).get("seconds", 0) or 0) for c in cards), 1),
        },
        notes=notes,
        created=datetime.now(UTC).isoformat(timespec="seconds"),
    )


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m fer_core.ensemble", description=__doc__.splitlines()[0])
    p.add_argument("--members", nargs="+", required=True, help="two or more model folders")
    p.add_argument("--out", required=True, help="model folder to write")
    p.add_argument("--name", default="")
    p.add_argument("--notes", default="")
    p.add_argument("--data", default="", help="dataset for choosing test-time views and the report")
    p.add_argument("--labels", default="fer2013",
                   help="labels of --data for the views and report: fer2013, ferplus (FER+ majority) or a votes file")
    p.add_argument("--val-split", default="PublicTest", help="split the test-time views are chosen on")
    p.add_argument("--test-split", default="PrivateTest", help="split of the report (touched only here)")
    p.add_argument("--max-views", type=int, default=0,
                   help="choose only test-time views costing at most this many runs per face (0: no limit)")
    return p


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    args = build_parser().parse_args(argv)
    try:
        candidates_within(args.max_views)  # a bad limit fails before anything is written
        out = build_ensemble(args.members, args.out, name=args.name, notes=args.notes)
        if args.data:
            ds = load_dataset(args.data, labels=args.labels)
            if args.val_split:
                choose_tta_on_split(out, ds.split(args.val_split), ds.class_names, args.max_views)
            if args.test_split:
                report = evaluate_split(out, ds.split(args.test_split), ds.class_names)
                write_report(out, report, split_name=args.test_split, data=args.data, labels=args.labels)
                print(f"{args.test_split} accuracy {report['accuracy']:.4f}  macro F1 {report['macro_f1']:.4f}")
    except (ValueError, FileNotFoundError, FerError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
