"""Accounts over the real HTTP API and PostgreSQL: login with captcha and SMS code (A1),
register (A2), forgot password (A3), the SMS outbox (A4), captcha and rate limits (A5)."""

from __future__ import annotations

import asyncpg
import httpx
import pytest

from proctor.settings import Settings
from tests.support.account_fixtures import fresh_rate_limits, http
from tests.support.accounts import (
    clear_rate_limits,
    known_captcha,
    last_sms_code,
    register,
    signed_in_client,
    unique_id_card,
    unique_phone,
)
from tests.support.live import LiveServer
from tests.support.recording_sms import RecordingSmsSender
from tests.support.users import PASSWORD, create_user

__all__ = ["fresh_rate_limits", "http"]


async def _login_step1(
    http: httpx.AsyncClient, pool: asyncpg.Pool, secret: bytes, username: str, password: str
) -> httpx.Response:
    captcha = await known_captcha(pool, secret)
    return await http.post(
        "/api/auth/login", json={"username": username, "password": password, **captcha}
    )


async def test_captcha_endpoint_returns_a_png(http: httpx.AsyncClient) -> None:
    """Rule A5: a real server-drawn image."""
    r = await http.get("/api/auth/captcha")
    assert r.status_code == 200
    body = r.json()
    assert body["image"].startswith("data:image/png;base64,")
    assert body["expires_in"] == 300
    assert r.headers["cache-control"] == "no-store"


async def test_login_with_captcha_and_sms_code(
    http: httpx.AsyncClient, pool: asyncpg.Pool, settings: Settings
) -> None:
    """Rule A1: password + captcha → SMS code to the phone on file → signed in."""
    phone = unique_phone()
    user = await create_user(pool, phone=phone)
    r = await _login_step1(http, pool, settings.secret_key, user.username, PASSWORD)
    assert r.status_code == 200, r.text
    assert r.json()["phone_masked"] == phone[:3] + "****" + phone[-4:]
    assert "proctor_session" not in r.cookies  # not signed in before the code
    code = await last_sms_code(pool, phone)
    r = await http.post(
        "/api/auth/login/verify", json={"challenge_id": r.json()["challenge_id"], "code": code}
    )
    assert r.status_code == 200, r.text
    assert r.json()["home"] == "/static/home.html"
    cookie = r.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie
    me = await http.get("/api/auth/me")
    assert me.json()["user"]["id"] == user.id


async def test_wrong_captcha_is_refused_and_spent(
    http: httpx.AsyncClient, pool: asyncpg.Pool, settings: Settings
) -> None:
    """Rule A5: wrong captcha → clear error; the captcha cannot be tried again."""
    user = await create_user(pool, phone=unique_phone())
    captcha = await known_captcha(pool, settings.secret_key, "WXYZ")
    body = {"username": user.username, "password": PASSWORD, "captcha_id": captcha["captcha_id"]}
    r = await http.post("/api/auth/login", json={**body, "captcha": "AAAA"})
    assert (r.status_code, r.json()["error"]) == (400, "captcha_wrong")
    assert "图形验证码错误" in r.json()["message"]
    r = await http.post("/api/auth/login", json={**body, "captcha": "WXYZ"})
    assert (r.status_code, r.json()["error"]) == (400, "captcha_missing")


async def test_captcha_answer_is_case_insensitive(
    http: httpx.AsyncClient, pool: asyncpg.Pool, settings: Settings
) -> None:
    user = await create_user(pool, phone=unique_phone())
    captcha = await known_captcha(pool, settings.secret_key, "AB3K")
    r = await http.post(
        "/api/auth/login",
        json={"username": user.username, "password": PASSWORD, **captcha, "captcha": "ab3k"},
    )
    assert r.status_code == 200, r.text


async def test_expired_captcha_is_refused(
    http: httpx.AsyncClient, pool: asyncpg.Pool, settings: Settings
) -> None:
    """Rule A5: a captcha lives five minutes."""
    user = await create_user(pool, phone=unique_phone())
    captcha = await known_captcha(pool, settings.secret_key, expires_in_s=-1)
    r = await http.post(
        "/api/auth/login", json={"username": user.username, "password": PASSWORD, **captcha}
    )
    assert (r.status_code, r.json()["error"]) == (400, "captcha_expired")


