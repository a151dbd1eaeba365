"""The phone's way in: QR code and address for the attempt's owner only, the
phone's info and token refresh with its phone token (rules D3, D4)."""

from __future__ import annotations

import time
from urllib.parse import parse_qs, urlsplit

import asyncpg
import httpx

from exam_api.phone_codes import ALPHABET, normalized, shown
from exam_api.phone_link import loopback_warning, mask_name, phone_base, phone_url, qr_svg
from hub.tokens import sign_device_token, verify_device_token
from proctor.settings import Settings
from tests.support.accounts import clear_rate_limits
from tests.support.live import LiveServer
from tests.support.papers import candidate_with_request, class_with_papers, client_for
from tests.support.users import create_user


async def _running(server: LiveServer, pool: asyncpg.Pool) -> tuple[int, int, str]:
    """A candidate with a running mock attempt: (user id, attempt id, phone token)."""
    user = await candidate_with_request(pool)
    papers = await class_with_papers(pool, [user.id])
    async with await client_for(server.url, pool, user.id) as http:
        r = await http.post("/api/attempts", json={"paper_id": papers.mock_id})
    assert r.status_code == 200, r.text
    return user.id, r.json()["attempt_id"], r.json()["phone_token"]


def test_qr_svg_and_phone_url() -> None:
    url = phone_url("http://exam.example/", "v1.7.phone.99.mac")
    assert url == "http://exam.example/static/phone.html?token=v1.7.phone.99.mac"
    svg = qr_svg(url).decode()
    assert svg.startswith("<svg") and svg.rstrip().endswith("</svg>")


def test_the_phone_gets_a_reachable_address() -> None:
    # a PC page on the server itself (loopback): the configured public address
    assert phone_base("http://127.0.0.1:8000/", "http://10.0.0.5:8000") == "http://10.0.0.5:8000"
    assert phone_base("http://localhost:8000/", "https://exam.example") == "https://exam.example"
    # otherwise the address the PC page uses (behind the same proxy as the phone)
    assert phone_base("https://exam.example/", "http://0.0.0.0:8000") == "https://exam.example/"
    assert phone_base("http://127.0.0.1:8000/", "http://0.0.0.0:8000") == "http://127.0.0.1:8000/"


def test_mask_name_keeps_first_and_last() -> None:
    assert mask_name("张三") == "张*"
    assert mask_name("欧阳娜娜") == "欧**娜"
    assert mask_name("李") == "李"
    assert mask_name("") == ""


async def test_owner_gets_the_qr_code_and_the_address(
    server: LiveServer, pool: asyncpg.Pool, settings: Settings
) -> None:
    user_id, attempt_id, _ = await _running(server, pool)
    async with await client_for(server.url, pool, user_id) as http:
        qr = await http.get(f"/api/attempts/{attempt_id}/phone-qr")
        link = await http.get(f"/api/attempts/{attempt_id}/phone-link")
    # rule D3: the QR code is an SVG image, never cached
    assert qr.status_code == 200, qr.text
    assert qr.headers["content-type"].startswith("image/svg+xml")
    assert qr.headers["cache-control"] == "no-store"
    assert b"<svg" in qr.content
    assert link.status_code == 200, link.text
    url = urlsplit(link.json()["url"])
    assert url.path == "/static/phone.html"
    assert f"{url.scheme}://{url.netloc}" == server.url
    token = parse_qs(url.query)["token"][0]
    claim = verify_device_token(settings.secret_key, token, time.time())
    assert (claim.attempt_id, claim.device) == (attempt_id, "phone")


async def test_others_get_no_qr_code(server: LiveServer, pool: asyncpg.Pool) -> None:
    _, attempt_id, _ = await _running(server, pool)
    other = await candidate_with_request(pool)
    reviewer = await create_user(pool, "reviewer")
    for path in (f"/api/attempts/{attempt_id}/phone-qr", f"/api/attempts/{attempt_id}/phone-link"):
        async with await client_for(server.url, pool, other.id) as http:
            r = await http.get(path)
        assert r.status_code == 404 and r.json()["error"] == "attempt_not_found"
        async with await client_for(server.url, pool, reviewer.id) as http:
            r = await http.get(path)
        assert r.status_code == 403
        async with httpx.AsyncClient(base_url=server.url) as anonymous:
            r = await anonymous.get(path)
        assert r.status_code == 401
    async with await client_for(server.url, pool, other.id) as http:
        r = await http.get("/api/attempts/999999999/phone-qr")
    assert r.status_code == 404


async def test_no_qr_code_after_the_end(server: LiveServer, pool: asyncpg.Pool) -> None:
    user_id, attempt_id, _ = await _running(server, pool)
    async with await client_for(server.url, pool, user_id) as http:
        assert (await http.post(f"/api/attempts/{attempt_id}/submit")).status_code == 200
        r = await http.get(f"/api/attempts/{attempt_id}/phone-qr")
    assert r.status_code == 409 and r.json()["error"] == "attempt_ended"


