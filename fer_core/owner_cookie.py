"""The app's own owner cookie: issued by the server, signed, HttpOnly, never a value the browser chose.

Why: a visitor's captures and models are keyed by this cookie, so it must be as hard to read, guess or
plant as a session cookie. Streamlit's pages cannot set cookies, so ``OwnerCookieMiddleware`` (plain
ASGI, wrapped around Streamlit's server by ``streamlit_app.py``) adds ``Set-Cookie`` to every HTML page: a new random
token when the browser brings none or one this server did not sign, else the same token with its
lifetime renewed, so it lasts ``visitor_ttl_hours`` after the last visit. The page then reads the token
from its websocket's cookies (``webui.owner``) and checks the signature again.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import os
import secrets
from collections.abc import Awaitable, Callable, MutableMapping
from functools import lru_cache
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any

from fer_core.settings import get_settings

log = logging.getLogger(__name__)

COOKIE = "fer_owner"
SECRET_FILE = ".owner_secret"  # in settings.owner_root, shared by the replicas that share that folder
TOKEN_BYTES = 32
FOREVER_S = 400 * 24 * 3600  # browsers cap a cookie's lifetime at 400 days

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


@lru_cache(maxsize=4)
def _secret(root: Path) -> bytes:
    """The signing key, made once per owner folder (first writer wins, so replicas agree)."""
    path = root / SECRET_FILE
    if not path.exists():
        root.mkdir(parents=True, exist_ok=True)
        tmp = root / f"{SECRET_FILE}.{os.getpid()}.{secrets.token_hex(4)}"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(secrets.token_bytes(32))
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
    key = path.read_bytes()
    if len(key) < 32:
        raise OSError(f"{path.name} is damaged: delete it to make a new one (every visitor gets a new owner)")
    return key


def secret() -> bytes:
    return _secret(Path(get_settings().owner_root).resolve())


def _signature(token: str, key: bytes) -> str:
    digest = hmac.new(key, token.encode("ascii"), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def issue_token(key: bytes | None = None) -> str:
    """A new cookie value: ``<random>.<signature>``."""
    token = secrets.token_urlsafe(TOKEN_BYTES)
    return f"{token}.{_signature(token, key or secret())}"


def verify_token(value: str | None, key: bytes | None = None) -> str | None:
    """The random part of a cookie value this server signed, else None (missing, malformed or forged)."""
    if not value or len(value) > 200 or value.count(".") != 1:
        return None
    token, signature = value.split(".")
    if len(token) < 40 or not token.isascii():
        return None
    try:
        expected = _signature(token, key or secret())
    except (OSError, UnicodeEncodeError):
        return None
    return token if hmac.compare_digest(expected.encode(), signature.encode("ascii", "replace")) else None


def cookie_header(value: str, secure: bool) -> bytes:
    """The ``Set-Cookie`` line: lasts the visitor time to live, renewed on every page load."""
    ttl = get_settings().visitor_ttl_hours
    max_age = int(ttl * 3600) if ttl > 0 else FOREVER_S
    line = f"{COOKIE}={value}; Path=/; Max-Age={max_age}; HttpOnly; SameSite=Lax"
    return (line + ("; Secure" if secure else "")).encode("ascii")


def _header(scope: Scope, name: bytes) -> str:
    for key, value in scope.get("headers", []):
        if key.lower() == name:
            return bytes(value).decode("latin-1")
    return ""


def cookie_from(scope: Scope) -> str:
    jar: SimpleCookie = SimpleCookie()
    try:
        jar.load(_header(scope, b"cookie"))
    except Exception:  # noqa: BLE001 - a malformed Cookie header: no cookie
        return ""
    morsel = jar.get(COOKIE)
    return morsel.value if morsel is not None else ""


def _secure(scope: Scope) -> bool:
    """HTTPS here, or at the proxy in front (it says so in ``X-Forwarded-Proto``)."""
    proto = _header(scope, b"x-forwarded-proto").split(",")[0].strip().lower()
    return scope.get("scheme") in ("https", "wss") or proto == "https"


class OwnerCookieMiddleware:
    """ASGI middleware: every HTML response carries the owner cookie (kept if valid, else a new one)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope.get("type") != "http":
            await self.app(scope, receive, send)
            return
        brought = cookie_from(scope)

        async def send_with_cookie(message: Message) -> None:
            if message.get("type") == "http.response.start" and _is_page(scope, message):
                try:
                    value = brought if verify_token(brought) else issue_token()
                    headers = list(message.get("headers", []))
                    headers.append((b"set-cookie", cookie_header(value, _secure(scope))))
                    message["headers"] = headers
                except OSError as exc:  # no secret: the page falls back to a token for this tab
                    log.warning("cannot issue the owner cookie: %s", exc)
            await send(message)

        await self.app(scope, receive, send_with_cookie)


def _is_page(scope: Scope, message: Message) -> bool:
    """An HTML page, or the browser's revalidation of one (304 to a navigation that accepts HTML)."""
    if message.get("status") == 304:
        return "text/html" in _header(scope, b"accept")
    headers = message.get("headers", [])
    return any(k.lower() == b"content-type" and bytes(v).startswith(b"text/html") for k, v in headers)


__all__ = ["COOKIE", "OwnerCookieMiddleware", "cookie_header", "issue_token", "secret", "verify_token"]
