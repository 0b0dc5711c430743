"""Training: ``python -m fer_core.train``. Writes ``models/<name>/`` with model, card, history, report.

Two phases as in the original project for pretrained backbones: a new head on a frozen
backbone (its features computed once, so 2 CPU cores suffice), then fine-tuning of the top
layers with batch norm frozen. Our compact ``fer_cnn`` trains from scratch in one phase.
Each epoch checkpoints into ``--checkpoint-dir`` so an interrupted run resumes where it stopped.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from fer_core.data.datasets import Dataset, Split, load_dataset
from fer_core.errors import DatasetError
from fer_core.inference.card import ModelCard
from fer_core.inference.preprocess import convert_face
from fer_core.model_folder import write_model_folder
from fer_core.settings import get_settings
from fer_core.training.architectures import BACKBONES, PRETRAINABLE, backbone_spec

log = logging.getLogger(__name__)

ProgressFn = Callable[[dict[str, Any]], None]


@dataclass
class TrainConfig:
    """Every choice of a training run; saved into the card and the checkpoint state."""

    data: str
    out: str
    backbone: str = "fer_cnn"
    weights: str = "auto"  # imagenet | PATH | none | auto (shared file if present, else imagenet)
    init_model: str = ""  # start from an existing model directory (fine-tune a shipped model)
    whole: bool = False  # with init_model: train every layer in one phase (a warm restart), not head + fine-tune
    labels: str = "fer2013"  # fer2013 (the data's own labels) | ferplus (FER+ votes beside it) | a votes file path
    targets: str = "crossentropy"  # with FER+ labels: vote distributions (crossentropy) or majority labels
    fer2013_weight: float = 0.0  # with FER+ vote distributions: share of FER2013's own label in each target
    input_size: int = 0  # 0: the backbone's default
    width: int = 32
    train_split: str = "Training"
    val_split: str = "PublicTest"
    test_split: str = "PrivateTest"
    val_fraction: float = 0.15  # used when the dataset has no validation split
    epochs: int = 30  # phase 1 (head) or the only phase (fer_cnn)
    finetune_epochs: int = 10
    unfreeze: int = 30  # top backbone layers opened in phase 2
    batch_size: int = 128
    lr: float = 2e-3
    finetune_lr: float = 1e-4
    weight_decay: float = 1e-4
    label_smoothing: float = 0.1
    dropout: float = 0.4
    class_weight: str = "sqrt"  # none | sqrt | balanced
    schedule: str = "cosine"  # cosine | plateau
    patience: int = 8
    cache_features: bool = True
    crop_faces: bool = False  # cut full-frame photos to their largest face first
    augment: bool = True
    tta: bool = True
    precision: str = "auto"  # auto | float32 | bf16
    max_per_class: int = 0  # cap for quick experiments; 0 = all
    seed: int = 1
    checkpoint_dir: str = ""
    resume: bool = True
    verbose: int = 1
    name: str = ""
    notes: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


# ----------------------------------------------------------------------------- data


def split_to_arrays(split: Split, size: tuple[int, int], color_mode: str,
                    on_error: Callable[[int, Exception], None] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Images of ``split`` as ``(N, H, W, C)`` uint8 in the card's colour order, plus labels."""
    from fer_core.errors import ImageError

    channels = 1 if color_mode == "grayscale" else 3
    arr = split.array
    if arr is not None and split.transform is None and arr.ndim == 3 and arr.shape[1:] == size and channels == 1:
        return arr[..., None].astype(np.uint8), split.labels.astype(np.int64)
    images: list[np.ndarray] = []
    keep: list[int] = []
    for i in range(len(split)):
        try:
            img = split.image(i)
        except ImageError as exc:
            if on_error is None:
                raise
            on_error(i, exc)
            continue
        images.append(convert_face(img, size, color_mode))
        keep.append(i)
    x = np.stack(images) if images else np.zeros((0, size[0], size[1], channels), np.uint8)
    return x, split.labels[np.array(keep, dtype=np.int64)].astype(np.int64)


