"""Average trained models into one model directory: ``python -m fer_core.ensemble``.

Why: on two CPU cores one network cannot be trained long enough to reach the accuracy of
the best published ones, but two or three networks trained by ``fer_core.train`` (for example
a model and its warm restart) make different mistakes, and the mean of their probabilities
can be right more often than either; check it on the validation split, since networks too alike
(a network and its own weaker earlier stage) can lose to the best one alone. The result is an ordinary
model directory: one ``.keras`` file (the members side by side, then an ``Average`` layer, no custom code,
so it loads with ``safe_mode=True``), a card, a history holding every member's epochs, and a report.

Members may also be weighted (``--weights``) and may know fewer classes than the first member (a network
trained on FER2013's seven labels beside FER+ networks that know contempt): networks trained on other labels
make other mistakes, but each should count only as much as the validation split supports. Each such member's
probabilities are then moved onto the first member's classes by a fixed matrix (a class it lacks gets 0 from
it), scaled by its weight and added: still plain Keras layers.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from fer_core import cli
from fer_core.data.datasets import load_dataset
from fer_core.errors import FerError
from fer_core.inference.card import ModelCard, load_card
from fer_core.inference.classifier import load_keras_model
from fer_core.model_folder import earlier_epochs, member_phase_prefix, write_model_folder
from fer_core.training.architectures import MEMBER_PREFIX
from fer_core.training.distill import class_columns
from fer_core.training.evaluation import evaluate_split, write_report
from fer_core.training.tta import candidates_within, choose_tta_on_split

log = logging.getLogger(__name__)


def _same_input(a: ModelCard, b: ModelCard) -> str:
    """Empty when two cards feed their models alike, else what differs (classes are checked apart)."""
    for key in ("input_size", "color_mode"):
        if getattr(a, key) != getattr(b, key):
            return key
    if (a.normalization.scale, a.normalization.mean, a.normalization.std) != (
            b.normalization.scale, b.normalization.mean, b.normalization.std):
        return "normalization"
    return ""


def build_ensemble(members: list[str | Path], out: str | Path, name: str = "", notes: str = "",
                   weights: list[float] | None = None) -> Path:
    """Write a model directory whose model averages ``members``' probabilities; return it.

    Every member must take the same input (size, colour mode and normalisation) and know the
    first member's classes or most of them (``distill.class_columns``); ``ValueError`` says which
    one does not. ``weights`` (one per member, any positive scale) replace the plain mean. The card
    keeps the first member's classes and test-time views; ``tta.choose_tta`` can pick the views
    again on validation data.
    """
    if len(members) < 2:
        raise ValueError("an ensemble needs at least two member models")
    dirs = [Path(m) for m in members]
    out = Path(out)
    if any(d.resolve() == out.resolve() for d in dirs):
        raise ValueError(f"--out {out} is one of the members; pick another folder")
    shares = member_shares(weights, len(dirs))
    cards = [load_card(d) for d in dirs]
    for d, card in zip(dirs[1:], cards[1:]):
        differs = _same_input(cards[0], card)
        if differs:
            raise ValueError(f"{d}: its {differs} differs from {dirs[0]}'s; members must take the same input")
    columns = [_member_columns(cards[0], d, c) for d, c in zip(dirs, cards)]
    net = _average_of(dirs, cards, shares, columns)
    card = _ensemble_card(dirs, cards, name or out.name, notes, int(net.count_params()), shares)
    history = shared_epochs_once([earlier_epochs(d, member_phase_prefix(i + 1)) for i, d in enumerate(dirs)])
    write_model_folder(out, net, card, history)
    log.info("ensemble of %d models written to %s", len(dirs), out)
    return out


def shared_epochs_once(histories: list[list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """The members' epoch rows one after another, leaving out each member's leading epochs that an earlier member
    already brought (the same figures under another phase name).

    Why: members that are snapshots of one chain of warm restarts carry their common past; written per member, the
    Training metrics page would draw the same curve again for each. Kept once, a later member's line holds only
    its own epochs.
    """
    seen: set[str] = set()
    out: list[dict[str, Any]] = []
    for rows in histories:
        keys = [json.dumps({k: v for k, v in row.items() if k != "phase"}, sort_keys=True, default=str)
                for row in rows]
        start = 0
        while start < len(rows) and keys[start] in seen:
            start += 1
        if start:
            log.info("%s: its first %d epochs are an earlier member's, written once", rows[0]["phase"], start)
        out.extend(rows[start:])
        seen.update(keys)
    return out


def _member_columns(first: ModelCard, d: Path, card: ModelCard) -> np.ndarray:
    """Where each of the first member's classes sits in this member's output (-1: it lacks the class).

    A member knowing a class the first lacks is refused: its share of that class would be lost and the
    ensemble's probabilities would no longer sum to one.
    """
    extra = [c for c in card.class_names if c not in first.class_names]
    if extra:
        raise ValueError(f"{d}: it knows {', '.join(extra)}, which the first member lacks; "
                         "put the member with the most classes first")
    return class_columns(list(card.class_names), list(first.class_names), str(d))


def member_shares(weights: list[float] | None, n: int) -> list[float]:
    """Each member's share of the mean (summing to 1): equal without ``weights``; ``ValueError`` for bad ones."""
    if weights is None:
        return [1.0 / n] * n
    if len(weights) != n:
        raise ValueError(f"{len(weights)} weights for {n} members; give one weight per member")
    if not all(math.isfinite(w) and w > 0 for w in weights):
        raise ValueError(f"member weights must be positive numbers, not {' '.join(map(str, weights))}")
    total = sum(weights)
    return [w / total for w in weights]


