"""Account routes: captcha, login with SMS code, register, forgot password (rules A1–A5).

GET  /api/auth/captcha          → {captcha_id, image, expires_in}
POST /api/auth/login            {username, password, captcha_id, captcha} → {challenge_id, phone_masked}
POST /api/auth/login/verify     {challenge_id, code} → session cookie, {user, csrf_token, home}
POST /api/auth/sms              {purpose: register|reset, phone, captcha_id, captcha} → {sms_id}
POST /api/auth/register         {username, password, real_name, id_card, phone, sms_id, code}
POST /api/auth/reset            {phone, sms_id, code, password}
POST /api/auth/logout
GET  /api/dev/sms-outbox?phone= (the outbox, administrators only, rule A4)
"""

from __future__ import annotations

import base64
import datetime as dt
from typing import Any

import asyncpg
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from exam_api import captcha, ratelimit, sms, sso_sessions
from exam_api.account_services import AccountServices
from exam_api.auth import require_role, set_session_cookie
from exam_api.errors import ApiError, json_body
from exam_api.idcard import IdCardError, parse_id_card
from exam_api.identity import (
    Account,
    FieldError,
    IdentityProvider,
    NewAccount,
    check_password,
    check_phone,
    check_text,
    check_username,
)
from exam_api.services import exam_services
from proctor.state import base
from proctor.web_sessions import COOKIE, create_session, delete_session

HOME_BY_ROLE = {
    "candidate": "/static/home.html",
    "reviewer": "/static/reviewer.html",
    "admin": "/static/admin.html",
    "invigilator": "/static/invigilator.html",
}
_NO_STORE = {"Cache-Control": "no-store"}


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def services(request: Request) -> AccountServices:
    """The account component the wiring built (hashing threads, SMS sender, identity)."""
    return exam_services(request).accounts


def identity(request: Request) -> IdentityProvider:
    """The identity provider the wiring passed in (the built-in one by default)."""
    return services(request).identity


def sms_sender(request: Request) -> sms.SmsSender:
    """The SMS sender the wiring passed in (the outbox by default, rule A4)."""
    return services(request).sms_sender


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _str(body: dict[str, object], key: str) -> str:
    value = body.get(key)
    return value if isinstance(value, str) else ""


def field_error(exc: FieldError | IdCardError) -> ApiError:
    return ApiError(422, exc.code, exc.message)


async def enforce(
    conn: Any, limit: ratelimit.Limit, subject: str, now: dt.datetime
) -> ratelimit.Decision:
    decision = await ratelimit.hit(conn, limit, subject, now.timestamp())
    if not decision.allowed:
        raise RateLimited(limit.message, decision.retry_after_s)
    return decision


class RateLimited(ApiError):
    """429 with the wait in the message, in ``retry_after_s`` and in Retry-After."""

    def __init__(self, message: str, retry_after_s: int) -> None:
        super().__init__(429, "rate_limited", f"{message}（{retry_after_s} 秒后可重试）")
        self.retry_after_s = retry_after_s


_CAPTCHA_MESSAGES = {
    "captcha_missing": "图形验证码已失效，请点击图片刷新后重新输入",
    "captcha_expired": "图形验证码已过期，请点击图片刷新后重新输入",
    "captcha_wrong": "图形验证码错误，请重新输入",
}


async def check_captcha(
    request: Request, conn: Any, body: dict[str, object], now: dt.datetime
) -> None:
    captcha_id, answer = _str(body, "captcha_id"), _str(body, "captcha")
    if not captcha_id or not answer.strip():
        raise ApiError(400, "captcha_required", "请输入图形验证码")
    error = await captcha.take(conn, base(request).settings.secret_key, captcha_id, answer, now)
    if error is not None:
        raise ApiError(400, error, _CAPTCHA_MESSAGES[error])


async def captcha_image(request: Request) -> Response:
    """GET /api/auth/captcha — a new single-use captcha as a PNG data URL (rule A5)."""
    now = utcnow()
    async with base(request).pool.acquire() as conn:
        await enforce(conn, ratelimit.CAPTCHA_PER_ADDRESS, client_address(request), now)
        issued = await captcha.issue(conn, base(request).settings.secret_key, now)
    image = "data:image/png;base64," + base64.b64encode(issued.png).decode()
    expires_in = int(captcha.LIFETIME.total_seconds())
    return JSONResponse(
        {"captcha_id": issued.captcha_id, "image": image, "expires_in": expires_in},
        headers=_NO_STORE,
    )


