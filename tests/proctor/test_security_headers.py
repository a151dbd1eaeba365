"""Security headers on pages, API answers and errors; HSTS and Secure cookies on https (issue #9)."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from proctor.app import create_app
from proctor.security_headers import SecurityHeaders
from proctor.settings import Settings
from tests.support.live import LiveServer

STATIC = Path(__file__).resolve().parents[2] / "static"


def _assert_protected(r: httpx.Response) -> None:
    csp = r.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in csp
    assert "script-src 'self'" in csp and "'unsafe-inline'" not in csp
    assert "connect-src 'self' ws: wss:" in csp
    assert "img-src 'self' data: blob:" in csp and "media-src 'self' blob:" in csp
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["referrer-policy"] == "no-referrer"
    assert "strict-transport-security" not in r.headers  # plain http: no HSTS


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/static/login.html", 200),  # a page
        ("/healthz", 200),  # JSON
        ("/api/auth/me", 401),  # an API error (ApiError)
        ("/api/no-such-route", 404),  # the router's own error
        ("/static/no-such-page.html", 404),
    ],
)
async def test_every_response_carries_the_headers(
    server: LiveServer, path: str, status: int
) -> None:
    async with httpx.AsyncClient(base_url=server.url) as client:
        r = await client.get(path)
    assert r.status_code == status
    _assert_protected(r)


async def test_guard_refusals_carry_the_headers(server: LiveServer) -> None:
    async with httpx.AsyncClient(base_url=server.url) as client:
        r = await client.post("/api/auth/login", content=b"x" * (2 * 1024 * 1024))
    assert r.status_code == 413
    _assert_protected(r)


async def test_https_public_url_adds_hsts(settings: Settings) -> None:
    """The wiring: PROCTOR_PUBLIC_URL on https turns HSTS on (no lifespan needed for a page)."""
    app = create_app(dataclasses.replace(settings, public_url="https://exam.example.cn"))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://proxy.internal") as client:
        r = await client.get("/static/login.html")
    assert r.status_code == 200
    assert r.headers["strict-transport-security"].startswith("max-age=")
    assert "frame-ancestors 'none'" in r.headers["content-security-policy"]


def _cookie_app(https: bool) -> SecurityHeaders:
    async def set_cookies(request: Request) -> Response:
        response = JSONResponse({"ok": True})
        response.set_cookie("proctor_session", "abc", httponly=True, samesite="lax")
        response.set_cookie("already", "x", secure=True)
        return response

    return SecurityHeaders(Starlette(routes=[Route("/", set_cookies)]), https=https)


async def test_https_marks_every_cookie_secure() -> None:
    transport = httpx.ASGITransport(app=_cookie_app(https=True))
    async with httpx.AsyncClient(transport=transport, base_url="http://proxy.internal") as client:
        r = await client.get("/")
    cookies = r.headers.get_list("set-cookie")
    assert len(cookies) == 2
    for cookie in cookies:
        assert len(re.findall(r";\s*secure", cookie, re.IGNORECASE)) == 1, cookie
    assert "strict-transport-security" in r.headers


async def test_plain_http_leaves_cookies_alone() -> None:
    transport = httpx.ASGITransport(app=_cookie_app(https=False))
    async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as client:
        r = await client.get("/")
    session = next(c for c in r.headers.get_list("set-cookie") if c.startswith("proctor_session"))
    assert "secure" not in session.lower()


# ---------------------------------------------------------------- the pages obey the CSP

_INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.IGNORECASE)
_HANDLER = re.compile(r"<[^>]+\son[a-z]+\s*=", re.IGNORECASE)
_STYLE_ATTR = re.compile(r"<[^>]+\sstyle\s*=", re.IGNORECASE)


@pytest.mark.parametrize("page", sorted(p.name for p in STATIC.glob("*.html")))
def test_pages_have_no_inline_script_handler_or_style(page: str) -> None:
    html = (STATIC / page).read_text(encoding="utf-8")
    assert not _INLINE_SCRIPT.search(html), "inline <script>: move it to static/js/"
    assert not _HANDLER.search(html), "on* attribute: use addEventListener"
    assert not _STYLE_ATTR.search(html), "style attribute: use a class in static/css/"
    assert "javascript:" not in html.lower()
    assert "<style" not in html.lower()


def test_scripts_set_no_style_attribute_or_inline_markup() -> None:
    for script in STATIC.glob("js/*.js"):
        code = script.read_text(encoding="utf-8")
        assert "setAttribute('style'" not in code and 'setAttribute("style"' not in code, script
        assert "javascript:" not in code, script
