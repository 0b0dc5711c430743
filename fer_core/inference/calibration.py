"""Personal calibration: fit a model's output to one person's faces, then apply it to every later face.

Why: a model trained on many faces reads the *average* face; one person's subtle expressions often
land on the wrong class (mostly "neutral"), the same way each time. A few labelled faces of the person
(any subset of the model's classes) tell where that person's expressions fall in the model's output,
with no training and no face images kept.

The method works on the model's own output, so it fits any model folder and costs nothing extra per
face. Each calibration face is kept as a point: its log-probabilities over the calibrated classes,
centred (``z``). A later face ``x`` gets, for each calibrated class ``c``, the score

    s_c = log p_c(x) + strength * max over c's points i of exp(-|z(x) - z_i|^2 / h_i^2)

so a face close to one of the person's calibration faces takes that face's label, and a face unlike
all of them is left as the model says. ``h_i^2`` is ``reach`` times the squared distance from point
``i`` to the nearest calibration point of *another* class: where the person's expressions look alike to
the model (the calibration disagrees with itself) each point only speaks for faces very close to it,
and a small calibration covers little, so both shrink towards the model.

The calibrated classes then share the probability the model gave them, redistributed by ``softmax(s)``:
a class the person did not calibrate keeps exactly the probability the model gives it, and so does the
total of the calibrated ones. The settings were chosen on film faces of several actors
(``docs/calibration.md``), where the aim is no harm and some gain.

A calibration is tied to the model it was fit for by a fingerprint of the model file's bytes;
``check`` refuses it on any other model with a one-line message.
"""

from __future__ import annotations

import hashlib
import json
import math
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from fer_core.errors import FerError
from fer_core.model_folder import MODEL_FILE, read_card_data

FORMAT = "fer-calibration"
VERSION = 1
MAX_FILE_BYTES = 512 * 1024  # a calibration is a few numbers per face
MAX_POINTS_PER_CLASS = 64  # a longer recording of one expression adds frames alike; keep an even spread
_FLOOR = 1e-6  # probabilities the model rounds to zero, before the log


class CalibrationError(FerError):
    """A calibration that cannot be fit, read or used with this model."""


@dataclass(frozen=True)
class CalibrationSettings:
    """How far a calibration may move the model (see the module docstring)."""

    strength: float = 4.0  # the log-probability a face gets for its class when it sits on a calibration face
    reach: float = 0.25  # each point's radius, squared, as a share of its squared distance to another class

    def to_json(self) -> dict[str, float]:
        return {"strength": self.strength, "reach": self.reach}


