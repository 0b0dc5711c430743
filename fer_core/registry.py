"""The models folder as a list: which model directories exist, which load, and removing one.

Why: the sidebar picker and the model management need every folder under ``models/``
with its card or the reason it is unusable, without one broken folder hiding the others.
"""

from __future__ import annotations

import logging
import shutil
from dataclasses import dataclass
from pathlib import Path

from fer_core.errors import FerError, ModelError
from fer_core.inference.card import CARD_FILE, ModelCard, load_card
from fer_core.paths import is_within, safe_join

log = logging.getLogger(__name__)

PROTECTED_MODELS: frozenset[str] = frozenset({"default", "fer2013"})  # the shipped models: read-only


@dataclass
class ModelInfo:
    """One folder under the models folder: its card when readable, else the error message."""

    name: str
    path: Path
    card: ModelCard | None = None
    error: str | None = None

    @property
    def usable(self) -> bool:
        return self.card is not None and self.error is None

    @property
    def has_history(self) -> bool:
        return (self.path / "history.json").is_file()

    @property
    def has_report(self) -> bool:
        return (self.path / "report.json").is_file()


def inspect_model(path: str | Path) -> ModelInfo:
    """Read one model folder's card; a problem becomes ``error`` instead of an exception."""
    p = Path(path)
    info = ModelInfo(name=p.name, path=p)
    try:
        info.card = load_card(p)
        model_file = p / info.card.model_file
        if not model_file.is_file():
            info.error = f"{p.name}: model file {info.card.model_file} is missing"
    except FerError as exc:
        info.error = str(exc)
    except OSError as exc:
        info.error = f"{p.name}: cannot be read ({exc.strerror or exc})"
    return info


def list_models(models_dir: str | Path, default: str = "default") -> list[ModelInfo]:
    """Every sub-folder of ``models_dir`` (hidden ones skipped), ``default`` first, then by name."""
    root = Path(models_dir)
    if not root.is_dir():
        return []
    try:
        dirs = [d for d in root.iterdir() if d.is_dir() and not d.name.startswith((".", "_"))]
    except OSError as exc:
        log.warning("cannot list %s: %s", root, exc)
        return []
    outside = [d for d in dirs if not is_within(root, d)]
    for d in outside:  # a link leading out of the models folder is never offered
        log.warning("%s leads outside %s; not listed", d, root)
    dirs = [d for d in dirs if d not in outside]
    dirs.sort(key=lambda d: (d.name != default, d.name.lower()))
    return [inspect_model(d) for d in dirs]


def usable_models(models_dir: str | Path, default: str = "default") -> list[ModelInfo]:
    """Only the models whose card loads and whose model file is present."""
    return [m for m in list_models(models_dir, default) if m.usable]


def delete_model(models_dir: str | Path, name: str) -> Path:
    """Remove ``models_dir/name``. Refuses protected names, paths, and folders that are not models."""
    if name in PROTECTED_MODELS:
        raise ModelError(f"the model {name!r} is shipped with the app and cannot be deleted")
    target = safe_join(models_dir, name)  # PathEscapeError for '..', '/x', symlinks out
    if target.is_symlink():
        raise ModelError(f"{name}: is a link, not a model folder; not deleted")
    if not target.is_dir():
        raise ModelError(f"no model named {name!r} in {models_dir}")
    if not (target / CARD_FILE).is_file():
        raise ModelError(f"{name}: has no {CARD_FILE}, so it is not a model folder; not deleted")
    shutil.rmtree(target)
    try:
        from fer_core.inference.classifier import forget_classifier

        forget_classifier(target)
    except Exception:  # pragma: no cover - cache cleanup must not turn a done delete into an error
        log.debug("forget_classifier failed for %s", target, exc_info=True)
    log.info("deleted model %s", target)
    return target


__all__ = ["ModelInfo", "PROTECTED_MODELS", "delete_model", "inspect_model", "list_models", "usable_models"]
