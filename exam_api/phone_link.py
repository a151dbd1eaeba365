"""The phone's way into an attempt (rules D3, D4, D6).

The PC exam page shows a QR code of the phone page's address with a phone
token in it; the phone (no web session of its own) proves itself with that
token from then on. The token is short-lived (``device_token_ttl_s``), so the
PC page shows a fresh code every few minutes and the phone, while it holds a
valid token, trades it for a fresh one before it expires.

GET  /api/attempts/{id}/phone-qr     owner (candidate)  → image/svg+xml
GET  /api/attempts/{id}/phone-link   owner (candidate)  → {url, expires_at}
GET  /api/phone/info                 phone token        → what the phone shows
POST /api/phone/token                phone token        → a fresh phone token
POST /api/phone/bind                 anyone, a short code → a phone token
GET  /p                              anyone             → the phone page (typed by hand)
"""

from __future__ import annotations

import io
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import asyncpg
import segno
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from exam_api import phone_codes, ratelimit
from exam_api.accounts import client_address, enforce
from exam_api.attempts import own_attempt
from exam_api.auth import require_role
from exam_api.errors import ApiError
from exam_api.fields import path_id
from exam_api.papers import KIND_LABELS
from exam_api.services import exam_services
from hub.errors import TokenError
from hub.tokens import DeviceClaim, sign_device_token, verify_device_token
from proctor.json_body import json_body
from proctor.state import Base, base, now_of

PHONE_PAGE = "/static/phone.html"


def phone_url(base_url: str, token: str) -> str:
    """The phone page's address carrying ``token`` (what the QR code holds)."""
    return f"{base_url.rstrip('/')}{PHONE_PAGE}?token={token}"


LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1", "[::1]", "0.0.0.0")


def phone_base(request_base: str, public_url: str) -> str:
    """Where the phone reaches the server: the address the PC page uses,
    unless that is a loopback one (the PC runs on the server itself) and the
    configured public address is not — a phone cannot reach 127.0.0.1."""
    request_host = urlsplit(request_base).hostname or ""
    public_host = urlsplit(public_url).hostname or ""
    if request_host in LOOPBACK_HOSTS and public_host and public_host not in LOOPBACK_HOSTS:
        return public_url
    return request_base


def loopback_warning(public_url: str) -> str | None:
    """What the start banner says when phones cannot reach the QR code's address."""
    if (urlsplit(public_url).hostname or "") not in LOOPBACK_HOSTS:
        return None
    return (
        f"WARNING: PROCTOR_PUBLIC_URL is {public_url}, a loopback address: a phone opening the"
        " QR code or the short code's /p cannot reach it unless the PC page itself is opened"
        " on another address. Set PROCTOR_PUBLIC_URL to the address phones use"
        " (e.g. https://exam.example.gov.cn)."
    )


def qr_svg(text: str) -> bytes:
    """``text`` as a QR code in SVG (error correction M: survives a glare on the screen)."""
    code = segno.make(text, error="m", micro=False)
    out = io.BytesIO()
    code.save(out, kind="svg", scale=4, border=4, dark="#000", light="#fff", xmldecl=False)
    return out.getvalue()


def _base(request: Request) -> str:
    return phone_base(str(request.base_url), base(request).settings.public_url)


def _phone_token(res: Base, attempt_id: int, now: float) -> tuple[str, int]:
    ttl = res.settings.device_token_ttl_s
    return sign_device_token(res.settings.secret_key, attempt_id, "phone", now, ttl), int(now) + ttl


async def _open_attempt_of_owner(request: Request) -> int:
    """The attempt id if it is the signed-in candidate's and still running."""
    user = await require_role(request, "candidate")
    attempt_id = path_id(request.path_params["attempt_id"])
    async with base(request).pool.acquire() as conn:
        row = await own_attempt(conn, attempt_id, user.id)  # 404 for anyone else's
    if row["status"] != "in_progress" or now_of(request) >= row["deadline_at"]:
        raise ApiError(409, "attempt_ended", "考试已结束，无需再连接手机")
    return attempt_id


async def phone_qr(request: Request) -> Response:
    """The QR code the phone scans (rule D3), for the attempt's owner only."""
    attempt_id = await _open_attempt_of_owner(request)
    token, _ = _phone_token(base(request), attempt_id, base(request).clock.now())
    return Response(
        qr_svg(phone_url(_base(request), token)),
        media_type="image/svg+xml",
        headers={"Cache-Control": "no-store"},
    )


async def phone_link(request: Request) -> Response:
    """The phone page's address as text, and the short code to type on the
    phone at ``/p`` instead (the attempt's previous code stops working)."""
    attempt_id = await _open_attempt_of_owner(request)
    res = base(request)
    token, expires = _phone_token(res, attempt_id, res.clock.now())
    code = await phone_codes.issue(
        res.redis, exam_services(request).keys, attempt_id, res.settings.device_token_ttl_s
    )
    return JSONResponse(
        {
            "url": phone_url(_base(request), token),
            "short_url": _base(request).rstrip("/") + phone_codes.SHORT_PATH,
            "code": phone_codes.shown(code),
            "expires_at": datetime.fromtimestamp(expires, UTC).isoformat(),
        },
        headers={"Cache-Control": "no-store"},
    )