@dataclass
class Calibration:
    """One person's calibration for one model: a few numbers per calibration face, no images."""

    model_name: str
    model_fingerprint: str
    class_names: list[str]  # every class of the model, in its order
    calibrated: list[str]  # the classes the person calibrated, in the model's order
    points: list[list[list[float]]]  # per calibrated class: its faces' centred log-probabilities
    radii: list[list[float]]  # per calibrated class: each point's h^2
    faces: list[int]  # calibration faces per calibrated class (before any thinning)
    settings: CalibrationSettings = field(default_factory=CalibrationSettings)
    created: str = ""
    _arrays: tuple[np.ndarray, np.ndarray, np.ndarray] | None = field(default=None, repr=False, compare=False)

    @property
    def index(self) -> np.ndarray:
        """Column of each calibrated class in the model's output."""
        return np.array([self.class_names.index(c) for c in self.calibrated], dtype=np.int64)

    def describe(self) -> str:
        """``calibrated for you (3 expressions)``: what a readout shows."""
        n = len(self.calibrated)
        return f"calibrated for you ({n} expression{'s' if n != 1 else ''})"

    def check(self, fingerprint: str, class_names: list[str]) -> None:
        """``CalibrationError`` unless this calibration was fit for a model with ``fingerprint``."""
        if list(class_names) != self.class_names or fingerprint != self.model_fingerprint:
            raise CalibrationError(f"this calibration was made for another model ({self.model_name}); "
                                   "calibrate again with this one")

    def apply(self, probs: np.ndarray) -> np.ndarray:
        """Calibrated probabilities for the model's probabilities ``(N, classes)``."""
        p = np.asarray(probs, dtype=np.float64)
        if p.ndim != 2 or p.shape[1] != len(self.class_names):
            raise CalibrationError(f"expected probabilities over {len(self.class_names)} classes, got {p.shape}")
        idx = self.index
        logp = _log(p[:, idx])
        z = logp - logp.mean(axis=1, keepdims=True)
        near = _nearness(z, *self._stacked())
        out = p.copy()
        out[:, idx] = p[:, idx].sum(axis=1, keepdims=True) * _softmax(logp + self.settings.strength * near)
        return out.astype(np.float32)

    def _stacked(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Every point and radius in one array, and where each class's points start (built once)."""
        if self._arrays is None:
            starts = np.cumsum([0] + [len(pts) for pts in self.points[:-1]])
            self._arrays = (np.array([pt for pts in self.points for pt in pts], dtype=np.float64),
                            np.array([r for rs in self.radii for r in rs], dtype=np.float64), starts)
        return self._arrays

    def to_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "version": VERSION,
            "model": {"name": self.model_name, "fingerprint": self.model_fingerprint},
            "class_names": self.class_names,
            "classes": {c: {"faces": n, "points": [[round(v, 5) for v in pt] for pt in pts],
                            "radii": [round(r, 6) for r in rs]}
                        for c, n, pts, rs in zip(self.calibrated, self.faces, self.points, self.radii)},
            "settings": self.settings.to_json(),
            "created": self.created,
        }

    def save(self, path: str | Path) -> Path:
        """Write the calibration as JSON (numbers only, never a face)."""
        out = Path(path)
        out.write_text(json.dumps(self.to_json()) + "\n", encoding="utf-8")
        return out

    @classmethod
    def from_json(cls, data: Any, source: str = "calibration") -> Calibration:
        """Read and validate a calibration; ``CalibrationError`` with one line on anything wrong."""
        def bad(why: str) -> CalibrationError:
            return CalibrationError(f"{source}: not a usable calibration ({why})")

        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise bad(f"its format is not {FORMAT}")
        version = data.get("version")
        if not isinstance(version, int) or not 1 <= version <= VERSION:
            raise bad(f"version {version!r}; this program reads version {VERSION}")
        try:
            model, names, classes = data["model"], [str(c) for c in data["class_names"]], data["classes"]
            calibrated = [c for c in names if c in classes]
            if len(calibrated) != len(classes) or len(calibrated) < 2:
                raise ValueError("its classes are not its model's, or fewer than two")
            rows = [classes[c] for c in calibrated]
            cal = cls(model_name=str(model["name"]), model_fingerprint=str(model["fingerprint"]), class_names=names,
                      calibrated=calibrated, faces=[int(r["faces"]) for r in rows],
                      points=[[[float(v) for v in pt] for pt in r["points"]] for r in rows],
                      radii=[[float(v) for v in r["radii"]] for r in rows],
                      settings=CalibrationSettings(**{k: float(v) for k, v in data["settings"].items()}),
                      created=str(data.get("created", "")))
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise bad(str(exc) or type(exc).__name__) from None
        shapes_ok = all(len(pts) == len(rs) and len(pts) >= 1 and all(len(pt) == len(calibrated) for pt in pts)
                        for pts, rs in zip(cal.points, cal.radii))
        numbers = [v for pts in cal.points for pt in pts for v in pt] + [v for rs in cal.radii for v in rs]
        if not shapes_ok or not all(math.isfinite(v) for v in numbers) or any(v < 0 for rs in cal.radii for v in rs):
            raise bad("its numbers do not fit its classes")
        return cal


def load_calibration(path: str | Path) -> Calibration:
    """A calibration file; ``CalibrationError`` (one line) when missing, too large or damaged."""
    p = Path(path)
    try:
        if p.stat().st_size > MAX_FILE_BYTES:
            raise CalibrationError(f"{p.name}: too large to be a calibration")
        data = json.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CalibrationError(f"{p}: no such calibration file") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CalibrationError(f"{p.name}: not a readable calibration ({exc})") from None
    return Calibration.from_json(data, source=p.name)


