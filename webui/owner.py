"""The owner of this browser session and their folders, from what Streamlit knows of the visit.

Why: every page that shows or changes captures, models or jobs must scope them to the same
owner by the same rule (``fer_core.owners.identify``); this module only reads the visit.
"""

from __future__ import annotations

import binascii
import logging
import secrets
import threading
import time

import streamlit as st

from fer_core.errors import FerError
from fer_core.owners import Owner, Space, identify, space_for, sweep_visitors
from fer_core.settings import get_settings

log = logging.getLogger(__name__)

TOKEN_KEY = "_owner_token"  # this tab's own token, used only when the browser has no XSRF cookie
XSRF_COOKIE = "_streamlit_xsrf"
SWEEP_EVERY_S = 600.0
_last_sweep = 0.0
_sweep_lock = threading.Lock()


def browser_token() -> str:
    """A secret that stays with this browser: the token inside Streamlit's XSRF cookie (random,
    set once per browser, never shown), else a random token kept for this tab only."""
    raw = _cookie(XSRF_COOKIE)
    token = _xsrf_token(raw) if raw else ""
    if token:
        return token
    if TOKEN_KEY not in st.session_state:
        st.session_state[TOKEN_KEY] = secrets.token_urlsafe(24)
    return str(st.session_state[TOKEN_KEY])


def _cookie(name: str) -> str:
    try:
        value = st.context.cookies.get(name)
    except Exception:  # noqa: BLE001 - no request context (a bare script run): no cookie
        return ""
    return value if isinstance(value, str) else ""  # AppTest's context holds stand-ins, not cookies


def _xsrf_token(raw: str) -> str:
    """Tornado's XSRF cookie ``2|mask|masked|time`` unmasked; the mask changes, the token does not."""
    parts = raw.split("|")
    if len(parts) == 4 and parts[0] == "2":
        try:
            mask, masked = binascii.unhexlify(parts[1]), binascii.unhexlify(parts[2])
        except (binascii.Error, ValueError):
            return ""
        return bytes(b ^ mask[i % len(mask)] for i, b in enumerate(masked)).hex() if mask else ""
    return raw if len(raw) >= 16 else ""


def signed_in_user() -> str | None:
    """The signed-in account (e-mail, else subject) when Streamlit's login is configured, else None."""
    try:
        if not st.user.is_logged_in:
            return None
        return str(st.user.get("email") or st.user.get("sub") or "") or None
    except Exception:  # noqa: BLE001 - login not configured: nobody is signed in
        return None


def _forwarded() -> bool:
    try:
        headers = st.context.headers
        values = [headers.get(name) for name in ("X-Forwarded-For", "X-Real-Ip", "Forwarded")]
    except Exception:  # noqa: BLE001 - no request context
        return False
    return any(isinstance(v, str) and v.strip() for v in values)


def current_owner() -> Owner:
    """The owner of this visit (``fer_core.owners.identify`` on this visit's facts)."""
    user = signed_in_user()
    return identify(get_settings().owner_mode, user=user, browser_token=None if user else browser_token(),
                    remote_ip=_remote_ip(), forwarded=_forwarded())


def _remote_ip() -> str | None:
    try:
        address = st.context.ip_address
    except Exception:  # noqa: BLE001 - no request context
        return None
    return address if isinstance(address, str) else None  # AppTest's context has no real address


def current_space() -> Space:
    """This visit's folders; also sweeps stale visitors' captures now and then."""
    space = space_for(current_owner())
    _sweep_now_and_then()
    return space


def _sweep_now_and_then() -> None:
    global _last_sweep
    with _sweep_lock:
        if time.monotonic() - _last_sweep < SWEEP_EVERY_S:
            return
        _last_sweep = time.monotonic()
    try:
        sweep_visitors()
    except (OSError, FerError) as exc:  # a sweep that fails must not break the page
        log.warning("visitor sweep failed: %s", exc)


def owner_caption(space: Space) -> str:
    """One line saying whose files a page shows."""
    owner = space.owner
    if owner.is_local:
        return "Your captures and models live on this machine."
    ttl = get_settings().visitor_ttl_hours
    if owner.kind == "user":
        return f"Signed in as {owner.label}: only you see your captures, models and training jobs."
    keep = f" Your pictures are deleted {ttl:g} h after your last visit unless you train a model." if ttl > 0 else ""
    return "Only this browser sees your captures, models and training jobs." + keep


__all__ = ["browser_token", "current_owner", "current_space", "owner_caption", "signed_in_user"]