async def test_wrong_password_and_unknown_user_answer_alike(
    http: httpx.AsyncClient, pool: asyncpg.Pool, settings: Settings
) -> None:
    user = await create_user(pool, phone=unique_phone())
    wrong = await _login_step1(http, pool, settings.secret_key, user.username, "Nope12345")
    unknown = await _login_step1(http, pool, settings.secret_key, "nobody_here", "Nope12345")
    for r in (wrong, unknown):
        assert (r.status_code, r.json()) == (
            401,
            {"error": "bad_credentials", "message": "用户名或密码错误"},
        )


async def test_code_guesses_are_limited_to_five(
    http: httpx.AsyncClient, pool: asyncpg.Pool, settings: Settings
) -> None:
    """Rule A5: five wrong guesses kill the code, even the right one fails after."""
    phone = unique_phone()
    user = await create_user(pool, phone=phone)
    r = await _login_step1(http, pool, settings.secret_key, user.username, PASSWORD)
    challenge = r.json()["challenge_id"]
    code = await last_sms_code(pool, phone)
    wrong = "000000" if code != "000000" else "111111"
    errors = []
    for _ in range(5):
        r = await http.post(
            "/api/auth/login/verify", json={"challenge_id": challenge, "code": wrong}
        )
        errors.append(r.json()["error"])
    assert errors == ["code_wrong"] * 4 + ["code_locked"]
    r = await http.post("/api/auth/login/verify", json={"challenge_id": challenge, "code": code})
    assert (r.status_code, r.json()["error"]) == (400, "code_locked")


async def test_code_is_single_use(
    http: httpx.AsyncClient, pool: asyncpg.Pool, settings: Settings
) -> None:
    """Rule A1/A5: a reused code is refused."""
    phone = unique_phone()
    user = await create_user(pool, phone=phone)
    r = await _login_step1(http, pool, settings.secret_key, user.username, PASSWORD)
    body = {"challenge_id": r.json()["challenge_id"], "code": await last_sms_code(pool, phone)}
    assert (await http.post("/api/auth/login/verify", json=body)).status_code == 200
    r = await http.post("/api/auth/login/verify", json=body)
    assert (r.status_code, r.json()["error"]) == (400, "code_used")


async def test_expired_code_is_refused(
    http: httpx.AsyncClient, pool: asyncpg.Pool, settings: Settings
) -> None:
    phone = unique_phone()
    user = await create_user(pool, phone=phone)
    r = await _login_step1(http, pool, settings.secret_key, user.username, PASSWORD)
    challenge = r.json()["challenge_id"]
    async with pool.acquire() as conn:
        await conn.execute(
            "UPDATE sms_codes SET expires_at = now() - interval '1 second' WHERE id = $1", challenge
        )
    r = await http.post(
        "/api/auth/login/verify",
        json={"challenge_id": challenge, "code": await last_sms_code(pool, phone)},
    )
    assert (r.status_code, r.json()["error"]) == (400, "code_expired")
    assert "已过期" in r.json()["message"]


async def test_login_attempts_per_account_are_rate_limited(
    http: httpx.AsyncClient, pool: asyncpg.Pool, settings: Settings
) -> None:
    """Rule A5: the 11th try on one account from one address within 15 minutes is refused."""
    user = await create_user(pool, phone=unique_phone())
    statuses = [
        (
            await _login_step1(http, pool, settings.secret_key, user.username, "Wrong1234")
        ).status_code
        for _ in range(11)
    ]
    assert statuses == [401] * 10 + [429]
    r = await _login_step1(http, pool, settings.secret_key, user.username, PASSWORD)
    assert r.status_code == 429  # even the right password waits
    assert "秒后可重试" in r.json()["message"]


async def test_sms_sends_per_phone_are_rate_limited(
    http: httpx.AsyncClient, pool: asyncpg.Pool, settings: Settings
) -> None:
    """Rule A5: one SMS per phone per minute."""
    phone = unique_phone()
    body = {"purpose": "register", "phone": phone}
    first = await http.post(
        "/api/auth/sms", json={**body, **await known_captcha(pool, settings.secret_key)}
    )
    second = await http.post(
        "/api/auth/sms", json={**body, **await known_captcha(pool, settings.secret_key)}
    )
    assert first.status_code == 200
    assert (second.status_code, second.json()["error"]) == (429, "rate_limited")
    # the wait is said once, as a number the page counts down from (issue #14)
    wait = second.json()["retry_after_s"]
    assert 0 < wait <= first.json()["resend_in"]
    assert second.headers["retry-after"] == str(wait)
    assert second.json()["message"] == f"验证码发送过于频繁（{wait} 秒后可重试）"