async def login(request: Request) -> Response:
    """POST /api/auth/login — password and captcha right → an SMS code to the phone on file (A1)."""
    body = await json_body(request)
    username, password = _str(body, "username").strip(), _str(body, "password")
    if not username or not password:
        raise ApiError(400, "bad_request", "请输入用户名和密码")
    now = utcnow()
    res = base(request)
    async with res.pool.acquire() as conn:
        await check_captcha(request, conn, body, now)
        address = client_address(request)
        await enforce(conn, ratelimit.LOGIN_PER_ADDRESS, address, now)
        # A locked (account, address) pair tries no password; other addresses are not locked.
        tries = ratelimit.login_subject(username, address)
        await enforce(conn, ratelimit.LOGIN_PER_ACCOUNT_ADDRESS, tries, now)
        account = await identity(request).authenticate(conn, username, password)
        if account is None:
            raise ApiError(401, "bad_credentials", "用户名或密码错误")
        await ratelimit.forget(conn, ratelimit.LOGIN_PER_ACCOUNT_ADDRESS, tries)
        # The SMS second factor is still required: a right password only sends the code.
        if not account.phone:
            raise ApiError(403, "no_phone", "该账号未绑定手机号，无法发送登录验证码，请联系管理员")
        await enforce(conn, ratelimit.SMS_PER_PHONE_MINUTE, account.phone, now)
        await enforce(conn, ratelimit.SMS_PER_PHONE_DAY, account.phone, now)
        issued = await sms.issue_code(
            conn,
            sms_sender(request),
            res.settings.secret_key,
            phone=account.phone,
            purpose="login",
            user_id=account.id,
            now=now,
        )
    return JSONResponse(
        {
            "challenge_id": issued.code_id,
            "phone_masked": sms.mask_phone(account.phone),
            "expires_in": int(sms.CODE_LIFETIME.total_seconds()),
        },
        headers=_NO_STORE,
    )


async def _consume(
    request: Request, conn: Any, code_id: str, purpose: sms.Purpose, code: str, now: dt.datetime
) -> sms.CodeCheck:
    if not code_id:
        raise ApiError(400, "code_missing", "请先获取短信验证码")
    if not code.strip():
        raise ApiError(400, "code_required", "请输入短信验证码")
    return await sms.consume_code(
        conn,
        base(request).settings.secret_key,
        code_id=code_id,
        purpose=purpose,
        code=code,
        now=now,
    )


async def _signed_in(request: Request, conn: Any, account: Account, now: dt.datetime) -> Response:
    token, csrf = await create_session(conn, account.id, now)
    response = JSONResponse(
        {
            "user": {
                "id": account.id,
                "username": account.username,
                "role": account.role,
                "real_name": account.real_name,
            },
            "csrf_token": csrf,
            "home": HOME_BY_ROLE.get(account.role, "/static/home.html"),
        },
        headers=_NO_STORE,
    )
    set_session_cookie(response, token, secure=request.url.scheme == "https")
    return response


async def _account_by_id(conn: Any, user_id: int) -> Account:
    row = await conn.fetchrow(
        "SELECT id, username, role, real_name, phone, id_card FROM users WHERE id = $1", user_id
    )
    if row is None:
        raise ApiError(401, "no_account", "账号不存在")
    return Account(
        id=row["id"],
        username=row["username"],
        role=row["role"],
        real_name=row["real_name"],
        phone=row["phone"],
        id_card=row["id_card"],
    )


async def login_verify(request: Request) -> Response:
    """POST /api/auth/login/verify — the SMS code of the login challenge → signed in (A1)."""
    body = await json_body(request)
    now = utcnow()
    async with base(request).pool.acquire() as conn:
        async with conn.transaction():
            check = await _consume(
                request, conn, _str(body, "challenge_id"), "login", _str(body, "code"), now
            )
        if check.error is not None:
            raise ApiError(400, check.error, check.message)
        assert check.user_id is not None
        account = await _account_by_id(conn, check.user_id)
        return await _signed_in(request, conn, account, now)


