"""Sign-in through the province's single sign-on (蒙速办): the OpenID Connect
relying party's routes (issue #15, rule A1 as the province runs it).

GET /api/auth/oidc/config     → {enabled, label, start}: the login page's button
GET /api/auth/oidc/start      ?next=/path → 303 to the provider (state, nonce, PKCE kept here)
GET /api/auth/oidc/callback   ?code&state → session cookie, 303 to the home page;
                              a refusal is a zh-CN page with the reason, nothing created

The provider's client (``exam_api/oidc_client.py``) is built by the wiring and
reached through the lifespan state (``sso_sessions.sso_of``); it is None when
``PROCTOR_OIDC_ISSUER`` is unset, and then every route but ``config`` is 404.
"""

from __future__ import annotations

import unicodedata

from starlette.requests import HTTPConnection, Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from exam_api import oidc_logins, sso_links
from exam_api.accounts import HOME_BY_ROLE, identity
from exam_api.auth import set_session_cookie
from exam_api.oidc_claims import sso_identity
from exam_api.oidc_client import OidcClient
from exam_api.oidc_errors import OidcError
from exam_api.oidc_pages import refusal_page
from exam_api.sso_sessions import remember, sso_of
from proctor.state import base, now_of
from proctor.web_sessions import create_session

BROWSER_COOKIE = "proctor_oidc"
_COOKIE_PATH = "/api/auth/oidc"
_NO_STORE = {"Cache-Control": "no-store"}
MAX_NEXT = 512


def _client(conn: HTTPConnection) -> OidcClient:
    client = sso_of(conn)
    if client is None:
        raise OidcError("sso_off")
    return client


def safe_next(raw: str | None) -> str | None:
    """A same-site path to go to after signing in, else None (no open redirect)."""
    if not raw or len(raw) > MAX_NEXT or not raw.startswith("/"):
        return None
    if raw.startswith(("//", "/\\")) or any(unicodedata.category(c) == "Cc" for c in raw):
        return None
    return raw


async def config(request: Request) -> Response:
    """GET /api/auth/oidc/config — whether the login page offers the SSO button."""
    client = sso_of(request)
    if client is None:
        return JSONResponse({"enabled": False}, headers=_NO_STORE)
    return JSONResponse(
        {"enabled": True, "label": client.settings.label, "start": _COOKIE_PATH + "/start"},
        headers=_NO_STORE,
    )


async def start(request: Request) -> Response:
    """GET /api/auth/oidc/start — a new sign-in, sent on to the provider."""
    try:
        client = _client(request)
        now = now_of(request)
        async with base(request).pool.acquire() as conn:
            pending = await oidc_logins.begin(
                conn, safe_next(request.query_params.get("next")), now
            )
        url = await client.authorization_url(
            state=pending.state, nonce=pending.nonce, code_verifier=pending.code_verifier
        )
    except OidcError as exc:
        return refusal_page(exc)
    response = RedirectResponse(url, status_code=303, headers=_NO_STORE)
    response.set_cookie(
        BROWSER_COOKIE,
        pending.browser,
        max_age=int(oidc_logins.LIFETIME.total_seconds()),
        path=_COOKIE_PATH,
        httponly=True,
        samesite="lax",  # sent on the provider's top-level redirect back
        secure=request.url.scheme == "https",
    )
    return response


async def callback(request: Request) -> Response:
    """GET /api/auth/oidc/callback — the provider's answer → signed in, or a refusal page."""
    try:
        response = await _sign_in(request)
    except OidcError as exc:
        response = refusal_page(exc)
    response.delete_cookie(BROWSER_COOKIE, path=_COOKIE_PATH)
    return response


async def _sign_in(request: Request) -> Response:
    client = _client(request)
    params = request.query_params
    now = now_of(request)
    pool = base(request).pool
    async with pool.acquire() as conn:
        login = await oidc_logins.take(
            conn, params.get("state", ""), request.cookies.get(BROWSER_COOKIE, ""), now
        )
    if login is None:
        raise OidcError("state_invalid")  # unknown, used, expired, or begun in another browser
    if "error" in params:
        raise OidcError("provider_refused")
    code = params.get("code", "")
    if not code:
        raise OidcError("code_missing")
    signed = await client.redeem(
        code, code_verifier=login.code_verifier, nonce=login.nonce, now=now.timestamp()
    )
    who = sso_identity(client.settings.issuer, signed.claims, client.settings.claims, now.date())
    async with pool.acquire() as conn:
        account = await sso_links.resolve(conn, identity(request), who, now)
        async with conn.transaction():
            token, _csrf = await create_session(conn, account.id, now)
            await remember(conn, token, client.settings.issuer, signed.id_token)
    home = HOME_BY_ROLE.get(account.role, "/static/home.html")
    response = RedirectResponse(login.next_path or home, status_code=303, headers=_NO_STORE)
    set_session_cookie(response, token, secure=request.url.scheme == "https")
    return response


routes = [
    Route("/api/auth/oidc/config", config, methods=["GET"]),
    Route("/api/auth/oidc/start", start, methods=["GET"]),
    Route("/api/auth/oidc/callback", callback, methods=["GET"]),
]
