"""Uploads over the real API (rule B4): by content, capped, private to their owner and staff."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator

import asyncpg
import httpx
import pytest
from PIL import Image

from proctor.settings import Settings
from tests.support import files
from tests.support.accounts import clear_rate_limits, signed_in_client, unique_phone
from tests.support.live import LiveServer
from tests.support.users import create_user


@pytest.fixture
async def http(server: LiveServer, pool: asyncpg.Pool) -> AsyncIterator[httpx.AsyncClient]:
    await clear_rate_limits(pool)
    user = await create_user(pool, phone=unique_phone())
    async with await signed_in_client(server.url, pool, user.id) as client:
        yield client


async def test_pdf_is_stored_under_data_dir_with_a_random_name(
    http: httpx.AsyncClient, pool: asyncpg.Pool, settings: Settings
) -> None:
    r = await http.post(
        "/api/uploads", params={"name": "../../承诺书.pdf"}, content=files.pdf_bytes()
    )
    assert r.status_code == 201, r.text
    body = r.json()
    assert (body["kind"], body["name"]) == ("pdf", "承诺书.pdf")
    async with pool.acquire() as conn:
        relpath = await conn.fetchval("SELECT relpath FROM uploads WHERE id = $1", body["id"])
    assert "承诺书" not in relpath
    assert (settings.data_dir / "uploads" / relpath).read_bytes() == files.pdf_bytes()
    got = await http.get(body["url"])
    assert got.status_code == 200
    assert got.headers["content-type"] == "application/pdf"
    assert got.headers["x-content-type-options"] == "nosniff"
    assert got.content == files.pdf_bytes()


@pytest.mark.parametrize(
    ("data", "name", "status", "code"),
    [
        (files.zip_bytes(), "承诺书.jpg", 422, "upload_type"),  # claims .jpg, is a zip
        (files.truncated_pdf(), "承诺书.pdf", 422, "upload_pdf_broken"),
        (files.truncated_jpeg(), "承诺书.jpg", 422, "upload_image_broken"),
        (files.huge_png(), "承诺书.png", 422, "upload_image_too_large"),  # 20000×20000
        (b"", "empty.pdf", 422, "upload_empty"),
    ],
)
async def test_bad_files_are_refused_and_not_stored(
    http: httpx.AsyncClient,
    pool: asyncpg.Pool,
    data: bytes,
    name: str,
    status: int,
    code: str,
) -> None:
    async with pool.acquire() as conn:
        before = await conn.fetchval("SELECT count(*) FROM uploads")
    r = await http.post("/api/uploads", params={"name": name}, content=data)
    assert (r.status_code, r.json()["error"]) == (status, code)
    assert r.json()["message"]
    async with pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM uploads") == before


async def test_50_mb_upload_is_refused(http: httpx.AsyncClient) -> None:
    """Rule B4: the size cap (10 MB) is enforced before the body is read."""
    r = await http.post(
        "/api/uploads",
        params={"name": "big.pdf"},
        content=b"%PDF-1.4\n" + b"\0" * (50 * 1024 * 1024),
    )
    assert (r.status_code, r.json()["error"]) == (413, "upload_too_large")


async def test_50_mb_chunked_upload_is_cut_off(http: httpx.AsyncClient) -> None:
    """Without a Content-Length the stream is counted and cut at the cap."""

    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(50):
            yield b"\0" * (1024 * 1024)

    r = await http.post("/api/uploads", params={"name": "big.pdf"}, content=chunks())
    assert (r.status_code, r.json()["error"]) == (413, "upload_too_large")


async def test_only_owner_and_staff_can_read_a_file(
    http: httpx.AsyncClient, server: LiveServer, pool: asyncpg.Pool
) -> None:
    url = (
        await http.post("/api/uploads", params={"name": "a.png"}, content=files.png_bytes())
    ).json()["url"]
    other = await create_user(pool, phone=unique_phone())
    async with await signed_in_client(server.url, pool, other.id) as stranger:
        r = await stranger.get(url)
        assert (r.status_code, r.json()["error"]) == (404, "upload_not_found")
    for role, expected in (("reviewer", 200), ("admin", 200), ("invigilator", 404)):
        staff = await create_user(pool, role=role)
        async with await signed_in_client(server.url, pool, staff.id) as client:
            assert (await client.get(url)).status_code == expected, role
    async with httpx.AsyncClient(base_url=server.url) as anonymous:
        assert (await anonymous.get(url)).status_code == 401


async def test_upload_needs_the_csrf_header(http: httpx.AsyncClient) -> None:
    r = await http.post(
        "/api/uploads", content=files.pdf_bytes(), headers={"X-CSRF-Token": "wrong"}
    )
    assert (r.status_code, r.json()["error"]) == (403, "csrf_failed")


# ---------------------------------------------------------------- issue #9: trust


async def test_pdf_with_javascript_is_refused_in_chinese(
    http: httpx.AsyncClient, pool: asyncpg.Pool
) -> None:
    async with pool.acquire() as conn:
        before = await conn.fetchval("SELECT count(*) FROM uploads")
    r = await http.post("/api/uploads", params={"name": "承诺书.pdf"}, content=files.JS_OPEN_ACTION)
    assert (r.status_code, r.json()["error"]) == (422, "upload_pdf_active")
    assert "脚本" in r.json()["message"]
    async with pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM uploads") == before


async def test_pdf_html_polyglot_is_refused(http: httpx.AsyncClient) -> None:
    r = await http.post(
        "/api/uploads", params={"name": "承诺书.pdf"}, content=files.pdf_html_polyglot()
    )
    assert (r.status_code, r.json()["error"]) == (422, "upload_pdf_polyglot")


async def test_stored_photo_has_no_gps(
    http: httpx.AsyncClient, pool: asyncpg.Pool, settings: Settings
) -> None:
    r = await http.post("/api/uploads", params={"name": "photo.jpg"}, content=files.jpeg_with_gps())
    assert r.status_code == 201, r.text
    async with pool.acquire() as conn:
        relpath = await conn.fetchval("SELECT relpath FROM uploads WHERE id = $1", r.json()["id"])
    stored = (settings.data_dir / "uploads" / relpath).read_bytes()
    assert not Image.open(io.BytesIO(stored)).getexif()
    served = (await http.get(r.json()["url"])).content
    assert served == stored and b"ProctorPhone" not in served


async def test_pdf_is_served_as_a_sandboxed_attachment_of_its_real_type(
    http: httpx.AsyncClient,
) -> None:
    """The name says .html; the kind was decided by content, and so is the type served."""
    url = (
        await http.post("/api/uploads", params={"name": "letter.html"}, content=files.pdf_bytes())
    ).json()["url"]
    r = await http.get(url)
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/pdf"
    assert r.headers["content-disposition"].startswith("attachment;")
    assert r.headers["x-content-type-options"] == "nosniff"
    csp = r.headers["content-security-policy"]
    assert csp.startswith("sandbox") and "default-src 'none'" in csp


async def test_picture_is_served_inline_in_a_sandbox(http: httpx.AsyncClient) -> None:
    url = (
        await http.post("/api/uploads", params={"name": "a.svg"}, content=files.png_bytes())
    ).json()["url"]
    r = await http.get(url)
    assert r.headers["content-type"] == "image/png"
    assert r.headers["content-disposition"].startswith("inline;")
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["content-security-policy"].startswith("sandbox")
