"""Accounts against an attacker (issue #9 "Trust"): each test mounts the attack the
issue describes against the real server, PostgreSQL and Redis, and shows it fails.

The threats, controls and these tests are listed in docs/security.d/accounts.md.
"""

from __future__ import annotations

import asyncio
import dataclasses
import secrets

import asyncpg
import httpx

from proctor.settings import Settings
from tests.support.account_fixtures import fresh_rate_limits, http
from tests.support.accounts import (
    known_captcha,
    last_sms_code,
    signed_in_client,
    unique_id_card,
    unique_phone,
)
from tests.support.live import LiveServer, start_live_server
from tests.support.users import PASSWORD, create_user

__all__ = ["fresh_rate_limits", "http"]


async def _captcha_subjects(pool: asyncpg.Pool) -> set[str]:
    """The client addresses the captcha rate limit counted (its subject is the address)."""
    async with pool.acquire() as conn:
        rows = await conn.fetch("SELECT subject FROM rate_hits WHERE name = 'captcha_address'")
    return {r["subject"] for r in rows}


# ---------------------------------------------------------------- finding 6: X-Forwarded-For


async def test_forged_forwarded_for_does_not_change_the_client_address(
    http: httpx.AsyncClient, pool: asyncpg.Pool
) -> None:
    """Rule A5 limits key on the client address: a loopback peer that is not a configured
    proxy cannot pick a fresh address per request with X-Forwarded-For."""
    r = await http.get("/api/auth/captcha", headers={"X-Forwarded-For": "203.0.113.9"})
    assert r.status_code == 200
    assert await _captcha_subjects(pool) == {"127.0.0.1"}  # rule A5 keys on the TCP peer


async def test_a_trusted_proxy_sets_the_client_address(
    settings: Settings, pool: asyncpg.Pool
) -> None:
    """PROCTOR_TRUSTED_PROXIES: the proxy's X-Forwarded-For is believed, right to left, up to
    the first address that is not a trusted proxy (what a client prepends is ignored)."""
    behind_proxy = await start_live_server(
        dataclasses.replace(settings, trusted_proxies=("127.0.0.1/32",))
    )
    try:
        async with httpx.AsyncClient(base_url=behind_proxy.url) as http:
            r = await http.get(
                "/api/auth/captcha", headers={"X-Forwarded-For": "198.51.100.1, 203.0.113.9"}
            )
        assert r.status_code == 200
    finally:
        await behind_proxy.stop()
    assert await _captcha_subjects(pool) == {"203.0.113.9"}


# ---------------------------------------------------------------- finding 1: the SMS outbox


async def test_the_outbox_cannot_be_read_to_take_over_an_account(
    http: httpx.AsyncClient, pool: asyncpg.Pool, settings: Settings, server: LiveServer
) -> None:
    """Rule A4: the attack asks a reset code for the victim's phone and reads it in the
    outbox. Anonymous and non-admin callers get no message; an administrator does."""
    phone = unique_phone()
    await create_user(pool, phone=phone)
    r = await http.post(
        "/api/auth/sms",
        json={"purpose": "reset", "phone": phone, **await known_captcha(pool, settings.secret_key)},
    )
    assert r.status_code == 200, r.text
    anonymous = await http.get("/api/dev/sms-outbox", params={"phone": phone})
    # rule A4: the outbox is never readable anonymously
    assert (anonymous.status_code, anonymous.json()["error"]) == (401, "not_signed_in")
    code = await last_sms_code(pool, phone)
    assert code not in anonymous.text
    candidate = await create_user(pool, phone=unique_phone())
    async with await signed_in_client(server.url, pool, candidate.id) as as_candidate:
        r = await as_candidate.get("/api/dev/sms-outbox", params={"phone": phone})
    assert (r.status_code, r.json()["error"]) == (403, "forbidden")
    admin = await create_user(pool, role="admin")
    async with await signed_in_client(server.url, pool, admin.id) as as_admin:
        r = await as_admin.get("/api/dev/sms-outbox", params={"phone": phone})
    assert r.status_code == 200
    assert code in r.json()["messages"][0]["body"]