def class_weights(labels: np.ndarray, n_classes: int, mode: str) -> dict[int, float] | None:
    """Per-class loss weights: ``balanced`` (inverse frequency), ``sqrt`` (its square root), or none."""
    if mode == "none":
        return None
    counts = np.bincount(labels, minlength=n_classes).astype(np.float64)
    present = counts > 0
    inv = np.zeros(n_classes)
    inv[present] = counts[present].sum() / (present.sum() * counts[present])
    if mode == "sqrt":
        inv = np.sqrt(inv)
    elif mode != "balanced":
        raise ValueError(f"class_weight must be none, sqrt or balanced, not {mode!r}")
    inv[present] /= np.average(inv[present], weights=counts[present])
    return {i: float(w) for i, w in enumerate(inv) if present[i]}


def cap_per_class(labels: np.ndarray, cap: int, seed: int) -> np.ndarray:
    """Indices keeping at most ``cap`` examples of each class (for quick runs)."""
    rng = np.random.default_rng(seed)
    keep = []
    for c in np.unique(labels):
        idx = np.flatnonzero(labels == c)
        rng.shuffle(idx)
        keep.append(idx[:cap])
    return np.sort(np.concatenate(keep))


def pick_splits(ds: Dataset, cfg: TrainConfig) -> tuple[Split, Split | None, Split | None, str]:
    """Training, validation and test splits; carve validation out of training when absent."""
    names = list(ds.splits)
    train = ds.split(cfg.train_split) if cfg.train_split in ds.splits or len(names) > 1 else ds.split(None)
    try:
        val: Split | None = ds.split(cfg.val_split)
    except DatasetError:
        val = None
    try:
        test: Split | None = ds.split(cfg.test_split)
    except DatasetError:
        test = None
    if test is train:
        test = None
    how = "given splits"
    if val is None or val is train:
        rng = np.random.default_rng(cfg.seed)
        order = rng.permutation(len(train))
        n_val = max(1, int(round(len(train) * cfg.val_fraction))) if len(train) > 4 else 0
        val_idx, train_idx = np.sort(order[:n_val]), np.sort(order[n_val:])
        val = _subset(train, val_idx, "validation") if n_val else None
        train = _subset(train, train_idx, train.name)
        how = f"validation carved from {cfg.train_split} ({cfg.val_fraction:.0%})"
    return train, val, test, how


def _subset(split: Split, idx: np.ndarray, name: str) -> Split:
    return Split(
        name=name,
        labels=split.labels[idx],
        array=split.array[idx] if split.array is not None else None,
        paths=[split.paths[i] for i in idx] if split.paths is not None else None,
        transform=split.transform,
        targets=split.targets[idx] if split.targets is not None else None,
        rows=split.rows[idx] if split.rows is not None else None,
    )


# ----------------------------------------------------------------------------- callbacks