async def phone_bind(request: Request) -> Response:
    """A short code typed on the phone, traded once for a phone token."""
    body = await json_body(request)
    code = phone_codes.normalized(body.get("code"))
    res = base(request)
    async with res.pool.acquire() as conn:
        await enforce(
            conn, ratelimit.PHONE_BIND_PER_ADDRESS, client_address(request), now_of(request)
        )
        if code is None:
            raise ApiError(
                422, "bad_code", "绑定码是8位字母和数字，请按电脑端考试页面显示的绑定码输入"
            )
        attempt_id = await phone_codes.redeem(res.redis, exam_services(request).keys, code)
        if attempt_id is None:
            raise ApiError(
                404, "code_unknown", "绑定码无效或已过期，请在电脑端考试页面查看最新的绑定码"
            )
        view = await _phone_view(conn, attempt_id)
    if view["status"] != "in_progress":
        raise ApiError(409, "attempt_ended", "考试已结束")
    token, expires = _phone_token(res, attempt_id, res.clock.now())
    return JSONResponse(
        {
            "token": token,
            "url": phone_url(_base(request), token),
            "expires_at": datetime.fromtimestamp(expires, UTC).isoformat(),
        },
        headers={"Cache-Control": "no-store"},
    )


async def short_phone_page(request: Request) -> Response:
    """``/p``: the short address typed on a phone, to the page that takes the code."""
    return RedirectResponse(PHONE_PAGE, status_code=302)


def _phone_claim(request: Request) -> DeviceClaim:
    auth = request.headers.get("authorization", "")
    if not auth.startswith("Bearer "):
        raise ApiError(401, "bad_token", "缺少手机端令牌，请用手机扫描电脑端考试页面的二维码")
    try:
        claim = verify_device_token(
            base(request).settings.secret_key,
            auth.removeprefix("Bearer "),
            base(request).clock.now(),
        )
    except TokenError:
        raise ApiError(401, "bad_token", "二维码已失效，请在电脑端考试页面重新扫描二维码") from None
    if claim.device != "phone":
        raise ApiError(403, "wrong_device", "这是电脑端的令牌，请用手机扫描二维码")
    return claim


def mask_name(name: str) -> str:
    """张三 → 张*, 欧阳娜娜 → 欧**娜: enough for the candidate to recognise
    themself on the binding screen (rule D3), not enough to identify anyone."""
    if len(name) <= 1:
        return name
    if len(name) == 2:
        return name[0] + "*"
    return name[0] + "*" * (len(name) - 2) + name[-1]


async def _phone_view(conn: asyncpg.Connection, attempt_id: int) -> dict[str, Any]:
    row = await conn.fetchrow(
        """SELECT a.id, a.user_id, a.status, a.deadline_at, p.title, p.kind, u.real_name
             FROM attempts a JOIN papers p ON p.id = a.paper_id JOIN users u ON u.id = a.user_id
            WHERE a.id = $1""",
        attempt_id,
    )
    if row is None:
        raise ApiError(404, "attempt_not_found", "考试记录不存在")
    return {
        "attempt_id": row["id"],
        # A stable, non-identifying key for "this phone is bound to this candidate".
        "binding_key": f"u{row['user_id']}",
        "candidate": mask_name(row["real_name"] or ""),
        "paper": {
            "title": row["title"],
            "kind": row["kind"],
            "kind_label": KIND_LABELS[row["kind"]],
        },
        "status": row["status"],
        "deadline_at": row["deadline_at"].isoformat(),
    }


async def phone_info(request: Request) -> Response:
    """What the phone shows before it starts: whose exam, which paper (rules D3, D4)."""
    claim = _phone_claim(request)
    async with base(request).pool.acquire() as conn:
        view = await _phone_view(conn, claim.attempt_id)
    return JSONResponse(view, headers={"Cache-Control": "no-store"})


async def phone_token(request: Request) -> Response:
    """A valid phone token traded for a fresh one, so a phone that stays on
    the page keeps its connection for the whole exam."""
    claim = _phone_claim(request)
    res = base(request)
    async with res.pool.acquire() as conn:
        view = await _phone_view(conn, claim.attempt_id)
    if view["status"] != "in_progress":
        raise ApiError(409, "attempt_ended", "考试已结束")
    token, expires = _phone_token(res, claim.attempt_id, base(request).clock.now())
    ws_base = str(request.base_url).replace("http", "ws", 1).rstrip("/")
    return JSONResponse(
        {
            "token": token,
            "ws_phone_url": f"{ws_base}/ws/phone?token={token}",
            "expires_at": datetime.fromtimestamp(expires, UTC).isoformat(),
        },
        headers={"Cache-Control": "no-store"},
    )


routes: list[BaseRoute] = [
    Route("/api/attempts/{attempt_id:int}/phone-qr", phone_qr, methods=["GET"]),
    Route("/api/attempts/{attempt_id:int}/phone-link", phone_link, methods=["GET"]),
    Route("/api/phone/info", phone_info, methods=["GET"]),
    Route("/api/phone/token", phone_token, methods=["POST"]),
    Route("/api/phone/bind", phone_bind, methods=["POST"]),
    Route(phone_codes.SHORT_PATH, short_phone_page, methods=["GET"]),
]