async def send_sms(request: Request) -> Response:
    """POST /api/auth/sms — a code to prove a phone, for register or reset (A2, A3)."""
    body = await json_body(request)
    purpose = _str(body, "purpose")
    if purpose not in ("register", "reset"):
        raise ApiError(400, "bad_purpose", "验证码用途不正确")
    try:
        phone = check_phone(body.get("phone"))
    except FieldError as exc:
        raise field_error(exc) from None
    now = utcnow()
    res = base(request)
    async with res.pool.acquire() as conn:
        await check_captcha(request, conn, body, now)
        owner = await identity(request).find_by_phone(conn, phone)
        if purpose == "register" and owner is not None:
            raise ApiError(409, "phone_taken", "该手机号已注册，请直接登录或找回密码")
        if purpose == "reset" and owner is None:
            raise ApiError(404, "phone_unknown", "该手机号未注册")
        await enforce(conn, ratelimit.SMS_PER_ADDRESS, client_address(request), now)
        resend = await enforce(conn, ratelimit.SMS_PER_PHONE_MINUTE, phone, now)
        await enforce(conn, ratelimit.SMS_PER_PHONE_DAY, phone, now)
        issued = await sms.issue_code(
            conn,
            sms_sender(request),
            res.settings.secret_key,
            phone=phone,
            purpose="register" if purpose == "register" else "reset",
            user_id=owner.id if owner else None,
            now=now,
        )
    return JSONResponse(
        {
            "sms_id": issued.code_id,
            "phone_masked": sms.mask_phone(phone),
            "expires_in": int(sms.CODE_LIFETIME.total_seconds()),
            "resend_in": resend.next_after_s,
        },
        headers=_NO_STORE,
    )


def _new_account(body: dict[str, object]) -> NewAccount:
    """The register form, each field checked on its own (422 names the field)."""
    try:
        return NewAccount(
            username=check_username(_str(body, "username").strip()),
            password=check_password(_str(body, "password")),
            real_name=check_text(body.get("real_name"), "真实姓名", code="bad_real_name"),
            id_card=parse_id_card(_str(body, "id_card"), today=utcnow().date()).number,
            phone=check_phone(body.get("phone")),
        )
    except (FieldError, IdCardError) as exc:
        raise field_error(exc) from None


_USERNAME_TAKEN = (409, "username_taken", "该用户名已被使用，请换一个")
_ID_CARD_TAKEN = (409, "id_card_taken", "该身份证号码已注册，请直接登录或找回密码")
_PHONE_TAKEN = (409, "phone_taken", "该手机号已注册，请直接登录或找回密码")
# The unique constraints of ``users`` behind a registration that lost a race (issue #9).
_UNIQUE_CONFLICTS = {
    "users_username_key": _USERNAME_TAKEN,
    "users_id_card_unique": _ID_CARD_TAKEN,
}


async def _taken(conn: Any, provider: IdentityProvider, new: NewAccount) -> ApiError | None:
    """Which identity of ``new`` an existing account already has, if any."""
    if await provider.username_taken(conn, new.username):
        return ApiError(*_USERNAME_TAKEN)
    if await conn.fetchval("SELECT 1 FROM users WHERE id_card = $1", new.id_card):
        return ApiError(*_ID_CARD_TAKEN)
    if await provider.find_by_phone(conn, new.phone) is not None:
        return ApiError(*_PHONE_TAKEN)
    return None


async def _create_proven(
    conn: Any, provider: IdentityProvider, new: NewAccount, proven_phone: str
) -> Account | ApiError:
    """The account, once the code proved ``proven_phone``; inside the code's transaction.

    Raises (the transaction rolls back, the code stays usable) for a code sent to
    another phone and for a taken username; returns the error (the transaction
    commits, the code is spent) for a taken ID card or phone.
    """
    if proven_phone != new.phone:
        raise ApiError(400, "code_phone_mismatch", "短信验证码不是发给该手机号的，请重新获取")
    conflict = await _taken(conn, provider, new)
    if conflict is not None and conflict.code == "username_taken":
        raise conflict
    if conflict is not None:
        return conflict
    try:
        return await provider.create_candidate(conn, new)
    except asyncpg.UniqueViolationError as exc:  # a concurrent registration won the race
        status, code, message = _UNIQUE_CONFLICTS.get(exc.constraint_name or "", _ID_CARD_TAKEN)
        raise ApiError(status, code, message) from None


