"""FER+ crowd votes (Barsoum et al. 2016) for FER2013: the paper's label protocols.

Why: FER2013's original labels are one noisy label per face; FER+ asked ten taggers per face.
Training on what most people see, and testing against their majority, is the better measure
of "the label matches my face". The votes live beside FER2013 (same rows, same order).

Protocols, as the paper and Microsoft's reference reader define them:

* votes of 1 are dropped as outliers first;
* **majority**: the emotion with more than half of the remaining votes, else no label;
  faces won by ``unknown`` or ``not a face`` are left out (the test protocol);
* **crossentropy** (soft targets): the top emotions (at most three) until they hold 75% of the
  votes, normalised; a face is dropped when they hold no more than half of the votes, when more
  than three tie in, or when ``unknown`` / ``not a face`` wins.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from fer_core.data.labels import canonical_class, one_hot
from fer_core.errors import DatasetError

# The eight emotions in our label order: FER2013's seven, then contempt (FER+ adds it).
FERPLUS_CLASSES: tuple[str, ...] = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral", "contempt")
LABEL_SOURCES: tuple[str, ...] = ("fer2013", "ferplus")
TARGET_MODES: tuple[str, ...] = ("crossentropy", "majority")
_NON_EMOTIONS = ("unknown", "nf")


def votes_path_beside(fer2013_path: str | Path) -> Path:
    """Where the votes file sits in the shared layout: ``data/ferplus/`` beside ``data/fer2013/``."""
    return Path(fer2013_path).expanduser().resolve().parent.parent / "ferplus" / "ferplus_votes.npz"


def load_votes(path: str | Path, n_rows: int | None = None) -> np.ndarray:
    """Votes as ``(N, 10)`` float in our column order (8 emotions, unknown, not-a-face); -1 rows left out."""
    p = Path(path).expanduser()
    if not p.is_file():
        raise DatasetError(f"{p}: no FER+ votes file (set --labels to its path, or use --labels fer2013)")
    try:
        with np.load(p, allow_pickle=False) as data:
            votes = np.asarray(data["votes"], dtype=np.float32)
            names = [str(n).lower() for n in data["vote_names"]]
    except (OSError, ValueError, KeyError) as exc:
        raise DatasetError(f"{p}: not a readable FER+ votes file ({exc})") from None
    order = _column_order(names, p)
    if votes.ndim != 2 or votes.shape[1] != len(names):
        raise DatasetError(f"{p}: votes have shape {votes.shape}, expected (N, {len(names)})")
    if n_rows is not None and len(votes) != n_rows:
        raise DatasetError(f"{p}: {len(votes)} vote rows but the dataset has {n_rows} images")
    return votes[:, order]


def _column_order(names: list[str], p: Path) -> list[int]:
    wanted = [*FERPLUS_CLASSES, *_NON_EMOTIONS]
    canon = [canonical_class(n) for n in names]
    try:
        return [canon.index(w) for w in wanted]
    except ValueError:
        raise DatasetError(f"{p}: vote columns {names} lack one of {wanted}") from None


def _drop_outliers(votes: np.ndarray) -> np.ndarray:
    v = np.where(votes <= 1, 0.0, votes).astype(np.float64)
    v[(votes < 0).any(axis=1)] = 0.0  # images FER+ left out
    return v


def majority_labels(votes: np.ndarray) -> np.ndarray:
    """The majority protocol: label index into ``FERPLUS_CLASSES`` per row, -1 where none."""
    v = _drop_outliers(votes)
    total = v.sum(axis=1)
    winner = v.argmax(axis=1)
    has_majority = (v.max(axis=1) > 0.5 * total) & (total > 0)
    emotion = winner < len(FERPLUS_CLASSES)
    return np.where(has_majority & emotion, winner, -1).astype(np.int64)


def soft_targets(votes: np.ndarray) -> np.ndarray:
    """The cross-entropy protocol: ``(N, 8)`` vote distributions; all-zero rows where the face is dropped."""
    v = _drop_outliers(votes)
    out = np.zeros((len(v), len(FERPLUS_CLASSES)), dtype=np.float32)
    for i, row in enumerate(v):
        kept = _top_votes(row)
        if kept is not None:
            out[i] = kept[: len(FERPLUS_CLASSES)] / kept.sum()
    return out


def _top_votes(row: np.ndarray) -> np.ndarray | None:
    """The leading emotions of one row until they hold 75% of the votes (at most three), or None."""
    total = row.sum()
    if total <= 0:
        return None
    rest, kept = row.copy(), np.zeros_like(row)
    count = 0
    while kept.sum() < 0.75 * total and count < 3:
        top = rest.max()
        tied = np.flatnonzero(rest == top)
        if tied[0] >= len(FERPLUS_CLASSES):  # unknown or not-a-face leads now
            if kept.sum() == 0:
                return None
            break
        for j in tied:
            if j >= len(FERPLUS_CLASSES):
                break
            kept[j], rest[j] = top, 0
            count += 1
        else:
            continue
        break
    if kept.sum() <= 0.5 * total or count > 3:
        return None
    return kept


def blend_original(targets: np.ndarray, original: np.ndarray, weight: float) -> np.ndarray:
    """Vote distributions mixed with FER2013's own labels: ``(1 - weight) * votes + weight * one-hot``.

    Why: FER+ taggers rarely agreed on disgust (163 training faces win it, against FER2013's 436),
    so a network trained on votes alone almost never says disgust, on faces from elsewhere too.
    A share of the original label keeps that signal where the taggers split. FER2013's seven
    classes are the first seven of ours, in the same order.
    """
    if not 0.0 <= weight <= 1.0:
        raise DatasetError(f"the weight of FER2013's own labels must lie in [0, 1], not {weight}")
    return ((1.0 - weight) * targets + weight * one_hot(original, targets.shape[1])).astype(np.float32)


def vote_shares(votes: np.ndarray, n_classes: int) -> np.ndarray:
    """Each row's votes over the first ``n_classes`` emotions, outliers dropped, summing to 1; zero rows where none.

    Why not the cross-entropy protocol's targets: as a smoothing of another label every emotion the taggers saw
    counts, not only the top ones, and a face FER+ would drop (unknown won) still shows where its votes went.
    """
    v = _drop_outliers(votes)[:, :n_classes]
    total = v.sum(axis=1, keepdims=True)
    return np.divide(v, total, out=np.zeros_like(v), where=total > 0).astype(np.float32)


def smooth_with_votes(labels: np.ndarray, votes: np.ndarray, weight: float, n_classes: int) -> np.ndarray:
    """One-hot ``labels`` with ``weight`` of each face's vote shares: ``(1 - weight) * one-hot + weight * votes``.

    Why: FER2013's label is one person's call; where ten taggers split (a face half sad, half neutral), a target
    that says so teaches more than uniform label smoothing, while the label still leads at any weight below 0.5.
    Faces without usable votes keep their one-hot label.
    """
    if not 0.0 <= weight < 0.5:
        raise DatasetError(f"the weight of the FER+ votes must lie in [0, 0.5) so the label still leads, not {weight}")
    onehot = one_hot(labels, n_classes)
    shares = vote_shares(votes, n_classes)
    has = shares.sum(axis=1, keepdims=True) > 0
    return np.where(has, (1.0 - weight) * onehot + weight * shares, onehot).astype(np.float32)


def ferplus_splits(votes: np.ndarray, train_split: bool, mode: str
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Rows kept, their hard labels and (soft mode, training split) their targets.

    Why one function: training may use vote distributions, but validation and test always use
    the majority protocol, as the paper reports them, so every figure is comparable.
    """
    if mode not in TARGET_MODES:
        raise DatasetError(f"FER+ targets must be one of {', '.join(TARGET_MODES)}, not {mode!r}")
    if train_split and mode == "crossentropy":
        targets = soft_targets(votes)
        keep = np.flatnonzero(targets.sum(axis=1) > 0)
        return keep, targets[keep].argmax(axis=1).astype(np.int64), targets[keep]
    hard = majority_labels(votes)
    keep = np.flatnonzero(hard >= 0)
    return keep, hard[keep], None
