"""Helpers for the account and exam-request tests: known captchas, SMS codes from the
outbox, valid ID-card numbers and phones that no other test uses."""

from __future__ import annotations

import datetime as dt
import itertools
import os
import re
import secrets

import asyncpg
import httpx

from exam_api import captcha, idcard, uscc

_seq = itertools.count(1)
VALID_USCC = "91350100M000100Y43"


def unique_id_card(birth: str = "19850315", gender: str = "male") -> str:
    """A valid 18-digit ID-card number not used by any other test of this run."""
    n = next(_seq)
    region = f"15{(os.getpid() + n * 7919) % 10000:04d}"
    seq = (n * 37 + os.getpid()) % 500 * 2 + (1 if gender == "male" else 0)
    body = f"{region}{birth}{seq:03d}"
    return body + idcard.check_char(body)


def unique_phone() -> str:
    return f"139{(os.getpid() * 1000 + next(_seq) * 7 + secrets.randbelow(7)) % 100_000_000:08d}"


def uscc_with(org: str) -> str:
    body = f"91150100{org}"
    return body + uscc.check_char(body)


async def known_captcha(
    pool: asyncpg.Pool, secret: bytes, answer: str = "AB3K", *, expires_in_s: float = 300
) -> dict[str, str]:
    """A captcha whose answer the test knows (the server keeps only a hash of it)."""
    captcha_id = secrets.token_urlsafe(12)
    async with pool.acquire() as conn:
        await conn.execute(
            "INSERT INTO captchas (id, answer_hash, expires_at) VALUES ($1, $2, $3)",
            captcha_id,
            captcha._digest(secret, captcha_id, answer),
            dt.datetime.now(dt.UTC) + dt.timedelta(seconds=expires_in_s),
        )
    return {"captcha_id": captcha_id, "captcha": answer}


async def last_sms_code(pool: asyncpg.Pool, phone: str) -> str:
    """The code of the newest outbox message to ``phone`` (rule A4: the outbox is the inbox)."""
    async with pool.acquire() as conn:
        body = await conn.fetchval(
            "SELECT body FROM sms_outbox WHERE phone = $1 ORDER BY id DESC LIMIT 1", phone
        )
    assert body, f"no SMS to {phone}"
    match = re.search(r"\d{6}", body)
    assert match, body
    return match.group(0)


async def clear_rate_limits(pool: asyncpg.Pool) -> None:
    """Every test client is 127.0.0.1: per-address counters must not leak between tests."""
    async with pool.acquire() as conn:
        await conn.execute("DELETE FROM rate_hits")


async def register(
    http: httpx.AsyncClient, pool: asyncpg.Pool, secret: bytes, **fields: str
) -> httpx.Response:
    """Register through the API (SMS code taken from the outbox); returns the register response."""
    phone = fields.get("phone") or unique_phone()
    r = await http.post(
        "/api/auth/sms",
        json={"purpose": "register", "phone": phone, **await known_captcha(pool, secret)},
    )
    assert r.status_code == 200, r.text
    body = {
        "username": f"cand{secrets.token_hex(4)}",
        "password": "Secret123",
        "real_name": "张三",
        "id_card": unique_id_card(),
        "phone": phone,
        "sms_id": r.json()["sms_id"],
        "code": await last_sms_code(pool, phone),
        **fields,
    }
    return await http.post("/api/auth/register", json=body)


async def signed_in_client(server_url: str, pool: asyncpg.Pool, user_id: int) -> httpx.AsyncClient:
    """An HTTP client with a DB-made session and its CSRF header (close it after use)."""
    from tests.support.users import login_cookies

    login = await login_cookies(pool, user_id)
    return httpx.AsyncClient(base_url=server_url, cookies=login.cookies, headers=login.headers)


def personal_fields(id_card: str, gender: str = "male", **overrides: object) -> dict[str, object]:
    """Step 3 of the wizard, valid (rule B5)."""
    return {
        "real_name": "张三",
        "id_card": id_card,
        "gender": gender,
        "phone": "13912345678",
        "company_name": "内蒙古某某建筑工程有限公司",
        "company_uscc": VALID_USCC,
        "position": "专职安全员",
        **overrides,
    }
