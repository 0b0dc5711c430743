"""Who owns captures, trained models and training jobs, and where each owner's files live.

Why: served to a group, every visitor would otherwise see, relabel and delete every other
visitor's face pictures and models. The rule, decided once here for every page:

* **local** (one owner, today's layout): a single user on the machine itself. Captures live in
  ``settings.capture_root``, trained models beside the shipped ones in ``settings.models_dir``.
* **user**: someone signed in through Streamlit's login (``st.login``, OIDC); the owner is the
  account (issuer and subject), the same in every browser.
* **visitor**: anyone else; the owner is the browser (the server's own HttpOnly cookie,
  ``fer_core.owner_cookie``), or the tab when the browser keeps no cookie. A visitor's whole folder
  (captures and models) is swept ``settings.visitor_ttl_hours`` after their last visit.

Users' and visitors' files live under ``settings.owner_root/<key>/``, ``key`` a hash of the
identity (never a name a visitor typed). The shipped models are read-only for everyone.
"""

from __future__ import annotations

import hashlib
import ipaddress
import logging
import shutil
import threading
import time
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fer_core.errors import FerError
from fer_core.paths import safe_join
from fer_core.registry import PROTECTED_MODELS, ModelInfo, list_models
from fer_core.settings import Settings, get_settings

log = logging.getLogger(__name__)

OWNER_MODES: tuple[str, ...] = ("auto", "single", "private")
CAPTURES = "captures"
MODELS = "models"
SEEN_FILE = ".last_seen"  # touched on each visit: the sweep's clock


class QuotaError(FerError):
    """An owner's disk quota for captures or models is used up."""


@dataclass(frozen=True)
class Owner:
    """One owner: ``kind`` is local, user or visitor; ``key`` names its folder; ``label`` is shown."""

    kind: str
    key: str
    label: str

    @property
    def is_local(self) -> bool:
        return self.kind == "local"


@dataclass(frozen=True)
class Space:
    """Where one owner's files live: its captures, its own models, and the shipped (read-only) models."""

    owner: Owner
    captures: Path
    models: Path
    shipped: Path

    def owns_model(self, path: str | Path) -> bool:
        """True for a model folder this owner trained (never a shipped one in a private space)."""
        p = Path(path).resolve()
        return p.parent == self.models.resolve()


LOCAL = Owner("local", "local", "this machine's user")


LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "[::1]", "::1"})


@dataclass(frozen=True)
class Visit:
    """What the server knows of a visit. ``remote_ip`` None is a loopback peer (Streamlit reports no
    address for 127.0.0.1 and ::1); ``host`` is the ``Host`` header, None only for a script run with no
    request at all (AppTest); ``forwarded`` says a proxy header was present."""

    remote_ip: str | None = None
    host: str | None = None
    forwarded: bool = False


@dataclass(frozen=True)
class Account:
    """A signed-in account: the same ``subject`` from another ``issuer`` is another person."""

    issuer: str
    subject: str
    label: str


def is_loopback(address: str | None) -> bool:
    """True when ``address`` is this machine."""
    if not address:
        return False
    try:
        return ipaddress.ip_address(address.split("%")[0]).is_loopback
    except ValueError:
        return address == "localhost"


