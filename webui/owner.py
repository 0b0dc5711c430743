"""The owner of this browser session and their folders, from what Streamlit knows of the visit.

Why: every page that shows or changes captures, models or jobs must scope them to the same
owner by the same rule (``fer_core.owners.identify``); this module only reads the visit.
"""

from __future__ import annotations

import logging
import secrets

import streamlit as st

from fer_core.owner_cookie import COOKIE, verify_token
from fer_core.owners import Account, Owner, Space, Visit, identify, space_for, start_sweeper
from fer_core.settings import get_settings

log = logging.getLogger(__name__)

TOKEN_KEY = "_owner_token"  # this tab's own token, used only when the browser brought no owner cookie


def browser_token() -> tuple[str, bool]:
    """The owner token of this visit and whether it is this tab's alone: the server's own signed
    HttpOnly cookie (``fer_core.owner_cookie``), else a random token kept for this tab only (the
    browser keeps no cookies, or the page is run without the server's middleware)."""
    token = verify_token(_cookie(COOKIE))
    if token:
        return token, False
    if TOKEN_KEY not in st.session_state:
        st.session_state[TOKEN_KEY] = secrets.token_urlsafe(32)
    return str(st.session_state[TOKEN_KEY]), True


def _cookie(name: str) -> str:
    try:
        value = st.context.cookies.get(name)
    except Exception:  # noqa: BLE001 - no request context (a bare script run): no cookie
        return ""
    return value if isinstance(value, str) else ""  # AppTest's context holds stand-ins, not cookies


def signed_in_account() -> Account | None:
    """The signed-in account (issuer and subject) when Streamlit's login is configured, else None."""
    try:
        if not st.user.is_logged_in:
            return None
        issuer, subject = str(st.user.get("iss") or ""), str(st.user.get("sub") or "")
        label = str(st.user.get("email") or subject)
    except Exception:  # noqa: BLE001 - login not configured: nobody is signed in
        return None
    return Account(issuer, subject, label) if subject else None


def _header(name: str) -> str | None:
    try:
        value = st.context.headers.get(name)
    except Exception:  # noqa: BLE001 - no request context
        return None
    return value if isinstance(value, str) else None  # AppTest's context holds stand-ins


def this_visit() -> Visit:
    """The facts of this visit that decide whether it is this machine's own browser."""
    forwarded = any((_header(h) or "").strip() for h in FORWARD_HEADERS)
    return Visit(remote_ip=_remote_ip(), host=_header("Host"), forwarded=forwarded)


FORWARD_HEADERS = ("X-Forwarded-For", "X-Real-Ip", "Forwarded", "X-Forwarded-Host", "X-Forwarded-Proto", "Via")


def current_owner() -> Owner:
    """The owner of this visit (``fer_core.owners.identify`` on this visit's facts)."""
    account = signed_in_account()
    token, per_tab = (None, False) if account else browser_token()
    return identify(get_settings().owner_mode, this_visit(), account=account, browser_token=token, per_tab=per_tab)


def _remote_ip() -> str | None:
    try:
        address = st.context.ip_address
    except Exception:  # noqa: BLE001 - no request context
        return None
    return address if isinstance(address, str) else None  # AppTest's context has no real address


def current_space() -> Space:
    """This visit's folders; also makes sure the visitor sweep runs (in the background)."""
    space = space_for(current_owner())
    start_sweeper()
    return space


def owner_caption(space: Space) -> str:
    """One line saying whose files a page shows."""
    owner = space.owner
    if owner.is_local:
        return "Your captures and models live on this machine."
    ttl = get_settings().visitor_ttl_hours
    if owner.kind == "user":
        return f"Signed in as {owner.label}: only you see your captures, models and training jobs."
    if owner.label == "this tab":  # no owner cookie came back: nothing ties a reload to this owner
        return ("Only this tab sees your captures, models and training jobs: this browser keeps no cookie "
                "for this site, so a reload or another tab starts afresh.")
    keep = f" Your pictures and models are deleted {ttl:g} h after your last visit." if ttl > 0 else ""
    return "Only this browser sees your captures, models and training jobs." + keep


__all__ = ["browser_token", "current_owner", "current_space", "owner_caption", "signed_in_account", "this_visit"]