def fit_calibration(probs: np.ndarray, labels: list[str], class_names: list[str], *, model_name: str,
                    model_fingerprint: str, settings: CalibrationSettings | None = None) -> Calibration:
    """Fit from the model's probabilities for a person's faces (``(N, classes)``) and their labels.

    At least two classes must be present; a class with no face stays as the model says.
    """
    p = np.asarray(probs, dtype=np.float64)
    if p.ndim != 2 or p.shape[1] != len(class_names) or len(p) != len(labels):
        raise CalibrationError(f"need one probability row over {len(class_names)} classes per label")
    unknown = sorted({lab for lab in labels if lab not in class_names})
    if unknown:
        raise CalibrationError(f"not classes of this model: {', '.join(unknown)}")
    calibrated = [c for c in class_names if c in set(labels)]
    if len(calibrated) < 2:
        raise CalibrationError("calibrating needs faces of at least two expressions")
    if not np.isfinite(p).all():
        raise CalibrationError("the model's probabilities for a calibration face are not numbers")
    s = settings or CalibrationSettings()
    y = np.array([calibrated.index(lab) for lab in labels])
    logp = _log(p[:, [class_names.index(c) for c in calibrated]])
    z = logp - logp.mean(axis=1, keepdims=True)
    keep = np.concatenate([_thin(np.flatnonzero(y == j)) for j in range(len(calibrated))])
    z, y = z[keep], y[keep]
    d2 = ((z[:, None, :] - z[None, :, :]) ** 2).sum(axis=-1)
    to_other = np.where(y[:, None] != y[None, :], d2, np.inf).min(axis=1)
    radii = s.reach * to_other
    counts = [labels.count(c) for c in calibrated]
    return Calibration(model_name=model_name, model_fingerprint=model_fingerprint, class_names=list(class_names),
                       calibrated=calibrated, points=[z[y == j].tolist() for j in range(len(calibrated))],
                       radii=[radii[y == j].tolist() for j in range(len(calibrated))], faces=counts, settings=s,
                       created=datetime.now(UTC).isoformat(timespec="seconds"))


def _log(p: np.ndarray) -> np.ndarray:
    return np.log(np.clip(p, _FLOOR, 1.0))


def _softmax(s: np.ndarray) -> np.ndarray:
    e = np.exp(s - s.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def _thin(rows: np.ndarray) -> np.ndarray:
    """At most ``MAX_POINTS_PER_CLASS`` of one class's rows, evenly spread over the recording."""
    if len(rows) <= MAX_POINTS_PER_CLASS:
        return rows
    return rows[np.linspace(0, len(rows) - 1, MAX_POINTS_PER_CLASS).round().astype(int)]


def _nearness(z: np.ndarray, points: np.ndarray, radii: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """``(N, classes)``: for each face, ``exp(-d^2 / h^2)`` to its class's closest point (0 far, 1 on it).

    A point with no radius (a face the model saw exactly like one of another class) speaks for nothing.
    """
    d2 = ((z[:, None, :] - points[None, :, :]) ** 2).sum(axis=-1)
    with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
        k = np.where(radii > 1e-12, np.exp(-d2 / np.maximum(radii, 1e-12)), 0.0)
    if len(z) == 0:
        return np.zeros((0, len(starts)))
    return np.maximum.reduceat(k, starts, axis=1)


# ----------------------------------------------------------------------------- the model it belongs to

_prints: dict[tuple[str, int, int], str] = {}
_prints_lock = threading.Lock()


def model_fingerprint(directory: str | Path) -> str:
    """``sha256:<hex>`` of the model folder's weights file (cached while the file is unchanged)."""
    _, card = read_card_data(directory)
    path = Path(directory) / str(card.get("model_file", MODEL_FILE))
    try:
        st = path.stat()
    except OSError as exc:
        raise CalibrationError(f"{directory}: its model file cannot be read ({exc.strerror})") from None
    key = (str(path.resolve()), st.st_size, st.st_mtime_ns)
    with _prints_lock:
        if key not in _prints:
            digest = hashlib.sha256()
            with path.open("rb") as fh:
                for chunk in iter(lambda: fh.read(1 << 20), b""):
                    digest.update(chunk)
            _prints[key] = "sha256:" + digest.hexdigest()
        return _prints[key]


class CalibratedClassifier:
    """A classifier seen through one person's calibration: ``predict`` returns calibrated probabilities.

    Everything else (card, class names, input size, ``prepare``, ``warm_up``) is the wrapped
    classifier's, so a ``Pipeline`` or a frame analyser takes it in place of a plain one. Built per
    person; the model itself stays shared.
    """

    def __init__(self, classifier: Any, calibration: Calibration) -> None:
        calibration.check(model_fingerprint(classifier.directory), list(classifier.class_names))
        self.classifier = classifier
        self.calibration = calibration

    def __getattr__(self, name: str) -> Any:
        return getattr(self.classifier, name)

    def predict_batch(self, x: np.ndarray, tta: list[str] | None = None) -> np.ndarray:
        return self.calibration.apply(self.classifier.predict_batch(x, tta=tta))

    def predict(self, crops: list[np.ndarray], tta: list[str] | None = None) -> np.ndarray:
        return self.calibration.apply(self.classifier.predict(crops, tta=tta))


__all__ = ["Calibration", "CalibrationError", "CalibrationSettings", "CalibratedClassifier", "fit_calibration",
           "load_calibration", "model_fingerprint"]