def host_name(host: str) -> str:
    """``Host`` header without its port: ``[::1]:8501`` -> ``[::1]``, ``Localhost:80`` -> ``localhost``."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[: host.find("]") + 1] if "]" in host else host
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def is_own_browser(visit: Visit) -> bool:
    """A visit plainly from this machine's own browser: a loopback peer, no proxy header, and a ``Host``
    of localhost, 127.0.0.1 or [::1]. A proxy or relay in front (even one on loopback that adds no
    header) carries the public name in ``Host``, so its visitors stay private."""
    if visit.remote_ip is None and visit.host is None and not visit.forwarded:
        return True  # no request at all: a script run on this machine
    return (not visit.forwarded and (visit.remote_ip is None or is_loopback(visit.remote_ip))
            and visit.host is not None and host_name(visit.host) in LOCAL_HOSTS)


def identify(mode: str, visit: Visit, *, account: Account | None = None, browser_token: str | None = None,
             per_tab: bool = False) -> Owner:
    """The owner of a visit.

    ``mode`` ``single`` gives everyone the local owner; ``private`` never does; ``auto`` gives it
    only to this machine's own browser (``is_own_browser``), so ``make run`` keeps one owner while a
    server reached over the network or through any proxy or relay is private. A signed-in
    ``account`` always owns their files; otherwise the ``browser_token`` (the server-issued owner
    cookie, or with ``per_tab`` a token this tab holds) does (``FerError`` when there is none).
    """
    if mode not in OWNER_MODES:
        raise FerError(f"setting FER_OWNERS must be one of {', '.join(OWNER_MODES)}, not {mode!r}")
    if mode == "single" or (mode == "auto" and account is None and is_own_browser(visit)):
        return LOCAL
    if account is not None:
        return Owner("user", _key("user", f"{account.issuer}\n{account.subject}"), account.label)
    if not browser_token:
        raise FerError("this visit has no browser token: cannot keep its files private")
    return Owner("visitor", _key("visitor", browser_token), "this tab" if per_tab else "this browser")


def _key(kind: str, identity: str) -> str:
    return hashlib.sha256(f"{kind}:{identity}".encode()).hexdigest()[:20]


def space_for(owner: Owner, settings: Settings | None = None) -> Space:
    """The folders of ``owner``; a private owner's are made on first use."""
    s = settings or get_settings()
    if owner.is_local:
        return Space(owner, s.capture_root, s.models_dir, s.models_dir)
    home = safe_join(s.owner_root, owner.key)
    space = Space(owner, home / CAPTURES, home / MODELS, s.models_dir)
    for folder in (space.captures, space.models):
        folder.mkdir(parents=True, exist_ok=True)
    (home / SEEN_FILE).touch()  # the sweep's clock: every visit
    kind_file = home / "owner.txt"
    if not kind_file.exists():  # written once, not on every page run
        kind_file.write_text(f"{owner.kind}\n")
    return space


def visible_models(space: Space, default: str = "default") -> list[ModelInfo]:
    """The models this owner may use: the shipped ones, then their own (a private space's own
    folder; in the local layout both share one folder). An own model never hides a shipped one."""
    shipped = list_models(space.shipped, default)
    if space.models == space.shipped:
        return shipped
    taken = {m.name for m in shipped}
    return shipped + [m for m in list_models(space.models, default) if m.name not in taken]


def free_model_name(space: Space, base: str = "mine", busy: Collection[str] = ()) -> str:
    """``base``, or ``base-2``, ``base-3``… whichever names no shipped model, none of the owner's, and
    none of ``busy`` (a model a training is about to write)."""
    taken = {p.name for folder in {space.shipped, space.models} if folder.is_dir() for p in folder.iterdir()}
    taken |= set(busy)
    name, n = base, 1
    while name in taken:
        n += 1
        name = f"{base}-{n}"
    return name


def folder_bytes(path: Path) -> int:
    """Bytes of every file under ``path`` (links not followed); 0 when it does not exist."""
    if not path.exists():
        return 0
    return sum(f.lstat().st_size for f in path.rglob("*") if f.is_file() and not f.is_symlink())


def check_quota(space: Space, what: str, adding: int = 0, settings: Settings | None = None) -> None:
    """Refuse (``QuotaError``, one line) when ``what`` (captures or models) would exceed its quota:
    the owner's own, and for users and visitors the server's total for all of them together (a new
    cookie gives a new owner, so per-owner quotas alone do not bound the disk).

    The shipped models never count; a quota of 0 means no limit.
    """
    s = settings or get_settings()
    quota_mb = {CAPTURES: s.capture_quota_mb, MODELS: s.model_quota_mb}[what]
    hint = "delete some pictures on Teach" if what == CAPTURES else "delete a model you trained on Teach"
    if quota_mb > 0:
        folder = space.captures if what == CAPTURES else space.models
        own_layout = what == MODELS and space.models == space.shipped
        used = _own_models_bytes(space) if own_layout else folder_bytes(folder)
        if used + adding > quota_mb * 1024 * 1024:
            raise QuotaError(f"your {what} use {used / 2**20:.0f} MB of your {quota_mb} MB: {hint} first")
    if s.owners_total_mb > 0 and not space.owner.is_local:
        total = owners_bytes(s)
        if total + adding > s.owners_total_mb * 1024 * 1024:
            raise QuotaError(f"this server's space for visitors' pictures and models is full "
                             f"({s.owners_total_mb} MB): {hint}, or try again after old visitors' files are swept")