async def test_the_outbox_is_off_when_a_real_gateway_sends(
    pool: asyncpg.Pool, gateway_server: LiveServer
) -> None:
    """Rule A4: with another sender configured there is no outbox to read, even for admins."""
    admin = await create_user(pool, role="admin")
    async with await signed_in_client(gateway_server.url, pool, admin.id) as as_admin:
        r = await as_admin.get("/api/dev/sms-outbox")
    assert (r.status_code, r.json()["error"]) == (404, "not_found")


# ---------------------------------------------------------------- finding 2: lockout


async def _password_step(
    http: httpx.AsyncClient, pool: asyncpg.Pool, secret: bytes, username: str, password: str
) -> httpx.Response:
    captcha = await known_captcha(pool, secret)
    return await http.post(
        "/api/auth/login", json={"username": username, "password": password, **captcha}
    )


def _client_from(server: LiveServer, address: str) -> httpx.AsyncClient:
    """A client whose TCP source is ``address`` (any 127.x.y.z reaches the loopback server)."""
    transport = httpx.AsyncHTTPTransport(local_address=address)
    return httpx.AsyncClient(base_url=server.url, transport=transport)


async def test_wrong_passwords_cannot_lock_the_owner_out_from_elsewhere(
    pool: asyncpg.Pool, settings: Settings, server: LiveServer
) -> None:
    """Rule A5 without a lockout an attacker can aim: ten wrong passwords lock the
    attacker's (account, address) pair, not the account; the owner signs in from
    another address, and still needs the SMS code after the right password."""
    phone = unique_phone()
    victim = await create_user(pool, phone=phone)
    secret = settings.secret_key
    async with _client_from(server, "127.0.0.1") as attacker:
        statuses = [
            (await _password_step(attacker, pool, secret, victim.username, "Wrong1234")).status_code
            for _ in range(11)
        ]
        assert statuses == [401] * 10 + [429]  # rule A5: passwords are rate limited
        locked = await _password_step(attacker, pool, secret, victim.username, PASSWORD)
        assert (locked.status_code, locked.json()["error"]) == (429, "rate_limited")
        assert "忘记密码" in locked.json()["message"]
    async with _client_from(server, "127.0.0.2") as owner:
        r = await _password_step(owner, pool, secret, victim.username, PASSWORD)
        assert r.status_code == 200, r.text
        assert "proctor_session" not in r.cookies  # rule A1: the SMS step is still required
        r = await owner.post(
            "/api/auth/login/verify",
            json={
                "challenge_id": r.json()["challenge_id"],
                "code": await last_sms_code(pool, phone),
            },
        )
        assert r.status_code == 200, r.text
        assert (await owner.get("/api/auth/me")).json()["user"]["id"] == victim.id


