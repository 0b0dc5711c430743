"""A model folder on disk: which folder a model name is, the names of its files, the one writer, the readers.

Why: a model directory (network, card, training history, evaluation reports) is written by
training and by ensembling, and read by the registry, the classifier, the metrics page and the
Teach page. Its file names and how they are written live here once, so no two writers can
disagree about the layout; and which folder a model *name* means (``model_dir_in``,
``resolve_model_dir``) is answered here once for pages, command lines and the registry. What
a card or a report *says* is owned elsewhere: the card's fields and their checks by
``fer_core.inference.card``, the report keys by ``fer_core.training.reports``.

Layout::

    model.keras           the network (MODEL_FILE)
    model.json            the card (CARD_FILE)
    history.json          {"epochs": [ {phase, epoch, loss, accuracy, val_loss, val_accuracy, lr, seconds}, ... ]}
    report.json           the evaluation on the test set the model was trained for
    report_<key>.json     the same model on other test sets (other labels, faces from elsewhere)
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any, Protocol

from fer_core.errors import FerError, ModelError
from fer_core.paths import is_within, safe_join
from fer_core.settings import get_settings

log = logging.getLogger(__name__)

MODEL_FILE = "model.keras"
CARD_FILE = "model.json"
HISTORY_FILE = "history.json"
REPORT_FILE = "report.json"
EXTRA_REPORT_PREFIX = "report_"
EXTRA_REPORT_GLOB = f"{EXTRA_REPORT_PREFIX}*.json"
MAX_CARD_BYTES = 1_000_000
MAX_JSON_BYTES = 20_000_000


class CardLike(Protocol):
    """What the writer needs of a card (``fer_core.inference.card.ModelCard``)."""

    def to_json(self) -> dict[str, Any]: ...


class SavableModel(Protocol):
    """What the writer needs of a network (a ``keras.Model``)."""

    def save(self, filepath: str) -> Any: ...


# ----------------------------------------------------------------------------- which folder a name is


def model_dir_in(root: str | Path, name: str) -> Path:
    """The folder of the model ``name`` under the models folder ``root`` (it need not exist yet).

    A name is a plain folder name: ``ModelError`` for ``..``, ``.``, a path, or a link leading
    out of ``root``, so a name typed in a browser never reaches another folder.
    """
    try:
        return safe_join(root, name)
    except FerError as exc:
        raise ModelError(f"{name!r} is not an allowed model name ({exc})") from None


# Where ``pip install`` puts the shipped models (pyproject.toml maps the checkout's models/ here): an
# installed engine finds ``default`` and ``fer2013`` without a checkout. In a checkout it does not exist.
PACKAGED_MODELS = Path(__file__).resolve().parent / "shipped_models"


def resolve_model_dir(model: str | Path | None = None, *, names_only: bool = False) -> Path:
    """A model name (a folder under ``settings.models_dir``) or a directory path; ``ModelError`` if absent.

    ``None`` means the configured default model. A plain name always means a folder under the
    models folder (``model_dir_in``), or, when that has none of the name, one of the shipped
    models installed with the package (``PACKAGED_MODELS``). A path (a ``Path``, or a string with a separator) is the
    operator's own choice (command line, code) and is taken as given, unless ``names_only``: then
    it is refused, which is what anything fed by a browser must use.
    """
    settings = get_settings()
    if model is None:
        model = settings.default_model
    text = str(model)
    is_path = isinstance(model, Path) or Path(text).is_absolute() or "/" in text or "\\" in text
    if is_path:
        if names_only:
            raise ModelError(f"{text!r} is not a model name (no paths allowed)")
        p = Path(model)
    else:
        p = model_dir_in(settings.models_dir, text)
        if not p.is_dir() and PACKAGED_MODELS.is_dir() and model_dir_in(PACKAGED_MODELS, text).is_dir():
            p = model_dir_in(PACKAGED_MODELS, text)
        local = Path(text)
        if not p.is_dir() and not names_only and local.is_dir():
            p = local  # a folder in the working directory, as a command line user means it
    if not p.is_dir():
        raise ModelError(f"model {text} not found (looked in {p})")
    return p


# ----------------------------------------------------------------------------- the names of its files


def card_path(model_dir: str | Path) -> Path:
    return Path(model_dir) / CARD_FILE


def history_path(model_dir: str | Path) -> Path:
    return Path(model_dir) / HISTORY_FILE


def report_file(model_dir: str | Path, key: str | None = None) -> Path:
    """``report.json`` (``key`` None: the test set the model was trained for) or ``report_<key>.json``."""
    return Path(model_dir) / (REPORT_FILE if key is None else f"{EXTRA_REPORT_PREFIX}{key}.json")


def extra_reports(model_dir: str | Path) -> list[tuple[str, Path]]:
    """``(key, path)`` of every ``report_<key>.json``, sorted by file name."""
    return [(p.stem.removeprefix(EXTRA_REPORT_PREFIX), p) for p in sorted(Path(model_dir).glob(EXTRA_REPORT_GLOB))]


def is_model_folder(model_dir: str | Path) -> bool:
    """Whether the folder holds a card (what makes a folder a model folder)."""
    return card_path(model_dir).is_file()


def stamp(model_dir: str | Path, model_file: str = MODEL_FILE) -> tuple[float, float]:
    """The network's and the card's modification times: a cached model whose stamp changed is stale."""
    d = Path(model_dir)
    times = []
    for path in (d / model_file, card_path(d)):
        try:
            times.append(path.stat().st_mtime)
        except OSError:
            times.append(0.0)
    return (times[0], times[1])


def has_history(model_dir: str | Path) -> bool:
    return history_path(model_dir).is_file()


def has_report(model_dir: str | Path) -> bool:
    return report_file(model_dir).is_file()


# ----------------------------------------------------------------------------- writing


def write_model_folder(out: str | Path, model: SavableModel, card: CardLike, history: list[dict[str, Any]],
                       report: dict[str, Any] | None = None) -> Path:
    """Write a whole model folder: the network, its card, its history and (when given) its own report."""
    d = Path(out)
    d.mkdir(parents=True, exist_ok=True)
    write_model(d, model)
    write_card(d, card)
    write_history(d, history)
    if report is not None:
        write_report(d, report)
    return d


def write_model(model_dir: str | Path, model: SavableModel) -> Path:
    """Save the network beside a temporary name first, so a reader never sees half a file."""
    path = Path(model_dir) / MODEL_FILE
    tmp = path.with_name(MODEL_FILE + ".tmp.keras")
    model.save(str(tmp))
    os.replace(tmp, path)
    return path


def write_card(model_dir: str | Path, card: CardLike) -> Path:
    path = card_path(model_dir)
    path.write_text(json.dumps(card.to_json(), indent=2, sort_keys=False) + "\n", encoding="utf-8")
    return path


def write_history(model_dir: str | Path, epochs: list[dict[str, Any]]) -> Path:
    path = history_path(model_dir)
    path.write_text(json.dumps({"epochs": epochs}, indent=1) + "\n")
    return path


def write_report(model_dir: str | Path, report: dict[str, Any], key: str | None = None) -> Path:
    """Save an evaluation report (see ``report_file`` for which file ``key`` names)."""
    path = report_file(model_dir, key)
    path.write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    return path


# ----------------------------------------------------------------------------- reading


def read_json(path: Path, max_bytes: int = MAX_JSON_BYTES) -> Any:
    """A JSON file of a model folder; ``ModelError`` when too large or damaged."""
    if path.stat().st_size > max_bytes:
        raise ModelError(f"{path}: too large to read")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelError(f"{path}: not valid JSON ({exc})") from None


def read_card_data(model_dir: str | Path) -> tuple[Path, Any]:
    """The card's path and its parsed JSON, not yet checked (``ModelCard.from_json`` checks the fields).

    Raises ``ModelError`` for a missing folder or card, a link out of the folder, or damaged JSON.
    """
    d = Path(model_dir)
    path = card_path(d)
    if not d.is_dir():
        raise ModelError(f"{d}: no such model folder")
    if not path.is_file():
        raise ModelError(f"{d}: no {CARD_FILE} (not a model folder)")
    if not is_within(d, path):
        raise ModelError(f"{path}: is a link that leads outside the model folder; refused")
    try:
        if path.stat().st_size > MAX_CARD_BYTES:
            raise ModelError(f"{path}: the card is too large")
        return path, json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelError(f"{path}: not valid JSON ({exc})") from None
    except RecursionError:
        raise ModelError(f"{path}: not valid JSON (nested too deeply)") from None
    except OSError as exc:
        raise ModelError(f"{path}: cannot be read ({exc.strerror or exc})") from None


def read_history(model_dir: str | Path) -> list[dict[str, Any]] | None:
    """The epoch rows of ``history.json``; ``None`` when absent, ``ModelError`` when damaged."""
    path = history_path(model_dir)
    if not path.is_file():
        return None
    data = read_json(path)
    epochs = data.get("epochs") if isinstance(data, dict) else data
    if not isinstance(epochs, list) or not all(isinstance(e, dict) for e in epochs):
        raise ModelError(f"{path}: expected {{\"epochs\": [ ... ]}}")
    return epochs


MEMBER_PHASE_PREFIX = "member "  # an ensemble's history names each member's phases "member <n>: <phase>"


def member_phase_prefix(index: int) -> str:
    """The prefix of the ``index``-th (from 1) ensemble member's phases in the ensemble's history."""
    return f"{MEMBER_PHASE_PREFIX}{index}"


def network_of(phase: str) -> str:
    """Which ensemble member a history phase belongs to (``"member 2"``), or ``""`` for a single network's.

    Why: an ensemble's history lists its members one after another, but each member was trained apart;
    a learning curve joins epochs only within one network, not from one member's last to the next's first.
    """
    head, sep, _ = phase.partition(": ")
    number = head.removeprefix(MEMBER_PHASE_PREFIX)
    return head if sep and head.startswith(MEMBER_PHASE_PREFIX) and number.isdigit() else ""


def earlier_epochs(model_dir: str | Path, prefix: str, keep_named: bool = False) -> list[dict[str, Any]]:
    """``model_dir``'s epoch rows with each phase named ``"<prefix>: <phase>"``, for a model built from it.

    Why: an ensemble holds its members' epochs and a warm restart its starting model's; a history that is
    missing or damaged leaves those epochs out (logged) rather than stopping the new model being written.
    With ``keep_named`` (a warm restart) a phase already named after an earlier network keeps that name, so
    a chain of restarts reads as one phase per network (``fer_s7: train``, ``fer_s7wr: train``, ``train``),
    not as the nested ``fer_s7wr: fer_s7: train``; an ensemble's ``member 1: train`` is still prefixed, since
    the restarted network is one network, not the ensemble's members."""
    try:
        rows = read_history(model_dir) or []
    except (ModelError, OSError) as exc:
        log.warning("the epochs of %s are left out of the history: %s", model_dir, exc)
        return []
    out = []
    for row in rows:
        phase = str(row.get("phase", "train"))
        named = keep_named and ": " in phase and not network_of(phase)  # an ensemble's member lines stay nested
        out.append({**row, "phase": phase if named else f"{prefix}: {phase}"})
    return out


def read_report(model_dir: str | Path, key: str | None = None) -> tuple[Path, Any] | None:
    """A report's path and parsed JSON (``report_file`` names it); ``None`` when absent."""
    path = report_file(model_dir, key)
    if not path.is_file():
        return None
    return path, read_json(path)


__all__ = ["CARD_FILE", "EXTRA_REPORT_GLOB", "HISTORY_FILE", "MEMBER_PHASE_PREFIX", "MODEL_FILE", "PACKAGED_MODELS",
           "REPORT_FILE", "card_path", "earlier_epochs", "extra_reports", "has_history", "has_report", "history_path",
           "is_model_folder", "member_phase_prefix", "model_dir_in", "network_of", "read_card_data", "read_history",
           "read_json", "read_report", "report_file", "resolve_model_dir", "stamp", "write_card", "write_history",
           "write_model", "write_model_folder", "write_report"]
