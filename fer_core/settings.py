"""One settings object for the engine and the app, overridable from the environment.

Why: paths to shared data, the YuNet model and the models folder differ between a
developer machine, CI and a deployment; they are read here and nowhere else.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
_SHARED = PROJECT_ROOT.parent / "shared"


def _env_path(name: str, default: Path | None) -> Path | None:
    value = os.environ.get(name)
    if value is None:
        return default
    return Path(value).expanduser() if value.strip() else None


def _env_float(name: str, default: float) -> float:
    value = os.environ.get(name)
    if value in (None, ""):
        return default
    try:
        return float(value)
    except ValueError:
        raise ValueError(f"setting {name} must be a number, not {value!r}") from None


def _env_cap(name: str, default: int | None) -> int | None:
    """A whole number >= 0, or ``auto``/empty for ``None`` (the code decides)."""
    value = os.environ.get(name)
    if value is None:
        return default
    if value.strip().lower() in ("", "auto"):
        return None
    number = _env_int(name, 0)
    if number < 0:
        raise ValueError(f"setting {name} must be 0 or more (0: no limit), or auto, not {value!r}")
    return number


def _env_degrees(name: str, default: float | None) -> float | None:
    """An angle from 0 to 90 degrees, or ``off`` for ``None``."""
    value = os.environ.get(name)
    if value is None or not value.strip():
        return default
    if value.strip().lower() in ("off", "none", "no", "false"):
        return None
    number = _env_float(name, 0.0)
    if not 0.0 <= number <= 90.0:
        raise ValueError(f"setting {name} must be 0 to 90 degrees, or off, not {value!r}")
    return number


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    if value in (None, ""):
        return default
    try:
        return int(value.replace("_", "").replace(",", ""))
    except ValueError:
        raise ValueError(f"setting {name} must be a whole number, not {value!r}") from None


@dataclass(frozen=True)
class Settings:
    """Every tunable of the project. Environment variables (``FER_*``) override the defaults."""

    models_dir: Path = PROJECT_ROOT / "models"
    default_model: str = "default"
    yunet_path: Path | None = _SHARED / "models" / "face_detection_yunet_2023mar.onnx"
    dataset_path: Path | None = _SHARED / "data" / "fer2013" / "fer2013.npz"
    capture_root: Path = PROJECT_ROOT / "captures"
    mobilenet_weights: Path | None = _SHARED / "weights" / "mobilenet_v2_imagenet_notop.weights.h5"
    detector: str = "auto"  # auto | yunet | haar
    haar_scale_factor: float = 1.1
    haar_min_neighbors: int = 5
    haar_min_size: int = 30
    detect_max_side: int = 320  # frames are detected on a copy no larger than this
    yunet_score_threshold: float = 0.7
    level_eyes_beyond: float | None = 8.0  # YuNet faces: head tilt past this many degrees is turned back; None: off
    face_margin: float = 0.15
    max_pixels: int = 40_000_000  # decompression-bomb guard, checked before decoding
    memory_budget_mb: int = 768  # pictures decoded and analysed at once, all visitors together (fer_core.memory)
    max_upload_mb: int = 25
    max_video_mb: int = 100  # video files: size, length and frame size, checked before decoding
    max_video_seconds: float = 600.0
    max_video_pixels: int = 3840 * 2160
    smoothing_alpha: float = 0.35
    ice_servers_json: str = ""
    # live streams one server process runs at once; None (auto): 2 per CPU core (bench/capacity.py); 0: none
    max_live_sessions: int | None = None
    max_live_per_owner: int = 1  # live streams one browser or account holds at once; 0: only the server's cap
    live_adapt: bool = True  # live sessions trade views and detections for frame rate when the server is busy
    preload: bool = True  # load TensorFlow and the default model in the background at start
    owner_mode: str = "auto"  # auto | single | private: who owns captures and models (fer_core.owners)
    owner_root: Path = PROJECT_ROOT / "owners"  # signed-in users' and visitors' own folders
    capture_quota_mb: int = 200  # per owner; 0: no limit
    model_quota_mb: int = 100  # per owner, shipped models not counted; 0: no limit
    visitor_ttl_hours: float = 24.0  # a visitor's folder is swept after this long unseen (0: never)
    owners_total_mb: int = 5000  # all users' and visitors' files together; 0: no limit
    max_training_jobs: int = 1  # trainings run at once; the others wait in one queue
    dataset_roots: tuple[Path, ...] = ()  # extra folders the Dataset page may read (FER_DATASET_ROOTS)

    @classmethod
    def from_env(cls) -> Settings:
        """Build settings from the defaults plus ``FER_*`` environment variables."""
        base = cls()
        return dataclasses.replace(
            base,
            models_dir=_env_path("FER_MODELS_DIR", base.models_dir) or base.models_dir,
            default_model=os.environ.get("FER_DEFAULT_MODEL", base.default_model),
            yunet_path=_env_path("FER_YUNET_PATH", base.yunet_path),
            dataset_path=_env_path("FER_DATASET_PATH", base.dataset_path),
            capture_root=_env_path("FER_CAPTURE_ROOT", base.capture_root) or base.capture_root,
            mobilenet_weights=_env_path("FER_MOBILENET_WEIGHTS", base.mobilenet_weights),
            detector=os.environ.get("FER_DETECTOR", base.detector),
            haar_scale_factor=_env_float("FER_HAAR_SCALE_FACTOR", base.haar_scale_factor),
            haar_min_neighbors=_env_int("FER_HAAR_MIN_NEIGHBORS", base.haar_min_neighbors),
            haar_min_size=_env_int("FER_HAAR_MIN_SIZE", base.haar_min_size),
            detect_max_side=_env_int("FER_DETECT_MAX_SIDE", base.detect_max_side),
            yunet_score_threshold=_env_float("FER_YUNET_SCORE", base.yunet_score_threshold),
            level_eyes_beyond=_env_degrees("FER_LEVEL_EYES_BEYOND", base.level_eyes_beyond),
            face_margin=_env_float("FER_FACE_MARGIN", base.face_margin),
            max_pixels=_env_int("FER_MAX_PIXELS", base.max_pixels),
            memory_budget_mb=_env_int("FER_MEMORY_BUDGET_MB", base.memory_budget_mb),
            max_upload_mb=_env_int("FER_MAX_UPLOAD_MB", base.max_upload_mb),
            max_video_mb=_env_int("FER_MAX_VIDEO_MB", base.max_video_mb),
            max_video_seconds=_env_float("FER_MAX_VIDEO_SECONDS", base.max_video_seconds),
            max_video_pixels=_env_int("FER_MAX_VIDEO_PIXELS", base.max_video_pixels),
            smoothing_alpha=_env_float("FER_SMOOTHING_ALPHA", base.smoothing_alpha),
            ice_servers_json=os.environ.get("FER_ICE_SERVERS", base.ice_servers_json),
            max_live_sessions=_env_cap("FER_MAX_LIVE_SESSIONS", base.max_live_sessions),
            max_live_per_owner=_env_int("FER_LIVE_PER_OWNER", base.max_live_per_owner),
            live_adapt=os.environ.get("FER_LIVE_ADAPT", "1").strip().lower() not in ("0", "false", "no", "off"),
            preload=os.environ.get("FER_PRELOAD", "1").strip().lower() not in ("0", "false", "no", "off"),
            owner_mode=os.environ.get("FER_OWNERS", base.owner_mode).strip().lower() or base.owner_mode,
            owner_root=_env_path("FER_OWNER_ROOT", base.owner_root) or base.owner_root,
            capture_quota_mb=_env_int("FER_CAPTURE_QUOTA_MB", base.capture_quota_mb),
            model_quota_mb=_env_int("FER_MODEL_QUOTA_MB", base.model_quota_mb),
            visitor_ttl_hours=_env_float("FER_VISITOR_TTL_HOURS", base.visitor_ttl_hours),
            owners_total_mb=_env_int("FER_OWNERS_TOTAL_MB", base.owners_total_mb),
            max_training_jobs=_env_int("FER_MAX_TRAINING_JOBS", base.max_training_jobs),
            dataset_roots=tuple(Path(p).expanduser() for p in os.environ.get("FER_DATASET_ROOTS", "").split(os.pathsep)
                                if p.strip()),
        )


def get_settings() -> Settings:
    """The settings in force now (re-read each call so tests can change the environment)."""
    return Settings.from_env()


__all__ = ["Settings", "get_settings", "PROJECT_ROOT", "field"]
