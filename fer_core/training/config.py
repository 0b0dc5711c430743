"""What a training run is asked to do: the typed ``TrainConfig``, its presets and its command line.

Why: one dataclass carries every choice of a run; the command line (``python -m fer_core.train``),
the Teach page's preset (``personal_config``) and a resumed checkpoint all read and write the
same fields, and the card keeps them (``training.config``), so a model says how it was made.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fer_core import cli
from fer_core.data.keep_classes import KeepPlan
from fer_core.data.labels import validate_class_name
from fer_core.inference.card import ModelCard, Normalization, load_card
from fer_core.model_folder import model_dir_in
from fer_core.settings import SHARED_DIR, get_settings
from fer_core.training.architectures import BACKBONES, backbone_spec

log = logging.getLogger(__name__)

DESCRIPTION = "Training: ``python -m fer_core.train``. Writes ``models/<name>/`` with model, card, history, report."


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
    vote_weight: float = 0.0  # with FER2013's own labels: share of the FER+ votes in each training target
    teachers: list[str] = field(default_factory=list)  # model folders whose mean probabilities the targets blend in
    teacher_weight: float = 0.5  # with teachers: their share of each target
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
    degrade: bool = False  # with augment: webcam degradations (blur, low resolution, gamma, noise)
    tta: bool = True
    precision: str = "auto"  # auto | float32 | bf16
    deadline: float = 0.0  # Unix time: end a phase before an epoch that would finish past it (a lent GPU); 0 = none
    max_per_class: int = 0  # cap for quick experiments; 0 = all
    seed: int = 1
    checkpoint_dir: str = ""
    resume: bool = True
    verbose: int = 1
    name: str = ""
    notes: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


KEEP_CLASSES = "keep_classes"  # ``TrainConfig.extra`` key: faces to add for the starting model's other classes

# Fields a checkpoint must agree on to be resumed (others, such as verbose or notes, may change). The last
# five shape the model each phase fits and its optimizer, so a backed-up epoch only loads into the same ones.
# ImageNet MobileNetV2 weights (torchvision normalisation) for ``--weights auto`` and the Teach
# page's ImageNet start; elsewhere ``train --weights FILE`` names a file.
MOBILENET_WEIGHTS = SHARED_DIR / "weights" / "mobilenet_v2_imagenet_notop.weights.h5"
RESUME_KEYS = ("data", "labels", "targets", "fer2013_weight", "vote_weight", "teachers", "teacher_weight", "backbone",
               "width", "input_size", "epochs", "finetune_epochs", "batch_size", "lr", "unfreeze", "augment", "degrade",
               "cache_features", "schedule")


def resolve_weights(cfg: TrainConfig) -> str:
    """The backbone's starting weights: ``auto`` becomes the shared MobileNetV2 file when present, else imagenet."""
    if cfg.backbone == "fer_cnn":
        return "none" if cfg.weights in ("auto", "imagenet") else cfg.weights
    if cfg.weights != "auto":
        return cfg.weights
    if cfg.backbone == "mobilenet_v2" and MOBILENET_WEIGHTS.is_file():
        return str(MOBILENET_WEIGHTS)
    return "imagenet"


@dataclass(frozen=True)
class ModelSpec:
    """What the network is fed and starts from, as resolved from a config (and the model it starts from)."""

    weights: str  # the backbone's resolved starting weights (``resolve_weights``)
    size: tuple[int, int]
    color_mode: str
    normalization: Normalization
    init_card: ModelCard | None = None  # the card of ``--init-model``

    @property
    def channels(self) -> int:
        return 1 if self.color_mode == "grayscale" else 3


