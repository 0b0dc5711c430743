"""Path containment: user-chosen names never lead outside a configured root."""

from __future__ import annotations

from pathlib import Path

from fer_core.errors import FerError, PathEscapeError


def is_within(root: str | Path, path: str | Path) -> bool:
    """True when ``path`` (after resolving symlinks and ``..``) lies inside ``root``."""
    root_r = Path(root).resolve()
    try:
        Path(path).resolve().relative_to(root_r)
    except ValueError:
        return False
    return True


def safe_join(root: str | Path, *parts: str) -> Path:
    """Join ``parts`` under ``root`` and refuse the result if it escapes (``..``, absolute, symlink out)."""
    base = Path(root)
    for part in parts:
        if not isinstance(part, str) or not part or part in (".", ".."):
            raise PathEscapeError(f"{part!r} is not an allowed name")
        if Path(part).is_absolute() or "/" in part or "\\" in part or "\x00" in part:
            raise PathEscapeError(f"{part!r} is not an allowed name (no paths)")
    candidate = base.joinpath(*parts)
    if not is_within(base, candidate):
        raise PathEscapeError(f"{'/'.join(parts)!r} leads outside {base}")
    return candidate


def regular_file_size(path: Path, shown: str, error: type[FerError], what: str) -> int:
    """The size of ``path`` when it is a regular file; else ``error`` saying it is a folder, missing or a
    device or pipe (``what``: "an image", "a video"), so no reader ever blocks on one."""
    if path.is_dir():
        raise error(f"{shown}: is a folder, not {what}")
    if not path.exists():
        raise error(f"{shown}: no such file")
    if not path.is_file():
        raise error(f"{shown}: not a regular file")
    return path.stat().st_size

