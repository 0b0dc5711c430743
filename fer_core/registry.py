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
from fer_core.inference.card import ModelCard, load_card
from fer_core.inference.classifier import forget_classifier
from fer_core.model_folder import CARD_FILE, has_history, has_report, is_model_folder, model_dir_in
from fer_core.paths import is_within

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
        return has_history(self.path)

    @property
    def has_report(self) -> bool:
        return has_report(self.path)


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


def deletion_refusal(name: str, default: str | None = None) -> str | None:
    """Why the model ``name`` must not be deleted, or None when it may be: the one rule of every page.

    The shipped models (``PROTECTED_MODELS``) and the app's default model (``default``, from
    ``FER_DEFAULT_MODEL``) stay; any other model folder may go.
    """
    if name in PROTECTED_MODELS:
        return f"the model {name!r} is shipped with the app and cannot be deleted"
    if default is not None and name == default:
        return f"the model {name!r} is the app's default model (FER_DEFAULT_MODEL) and cannot be deleted"
    return None


def can_delete(name: str, default: str | None = None) -> bool:
    """Whether ``deletion_refusal`` lets the model ``name`` be deleted."""
    return deletion_refusal(name, default) is None


def delete_model(models_dir: str | Path, name: str, default: str | None = None) -> Path:
    """Remove the model ``name`` from ``models_dir``.

    Refuses what ``deletion_refusal`` keeps, names that are paths (``model_dir_in``), and folders
    that are not models."""
    refusal = deletion_refusal(name, default)
    if refusal is not None:
        raise ModelError(refusal)
    target = model_dir_in(models_dir, name)  # ModelError for '..', '/x', symlinks out
    if target.is_symlink():
        raise ModelError(f"{name}: is a link, not a model folder; not deleted")
    if not target.is_dir():
        raise ModelError(f"no model named {name!r} in {models_dir}")
    if not is_model_folder(target):
        raise ModelError(f"{name}: has no {CARD_FILE}, so it is not a model folder; not deleted")
    shutil.rmtree(target)
    try:

        forget_classifier(target)
    except Exception:  # pragma: no cover - cache cleanup must not turn a done delete into an error
        log.debug("forget_classifier failed for %s", target, exc_info=True)
    log.info("deleted model %s", target)
    return target


__all__ = ["ModelInfo", "PROTECTED_MODELS", "can_delete", "delete_model", "deletion_refusal", "inspect_model",
           "list_models", "usable_models"]