def resolve(cfg: TrainConfig) -> tuple[TrainConfig, ModelSpec]:
    """Check ``cfg`` and work out its input: from ``--init-model``'s card when given, else the backbone's defaults.

    With ``--init-model`` the architecture follows that model (``follow_init_model``), so the
    returned config may differ from ``cfg``.
    """
    if cfg.backbone not in BACKBONES:
        raise ValueError(f"unknown backbone {cfg.backbone!r}; choose from {', '.join(BACKBONES)}")
    _check_teachers(cfg)
    weights = resolve_weights(cfg)
    init_card: ModelCard | None = None
    if cfg.init_model:
        init_card = load_card(cfg.init_model)
        if Path(cfg.out).resolve() == Path(cfg.init_model).resolve():
            raise ValueError(f"--out {cfg.out} is the model training starts from; pick another --name")
        cfg = follow_init_model(cfg, init_card)
    spec = backbone_spec(cfg.backbone, weights)
    if init_card is not None:
        size_px = cfg.input_size or init_card.input_size[0]
        return cfg, ModelSpec(weights, (size_px, size_px), init_card.color_mode, init_card.normalization, init_card)
    size_px = cfg.input_size or spec.default_size
    return cfg, ModelSpec(weights, (size_px, size_px), spec.color_mode, spec.normalization)


def _check_teachers(cfg: TrainConfig) -> None:
    """Fail before any image is loaded when a ``--teacher`` is not a model folder or the weight is out of range."""
    if not cfg.teachers:
        return
    if not 0.0 <= cfg.teacher_weight <= 1.0:
        raise ValueError(f"--teacher-weight must be between 0 and 1, not {cfg.teacher_weight}")
    for teacher in cfg.teachers:
        if Path(teacher).resolve() == Path(cfg.out).resolve():
            raise ValueError(f"--teacher {teacher} is the folder this run writes; pick another --name")
        load_card(teacher)  # ModelError with the reason when it is not a model folder


def follow_init_model(cfg: TrainConfig, card: ModelCard) -> TrainConfig:
    """Take the architecture (backbone, fer_cnn width) from the model we start from: its weights only fit that."""
    width = card.training.get("config", {}).get("width", cfg.width) if isinstance(card.training, dict) else cfg.width
    changes: dict[str, Any] = {}
    if card.backbone in BACKBONES and card.backbone != cfg.backbone:
        log.info("--init-model %s is a %s: using that backbone, not %s", cfg.init_model, card.backbone, cfg.backbone)
        changes["backbone"] = card.backbone
    if isinstance(width, int) and width != cfg.width:
        changes["width"] = width
    return dataclasses.replace(cfg, **changes) if changes else cfg


# ----------------------------------------------------------------------------- presets


PERSONAL_LR = 2e-4  # the Teach page's fine-tune of a whole model: a nudge, not a retraining