_TOTAL_FRESH_S = 10.0  # a total this recent is reused: every capture checks it, and it walks every owner
_totals: dict[Path, tuple[float, int]] = {}


def owners_bytes(settings: Settings | None = None, fresh_s: float = _TOTAL_FRESH_S) -> int:
    """Bytes under ``owner_root`` (all users and visitors), recounted at most every ``fresh_s`` seconds."""
    root = Path((settings or get_settings()).owner_root)
    at, total = _totals.get(root, (-fresh_s - 1.0, 0))
    if time.monotonic() - at > fresh_s:
        total = folder_bytes(root)
        _totals[root] = (time.monotonic(), total)
    return total


def _own_models_bytes(space: Space) -> int:
    """In the local layout own and shipped models share a folder: count all but the shipped ones."""
    if not space.models.is_dir():
        return 0
    return sum(folder_bytes(d) for d in space.models.iterdir() if d.is_dir() and d.name not in PROTECTED_MODELS)


def sweep_visitors(settings: Settings | None = None, now: float | None = None) -> list[Path]:
    """Delete the whole folder of every visitor unseen for ``visitor_ttl_hours``: captures, models, all.

    Why: a visitor's face pictures and what was trained on them should not outlive their visit, and
    folders of abandoned cookies must not pile up. Signed-in users' folders are kept (their account
    comes back); the owner cookie lasts exactly as long, so nobody returns to a swept folder. Returns
    what was removed.
    """
    s = settings or get_settings()
    root = Path(s.owner_root)
    if s.visitor_ttl_hours <= 0 or not root.is_dir():
        return []
    now = time.time() if now is None else now
    removed: list[Path] = []
    for home in sorted(p for p in root.iterdir() if p.is_dir() and not p.is_symlink()):
        if _kind(home) != "visitor":
            continue
        seen = home / SEEN_FILE
        try:
            last = seen.stat().st_mtime if seen.exists() else home.stat().st_mtime
        except OSError:  # removed meanwhile (another replica's sweep)
            continue
        if now - last > s.visitor_ttl_hours * 3600:
            shutil.rmtree(home, ignore_errors=True)
            removed.append(home)
            log.info("swept the folder of a visitor unseen for %.0f h", (now - last) / 3600)
    return removed


def _kind(home: Path) -> str:
    try:
        return (home / "owner.txt").read_text().strip()
    except OSError:
        return ""


SWEEP_EVERY_S = 600.0
SWEEP_POLL_S = 5.0  # how soon a newly seen owner root gets its first sweep
_sweep_lock = threading.Lock()
_sweeper: threading.Thread | None = None
_roots: dict[Path, list[Any]] = {}  # owner root -> [its settings, when it was last swept (monotonic)]


def start_sweeper(settings: Settings | None = None) -> None:
    """Have the background thread sweep stale visitors' folders under this owner root now and every
    ``SWEEP_EVERY_S`` seconds: a walk over every owner folder must not hold up a page."""
    global _sweeper
    s = settings or get_settings()
    with _sweep_lock:
        _roots.setdefault(Path(s.owner_root).resolve(), [s, 0.0])[0] = s
        if _sweeper is None or not _sweeper.is_alive():
            _sweeper = threading.Thread(target=_sweep_forever, name="fer-visitor-sweep", daemon=True)
            _sweeper.start()


def _sweep_forever() -> None:
    while True:
        with _sweep_lock:
            due = [entry for entry in _roots.values() if not entry[1] or time.monotonic() - entry[1] >= SWEEP_EVERY_S]
            for entry in due:
                entry[1] = time.monotonic()
        for settings, _ in due:
            try:
                sweep_visitors(settings)
            except (OSError, FerError) as exc:  # a sweep that fails is tried again next time
                log.warning("visitor sweep failed: %s", exc)
        time.sleep(SWEEP_POLL_S)



__all__ = ["LOCAL", "OWNER_MODES", "Account", "Owner", "QuotaError", "Space", "Visit", "check_quota", "folder_bytes",
           "free_model_name", "host_name", "identify", "is_loopback", "is_own_browser", "owners_bytes", "space_for",
           "start_sweeper", "sweep_visitors", "visible_models"]
