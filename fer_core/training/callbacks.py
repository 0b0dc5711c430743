"""The callbacks of every ``fit``: Keras' own where they do the job, one of ours for the app's progress.

Keras keeps the best epoch (``ModelCheckpoint`` on disk, ``EarlyStopping`` in memory, which
also stops a phase that stopped improving), backs up the last epoch so an interrupted phase
resumes (``BackupAndRestore``) and logs each epoch (``CSVLogger``). What Keras cannot do is
``TrainingProgress``: the epoch rows of ``history.json`` with their phase, learning rate and
duration, kept in the run's checkpoint, and the progress events the Teach page shows (every
epoch, and batches inside a long epoch).
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from typing import Any

from fer_core.training.checkpoint import Checkpoint
from fer_core.training.config import TrainConfig
from fer_core.training.phases import Phase

log = logging.getLogger(__name__)

ProgressFn = Callable[[dict[str, Any]], None]
BATCH_EVENT_SECONDS = 0.5  # at most two batch events a second reach the page


def make_callbacks(cfg: TrainConfig, phase: Phase, checkpoint: Checkpoint, has_val: bool,
                   progress: ProgressFn | None) -> list[Any]:
    """The callbacks of one phase's ``fit``; the monitored score is validation accuracy when there is validation."""
    import keras

    monitor = "val_accuracy" if has_val else "accuracy"
    name = phase.name
    callbacks: list[Any] = [
        keras.callbacks.ModelCheckpoint(str(checkpoint.best_weights(name)), monitor=monitor, mode="max",
                                        save_best_only=True, save_weights_only=True,
                                        initial_value_threshold=checkpoint.best.get(name)),
        keras.callbacks.EarlyStopping(monitor=monitor, mode="max", patience=cfg.patience, restore_best_weights=True),
        progress_callback(name, phase.epochs, checkpoint, progress),
        keras.callbacks.BackupAndRestore(str(checkpoint.backup_dir(name))),
        keras.callbacks.CSVLogger(str(checkpoint.csv_log(name)), append=True),
    ]
    if cfg.deadline:
        callbacks.append(deadline_callback(cfg.deadline, name, checkpoint))
    if cfg.schedule == "plateau":
        callbacks.append(keras.callbacks.ReduceLROnPlateau(monitor="val_accuracy", factor=0.5,
                                                           patience=max(1, cfg.patience // 3), min_lr=1e-6))
    return callbacks


def epoch_row(phase: str, epoch: int, logs: dict[str, Any], lr: float, seconds: float) -> dict[str, Any]:
    """One line of ``history.json``."""
    return {
        "phase": phase,
        "epoch": epoch,
        "loss": float(logs.get("loss", float("nan"))),
        "accuracy": float(logs.get("accuracy", float("nan"))),
        "val_loss": float(logs.get("val_loss", float("nan"))),
        "val_accuracy": float(logs.get("val_accuracy", float("nan"))),
        "lr": lr,
        "seconds": round(seconds, 2),
    }


def progress_callback(phase: str, total_epochs: int, checkpoint: Checkpoint, progress: ProgressFn | None,
                      every: float = BATCH_EVENT_SECONDS) -> Any:
    """A callback that records each epoch in ``checkpoint`` and reports epochs and batches to ``progress``."""
    import keras

    def emit(event: dict[str, Any]) -> None:
        if progress is not None:
            progress(event)

    class TrainingProgress(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch: int, logs: Any = None) -> None:
            self._t0, self._epoch, self._last = time.time(), epoch + 1, 0.0

        def on_train_batch_end(self, batch: int, logs: Any = None) -> None:
            now = time.monotonic()
            steps = int((self.params or {}).get("steps") or 0)
            if progress is not None and steps and (now - self._last >= every or batch + 1 == steps):
                self._last = now
                emit({"event": "batch", "phase": phase, "batch": batch + 1, "steps": steps, "epoch": self._epoch,
                      "epochs": (self.params or {}).get("epochs")})

        def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
            lr = float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate))
            row = epoch_row(phase, epoch + 1, dict(logs or {}), lr, time.time() - self._t0)
            val_acc = row["val_accuracy"]
            checkpoint.record_epoch(row, val_acc if not math.isnan(val_acc) else row["accuracy"])
            log.info("%s epoch %d: %s", phase, epoch + 1, {k: round(v, 4) for k, v in row.items()
                                                           if isinstance(v, float)})
            emit({"event": "epoch", "total_epochs": total_epochs, **row})

        def on_train_end(self, logs: Any = None) -> None:
            if self.model.stop_training and phase not in checkpoint.cut_short:
                log.info("%s: early stop, no gain in the monitored accuracy", phase)

    return TrainingProgress()


def deadline_callback(deadline: float, phase: str, checkpoint: Checkpoint, margin: float = 1.1) -> Any:
    """A callback that ends the fit after the last epoch that can finish before ``deadline`` (Unix time).

    Why: on a lent GPU the driver's plan of epochs rests on a timing guess; a job still running at the
    budget's end is killed, and its checkpoint (weights with the optimizer's state, tens of MB) may be too
    large to come back. Ending in time gives an ordinary model folder from the best epoch so far, as an early
    stop does.
    """
    import keras

    class DeadlineStop(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch: int, logs: Any = None) -> None:
            self._t0 = time.time()

        def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
            now = time.time()
            if now + (now - self._t0) * margin > deadline:
                self.model.stop_training = True
                checkpoint.cut_short.add(phase)
                log.warning("%s: stopped after epoch %d, the next would end past the deadline", phase, epoch + 1)

    return DeadlineStop()


__all__ = ["BATCH_EVENT_SECONDS", "ProgressFn", "deadline_callback", "epoch_row", "make_callbacks",
           "progress_callback"]
