"""Security headers on every HTTP response: pages, API answers, errors (issue #9).

A pure ASGI middleware that adds each header the response does not set
itself (the document route sends a stricter, sandboxing CSP of its own):

* ``Content-Security-Policy``: scripts, styles, fonts only from this origin,
  no inline script or style attribute, no plugins, not framed by anyone
  (``frame-ancestors 'none'``).  What the pages need is allowed: websockets
  to the hub (``ws:``/``wss:``), camera frames and snapshots as ``data:`` and
  ``blob:`` images and media.
* ``X-Content-Type-Options: nosniff``, ``Referrer-Policy: no-referrer`` (a
  URL with a device token never leaves in a Referer), ``X-Frame-Options``
  for old engines, ``Cross-Origin-Opener-Policy``, a ``Permissions-Policy``
  that keeps the camera and microphone for this origin only.
* Only when the public URL is https: ``Strict-Transport-Security`` and the
  ``Secure`` flag on every cookie the app sets (behind a TLS-terminating
  proxy the app itself sees plain http, so the request's scheme cannot say).
"""

from __future__ import annotations

from collections.abc import Sequence

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data: blob:",
        "media-src 'self' blob:",
        "connect-src 'self' ws: wss:",
        "font-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)

BASE_HEADERS: tuple[tuple[str, str], ...] = (
    ("Content-Security-Policy", CONTENT_SECURITY_POLICY),
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "no-referrer"),
    ("X-Frame-Options", "DENY"),
    ("Cross-Origin-Opener-Policy", "same-origin"),
    ("Permissions-Policy", "camera=(self), microphone=(self), geolocation=(), payment=()"),
)
HSTS = ("Strict-Transport-Security", "max-age=31536000")


def headers_for(https: bool) -> tuple[tuple[str, str], ...]:
    """The headers every response carries, for a site served over https or not."""
    return (*BASE_HEADERS, HSTS) if https else BASE_HEADERS


class SecurityHeaders:
    def __init__(self, app: ASGIApp, *, https: bool) -> None:
        self.app = app
        self.https = https
        self.headers: Sequence[tuple[str, str]] = headers_for(https)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", [])
                headers = MutableHeaders(scope=message)
                for name, value in self.headers:
                    if name not in headers:
                        headers.append(name, value)
                if self.https:
                    _secure_cookies(headers)
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _secure_cookies(headers: MutableHeaders) -> None:
    cookies = headers.getlist("set-cookie")
    if not cookies:
        return
    del headers["set-cookie"]
    for cookie in cookies:
        flags = {part.strip().lower() for part in cookie.split(";")[1:]}
        headers.append("set-cookie", cookie if "secure" in flags else f"{cookie}; Secure")
