"""A run's checkpoint folder (``--checkpoint-dir``): what lets an interrupted training go on.

Why: a training on two CPU cores takes hours; stopped (a reboot, a cancelled job) it resumes
where it stopped instead of starting over. The folder holds::

    state.json              the run's config, epoch history, best score per phase, finished phases
    best_<phase>.weights.h5 the best epoch's weights of the phase (Keras ``ModelCheckpoint``)
    backup_<phase>/         the last epoch's weights and optimizer (Keras ``BackupAndRestore``)
    <phase>.csv             the phase's epoch log (Keras ``CSVLogger``)
    teacher_targets.npz     with ``--teacher``: the teachers' labels of the training images (``distill``)

A checkpoint made with other data or other settings (``RESUME_KEYS``) is never resumed: the
run starts afresh and clears these files.
"""

from __future__ import annotations

import json
import logging
import shutil
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from fer_core.training.config import RESUME_KEYS, TrainConfig
from fer_core.training.phases import PHASE_NAMES

log = logging.getLogger(__name__)

STATE_FILE = "state.json"
_DEFAULTS = {f.name: getattr(TrainConfig(data="", out=""), f.name) for f in fields(TrainConfig)}


@dataclass
class Checkpoint:
    """The state of one run in ``folder``; ``save`` writes it, ``open`` reads it back or starts afresh."""

    folder: Path
    config: dict[str, Any]
    data_fingerprint: str = ""
    history: list[dict[str, Any]] = field(default_factory=list)  # epoch rows, every phase, in order
    best: dict[str, float] = field(default_factory=dict)  # phase -> best monitored score
    finished: dict[str, bool] = field(default_factory=dict)
    phase: str = ""
    epoch: int = 0
    cut_short: set[str] = field(default_factory=set)  # phases a --deadline ended (for the log; as an early stop)

    # ------------------------------------------------------------------ files

    @staticmethod
    def folder_for(cfg: TrainConfig) -> Path:
        """``--checkpoint-dir``, else a hidden folder beside the model: ``.<name>.ckpt``."""
        out = Path(cfg.out)
        return Path(cfg.checkpoint_dir) if cfg.checkpoint_dir else out.parent / f".{out.name}.ckpt"

    @property
    def state_path(self) -> Path:
        return self.folder / STATE_FILE

    def best_weights(self, phase: str) -> Path:
        return self.folder / f"best_{phase}.weights.h5"

    def backup_dir(self, phase: str) -> Path:
        return self.folder / f"backup_{phase}"

    def csv_log(self, phase: str) -> Path:
        return self.folder / f"{phase}.csv"

    # ------------------------------------------------------------------ load and save

    @classmethod
    def open(cls, cfg: TrainConfig, fingerprint: str) -> Checkpoint:
        """The run's checkpoint: resumed when ``cfg.resume`` and it matches ``cfg`` and the data, else a fresh one."""
        folder = cls.folder_for(cfg)
        folder.mkdir(parents=True, exist_ok=True)
        if cfg.resume:
            found = cls.load(folder, cfg, fingerprint)
            if found is not None:
                return found
        fresh = cls(folder, config=asdict(cfg), data_fingerprint=fingerprint)
        fresh.clear()
        return fresh

    @classmethod
    def load(cls, folder: Path, cfg: TrainConfig, fingerprint: str | None = None) -> Checkpoint | None:
        """The checkpoint in ``folder`` if it was made from the same data and settings, else None."""
        path = folder / STATE_FILE
        if not path.exists():
            return None
        state = json.loads(path.read_text())
        if fingerprint is not None and state.get("data_fingerprint", fingerprint) != fingerprint:
            log.warning("checkpoint in %s was made from other images: starting afresh", folder)
            return None
        old = state.get("config", {})
        for key in RESUME_KEYS:
            if old.get(key, _DEFAULTS.get(key)) != getattr(cfg, key):  # a key newer than the checkpoint: its default
                log.warning("checkpoint in %s was made with %s=%r, not %r: starting afresh", folder, key,
                            old.get(key), getattr(cfg, key))
                return None
        log.info("resuming from %s (%d epochs recorded)", folder, len(state.get("history", [])))
        return cls(folder, config=old, data_fingerprint=state.get("data_fingerprint", fingerprint or ""),
                   history=list(state.get("history", [])), best=dict(state.get("best", {})),
                   finished=dict(state.get("finished", {})), phase=state.get("phase", ""),
                   epoch=int(state.get("epoch", 0)))

    def save(self) -> None:
        state = {"config": self.config, "history": self.history, "best": self.best, "phase": self.phase,
                 "epoch": self.epoch, "data_fingerprint": self.data_fingerprint, "finished": self.finished}
        self.state_path.write_text(json.dumps(state, indent=1))

    def clear(self) -> None:
        """Remove this run's files left by an earlier run (never anything else in the folder)."""
        self.state_path.unlink(missing_ok=True)
        for phase in PHASE_NAMES:
            for path in (self.best_weights(phase), self.folder / f"last_{phase}.keras", self.csv_log(phase)):
                path.unlink(missing_ok=True)
            shutil.rmtree(self.backup_dir(phase), ignore_errors=True)

    # ------------------------------------------------------------------ progress

    def epochs_done(self, phase: str) -> int:
        return sum(1 for h in self.history if h["phase"] == phase)

    def phase_done(self, phase: str, epochs: int) -> bool:
        """Whether the phase ran to its end (or early stop) in an earlier run."""
        done = self.epochs_done(phase)
        return done >= epochs or (done > 0 and bool(self.finished.get(phase)))

    def record_epoch(self, row: dict[str, Any], score: float) -> None:
        """Add an epoch row (replacing one of the same phase and epoch: a re-run after an interruption)."""
        phase, epoch = row["phase"], row["epoch"]
        self.history = [h for h in self.history if (h["phase"], h["epoch"]) != (phase, epoch)] + [row]
        if score > self.best.get(phase, -1.0):
            self.best[phase] = score
        self.phase, self.epoch = phase, epoch
        self.save()

    def finish(self, phase: str) -> None:
        self.finished[phase] = True
        self.save()

    def epochs_run(self) -> dict[str, int]:
        """Epochs recorded per phase (for the card)."""
        return {p: self.epochs_done(p) for p in dict.fromkeys(h["phase"] for h in self.history)}


__all__ = ["STATE_FILE", "Checkpoint"]
