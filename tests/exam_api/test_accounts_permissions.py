"""Permission matrix of the accounts, request, upload and review endpoints:
each role (and no session) × each endpoint.  ``ok`` means the role check let the
call through (whatever the business answer); 401/403/404 are the refusals."""

from __future__ import annotations

import asyncpg
import httpx
import pytest

from tests.support import files
from tests.support.accounts import clear_rate_limits, signed_in_client, unique_phone
from tests.support.live import LiveServer
from tests.support.users import create_user

ROLES = ("anonymous", "candidate", "reviewer", "invigilator", "admin")
OK = "ok"

# (method, path, body) → expected outcome per role, in the order of ROLES.
MATRIX: list[tuple[str, str, object, tuple[object, ...]]] = [
    ("GET", "/api/requests/mine", None, (401, OK, 403, 403, 403)),
    ("GET", "/api/training/me", None, (401, OK, 403, 403, 403)),
    ("POST", "/api/requests", {}, (401, OK, 403, 403, 403)),
    ("POST", "/api/uploads", "pdf", (401, OK, 403, 403, 403)),
    ("GET", "/api/uploads/{upload}", None, (401, 404, OK, 404, OK)),
    ("GET", "/api/review/requests", None, (401, 403, OK, 403, OK)),
    ("GET", "/api/review/requests/{request}", None, (401, 403, OK, 403, OK)),
    ("POST", "/api/review/requests/{request}/decision", {"decision": "x"}, (401, 403, OK, 403, OK)),
    ("POST", "/api/auth/logout", None, (401, OK, OK, OK, OK)),
    ("GET", "/api/auth/me", None, (401, OK, OK, OK, OK)),
]


@pytest.fixture(scope="module")
async def fixtures(server: LiveServer, pool: asyncpg.Pool) -> dict[str, int]:
    """Another candidate's upload and request ids, for the paths that take an id."""
    owner = await create_user(pool, phone=unique_phone())
    async with await signed_in_client(server.url, pool, owner.id) as http:
        upload = (await http.post("/api/uploads", content=files.pdf_bytes())).json()["id"]
    async with pool.acquire() as conn:
        request = await conn.fetchval(
            """INSERT INTO exam_requests (user_id, candidate_type, category, real_name, id_card,
                   gender, phone, company_name, company_uscc, position, submitted_at)
               VALUES ($1, 'social', 'A', '甲', '11010519491231002X', 'female', '13900000000',
                   '公司', '91350100M000100Y43', '经理', now()) RETURNING id""",
            owner.id,
        )
    return {"upload": upload, "request": request}


@pytest.mark.parametrize(("method", "path", "body", "expected"), MATRIX)
@pytest.mark.parametrize("role_index", range(len(ROLES)), ids=ROLES)
async def test_permission_matrix(
    server: LiveServer,
    pool: asyncpg.Pool,
    fixtures: dict[str, int],
    method: str,
    path: str,
    body: object,
    expected: tuple[object, ...],
    role_index: int,
) -> None:
    await clear_rate_limits(pool)
    role = ROLES[role_index]
    url = path.format(**fixtures)
    if role == "anonymous":
        client = httpx.AsyncClient(base_url=server.url)
    else:
        user = await create_user(pool, role=role, phone=unique_phone())
        client = await signed_in_client(server.url, pool, user.id)
    async with client:
        if body == "pdf":
            r = await client.request(method, url, content=files.pdf_bytes())
        else:
            r = await client.request(method, url, json=body)
    want = expected[role_index]
    if want == OK:
        assert r.status_code not in (401, 403), (role, method, url, r.text)
        if r.status_code == 404:
            assert r.json()["error"] not in ("upload_not_found",), (role, url)
    else:
        assert r.status_code == want, (role, method, url, r.text)