def _average_of(dirs: list[Path], cards: list[ModelCard], shares: list[float], columns: list[np.ndarray]) -> Any:
    """One Keras model: the members side by side on the same input, then their (weighted) mean probabilities."""
    import keras

    keras.mixed_precision.set_global_policy("float32")
    first = cards[0]
    inputs = keras.Input(shape=(first.input_size[0], first.input_size[1], first.channels), name="image")
    outputs = []
    for i, (d, card) in enumerate(zip(dirs, cards)):
        model = load_keras_model(d, card)
        wrapped = keras.Model(model.input, model.output, name=f"{MEMBER_PREFIX}{i}")  # single tensors
        outputs.append(wrapped(inputs))
    plain = len(set(shares)) == 1 and all(np.array_equal(c, np.arange(len(first.class_names))) for c in columns)
    if plain:
        mean = keras.layers.Average(name="mean_probabilities", dtype="float32")(outputs)
    else:
        mean = keras.layers.Add(name="mean_probabilities", dtype="float32")(
            [_onto_classes(out, cols, len(card.class_names), share, i)
             for i, (out, cols, card, share) in enumerate(zip(outputs, columns, cards, shares))])
    return keras.Model(inputs, mean, name="fer_ensemble")


def _onto_classes(probs: Any, columns: np.ndarray, n_member: int, share: float, index: int) -> Any:
    """A member's probabilities times its share, in the first member's class order (a fixed, untrained Dense)."""
    import keras

    kernel = np.zeros((n_member, len(columns)), np.float32)
    for j, col in enumerate(columns):
        if col >= 0:
            kernel[col, j] = share
    layer = keras.layers.Dense(len(columns), use_bias=False, trainable=False, dtype="float32",
                               name=f"share_of_member_{index}")
    out = layer(probs)
    layer.set_weights([kernel])
    return out


def _ensemble_card(dirs: list[Path], cards: list[ModelCard], name: str, notes: str, params: int,
                   shares: list[float]) -> ModelCard:
    """The first member's input conventions, every member's figures, and the first member's training config."""
    first = cards[0]
    member_info = []
    for d, card, share in zip(dirs, cards, shares):
        training = card.training if isinstance(card.training, dict) else {}
        member_info.append({"name": card.name, "folder": str(d), "backbone": card.backbone, "weights": card.weights,
                            "params": training.get("params"), "epochs_run": training.get("epochs_run"),
                            "best_val_accuracy": training.get("best_val_accuracy"), "metrics": card.metrics,
                            "share": round(share, 6), "class_names": list(card.class_names),
                            "trained_on": card.trained_on})
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
    p = argparse.ArgumentParser(prog=cli.prog("fer_core.ensemble"), description=__doc__.splitlines()[0])
    p.add_argument("--members", nargs="+", required=True, help="two or more model folders")
    p.add_argument("--weights", nargs="+", type=float, default=None,
                   help="one weight per member (scaled to sum to 1; default: all equal)")
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
        out = build_ensemble(args.members, args.out, name=args.name, notes=args.notes, weights=args.weights)
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