async def test_a_locked_out_owner_gets_back_in_by_an_sms_reset(
    http: httpx.AsyncClient, pool: asyncpg.Pool, settings: Settings
) -> None:
    """Rule A3 is the SMS path a locked account keeps: proving the phone clears the lock
    of every address, and the new password works from the address that was locked."""
    phone = unique_phone()
    user = await create_user(pool, phone=phone)
    secret = settings.secret_key
    for _ in range(10):
        await _password_step(http, pool, secret, user.username, "Wrong1234")
    r = await _password_step(http, pool, secret, user.username, PASSWORD)
    assert r.status_code == 429
    r = await http.post(
        "/api/auth/sms",
        json={"purpose": "reset", "phone": phone, **await known_captcha(pool, secret)},
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
    async with pool.acquire() as conn:  # the reset SMS counts towards one SMS a minute
        await conn.execute("DELETE FROM rate_hits WHERE name = 'sms_phone_minute'")
    r = await _password_step(http, pool, secret, user.username, "NewSecret99")
    assert r.status_code == 200, r.text


# ---------------------------------------------------------------- finding 3: enumeration


async def _register_code(
    http: httpx.AsyncClient, pool: asyncpg.Pool, secret: bytes, phone: str
) -> dict[str, str]:
    r = await http.post(
        "/api/auth/sms",
        json={"purpose": "register", "phone": phone, **await known_captcha(pool, secret)},
    )
    assert r.status_code == 200, r.text
    return {"sms_id": r.json()["sms_id"], "code": await last_sms_code(pool, phone)}


def _form(**fields: str) -> dict[str, str]:
    return {
        "username": f"cand{secrets.token_hex(4)}",
        "password": "Secret123",
        "real_name": "张三",
        "id_card": unique_id_card(),
        "phone": unique_phone(),
        **fields,
    }


async def test_register_probes_without_the_code_learn_nothing(
    http: httpx.AsyncClient, pool: asyncpg.Pool
) -> None:
    """Issue #9: register answered username/id_card/phone_taken before the SMS code. Now a
    probe with a wrong or missing code answers alike for taken and free identities."""
    id_card, phone = unique_id_card(), unique_phone()
    taken = await create_user(pool, id_card=id_card, phone=phone)
    probes = [
        _form(username=taken.username),
        _form(id_card=id_card),
        _form(phone=phone),
        _form(),  # nothing taken
    ]
    for code in ({"sms_id": "no-such-code", "code": "123456"}, {}):  # rule A2: code first
        answers = set()
        for probe in probes:
            r = await http.post("/api/auth/register", json={**probe, **code})
            answers.add((r.status_code, r.text))
        assert len(answers) == 1, answers
        ((status, _),) = answers
        assert status == 400


async def test_register_tries_are_limited_per_phone_and_per_address(
    pool: asyncpg.Pool, server: LiveServer
) -> None:
    """Issue #9: 200 probes in 0.7 s were possible; now 10 per phone and 60 per address an hour."""
    wrong = {"sms_id": "no-such-code", "code": "123456"}
    async with _client_from(server, "127.0.0.3") as http:
        phone = unique_phone()
        statuses = [
            (
                await http.post("/api/auth/register", json={**_form(phone=phone), **wrong})
            ).status_code
            for _ in range(11)
        ]
        assert statuses == [400] * 10 + [429]
        statuses = [
            (await http.post("/api/auth/register", json={**_form(), **wrong})).status_code
            for _ in range(50)
        ]
        assert statuses == [400] * 49 + [429]  # 11 + 49 = 60 tries from this address
        r = await http.post("/api/auth/register", json={**_form(), **wrong})
        assert (r.status_code, r.json()["error"]) == (429, "rate_limited")


async def test_a_taken_id_card_spends_the_code_a_taken_username_does_not(
    http: httpx.AsyncClient, pool: asyncpg.Pool, settings: Settings
) -> None:
    """The documented choice (docs/security.d/accounts.md): only the phone's owner hears that
    an identity is taken. A taken username keeps the code for another try; a taken ID
    card (personal data) spends it, so each such probe costs an SMS."""
    id_card = unique_id_card()
    taken = await create_user(pool, id_card=id_card, phone=unique_phone())
    phone = unique_phone()
    code = await _register_code(http, pool, settings.secret_key, phone)
    r = await http.post(
        "/api/auth/register", json={**_form(phone=phone, username=taken.username), **code}
    )
    assert (r.status_code, r.json()["error"]) == (409, "username_taken")
    r = await http.post("/api/auth/register", json={**_form(phone=phone, id_card=id_card), **code})
    assert (r.status_code, r.json()["error"]) == (409, "id_card_taken")
    r = await http.post("/api/auth/register", json={**_form(phone=phone), **code})
    assert (r.status_code, r.json()["error"]) == (400, "code_used")


# ---------------------------------------------------------------- finding 4: duplicate identity


async def test_concurrent_registrations_with_one_id_card_make_one_account(
    pool: asyncpg.Pool, settings: Settings, server: LiveServer
) -> None:
    """Issue #9: two registrations of one ID-card number at the same moment both succeeded.
    The unique index decides the race; the loser hears a clear 409 in Chinese."""
    id_card = unique_id_card()
    async with (
        httpx.AsyncClient(base_url=server.url) as first,
        httpx.AsyncClient(base_url=server.url) as second,
    ):
        forms = []
        for http in (first, second):
            phone = unique_phone()
            code = await _register_code(http, pool, settings.secret_key, phone)
            forms.append((http, {**_form(phone=phone, id_card=id_card), **code}))
        answers = await asyncio.gather(
            *(http.post("/api/auth/register", json=form) for http, form in forms)
        )
    assert sorted(r.status_code for r in answers) == [201, 409]  # rule A2: one account per ID card
    (lost,) = [r.json() for r in answers if r.status_code == 409]
    assert lost == {"error": "id_card_taken", "message": "该身份证号码已注册，请直接登录或找回密码"}
    async with pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM users WHERE id_card = $1", id_card) == 1