def _make_callbacks(cfg: TrainConfig, phase: str, state: dict[str, Any], ckpt: Path, net: Any,
                    progress: ProgressFn | None, total_epochs: int) -> list[Any]:
    import keras

    class EpochLog(keras.callbacks.Callback):
        """Records history, checkpoints, keeps the best weights and stops early."""

        def on_epoch_begin(self, epoch: int, logs: Any = None) -> None:
            self._t0 = time.time()

        def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
            logs = dict(logs or {})
            lr = self.model.optimizer.learning_rate
            lr_value = float(keras.ops.convert_to_numpy(lr))
            row: dict[str, Any] = {
                "phase": phase,
                "epoch": epoch + 1,
                "loss": float(logs.get("loss", float("nan"))),
                "accuracy": float(logs.get("accuracy", float("nan"))),
                "val_loss": float(logs.get("val_loss", float("nan"))),
                "val_accuracy": float(logs.get("val_accuracy", float("nan"))),
                "lr": lr_value,
                "seconds": round(time.time() - self._t0, 2),
            }
            state["history"].append(row)
            val_acc, acc = float(row["val_accuracy"]), float(row["accuracy"])
            score = val_acc if not math.isnan(val_acc) else acc
            if score > state["best"].get(phase, -1.0):
                state["best"][phase] = score
                state["since_best"] = 0
                net.save_weights(str(ckpt / f"best_{phase}.weights.h5"))
            else:
                state["since_best"] += 1
            state["phase"], state["epoch"] = phase, epoch + 1
            self.model.save(str(ckpt / f"last_{phase}.keras"))
            (ckpt / "state.json").write_text(json.dumps(state, indent=1))
            rounded = {k: round(v, 4) for k, v in row.items() if isinstance(v, float)}
            log.info("%s epoch %d: %s", phase, epoch + 1, rounded)
            if progress is not None:
                progress({"event": "epoch", "total_epochs": total_epochs, **row})
            if state["since_best"] >= cfg.patience:
                log.info("early stop: no validation gain in %d epochs", cfg.patience)
                self.model.stop_training = True

    cbs: list[Any] = [EpochLog()]
    if cfg.schedule == "plateau":
        cbs.append(keras.callbacks.ReduceLROnPlateau(monitor="val_accuracy", factor=0.5,
                                                     patience=max(1, cfg.patience // 3), min_lr=1e-6))
    return cbs


def _optimizer(cfg: TrainConfig, lr: float, steps: int) -> Any:
    import keras

    if cfg.schedule == "cosine":
        warm = max(1, min(steps // 10, 3 * max(1, steps // max(1, cfg.epochs))))
        schedule: Any = keras.optimizers.schedules.CosineDecay(
            initial_learning_rate=lr * 0.05, decay_steps=max(1, steps - warm), alpha=0.01,
            warmup_target=lr, warmup_steps=warm,
        )
    else:
        schedule = lr
    return keras.optimizers.AdamW(learning_rate=schedule, weight_decay=cfg.weight_decay)


# ----------------------------------------------------------------------------- training


def train(cfg: TrainConfig, progress: ProgressFn | None = None) -> Path:
    """Run a whole training as ``cfg`` says and return the written model directory."""
    if cfg.backbone not in BACKBONES:
        raise ValueError(f"unknown backbone {cfg.backbone!r}; choose from {', '.join(BACKBONES)}")
    import keras
    import tensorflow as tf

    settings = get_settings()
    keras.utils.set_random_seed(cfg.seed)
    weights = _resolve_weights(cfg, settings)
    init_card: ModelCard | None = None
    if cfg.init_model:
        from fer_core.inference.card import load_card

        init_card = load_card(cfg.init_model)
        if Path(cfg.out).resolve() == Path(cfg.init_model).resolve():
            raise ValueError(f"--out {cfg.out} is the model training starts from; pick another --name")
        cfg = _follow_init_model(cfg, init_card)
    spec = backbone_spec(cfg.backbone, weights)
    color_mode = init_card.color_mode if init_card else spec.color_mode
    norm = init_card.normalization if init_card else spec.normalization
    size_px = cfg.input_size or (init_card.input_size[0] if init_card else spec.default_size)
    size = (size_px, size_px)
    if cfg.precision == "bf16" or (cfg.precision == "auto" and _cpu_has_bf16()):
        keras.mixed_precision.set_global_policy("mixed_bfloat16")
    else:
        keras.mixed_precision.set_global_policy("float32")

    ds = load_dataset(cfg.data, crop_faces=cfg.crop_faces, labels=cfg.labels, targets=cfg.targets,
                      fer2013_weight=cfg.fer2013_weight)
    train_split, val_split, test_split, how = pick_splits(ds, cfg)
    _emit(progress, {"event": "status", "message": f"loading {len(train_split)} training images"})
    skipped: list[str] = []
    x_train, y_train = split_to_arrays(train_split, size, color_mode, lambda i, e: skipped.append(str(e)))
    soft = train_split.targets if train_split.targets is not None and len(train_split.targets) == len(y_train) else None
    if cfg.max_per_class:
        keep = cap_per_class(y_train, cfg.max_per_class, cfg.seed)
        x_train, y_train = x_train[keep], y_train[keep]
        soft = soft[keep] if soft is not None else None
    x_val, y_val = (split_to_arrays(val_split, size, color_mode, lambda i, e: skipped.append(str(e)))
                    if val_split is not None else (None, None))
    if len(x_train) == 0:
        raise ValueError(f"{cfg.data}: no training images")
    n_classes = len(ds.class_names)
    cw = class_weights(y_train, n_classes, cfg.class_weight)
    log.info("data: %d train, %d val (%s); classes %s; class weights %s", len(x_train),
             0 if x_val is None else len(x_val), how, ds.class_names, cw)

    out = Path(cfg.out)
    ckpt = Path(cfg.checkpoint_dir) if cfg.checkpoint_dir else out.parent / f".{out.name}.ckpt"
    ckpt.mkdir(parents=True, exist_ok=True)
    fingerprint = _data_fingerprint(ds.class_names, train_split, val_split)
    state = _load_state(ckpt, cfg, fingerprint) if cfg.resume else None
    if state is None:
        state = {"config": asdict(cfg), "history": [], "best": {}, "since_best": 0, "phase": "", "epoch": 0,
                 "data_fingerprint": fingerprint}

    from fer_core.training.architectures import (
        build_augmentation,
        build_model,
        normalization_layer,
        set_backbone_trainable,
        unfreeze_model,
    )

    net = build_model(cfg.backbone, n_classes, size, weights=weights if not init_card else "none",
                      dropout=cfg.dropout, width=cfg.width)
    if init_card is not None:
        _transfer_from(net, cfg.init_model, init_card, ds.class_names)
    channels = 1 if color_mode == "grayscale" else 3

    def wrap(trainable_net: Any, augment: bool) -> Any:
        inputs = keras.Input(shape=(size[0], size[1], channels), name="pixels")
        x = keras.layers.Rescaling(1.0, name="to_float")(inputs)
        if augment:
            x = build_augmentation()(x)
        x = normalization_layer(norm, channels)(x)
        return keras.Model(inputs, trainable_net(x), name="trainer")

    # Soft targets (FER+ vote distributions) where the data has them, else one-hot labels.
    y_train_1h = soft.astype("float32") if soft is not None else keras.utils.to_categorical(y_train, n_classes)
    val_data = (x_val, keras.utils.to_categorical(y_val, n_classes)) if x_val is not None and len(x_val) else None
    loss = keras.losses.CategoricalCrossentropy(label_smoothing=cfg.label_smoothing)
    steps_per_epoch = math.ceil(len(x_train) / cfg.batch_size)
    t_start = time.time()

    phases: list[tuple[str, int]] = []
    pretrained = cfg.backbone in PRETRAINABLE and (weights != "none" or init_card is not None)
    if (cfg.backbone == "fer_cnn" and init_card is None) or (init_card is not None and cfg.whole):
        phases.append(("train", cfg.epochs))
    else:
        phases.append(("head", cfg.epochs))
        if cfg.finetune_epochs > 0:
            phases.append(("finetune", cfg.finetune_epochs))
    if not pretrained and cfg.backbone in PRETRAINABLE:
        phases = [("train", cfg.epochs + cfg.finetune_epochs)]

    for phase, epochs in phases:
        done = [h for h in state["history"] if h["phase"] == phase]
        start_epoch = len(done)
        best_file = ckpt / f"best_{phase}.weights.h5"
        if start_epoch >= epochs or (done and state.get("finished", {}).get(phase)):
            if best_file.exists():
                net.load_weights(str(best_file))
            continue
        state["since_best"] = 0 if not done else state["since_best"]
        if phase == "head":
            set_backbone_trainable(net, False)
            if cfg.cache_features and start_epoch == 0:
                _train_head_on_features(net, cfg, x_train, y_train_1h, val_data, cw, norm, channels,
                                        size, state, ckpt, progress, epochs)
                state.setdefault("finished", {})[phase] = True
                (ckpt / "state.json").write_text(json.dumps(state, indent=1))
                net.load_weights(str(best_file))
                continue
            lr = cfg.lr
        elif phase == "finetune":
            opened = unfreeze_model(net, cfg.unfreeze)
            log.info("fine-tuning: %d layers with weights opened (batch norm stays frozen)", opened)
            lr = cfg.finetune_lr
        else:
            set_backbone_trainable(net, True)
            lr = cfg.lr
        trainer = wrap(net, cfg.augment)
        trainer.compile(optimizer=_optimizer(cfg, lr, steps_per_epoch * epochs), loss=loss,
                        metrics=["accuracy"], jit_compile=False)
        last = ckpt / f"last_{phase}.keras"
        if start_epoch > 0 and last.exists():
            log.info("resuming %s at epoch %d from %s", phase, start_epoch + 1, last)
            trainer = keras.models.load_model(str(last), safe_mode=True, compile=True)
            net = trainer.layers[-1]
        callbacks = _make_callbacks(cfg, phase, state, ckpt, net, progress, epochs)
        _emit(progress, {"event": "phase", "phase": phase, "epochs": epochs})
        trainer.fit(
            _dataset(x_train, y_train_1h, cfg.batch_size, shuffle=True, seed=cfg.seed, tf=tf),
            validation_data=_dataset(*val_data, cfg.batch_size, shuffle=False, seed=0, tf=tf) if val_data else None,
            epochs=epochs, initial_epoch=start_epoch, class_weight=cw, callbacks=callbacks,
            verbose=cfg.verbose,
        )
        state.setdefault("finished", {})[phase] = True
        (ckpt / "state.json").write_text(json.dumps(state, indent=1))
        if best_file.exists():
            net.load_weights(str(best_file))

    seconds = time.time() - t_start
    out_dir = export_model(net, cfg, out, ds.class_names, size, color_mode, norm, weights, state, seconds, how,
                           skipped, init_card)
    if cfg.tta and x_val is not None and y_val is not None and len(x_val):
        _emit(progress, {"event": "status", "message": "choosing test-time views on the validation split"})
        choose_tta(out_dir, x_val, y_val)
    # Without a test split (e.g. a folder of personal captures) the report comes from the held-out
    # validation images: optimistic (they picked the best epoch) but still the model's confusions.
    report_split = test_split if test_split is not None else val_split
    shown = report_split.name if report_split else "test"
    _emit(progress, {"event": "status", "message": f"evaluating on the {shown} split"})
    if report_split is not None:
        try:
            from fer_core.training.evaluation import evaluate_split, write_report

            report = evaluate_split(out_dir, report_split, ds.class_names)
            write_report(out_dir, report, split_name=report_split.name, data=cfg.data, labels=cfg.labels)
        except Exception as exc:  # the model is already written; a report can be redone
            log.exception("evaluation after training failed: %s", exc)
    _emit(progress, {"event": "done", "model_dir": str(out_dir), "seconds": seconds})
    return out_dir


TTA_CANDIDATES: tuple[tuple[str, ...], ...] = ((), ("hflip",), ("hflip", "zoom:1.1", "zoom:0.9"))


def choose_tta(model_dir: Path, x_val: np.ndarray, y_val: np.ndarray,
               candidates: tuple[tuple[str, ...], ...] = TTA_CANDIDATES) -> list[str]:
    """Write into the card the test-time views that score best on validation images.

    Why: flip and zoom averaging cost 2-6 model runs per face; they are kept only where the
    validation split (never the test split) shows they pay. Ties go to the cheaper list.
    """
    from fer_core.inference.card import load_card
    from fer_core.inference.classifier import Classifier

    clf = Classifier(model_dir)
    x = clf.card.normalization.apply(x_val)
    scores: dict[str, float] = {}
    best: tuple[float, list[str]] = (-1.0, [])
    for cand in candidates:
        probs = np.concatenate([clf.predict_batch(x[i:i + 512], tta=list(cand)) for i in range(0, len(x), 512)])
        acc = float((probs.argmax(axis=1) == y_val).mean())
        scores["+".join(cand) or "none"] = round(acc, 4)
        if acc > best[0] + 1e-9:
            best = (acc, list(cand))
    card = load_card(model_dir)
    card.tta = best[1]
    card.training = {**card.training, "tta_validation_accuracy": scores}
    card.save(model_dir)
    log.info("test-time views on validation: %s -> %s", scores, best[1] or "none")
    return best[1]


def _train_head_on_features(net: Any, cfg: TrainConfig, x_train: np.ndarray, y_train_1h: np.ndarray,
                            val_data: Any, cw: Any, norm: Any, channels: int, size: tuple[int, int],
                            state: dict[str, Any], ckpt: Path, progress: ProgressFn | None, epochs: int) -> None:
    """Phase 1 on cached features: the frozen backbone runs once per image, not once per epoch."""
    import keras

    base, head = net.get_layer("backbone"), net.get_layer("head")
    _emit(progress, {"event": "status", "message": "computing backbone features once"})

    def features(x: np.ndarray) -> np.ndarray:
        feats = []
        for i in range(0, len(x), 256):
            batch = norm.apply(x[i:i + 256]).reshape(-1, size[0], size[1], channels)
            feats.append(keras.ops.convert_to_numpy(base(batch, training=False)).astype(np.float32))
        return np.concatenate(feats)

    f_train = features(x_train)
    f_val = (features(val_data[0]), val_data[1]) if val_data else None
    head.compile(optimizer=_optimizer(cfg, cfg.lr, math.ceil(len(f_train) / cfg.batch_size) * epochs),
                 loss=keras.losses.CategoricalCrossentropy(label_smoothing=cfg.label_smoothing), metrics=["accuracy"])
    callbacks = _make_callbacks(cfg, "head", state, ckpt, net, progress, epochs)
    _emit(progress, {"event": "phase", "phase": "head", "epochs": epochs})
    head.fit(f_train, y_train_1h, validation_data=f_val, epochs=epochs, batch_size=cfg.batch_size,
             class_weight=cw, callbacks=callbacks, verbose=cfg.verbose, shuffle=True)


def _dataset(x: np.ndarray, y: np.ndarray, batch: int, shuffle: bool, seed: int, tf: Any) -> Any:
    ds = tf.data.Dataset.from_tensor_slices((x, y.astype("float32")))
    if shuffle:
        ds = ds.shuffle(min(len(x), 20000), seed=seed, reshuffle_each_iteration=True)
    return ds.batch(batch).prefetch(2)


def _transfer_from(net: Any, model_dir: str, card: ModelCard, class_names: list[str]) -> None:
    """Copy backbone weights from an existing model, and head rows for classes both know."""
    from fer_core.inference.classifier import load_keras_model
    from fer_core.training.ensemble import first_member

    src = first_member(load_keras_model(Path(model_dir), card))  # an ensemble: its first network
    try:
        net.get_layer("backbone").set_weights(src.get_layer("backbone").get_weights())
    except Exception as exc:  # noqa: BLE001 - Keras reports a shape mismatch in several types
        raise ValueError(f"{model_dir}: its backbone does not match {net.name} ({exc})") from None
    src_head, dst_head = src.get_layer("head"), net.get_layer("head")
    for layer in dst_head.layers:
        if not layer.weights or layer.name == "probabilities":
            continue
        try:
            layer.set_weights(src_head.get_layer(layer.name).get_weights())
        except Exception:  # noqa: BLE001 - a head layer the source lacks keeps its fresh weights
            pass
    kernel, bias = src_head.get_layer("probabilities").get_weights()
    new_kernel, new_bias = dst_head.get_layer("probabilities").get_weights()
    shared = 0
    for j, name in enumerate(class_names):
        if name in card.class_names:
            i = card.class_names.index(name)
            new_kernel[:, j], new_bias[j] = kernel[:, i], bias[i]
            shared += 1
    dst_head.get_layer("probabilities").set_weights([new_kernel, new_bias])
    log.info("started from %s: backbone and %d of %d class rows reused", model_dir, shared, len(class_names))


def export_model(net: Any, cfg: TrainConfig, out: Path, class_names: list[str], size: tuple[int, int],
                 color_mode: str, norm: Any, weights: str, state: dict[str, Any], seconds: float, how: str,
                 skipped: list[str], init_card: ModelCard | None) -> Path:
    """Save a float32 copy of ``net`` with its card and history into ``out``."""
    import keras

    from fer_core.training.architectures import build_model

    keras.mixed_precision.set_global_policy("float32")
    final = build_model(cfg.backbone, len(class_names), size, weights="none", dropout=cfg.dropout, width=cfg.width)
    final.set_weights(net.get_weights())
    started = (f"model {cfg.init_model}" if init_card else weights)
    card = ModelCard(
        name=cfg.name or out.name,
        class_names=list(class_names),
        input_size=size,
        color_mode=color_mode,
        normalization=norm,
        backbone=cfg.backbone,
        weights=started,
        trained_on=(f"{cfg.data} [{cfg.train_split}; validation: {how if 'carved' in how else cfg.val_split}]"
                    + ("" if cfg.labels == "fer2013" else f"; labels: FER+ votes ({cfg.targets})")
                    + (f", {cfg.fer2013_weight:g} FER2013's own label" if cfg.fer2013_weight else "")),
        face_margin=get_settings().face_margin,
        tta=["hflip"] if cfg.tta else [],
        training={
            "config": {k: v for k, v in asdict(cfg).items() if k != "extra"},
            "seconds": round(seconds, 1),
            "epochs_run": {p: sum(1 for h in state["history"] if h["phase"] == p)
                           for p in {h["phase"] for h in state["history"]}},
            "best_val_accuracy": state["best"],
            "skipped_files": len(skipped),
            "params": int(final.count_params()),
        },
        notes=cfg.notes,
        created=datetime.now(UTC).isoformat(timespec="seconds"),
    )
    write_model_folder(out, final, card, state["history"])
    log.info("model written to %s", out)
    return out


def _follow_init_model(cfg: TrainConfig, card: ModelCard) -> TrainConfig:
    """Take the architecture (backbone, fer_cnn width) from the model we start from: its weights only fit that."""
    import dataclasses

    width = card.training.get("config", {}).get("width", cfg.width) if isinstance(card.training, dict) else cfg.width
    changes: dict[str, Any] = {}
    if card.backbone in BACKBONES and card.backbone != cfg.backbone:
        log.info("--init-model %s is a %s: using that backbone, not %s", cfg.init_model, card.backbone, cfg.backbone)
        changes["backbone"] = card.backbone
    if isinstance(width, int) and width != cfg.width:
        changes["width"] = width
    return dataclasses.replace(cfg, **changes) if changes else cfg


def _data_fingerprint(class_names: list[str], train: Split, val: Split | None) -> str:
    """Changes when the images change (files added, moved, deleted), so a stale checkpoint is not resumed."""
    import hashlib

    h = hashlib.sha1(json.dumps(class_names).encode())
    for split in (train, val):
        if split is None:
            continue
        h.update(f"{split.name}:{len(split)}:".encode())
        h.update(np.ascontiguousarray(split.labels).tobytes())
        if split.paths is not None:
            h.update("\n".join(str(p) for p in split.paths).encode())
    return h.hexdigest()


def _load_state(ckpt: Path, cfg: TrainConfig, fingerprint: str | None = None) -> dict[str, Any] | None:
    path = ckpt / "state.json"
    if not path.exists():
        return None
    state = json.loads(path.read_text())
    if fingerprint is not None and state.get("data_fingerprint", fingerprint) != fingerprint:
        log.warning("checkpoint in %s was made from other images: starting afresh", ckpt)
        return None
    old = state.get("config", {})
    for key in ("data", "labels", "targets", "fer2013_weight", "backbone", "width", "input_size", "epochs",
                "finetune_epochs", "batch_size", "lr"):
        if old.get(key) != getattr(cfg, key):
            log.warning("checkpoint in %s was made with %s=%r, not %r: starting afresh", ckpt, key, old.get(key),
                        getattr(cfg, key))
            return None
    log.info("resuming from %s (%d epochs recorded)", ckpt, len(state.get("history", [])))
    return state


def _resolve_weights(cfg: TrainConfig, settings: Any) -> str:
    if cfg.backbone == "fer_cnn":
        return "none" if cfg.weights in ("auto", "imagenet") else cfg.weights
    if cfg.weights != "auto":
        return cfg.weights
    if cfg.backbone == "mobilenet_v2" and settings.mobilenet_weights and Path(settings.mobilenet_weights).is_file():
        return str(settings.mobilenet_weights)
    return "imagenet"


def _cpu_has_bf16() -> bool:
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="ignore") as fh:
            flags = fh.read()
        return "avx512_bf16" in flags or "amx_bf16" in flags
    except OSError:
        return False


def _emit(progress: ProgressFn | None, event: dict[str, Any]) -> None:
    if progress is not None:
        progress(event)


def build_parser() -> argparse.ArgumentParser:
    d = TrainConfig(data="", out="")
    p = argparse.ArgumentParser(prog="python -m fer_core.train", description=__doc__.splitlines()[0])
    p.add_argument("--data", default=str(get_settings().dataset_path or ""), help="npz, csv or image folder")
    p.add_argument("--out", default="", help="model directory to write (default models/<name>)")
    p.add_argument("--name", default="default")
    p.add_argument("--backbone", choices=BACKBONES, default=d.backbone)
    p.add_argument("--weights", default=d.weights, help="imagenet | PATH | none | auto")
    p.add_argument("--init-model", default="", help="start from this model directory (its backbone and shared classes)")
    p.add_argument("--whole", action="store_true",
                   help="with --init-model: train every layer in one phase (a warm restart on the same task)")
    p.add_argument("--labels", default=d.labels,
                   help="fer2013 (the data's own labels), ferplus (FER+ votes beside fer2013.npz) or a votes file")
    p.add_argument("--targets", choices=("crossentropy", "majority"), default=d.targets,
                   help="with FER+ labels: train on vote distributions or on majority labels")
    p.add_argument("--fer2013-weight", type=float, default=d.fer2013_weight,
                   help="with FER+ vote distributions: share of FER2013's own label in each target (0-1)")
    p.add_argument("--input-size", type=int, default=0)
    p.add_argument("--width", type=int, default=d.width, help="fer_cnn base width")
    for key in ("train_split", "val_split", "test_split"):
        p.add_argument("--" + key.replace("_", "-"), default=getattr(d, key))
    p.add_argument("--val-fraction", type=float, default=d.val_fraction)
    p.add_argument("--epochs", type=int, default=d.epochs)
    p.add_argument("--finetune-epochs", type=int, default=d.finetune_epochs)
    p.add_argument("--unfreeze", type=int, default=d.unfreeze)
    p.add_argument("--batch-size", type=int, default=d.batch_size)
    p.add_argument("--lr", type=float, default=d.lr)
    p.add_argument("--finetune-lr", type=float, default=d.finetune_lr)
    p.add_argument("--weight-decay", type=float, default=d.weight_decay)
    p.add_argument("--label-smoothing", type=float, default=d.label_smoothing)
    p.add_argument("--dropout", type=float, default=d.dropout)
    p.add_argument("--class-weight", choices=("none", "sqrt", "balanced"), default=d.class_weight)
    p.add_argument("--schedule", choices=("cosine", "plateau"), default=d.schedule)
    p.add_argument("--patience", type=int, default=d.patience)
    p.add_argument("--no-cache-features", dest="cache_features", action="store_false")
    p.add_argument("--crop-faces", action="store_true", help="cut full-frame photos to their largest face first")
    p.add_argument("--no-augment", dest="augment", action="store_false")
    p.add_argument("--no-tta", dest="tta", action="store_false")
    p.add_argument("--precision", choices=("auto", "float32", "bf16"), default=d.precision)
    p.add_argument("--max-per-class", type=int, default=0)
    p.add_argument("--seed", type=int, default=d.seed)
    p.add_argument("--checkpoint-dir", default="")
    p.add_argument("--no-resume", dest="resume", action="store_false")
    p.add_argument("--verbose", type=int, default=1 if sys.stderr.isatty() else 2)
    p.add_argument("--notes", default="")
    return p


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    args = build_parser().parse_args(argv)
    if not args.data:
        print("error: no --data given and no default dataset configured", file=sys.stderr)
        return 2
    values = vars(args)
    if not values["out"]:
        values["out"] = str(get_settings().models_dir / values["name"])
    cfg = TrainConfig(**values)
    try:
        out = train(cfg)
    except (ValueError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:  # noqa: BLE001 - a CLI reports instead of dumping a traceback
        from fer_core.errors import FerError

        if isinstance(exc, FerError):
            print(f"error: {exc}", file=sys.stderr)
            return 2
        raise
    print(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
