"""A trained network into a model folder: a float32 copy, its card and its history.

Why: training may run in mixed precision with training-only layers (augmentation,
normalisation) around the network; the app loads a plain float32 network whose card says
how to feed it and how it was made. ``fer_core.model_folder`` writes the files.
"""

from __future__ import annotations

import logging
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fer_core.errors import FerError
from fer_core.inference.card import ModelCard, load_card
from fer_core.model_folder import earlier_epochs, write_model_folder
from fer_core.training.architectures import build_model
from fer_core.training.checkpoint import Checkpoint
from fer_core.training.config import ModelSpec, TrainConfig
from fer_core.training.data import Splits

log = logging.getLogger(__name__)


def export_model(net: Any, cfg: TrainConfig, spec: ModelSpec, class_names: list[str], checkpoint: Checkpoint,
                 splits: Splits, skipped: list[str], seconds: float) -> Path:
    """Write ``net`` (as float32) with its card and history into ``cfg.out``; return the folder."""
    final = float32_copy(net, cfg, len(class_names), spec.size)
    card = make_card(cfg, spec, class_names, splits, training={
        "config": {k: v for k, v in asdict(cfg).items() if k != "extra"},
        "seconds": round(seconds, 1),
        "epochs_run": checkpoint.epochs_run(),
        "best_val_accuracy": checkpoint.best,
        "skipped_files": len(skipped),
        "params": int(final.count_params()),
    })
    out = write_model_folder(Path(cfg.out), final, card, inherited_history(cfg) + checkpoint.history)
    log.info("model written to %s", out)
    return out


def inherited_history(cfg: TrainConfig) -> list[dict[str, Any]]:
    """A warm restart's earlier epochs: the ``--init-model``'s history, its phases named after it.

    Why: a warm restart (``--init-model M --whole``) continues M on the same task; without M's epochs its
    learning curves would begin at the restart, as if its few epochs had made the whole network. A fine-tune on other
    data (Teach) keeps only its own epochs: its validation figures would not continue M's."""
    if not (cfg.init_model and cfg.whole):
        return []
    return earlier_epochs(cfg.init_model, network_name(cfg.init_model), keep_named=True)


def network_name(model_dir: str | Path) -> str:
    """The name a warm restart gives its starting model's epochs: the card's name, else the folder's.

    Why the card's: a shipped network lives in a folder named for its role (``models/fer2013``, also the
    dataset's name), while its card names the network itself (``fer_s7wr``)."""
    try:
        return load_card(model_dir).name or Path(model_dir).name
    except (FerError, OSError):
        return Path(model_dir).name


def float32_copy(net: Any, cfg: TrainConfig, n_classes: int, size: tuple[int, int]) -> Any:
    """The same network rebuilt under the float32 policy, with ``net``'s weights."""
    import keras

    keras.mixed_precision.set_global_policy("float32")
    final = build_model(cfg.backbone, n_classes, size, weights="none", dropout=cfg.dropout, width=cfg.width)
    final.set_weights(net.get_weights())
    return final


def trained_on(cfg: TrainConfig, splits: Splits) -> str:
    """For the card: the data, its training and validation splits and the labels used."""
    return (f"{cfg.data} [{cfg.train_split}; validation: {splits.validation_text(cfg.val_split)}]"
            + ("" if cfg.labels == "fer2013" else f"; labels: FER+ votes ({cfg.targets})")
            + (f", {cfg.fer2013_weight:g} FER2013's own label" if cfg.fer2013_weight else "")
            + (f"; training targets smoothed by {cfg.vote_weight:g} of the FER+ votes" if cfg.vote_weight else "")
            + (f"; distilled: {cfg.teacher_weight:g} of each target from the mean of {', '.join(cfg.teachers)}"
               if cfg.teachers else ""))


def make_card(cfg: TrainConfig, spec: ModelSpec, class_names: list[str], splits: Splits,
              training: dict[str, Any]) -> ModelCard:
    """The card of a freshly trained model (test-time views: the flip, until validation chooses)."""
    return ModelCard(
        name=cfg.name or Path(cfg.out).name,
        class_names=list(class_names),
        input_size=spec.size,
        color_mode=spec.color_mode,
        normalization=spec.normalization,
        backbone=cfg.backbone,
        weights=f"model {cfg.init_model}" if spec.init_card else spec.weights,
        trained_on=trained_on(cfg, splits),
        tta=["hflip"] if cfg.tta else [],
        training=training,
        notes=cfg.notes,
        created=datetime.now(UTC).isoformat(timespec="seconds"),
    )


__all__ = ["export_model", "float32_copy", "inherited_history", "make_card", "trained_on"]