def personal_config(data: str | Path, name: str, start: str = "model", init_model: str | Path | None = None,
                    epochs: int = 20, finetune_epochs: int = 4, models_dir: str | Path | None = None,
                    keep: KeepPlan | None = None, **overrides: Any) -> TrainConfig:
    """A ``TrainConfig`` sized for a few hundred own images on a CPU (minutes, not hours).

    ``start``: ``model`` fine-tunes the whole of ``init_model`` in one phase (every layer, the output
    rows of the classes both share kept) at a low rate; ``imagenet`` starts a MobileNetV2 from ImageNet
    weights (the shared file when present).
    The model goes to ``<models_dir>/<name>`` (the owner's models folder; by default the
    models folder of the settings); ``name`` must be a plain folder name.
    From ImageNet, head epochs are many because they are nearly free (cached backbone features) and a small
    set needs them for the head's batch-norm statistics to settle; fine-tune epochs cost more.
    ``keep`` (a ``plan_keep`` with classes to keep) makes the training job add that many source
    faces of each of the starting model's other classes (``keep_extra``), so the model keeps them.
    """
    clean = validate_class_name(name)
    if " " in clean:
        raise ValueError(f"model name {name!r}: use letters, digits, dash or underscore (no spaces)")
    out = model_dir_in(models_dir or get_settings().models_dir, clean)
    base: dict[str, Any] = dict(data=str(data), out=str(out), name=clean, epochs=epochs,
                                finetune_epochs=finetune_epochs, batch_size=32, patience=max(3, epochs // 2),
                                val_fraction=0.2, class_weight="balanced", verbose=0,
                                notes="fine-tuned on own captures")
    if start == "model":
        if not init_model:
            raise ValueError("no model to start from")
        # The whole starting model, its output rows included, at a low rate: a few captures nudge it
        # rather than teach a new head from nothing (which forgets what the model knew).
        base.update(init_model=str(init_model), whole=True, lr=PERSONAL_LR, unfreeze=30)
    elif start == "imagenet":
        base.update(backbone="mobilenet_v2", weights="auto", unfreeze=30)
    else:
        raise ValueError("start must be 'model' or 'imagenet'")
    if keep is not None and keep.kept and keep.source is not None:
        base["extra"] = {KEEP_CLASSES: keep.as_extra()}
        base["notes"] += (f", plus {keep.per_class} {keep.source.label} training faces each of "
                          f"{', '.join(keep.kept)} to keep those classes")
    base.update(overrides)
    return TrainConfig(**base)


def keep_extra(cfg: TrainConfig) -> dict[str, Any] | None:
    """The classes-to-keep entry of a personal config (``personal_config(keep=...)``), or None."""
    entry = cfg.extra.get(KEEP_CLASSES) if isinstance(cfg.extra, dict) else None
    return entry if isinstance(entry, dict) and entry.get("classes") and entry.get("source") else None


# ----------------------------------------------------------------------------- command line


def build_parser() -> argparse.ArgumentParser:
    """``python -m fer_core.train``'s options: one per ``TrainConfig`` field (``extra`` aside)."""
    d = TrainConfig(data="", out="")
    p = argparse.ArgumentParser(prog=cli.prog("fer_core.train"), description=DESCRIPTION)
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
    p.add_argument("--vote-weight", type=float, default=d.vote_weight,
                   help="with FER2013's own labels: share of the FER+ votes in each training target (0-0.5)")
    p.add_argument("--teacher", dest="teachers", action="append", default=[], metavar="MODEL_DIR",
                   help="distil: blend this model's probabilities into the targets (repeat for several teachers)")
    p.add_argument("--teacher-weight", type=float, default=d.teacher_weight,
                   help="with --teacher: the teachers' share of each target (0-1)")
    p.add_argument("--input-size", type=int, default=0)
    p.add_argument("--width", type=int, default=d.width, help="fer_cnn base width")
    for key in ("train_split", "val_split", "test_split"):
        p.add_argument("--" + key.replace("_", "-"), default=getattr(d, key))
    p.add_argument("--val-fraction", type=float, default=d.val_fraction)
    _add_schedule_options(p, d)
    p.add_argument("--no-cache-features", dest="cache_features", action="store_false")
    p.add_argument("--crop-faces", action="store_true", help="cut full-frame photos to their largest face first")
    p.add_argument("--no-augment", dest="augment", action="store_false")
    p.add_argument("--degrade", action="store_true",
                   help="add webcam degradations (blur, low resolution, gamma, noise) to the augmentation")
    p.add_argument("--no-tta", dest="tta", action="store_false")
    p.add_argument("--precision", choices=("auto", "float32", "bf16"), default=d.precision)
    p.add_argument("--deadline", type=float, default=d.deadline,
                   help="Unix time: end the phase at the last epoch that finishes before it, then write the model "
                        "as usual (the GPU driver's budget), as an early stop would")
    p.add_argument("--max-per-class", type=int, default=0)
    p.add_argument("--seed", type=int, default=d.seed)
    p.add_argument("--checkpoint-dir", default="")
    p.add_argument("--no-resume", dest="resume", action="store_false")
    p.add_argument("--verbose", type=int, default=1 if sys.stderr.isatty() else 2)
    p.add_argument("--notes", default="")
    return p


def _add_schedule_options(p: argparse.ArgumentParser, d: TrainConfig) -> None:
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


def config_from_args(args: argparse.Namespace) -> TrainConfig:
    """The run the parsed command line asks for; ``--out`` defaults to ``<models folder>/<name>``."""
    values = vars(args)
    if not values["out"]:
        values["out"] = str(model_dir_in(get_settings().models_dir, values["name"]))
    return TrainConfig(**values)


__all__ = ["DESCRIPTION", "KEEP_CLASSES", "RESUME_KEYS", "ModelSpec", "TrainConfig", "build_parser", "config_from_args",
           "follow_init_model", "keep_extra", "personal_config", "resolve", "resolve_weights"]