async def test_account_without_phone_cannot_get_a_login_code(
    http: httpx.AsyncClient, pool: asyncpg.Pool, settings: Settings
) -> None:
    user = await create_user(pool)
    r = await _login_step1(http, pool, settings.secret_key, user.username, PASSWORD)
    assert (r.status_code, r.json()["error"]) == (403, "no_phone")


async def test_register_signs_in_a_new_candidate(
    http: httpx.AsyncClient, pool: asyncpg.Pool, settings: Settings
) -> None:
    """Rule A2: register with a phone proven by SMS → signed in as a candidate."""
    id_card = unique_id_card()
    r = await register(http, pool, settings.secret_key, id_card=id_card, real_name="李四")
    assert r.status_code == 201, r.text
    assert r.json()["user"]["role"] == "candidate"
    me = (await http.get("/api/auth/me")).json()["user"]
    assert me["real_name"] == "李四"
    async with pool.acquire() as conn:
        assert await conn.fetchval("SELECT id_card FROM users WHERE id = $1", me["id"]) == id_card


@pytest.mark.parametrize(
    ("fields", "status", "code"),
    [
        ({"id_card": "110105194912310021"}, 422, "id_card_check_digit"),  # rule B5/A2
        ({"real_name": "张" * 31}, 422, "bad_real_name"),  # over-long name
        ({"username": "x"}, 422, "bad_username"),
        ({"password": "short1"}, 422, "weak_password"),
        ({"password": "onlyletters"}, 422, "weak_password"),
        ({"code": "12345"}, 400, "code_wrong"),
    ],
)
async def test_register_bad_input_saves_nothing(
    http: httpx.AsyncClient,
    pool: asyncpg.Pool,
    settings: Settings,
    fields: dict[str, str],
    status: int,
    code: str,
) -> None:
    async with pool.acquire() as conn:
        before = await conn.fetchval("SELECT count(*) FROM users")
    if fields.get("code") == "12345":
        fields = {"code": "000000"}
        expected = {"code_wrong", "code_locked"}
    else:
        expected = {code}
    r = await register(http, pool, settings.secret_key, **fields)
    assert r.status_code == status, r.text
    assert r.json()["error"] in expected
    assert r.json()["message"]
    async with pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM users") == before


async def test_register_keeps_html_in_a_name_as_plain_data(
    http: httpx.AsyncClient, pool: asyncpg.Pool, settings: Settings
) -> None:
    """HTML in a name field is data: stored and returned as typed (pages show it as text)."""
    name = "<b>王五</b>"
    r = await register(http, pool, settings.secret_key, real_name=name)
    assert r.status_code == 201, r.text
    assert (await http.get("/api/auth/me")).json()["user"]["real_name"] == name


async def test_register_refuses_a_taken_username_or_phone(
    http: httpx.AsyncClient, pool: asyncpg.Pool, settings: Settings
) -> None:
    taken = await create_user(pool, phone=unique_phone())
    r = await register(http, pool, settings.secret_key, username=taken.username)
    assert (r.status_code, r.json()["error"]) == (409, "username_taken")
    phone = unique_phone()
    await create_user(pool, phone=phone)
    r = await http.post(
        "/api/auth/sms",
        json={
            "purpose": "register",
            "phone": phone,
            **await known_captcha(pool, settings.secret_key),
        },
    )
    assert (r.status_code, r.json()["error"]) == (409, "phone_taken")


async def test_register_code_must_match_the_phone(
    http: httpx.AsyncClient, pool: asyncpg.Pool, settings: Settings
) -> None:
    phone = unique_phone()
    r = await http.post(
        "/api/auth/sms",
        json={
            "purpose": "register",
            "phone": phone,
            **await known_captcha(pool, settings.secret_key),
        },
    )
    r = await http.post(
        "/api/auth/register",
        json={
            "username": "mismatch_user",
            "password": "Secret123",
            "real_name": "赵六",
            "id_card": unique_id_card(),
            "phone": unique_phone(),
            "sms_id": r.json()["sms_id"],
            "code": await last_sms_code(pool, phone),
        },
    )
    assert (r.status_code, r.json()["error"]) == (400, "code_phone_mismatch")


