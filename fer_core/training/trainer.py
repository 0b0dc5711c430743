"""Training: ``python -m fer_core.train``. Writes ``models/<name>/`` with model, card, history, report.

As in the keras-io transfer-learning example, for a pretrained backbone: a new head on the
frozen backbone (its features computed once, so 2 CPU cores suffice), then fine-tuning of the
top layers with batch norm frozen. Our compact ``fer_cnn`` trains from scratch in one phase
(``phases.plan_phases`` decides). Each epoch checkpoints into ``--checkpoint-dir`` so an
interrupted run resumes where it stopped (``checkpoint.Checkpoint``).

``train`` reads as the run goes: resolve the config, load the data, build the network, run
each phase, export the model folder, then choose test-time views and write the report.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from fer_core.data.datasets import Dataset, Split, load_dataset
from fer_core.errors import FerError
from fer_core.inference.classifier import load_keras_model
from fer_core.inference.preprocess import with_face_crops
from fer_core.model_folder import is_model_folder
from fer_core.training.architectures import (
    build_model,
    first_member,
    normalization_layer,
    set_backbone_trainable,
    transfer_weights,
    unfreeze_model,
)
from fer_core.training.augment import build_augmentation
from fer_core.training.callbacks import ProgressFn, make_callbacks
from fer_core.training.checkpoint import Checkpoint
from fer_core.training.config import ModelSpec, TrainConfig, build_parser, config_from_args, keep_extra, resolve
from fer_core.training.data import Splits, TrainingData, data_fingerprint, fit_inputs, load_arrays, pick_splits
from fer_core.training.degrade import build_degrade
from fer_core.training.distill import distilled_targets
from fer_core.training.evaluation import compare_models, evaluate_split, write_report
from fer_core.training.export import export_model
from fer_core.training.phases import FINETUNE, HEAD, TRAIN, Phase, make_optimizer, plan_phases, steps_per_epoch
from fer_core.training.tta import choose_tta

log = logging.getLogger(__name__)


@dataclass
class Run:
    """What every phase of one training works on."""

    cfg: TrainConfig
    spec: ModelSpec
    net: Any  # the network the card describes (backbone + head)
    data: TrainingData
    checkpoint: Checkpoint
    emit: ProgressFn  # the caller's progress events (``train``'s ``progress``, or nowhere)


def train(cfg: TrainConfig, progress: ProgressFn | None = None) -> Path:
    """Run a whole training as ``cfg`` says and return the written model directory."""
    emit: ProgressFn = progress or (lambda event: None)
    cfg, spec = _prepare(cfg)
    ds = load_dataset(cfg.data, labels=cfg.labels, targets=cfg.targets, fer2013_weight=cfg.fer2013_weight,
                      vote_weight=cfg.vote_weight)
    if cfg.crop_faces:
        ds = with_face_crops(ds)
    splits = pick_splits(ds, cfg)
    emit({"event": "status", "message": f"loading {len(splits.train)} training images"})
    data = load_arrays(splits, cfg, len(ds.class_names), spec.size, spec.color_mode)
    log.info("data: %d train, %d val (%s); classes %s; class weights %s", len(data.x_train),
             0 if data.x_val is None else len(data.x_val), splits.how, ds.class_names, data.class_weight)
    fingerprint = data_fingerprint(ds.class_names, splits.train, splits.val)
    checkpoint = Checkpoint.open(cfg, fingerprint)
    if cfg.teachers:
        emit({"event": "status", "message": f"{len(cfg.teachers)} teacher(s) labelling the training images"})
        data.targets = distilled_targets(cfg.teachers, cfg.teacher_weight, data.x_train, data.targets,
                                         ds.class_names, checkpoint.folder, fingerprint)
    run = Run(cfg, spec, build_network(cfg, spec, ds.class_names), data, checkpoint, emit)
    t_start = time.time()
    for phase in plan_phases(cfg, spec.weights):
        run_phase(run, phase)
    seconds = time.time() - t_start
    out = export_model(run.net, cfg, spec, ds.class_names, checkpoint, splits, data.skipped, seconds)
    _finish(run, out, splits, ds)
    run.emit({"event": "done", "model_dir": str(out), "seconds": seconds})
    return out


def _prepare(cfg: TrainConfig) -> tuple[TrainConfig, ModelSpec]:
    """Resolve the config, seed every generator, and pick the precision (bf16 where the CPU has it)."""
    cfg, spec = resolve(cfg)
    import keras

    keras.utils.set_random_seed(cfg.seed)
    if cfg.precision == "bf16" or (cfg.precision == "auto" and _cpu_has_bf16()):
        keras.mixed_precision.set_global_policy("mixed_bfloat16")
    else:
        keras.mixed_precision.set_global_policy("float32")
    return cfg, spec


def build_network(cfg: TrainConfig, spec: ModelSpec, class_names: list[str]) -> Any:
    """Backbone plus a fresh head; from ``--init-model``, its weights (an ensemble: its first member's)."""
    weights = spec.weights if spec.init_card is None else "none"
    net = build_model(cfg.backbone, len(class_names), spec.size, weights=weights, dropout=cfg.dropout,
                      width=cfg.width)
    if spec.init_card is not None:
        src = first_member(load_keras_model(Path(cfg.init_model), spec.init_card))
        try:
            shared = transfer_weights(src, net, spec.init_card.class_names, class_names)
        except ValueError as exc:
            raise ValueError(f"{cfg.init_model}: {exc}") from None
        log.info("started from %s: backbone and %d of %d class rows reused", cfg.init_model, shared, len(class_names))
    return net


# ----------------------------------------------------------------------------- phases


def run_phase(run: Run, phase: Phase) -> None:
    """Fit one phase (unless an earlier run finished it), then keep its best epoch's weights."""
    model = PHASE_MODELS[phase.name](run)
    if not run.checkpoint.phase_done(phase.name, phase.epochs):
        if phase.name == HEAD and run.cfg.cache_features:
            fit_head_on_features(run, model, phase)
        else:
            fit_network(run, model, phase)
        run.checkpoint.finish(phase.name)
    best = run.checkpoint.best_weights(phase.name)
    if best.exists():
        model.load_weights(str(best))


def head_phase(run: Run) -> Any:
    """Phase 1 (keras-io: train the top layer): the backbone frozen; the head alone on cached features."""
    set_backbone_trainable(run.net, False)
    return run.net.get_layer("head") if run.cfg.cache_features else _training_wrapper(run)


def finetune_phase(run: Run) -> Any:
    """Phase 2 (keras-io: unfreeze the top layers): the backbone's top layers open, batch norm stays frozen."""
    opened = unfreeze_model(run.net, run.cfg.unfreeze)
    log.info("fine-tuning: %d layers with weights opened (batch norm stays frozen)", opened)
    return _training_wrapper(run)


def whole_phase(run: Run) -> Any:
    """The one phase of every layer: fer_cnn from scratch, a ``--whole`` warm restart, a backbone without weights."""
    set_backbone_trainable(run.net, True)
    return _training_wrapper(run)


# What each phase fits: the model with the phase's layers opened.
PHASE_MODELS: dict[str, Callable[[Run], Any]] = {HEAD: head_phase, FINETUNE: finetune_phase, TRAIN: whole_phase}


def _training_wrapper(run: Run) -> Any:
    """Raw pixels in: to float, augmentation (when asked), the card's normalisation, then the network."""
    import keras

    size, channels = run.spec.size, run.spec.channels
    inputs = keras.Input(shape=(size[0], size[1], channels), name="pixels")
    x = keras.layers.Rescaling(1.0, name="to_float")(inputs)
    if run.cfg.augment:
        x = build_augmentation(seed=run.cfg.seed)(x)
        if run.cfg.degrade:
            x = build_degrade(seed=run.cfg.seed)(x)
    x = normalization_layer(run.spec.normalization, channels)(x)
    return keras.Model(inputs, run.net(x), name="trainer")


def _loss(cfg: TrainConfig) -> Any:
    import keras

    return keras.losses.CategoricalCrossentropy(label_smoothing=cfg.label_smoothing)


def fit_network(run: Run, model: Any, phase: Phase) -> None:
    """A phase on images: the wrapper with augmentation, fed as the backend likes (``fit_inputs``)."""
    cfg, data = run.cfg, run.data
    model.compile(optimizer=make_optimizer(cfg, phase, steps_per_epoch(len(data.x_train), cfg.batch_size)),
                  loss=_loss(cfg), metrics=["accuracy"], jit_compile=False)
    val = data.val_targets()
    callbacks = make_callbacks(cfg, phase, run.checkpoint, val is not None, run.emit)
    run.emit({"event": "phase", "phase": phase.name, "epochs": phase.epochs})
    model.fit(
        **fit_inputs((data.x_train, data.targets), val, cfg.batch_size, cfg.seed),
        epochs=phase.epochs, class_weight=data.class_weight, callbacks=callbacks, verbose=cfg.verbose,
    )


def fit_head_on_features(run: Run, head: Any, phase: Phase) -> None:
    """The head phase on cached features: the frozen backbone runs once per image, not once per epoch."""
    cfg, data = run.cfg, run.data
    run.emit({"event": "status", "message": "computing backbone features once"})
    f_train = _features(run, data.x_train)
    val = data.val_targets()
    f_val = (_features(run, val[0]), val[1]) if val is not None else None
    head.compile(optimizer=make_optimizer(cfg, phase, steps_per_epoch(len(f_train), cfg.batch_size)),
                 loss=_loss(cfg), metrics=["accuracy"])
    callbacks = make_callbacks(cfg, phase, run.checkpoint, val is not None, run.emit)
    run.emit({"event": "phase", "phase": phase.name, "epochs": phase.epochs})
    head.fit(f_train, data.targets, validation_data=f_val, epochs=phase.epochs, batch_size=cfg.batch_size,
             class_weight=data.class_weight, callbacks=callbacks, verbose=cfg.verbose, shuffle=True)


def _features(run: Run, x: np.ndarray) -> np.ndarray:
    """The frozen backbone's output for ``x`` (normalised as the card says), in batches of 256."""
    import keras

    base, norm = run.net.get_layer("backbone"), run.spec.normalization
    size, channels = run.spec.size, run.spec.channels
    feats = []
    for i in range(0, len(x), 256):
        batch = norm.apply(x[i:i + 256]).reshape(-1, size[0], size[1], channels)
        feats.append(keras.ops.convert_to_numpy(base(batch, training=False)).astype(np.float32))
    return np.concatenate(feats)


# ----------------------------------------------------------------------------- after training


def _finish(run: Run, out: Path, splits: Splits, ds: Dataset) -> None:
    """Choose test-time views on validation, then evaluate on the test split into the report.

    Without a test split (e.g. a folder of personal captures) the report comes from the held-out
    validation images: optimistic (they picked the best epoch) but still the model's confusions.
    """
    data = run.data
    if run.cfg.tta and data.has_val and data.x_val is not None and data.y_val is not None:
        run.emit({"event": "status", "message": "choosing test-time views on the validation split"})
        choose_tta(out, data.x_val, data.y_val)
    report_split = splits.report_split
    shown = report_split.name if report_split else "test"
    run.emit({"event": "status", "message": f"evaluating on the {shown} split"})
    if report_split is None:
        return
    try:
        report = evaluate_split(out, report_split, ds.class_names)
        compared = _compare_with_start(run, out, report_split, ds)
        write_report(out, report, split_name=report_split.name, data=run.cfg.data, labels=run.cfg.labels,
                     compared=compared)
    except Exception as exc:  # noqa: BLE001 - the model is already written; a report can be redone
        log.exception("evaluation after training failed: %s", exc)


def _compare_with_start(run: Run, out: Path, split: Split, ds: Dataset) -> dict[str, Any] | None:
    """The new model and the model it started from, scored on the same report faces (a fine-tune only).

    The classes the training borrowed faces for (``keep_extra``) are not the user's own; the rest are.
    """
    start = run.cfg.init_model
    if not start or not is_model_folder(start):
        return None
    run.emit({"event": "status", "message": f"scoring {Path(start).name} on the same pictures"})
    kept = set((keep_extra(run.cfg) or {}).get("classes") or ())
    own = [c for c in ds.class_names if c not in kept]
    compared = compare_models({"new": out, "start": start}, split, list(ds.class_names), own)
    compared["start_model"] = Path(start).name
    return compared


def _cpu_has_bf16() -> bool:
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="ignore") as fh:
            flags = fh.read()
        return "avx512_bf16" in flags or "amx_bf16" in flags
    except OSError:
        return False


# ----------------------------------------------------------------------------- command line


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    args = build_parser().parse_args(argv)
    if not args.data:
        print("error: no --data given and no default dataset configured", file=sys.stderr)
        return 2
    try:
        out = train(config_from_args(args))
    except (ValueError, FileNotFoundError, FerError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(out)
    return 0


__all__ = ["PHASE_MODELS", "Run", "TrainConfig", "build_network", "finetune_phase", "fit_head_on_features",
           "fit_network", "head_phase", "main", "run_phase", "train", "whole_phase"]


if __name__ == "__main__":
    sys.exit(main())
