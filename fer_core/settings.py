"""One settings object for the engine and the app, overridable from the environment.

Why: paths to shared data, the YuNet model and the models folder differ between a
developer machine, CI and a deployment, and an operator sizes limits and quotas for the
people served; they are read here and nowhere else. Tuning values no operator sets (the
detectors', smoothing's) are constants in the modules that use them. Every ``FER_*`` read
here is in the README's settings table (``tests/test_settings_doc.py``).
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SHARED_DIR = PROJECT_ROOT.parent / "shared"  # read-only data beside the checkout


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
    """What an operator may set. Environment variables (``FER_*``) override the defaults."""

    models_dir: Path = PROJECT_ROOT / "models"
    default_model: str = "default"
    yunet_path: Path | None = SHARED_DIR / "models" / "face_detection_yunet_2023mar.onnx"
    dataset_path: Path | None = SHARED_DIR / "data" / "fer2013" / "fer2013.npz"
    capture_root: Path = PROJECT_ROOT / "captures"
    memory_budget_mb: int = 768  # pictures decoded and analysed at once, all visitors together (fer_core.memory)
    max_upload_mb: int = 25
    max_video_mb: int = 100  # video files' size, checked before decoding (length and frame size: videoio)
    ice_servers_json: str = ""
    # live streams one server process runs at once; None (auto): 2 per CPU core (bench/capacity.py); 0: none
    max_live_sessions: int | None = None
    max_live_per_owner: int = 1  # live streams one browser or account holds at once; 0: only the server's cap
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
            memory_budget_mb=_env_int("FER_MEMORY_BUDGET_MB", base.memory_budget_mb),
            max_upload_mb=_env_int("FER_MAX_UPLOAD_MB", base.max_upload_mb),
            max_video_mb=_env_int("FER_MAX_VIDEO_MB", base.max_video_mb),
            ice_servers_json=os.environ.get("FER_ICE_SERVERS", base.ice_servers_json),
            max_live_sessions=_env_cap("FER_MAX_LIVE_SESSIONS", base.max_live_sessions),
            max_live_per_owner=_env_int("FER_LIVE_PER_OWNER", base.max_live_per_owner),
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


__all__ = ["Settings", "get_settings", "PROJECT_ROOT", "SHARED_DIR", "field"]
