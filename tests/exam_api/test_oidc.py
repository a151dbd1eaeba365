"""Sign-in through the province's SSO against a real OpenID provider (issue #15):
the whole authorization code flow, first sign-in linking or creating the
candidate, later sign-ins, logout at the provider, and every bad input
refused with a zh-CN page and nothing created."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import asyncpg
import httpx

from proctor.web_sessions import COOKIE
from tests.support.live import LiveServer
from tests.support.oidc_flow import form_of, sign_in_url, start, through_provider
from tests.support.oidc_servers import Person, SsoSystem, sso_system
from tests.support.users import create_user

__all__ = ["sso_system"]


async def _nothing_created(pool: asyncpg.Pool, sso: SsoSystem, person: Person) -> None:
    async with pool.acquire() as conn:
        users = await conn.fetchval("SELECT count(*) FROM users WHERE id_card = $1", person.id_card)
        links = await conn.fetchval(
            "SELECT count(*) FROM sso_links WHERE issuer = $1 AND subject = $2",
            sso.provider.issuer,
            person.login,
        )
    assert (users, links) == (0, 0)


def _refused(response: httpx.Response, status: int, code: str, text: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("text/html")
    assert f'data-code="{code}"' in response.text
    assert text in response.text
    assert COOKIE not in response.cookies


async def _me(client: httpx.AsyncClient, app: LiveServer) -> dict[str, object]:
    response = await client.get(f"{app.url}/api/auth/me")
    assert response.status_code == 200, response.text
    body: dict[str, object] = response.json()
    return body


async def test_sso_is_off_by_default(server: LiveServer) -> None:
    async with httpx.AsyncClient() as client:
        config = await client.get(f"{server.url}/api/auth/oidc/config")
        assert config.json() == {"enabled": False}
        start_page = await client.get(f"{server.url}/api/auth/oidc/start")
    _refused(start_page, 404, "sso_off", "未启用统一身份认证登录")


async def test_config_offers_the_button(sso_system: SsoSystem) -> None:
    async with httpx.AsyncClient() as client:
        config = await client.get(f"{sso_system.app.url}/api/auth/oidc/config")
    assert config.json() == {
        "enabled": True,
        "label": "蒙速办登录",
        "start": "/api/auth/oidc/start",
    }


async def test_start_keeps_state_nonce_and_verifier_on_the_server(
    sso_system: SsoSystem, pool: asyncpg.Pool
) -> None:
    async with httpx.AsyncClient() as client:
        location = await start(client, sso_system.app.url)
    query = parse_qs(urlsplit(location).query)
    assert location.startswith(f"{sso_system.provider.issuer}/auth?")
    assert query["response_type"] == ["code"]
    assert query["redirect_uri"] == [sso_system.callback]
    assert query["code_challenge_method"] == ["S256"]
    assert query["scope"] == ["openid msb_profile"]
    async with pool.acquire() as conn:
        row = await conn.fetchrow(
            "SELECT nonce, code_verifier FROM oidc_logins WHERE nonce = $1", query["nonce"][0]
        )
    assert row is not None
    # the browser sees the challenge, never the verifier
    assert row["code_verifier"] not in location


async def test_first_sign_in_creates_the_candidate_and_later_ones_find_the_link(
    sso_system: SsoSystem, pool: asyncpg.Pool
) -> None:
    person = sso_system.people["newcomer"]
    app = sso_system.app
    async with httpx.AsyncClient() as client:
        callback = await client.get(await sign_in_url(client, app.url, person.login))
        assert callback.status_code == 303
        assert callback.headers["location"] == "/static/home.html"
        me = await _me(client, app)
    user = me["user"]
    assert isinstance(user, dict)
    assert (user["role"], user["real_name"]) == ("candidate", person.real_name)
    async with pool.acquire() as conn:
        row = await conn.fetchrow(
            "SELECT id, id_card, phone FROM users WHERE id_card = $1", person.id_card
        )
        link = await conn.fetchval(
            "SELECT user_id FROM sso_links WHERE issuer = $1 AND subject = $2",
            sso_system.provider.issuer,
            person.login,
        )
    assert row is not None and (row["id"], row["phone"]) == (user["id"], person.phone)
    assert link == user["id"]

    # a later sign-in (a new browser: the provider asks again) finds the link
    async with httpx.AsyncClient() as client:
        callback = await client.get(await sign_in_url(client, app.url, person.login))
        assert callback.status_code == 303
        again = await _me(client, app)
    assert again["user"] == user
    async with pool.acquire() as conn:
        count = await conn.fetchval("SELECT count(*) FROM users WHERE id_card = $1", person.id_card)
    assert count == 1


async def test_first_sign_in_links_the_existing_candidate_by_id_card(
    sso_system: SsoSystem, pool: asyncpg.Pool
) -> None:
    person = sso_system.people["existing"]
    existing = await create_user(pool, id_card=person.id_card, real_name=person.real_name)
    app = sso_system.app
    async with httpx.AsyncClient() as client:
        location = await start(client, app.url, next_path="/static/records.html")
        url = await through_provider(client, location, person.login, sso_system.callback)
        callback = await client.get(url)
        assert callback.headers["location"] == "/static/records.html"
        me = await _me(client, app)
    assert isinstance(me["user"], dict) and me["user"]["id"] == existing.id
    async with pool.acquire() as conn:
        link = await conn.fetchval("SELECT user_id FROM sso_links WHERE subject = $1", person.login)
        count = await conn.fetchval("SELECT count(*) FROM users WHERE id_card = $1", person.id_card)
    assert (link, count) == (existing.id, 1)


async def test_a_wrong_state_is_refused(sso_system: SsoSystem, pool: asyncpg.Pool) -> None:
    person = sso_system.people["replay"]
    async with httpx.AsyncClient() as client:
        url = await sign_in_url(client, sso_system.app.url, person.login)
        parts = urlsplit(url)
        query = parse_qs(parts.query)
        forged = f"{sso_system.callback}?code={query['code'][0]}&state=not-the-state"
        response = await client.get(forged)
    _refused(response, 400, "state_invalid", "登录请求已失效或已被使用")
    await _nothing_created(pool, sso_system, person)


async def test_a_callback_opened_in_another_browser_is_refused(
    sso_system: SsoSystem, pool: asyncpg.Pool
) -> None:
    """Login CSRF: the state is bound to the browser that began the sign-in."""
    person = sso_system.people["replay"]
    async with httpx.AsyncClient() as attacker:
        url = await sign_in_url(attacker, sso_system.app.url, person.login)
    async with httpx.AsyncClient() as victim:
        response = await victim.get(url)
    _refused(response, 400, "state_invalid", "登录请求已失效或已被使用")
    await _nothing_created(pool, sso_system, person)


async def test_a_replayed_code_is_refused(sso_system: SsoSystem, pool: asyncpg.Pool) -> None:
    person = sso_system.people["replay"]
    app = sso_system.app
    async with httpx.AsyncClient() as client:
        url = await sign_in_url(client, app.url, person.login)
        first = await client.get(url)
        assert first.status_code == 303
        # the same callback again: its state was used
        _refused(await client.get(url), 400, "state_invalid", "登录请求已失效或已被使用")
        # the used code with a fresh state: the provider refuses it
        fresh_state = parse_qs(urlsplit(await start(client, app.url)).query)["state"][0]
        code = parse_qs(urlsplit(url).query)["code"][0]
        replay = await client.get(sso_system.callback, params={"code": code, "state": fresh_state})
    _refused(replay, 400, "code_rejected", "授权码无效、已过期或已被使用")


async def test_an_id_token_signed_by_another_key_is_refused(
    sso_system: SsoSystem, pool: asyncpg.Pool
) -> None:
    person = sso_system.people["other_key"]
    async with httpx.AsyncClient() as client:
        url = await sign_in_url(client, sso_system.app.url, person.login)
        await sso_system.provider.sign_with_other_key(True)
        try:
            response = await client.get(url)
        finally:
            await sso_system.provider.sign_with_other_key(False)
    _refused(response, 400, "id_token_signature", "身份令牌的签名无效")
    await _nothing_created(pool, sso_system, person)


async def test_an_expired_id_token_is_refused(sso_system: SsoSystem, pool: asyncpg.Pool) -> None:
    """The provider's ID tokens live 120 s; the exam system's clock is 300 s
    ahead when the callback comes (its sign-in row lives 10 minutes)."""
    person = sso_system.people["expired"]
    async with httpx.AsyncClient() as client:
        url = await sign_in_url(client, sso_system.app.url, person.login)
        sso_system.clock.advance(300)
        try:
            response = await client.get(url)
        finally:
            sso_system.clock.advance(-300)
    _refused(response, 400, "id_token_expired", "身份令牌已过期")
    await _nothing_created(pool, sso_system, person)


async def test_a_missing_required_claim_is_refused(
    sso_system: SsoSystem, pool: asyncpg.Pool
) -> None:
    person = sso_system.people["no_id_card"]
    async with httpx.AsyncClient() as client:
        response = await client.get(await sign_in_url(client, sso_system.app.url, person.login))
    _refused(response, 422, "claim_missing", "统一身份认证平台未提供身份证号码（sfzh）")
    await _nothing_created(pool, sso_system, person)


async def test_an_id_card_number_failing_its_check_digit_is_refused(
    sso_system: SsoSystem, pool: asyncpg.Pool
) -> None:
    person = sso_system.people["bad_check"]
    async with httpx.AsyncClient() as client:
        response = await client.get(await sign_in_url(client, sso_system.app.url, person.login))
    _refused(response, 422, "claim_invalid", "身份证号码校验位不正确")
    await _nothing_created(pool, sso_system, person)


async def test_a_staff_id_card_is_not_linked(sso_system: SsoSystem, pool: asyncpg.Pool) -> None:
    person = sso_system.people["staff"]
    await create_user(pool, role="reviewer", id_card=person.id_card)
    async with httpx.AsyncClient() as client:
        response = await client.get(await sign_in_url(client, sso_system.app.url, person.login))
    _refused(response, 409, "id_card_staff", "该身份证号码属于工作人员账号")
    async with pool.acquire() as conn:
        links = await conn.fetchval("SELECT count(*) FROM sso_links WHERE subject = $1", "staff")
    assert links == 0


async def test_logout_ends_the_local_session_and_the_providers(sso_system: SsoSystem) -> None:
    person = sso_system.people["later"]
    app, issuer = sso_system.app, sso_system.provider.issuer
    async with httpx.AsyncClient() as client:
        await client.get(await sign_in_url(client, app.url, person.login))
        csrf = (await _me(client, app))["csrf_token"]
        assert isinstance(csrf, str)
        out = await client.post(f"{app.url}/api/auth/logout", headers={"X-CSRF-Token": csrf})
        end_session = out.json()["end_session"]
        assert (await client.get(f"{app.url}/api/auth/me")).status_code == 401
        query = parse_qs(urlsplit(end_session).query)
        assert end_session.startswith(f"{issuer}/session/end?")
        assert query["post_logout_redirect_uri"] == [f"{app.url}/static/login.html"]
        assert query["client_id"] == ["proctor-exam"] and query["id_token_hint"]
        # the provider's logout page, confirmed: back to the exam system's login page
        action, fields = form_of(await client.get(end_session))
        done = await client.post(action, data={**fields, "logout": "yes"})
        assert done.status_code == 303
        assert done.headers["location"] == f"{app.url}/static/login.html"
        # the provider's session is gone: a new sign-in shows its login page again
        location = await start(client, app.url)
        page = await client.get(location, follow_redirects=True)
        assert 'name="login"' in page.text