async def register(request: Request) -> Response:
    """POST /api/auth/register — a new candidate account, signed in at once (A2).

    Issue #9, enumeration: the SMS code is checked before any lookup, so without
    the code every probe answers the same whatever the other fields hold, and
    tries are limited per address and per phone.  Only someone who proved the
    phone learns that a username, ID card or phone is taken.  A taken username
    leaves the code usable (pick another name); a taken ID card or phone spends
    it, so each probe of personal data costs an SMS to a phone the prober owns.
    """
    body = await json_body(request)
    new = _new_account(body)
    provider = identity(request)
    now = utcnow()
    async with base(request).pool.acquire() as conn:
        await enforce(conn, ratelimit.REGISTER_PER_ADDRESS, client_address(request), now)
        await enforce(conn, ratelimit.REGISTER_PER_PHONE, new.phone, now)
        async with conn.transaction():
            check = await _consume(
                request, conn, _str(body, "sms_id"), "register", _str(body, "code"), now
            )
            outcome = (
                ApiError(400, check.error, check.message)
                if check.error is not None
                else await _create_proven(conn, provider, new, check.phone)
            )
        if isinstance(outcome, ApiError):
            raise outcome
        response = await _signed_in(request, conn, outcome, now)
    response.status_code = 201
    return response


async def reset_password(request: Request) -> Response:
    """POST /api/auth/reset — prove the phone by SMS code, set a new password (A3)."""
    body = await json_body(request)
    try:
        phone = check_phone(body.get("phone"))
        password = check_password(_str(body, "password"))
    except FieldError as exc:
        raise field_error(exc) from None
    now = utcnow()
    provider = identity(request)
    async with base(request).pool.acquire() as conn:
        async with conn.transaction():
            check = await _consume(
                request, conn, _str(body, "sms_id"), "reset", _str(body, "code"), now
            )
            if check.error is None:
                if check.phone != phone:
                    raise ApiError(
                        400, "code_phone_mismatch", "短信验证码不是发给该手机号的，请重新获取"
                    )
                owner = await provider.find_by_phone(conn, phone)
                if owner is None:
                    raise ApiError(404, "phone_unknown", "该手机号未注册")
                await provider.set_password(conn, owner.id, password)
                # The owner proved the phone: no address stays locked out of the account.
                await ratelimit.forget_logins(conn, owner.username)
        if check.error is not None:
            raise ApiError(400, check.error, check.message)
    return JSONResponse({"ok": True, "message": "密码已重置，请使用新密码登录"})


async def logout(request: Request) -> Response:
    """POST /api/auth/logout — ends this browser's session (CSRF header required)."""
    await require_role(request)
    token = request.cookies.get(COOKIE, "")
    async with base(request).pool.acquire() as conn:
        # a session that began at the province's SSO ends there too (issue #15)
        end_session = await sso_sessions.logout_url(request, conn, token)
        await delete_session(conn, token)
    response = JSONResponse({"ok": True, "end_session": end_session})
    response.delete_cookie(COOKIE, path="/")
    return response


async def dev_outbox(request: Request) -> Response:
    """GET /api/dev/sms-outbox?phone= — the SMS outbox, for administrators only (rule A4).

    Anyone who reads it can reset any password and pass any login's second factor,
    so it is never anonymous; and it is off when a real gateway sends the messages.
    """
    await require_role(request, "admin")
    outbox_in_use = isinstance(sms_sender(request), sms.OutboxSender)
    if not (base(request).settings.dev_sms_outbox and outbox_in_use):
        raise ApiError(404, "not_found", "未启用开发短信收件箱")
    phone = request.query_params.get("phone") or None
    async with base(request).pool.acquire() as conn:
        messages = await sms.outbox(conn, phone)
    return JSONResponse({"messages": messages}, headers=_NO_STORE)


routes = [
    Route("/api/auth/captcha", captcha_image, methods=["GET"]),
    Route("/api/auth/login", login, methods=["POST"]),
    Route("/api/auth/login/verify", login_verify, methods=["POST"]),
    Route("/api/auth/sms", send_sms, methods=["POST"]),
    Route("/api/auth/register", register, methods=["POST"]),
    Route("/api/auth/reset", reset_password, methods=["POST"]),
    Route("/api/auth/logout", logout, methods=["POST"]),
    Route("/api/dev/sms-outbox", dev_outbox, methods=["GET"]),
]