async def test_phone_info_and_token_refresh(
    server: LiveServer, pool: asyncpg.Pool, settings: Settings
) -> None:
    user_id, attempt_id, phone_token = await _running(server, pool)
    async with httpx.AsyncClient(base_url=server.url) as phone:
        auth = {"Authorization": f"Bearer {phone_token}"}
        info = await phone.get("/api/phone/info", headers=auth)
        assert info.status_code == 200, info.text
        body = info.json()
        # rule D3: enough to recognise one's own exam, the name masked
        assert body["attempt_id"] == attempt_id
        assert body["candidate"] == "测**生"  # 测试考生
        assert body["paper"]["kind"] == "mock" and body["status"] == "in_progress"
        assert body["binding_key"] == f"u{user_id}"

        fresh = await phone.post("/api/phone/token", headers=auth)
        assert fresh.status_code == 200, fresh.text
        claim = verify_device_token(settings.secret_key, fresh.json()["token"], time.time())
        assert (claim.attempt_id, claim.device) == (attempt_id, "phone")
        assert fresh.json()["ws_phone_url"].endswith(f"/ws/phone?token={fresh.json()['token']}")

        # bad input: no token, a forged or expired one, the PC's token
        assert (await phone.get("/api/phone/info")).status_code == 401
        forged = {"Authorization": f"Bearer {phone_token[:-2]}00"}
        assert (await phone.get("/api/phone/info", headers=forged)).status_code == 401
        expired = sign_device_token(settings.secret_key, attempt_id, "phone", time.time() - 600, 60)
        r = await phone.get("/api/phone/info", headers={"Authorization": f"Bearer {expired}"})
        assert r.status_code == 401 and "重新扫描" in r.json()["message"]
        pc = sign_device_token(settings.secret_key, attempt_id, "pc", time.time(), 60)
        r = await phone.post("/api/phone/token", headers={"Authorization": f"Bearer {pc}"})
        assert r.status_code == 403 and r.json()["error"] == "wrong_device"

    # after the end the phone still sees its exam, but gets no new token
    async with await client_for(server.url, pool, user_id) as http:
        assert (await http.post(f"/api/attempts/{attempt_id}/submit")).status_code == 200
    async with httpx.AsyncClient(base_url=server.url) as phone:
        info = await phone.get("/api/phone/info", headers=auth)
        assert info.json()["status"] == "ended"
        r = await phone.post("/api/phone/token", headers=auth)
        assert r.status_code == 409


def test_short_codes_are_read_as_typed() -> None:
    # issue #14: case, spaces and dashes do not matter; look-alikes are not in the alphabet
    assert not set("01IOL") & set(ALPHABET)
    assert shown("K7MW3QXP") == "K7MW-3QXP"
    assert normalized(" k7mw-3qxp ") == "K7MW3QXP"
    assert normalized("K7MW 3QXP") == "K7MW3QXP"
    for bad in ("K7MW3QX", "K7MW3QXPP", "K7MW3QX0", "", None, 12345678, "K" * 40):
        assert normalized(bad) is None


def test_a_loopback_public_address_is_warned_about() -> None:
    assert "PROCTOR_PUBLIC_URL" in (loopback_warning("http://127.0.0.1:8000") or "")
    assert loopback_warning("http://localhost:8000") is not None
    assert loopback_warning("https://exam.example.gov.cn") is None


async def test_the_short_code_binds_a_phone_once(
    server: LiveServer, pool: asyncpg.Pool, settings: Settings
) -> None:
    """Issue #14 (rule D3): the 8-character code shown on the PC, typed at /p,
    is traded once for a phone token of that attempt."""
    await clear_rate_limits(pool)
    user_id, attempt_id, _ = await _running(server, pool)
    async with await client_for(server.url, pool, user_id) as http:
        link = (await http.get(f"/api/attempts/{attempt_id}/phone-link")).json()
    assert link["short_url"] == f"{server.url}/p"
    assert normalized(link["code"]) is not None
    async with httpx.AsyncClient(base_url=server.url) as phone:
        short = await phone.get("/p")
        assert (short.status_code, short.headers["location"]) == (302, "/static/phone.html")
        bound = await phone.post("/api/phone/bind", json={"code": link["code"].lower()})
        assert bound.status_code == 200, bound.text
        claim = verify_device_token(settings.secret_key, bound.json()["token"], time.time())
        assert (claim.attempt_id, claim.device) == (attempt_id, "phone")
        info = await phone.get(
            "/api/phone/info", headers={"Authorization": f"Bearer {bound.json()['token']}"}
        )
        assert info.json()["attempt_id"] == attempt_id
        again = await phone.post("/api/phone/bind", json={"code": link["code"]})
        assert (again.status_code, again.json()["error"]) == (404, "code_unknown")
        assert "绑定码无效或已过期" in again.json()["message"]
        bad = await phone.post("/api/phone/bind", json={"code": "not a code"})
        assert (bad.status_code, bad.json()["error"]) == (422, "bad_code")


async def test_a_new_code_replaces_the_old_one(server: LiveServer, pool: asyncpg.Pool) -> None:
    await clear_rate_limits(pool)
    user_id, attempt_id, _ = await _running(server, pool)
    async with await client_for(server.url, pool, user_id) as http:
        first = (await http.get(f"/api/attempts/{attempt_id}/phone-link")).json()["code"]
        second = (await http.get(f"/api/attempts/{attempt_id}/phone-link")).json()["code"]
    async with httpx.AsyncClient(base_url=server.url) as phone:
        old = await phone.post("/api/phone/bind", json={"code": first})
        assert old.status_code == 404
        assert (await phone.post("/api/phone/bind", json={"code": second})).status_code == 200


async def test_guessing_codes_is_rate_limited(server: LiveServer, pool: asyncpg.Pool) -> None:
    # a hostile client trying codes: refused after 30 tries from one address
    await clear_rate_limits(pool)
    async with httpx.AsyncClient(base_url=server.url) as guesser:
        answers = [
            (
                await guesser.post(
                    "/api/phone/bind",
                    json={"code": f"2222{n:04d}".replace("0", "Z").replace("1", "Y")},
                )
            ).status_code
            for n in range(31)
        ]
    assert answers[:30] == [404] * 30
    assert answers[30] == 429
    await clear_rate_limits(pool)