async def test_forgot_password_resets_it(
    http: httpx.AsyncClient, pool: asyncpg.Pool, settings: Settings
) -> None:
    """Rule A3: prove the phone by SMS code, set a new password; the old one stops working."""
    phone = unique_phone()
    user = await create_user(pool, phone=phone)
    r = await http.post(
        "/api/auth/sms",
        json={"purpose": "reset", "phone": phone, **await known_captcha(pool, settings.secret_key)},
    )
    assert r.status_code == 200, r.text
    r = await http.post(
        "/api/auth/reset",
        json={
            "phone": phone,
            "sms_id": r.json()["sms_id"],
            "code": await last_sms_code(pool, phone),
            "password": "NewSecret99",
        },
    )
    assert r.status_code == 200, r.text
    old = await _login_step1(http, pool, settings.secret_key, user.username, PASSWORD)
    assert old.status_code == 401
    await clear_rate_limits(pool)  # the reset SMS went to this phone less than a minute ago
    new = await _login_step1(http, pool, settings.secret_key, user.username, "NewSecret99")
    assert new.status_code == 200


async def test_reset_for_an_unknown_phone_is_refused(
    http: httpx.AsyncClient, pool: asyncpg.Pool, settings: Settings
) -> None:
    r = await http.post(
        "/api/auth/sms",
        json={
            "purpose": "reset",
            "phone": unique_phone(),
            **await known_captcha(pool, settings.secret_key),
        },
    )
    assert (r.status_code, r.json()["error"]) == (404, "phone_unknown")


async def test_outbox_shows_sent_messages(
    http: httpx.AsyncClient, pool: asyncpg.Pool, settings: Settings
) -> None:
    """Rule A4: messages go to the outbox (and its development page), not to a network."""
    phone = unique_phone()
    await http.post(
        "/api/auth/sms",
        json={
            "purpose": "register",
            "phone": phone,
            **await known_captcha(pool, settings.secret_key),
        },
    )
    admin = await create_user(pool, role="admin")  # issue #9: the outbox is for admins only
    async with await signed_in_client(str(http.base_url), pool, admin.id) as as_admin:
        r = await as_admin.get("/api/dev/sms-outbox", params={"phone": phone})
    messages = r.json()["messages"]
    assert len(messages) == 1 and messages[0]["purpose"] == "register"
    assert await last_sms_code(pool, phone) in messages[0]["body"]


async def test_logout_needs_the_csrf_header(
    http: httpx.AsyncClient, pool: asyncpg.Pool, settings: Settings
) -> None:
    r = await register(http, pool, settings.secret_key)
    csrf = r.json()["csrf_token"]
    r = await http.post("/api/auth/logout")
    assert (r.status_code, r.json()["error"]) == (403, "csrf_failed")
    r = await http.post("/api/auth/logout", headers={"X-CSRF-Token": csrf})
    assert r.status_code == 200
    assert (await http.get("/api/auth/me")).status_code == 401


async def test_sms_goes_through_the_configured_sender(
    pool: asyncpg.Pool,
    settings: Settings,
    gateway_server: LiveServer,
    sms_gateway: RecordingSmsSender,
) -> None:
    """Rule A4: the sender is an interface; a real gateway replaces the outbox
    sender (passed in by the wiring, never swapped in a running app)."""
    phone = unique_phone()
    async with httpx.AsyncClient(base_url=gateway_server.url) as http:
        r = await http.post(
            "/api/auth/sms",
            json={
                "purpose": "register",
                "phone": phone,
                **await known_captcha(pool, settings.secret_key),
            },
        )
    assert r.status_code == 200, r.text
    ((to, purpose, text),) = [m for m in sms_gateway.sent if m[0] == phone]
    assert (to, purpose) == (phone, "register")
    assert "注册验证码" in text
    async with pool.acquire() as conn:  # the outbox saw nothing
        assert await conn.fetchval("SELECT count(*) FROM sms_outbox WHERE phone = $1", phone) == 0
