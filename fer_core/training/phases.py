"""Which phases a training runs, how long, and how fast: the one plan the trainer and the jobs share.

Why: the trainer runs the phases and the Teach page's progress bar counts their epochs; when
the two computed the plan separately they disagreed (a ``--whole`` warm restart was planned
with fine-tune epochs it never ran). As in the keras-io transfer-learning example: a pretrained
backbone gets a new ``head`` on its frozen features, then a ``finetune`` of its top layers at a
lower rate; a network without pretrained weights (our ``fer_cnn``, or ``--whole`` from a
model of the same task) trains every layer in one ``train`` phase.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from fer_core.training.architectures import PRETRAINABLE
from fer_core.training.config import TrainConfig, resolve_weights

HEAD, FINETUNE, TRAIN = "head", "finetune", "train"
PHASE_NAMES = (HEAD, FINETUNE, TRAIN)


@dataclass(frozen=True)
class Phase:
    """One ``fit``: its name (head, finetune or train), its epochs and its peak learning rate."""

    name: str
    epochs: int
    lr: float


def plan_phases(cfg: TrainConfig, weights: str | None = None) -> list[Phase]:
    """The phases ``cfg`` runs, in order. ``weights``: the resolved starting weights (``resolve_weights``).

    From a model (``--init-model``): head then fine-tune, or one ``train`` phase with ``--whole``.
    Otherwise ``fer_cnn`` trains in one phase of ``epochs``; a pretrainable backbone from
    pretrained weights gets head then fine-tune, from none one phase of both phases' epochs.
    """
    weights = resolve_weights(cfg) if weights is None else weights
    from_model = bool(cfg.init_model)
    if from_model and cfg.whole:
        return [Phase(TRAIN, cfg.epochs, cfg.lr)]
    if not from_model and cfg.backbone in PRETRAINABLE and weights == "none":
        return [Phase(TRAIN, cfg.epochs + cfg.finetune_epochs, cfg.lr)]
    if not from_model and cfg.backbone == "fer_cnn":
        return [Phase(TRAIN, cfg.epochs, cfg.lr)]
    phases = [Phase(HEAD, cfg.epochs, cfg.lr)]
    if cfg.finetune_epochs > 0:
        phases.append(Phase(FINETUNE, cfg.finetune_epochs, cfg.finetune_lr))
    return phases


def planned_epochs(cfg: TrainConfig, weights: str | None = None) -> int:
    """Epochs the plan adds up to (early stopping may end a phase sooner); at least 1."""
    return max(1, sum(p.epochs for p in plan_phases(cfg, weights)))


def make_optimizer(cfg: TrainConfig, phase: Phase, steps_per_epoch: int) -> Any:
    """AdamW at the phase's rate: a short warm-up then cosine decay (``cosine``), or constant (``plateau``)."""
    import keras

    steps = steps_per_epoch * phase.epochs
    if cfg.schedule == "cosine":
        warm = max(1, min(steps // 10, 3 * max(1, steps // max(1, cfg.epochs))))
        schedule: Any = keras.optimizers.schedules.CosineDecay(
            initial_learning_rate=phase.lr * 0.05, decay_steps=max(1, steps - warm), alpha=0.01,
            warmup_target=phase.lr, warmup_steps=warm,
        )
    else:
        schedule = phase.lr
    return keras.optimizers.AdamW(learning_rate=schedule, weight_decay=cfg.weight_decay)


def steps_per_epoch(n_examples: int, batch_size: int) -> int:
    return math.ceil(n_examples / batch_size)


__all__ = ["FINETUNE", "HEAD", "PHASE_NAMES", "TRAIN", "Phase", "make_optimizer", "plan_phases", "planned_epochs",
           "steps_per_epoch"]
