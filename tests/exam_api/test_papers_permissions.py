"""Permission matrix of the papers endpoints: each role × each endpoint.

Denied means 401 ``not_signed_in`` (no session) or 403 ``forbidden`` (wrong
role); allowed means the handler ran (any other answer: 200, 400, 404, 409).
"""

from __future__ import annotations

import asyncpg
import httpx
import pytest

from tests.support.live import LiveServer
from tests.support.papers import candidate_with_request, client_for
from tests.support.users import create_user

CANDIDATE = {"candidate"}
REVIEWERS = {"reviewer", "admin"}
ADMIN = {"admin"}
MISSING = 999_999_999

# (method, path, json body, roles allowed)
ENDPOINTS: list[tuple[str, str, object, set[str]]] = [
    ("GET", "/api/papers", None, CANDIDATE),
    ("POST", "/api/attempts", {"paper_id": MISSING}, CANDIDATE),
    ("GET", f"/api/attempts/{MISSING}", None, CANDIDATE),
    ("POST", f"/api/attempts/{MISSING}/tokens", None, CANDIDATE),
    ("PUT", f"/api/attempts/{MISSING}/answers/1", {"answer": "A"}, CANDIDATE),
    ("POST", f"/api/attempts/{MISSING}/submit", None, CANDIDATE),
    ("GET", "/api/records", None, CANDIDATE),
    ("GET", "/api/result-reviews", None, REVIEWERS),
    ("POST", f"/api/result-reviews/{MISSING}", {"decision": "passed"}, REVIEWERS),
    ("GET", "/api/admin/classes", None, ADMIN),
    ("POST", "/api/admin/classes", {"name": ""}, ADMIN),
    ("GET", f"/api/admin/classes/{MISSING}", None, ADMIN),
    ("POST", f"/api/admin/classes/{MISSING}/members", {"username": "x"}, ADMIN),
    ("DELETE", f"/api/admin/classes/{MISSING}/members/1", None, ADMIN),
    ("GET", "/api/admin/banks", None, ADMIN),
    ("POST", "/api/admin/banks", {"name": ""}, ADMIN),
    ("GET", f"/api/admin/banks/{MISSING}/questions", None, ADMIN),
    ("POST", f"/api/admin/banks/{MISSING}/questions", {"kind": "x"}, ADMIN),
    ("POST", f"/api/admin/banks/{MISSING}/import", None, ADMIN),
    ("DELETE", f"/api/admin/questions/{MISSING}", None, ADMIN),
    ("GET", "/api/admin/papers", None, ADMIN),
    ("POST", "/api/admin/papers", {"class_id": 0}, ADMIN),
    ("DELETE", f"/api/admin/papers/{MISSING}", None, ADMIN),
]
ROLES = ["anonymous", "candidate", "reviewer", "invigilator", "admin"]


@pytest.fixture(scope="module")
async def clients(server: LiveServer, pool: asyncpg.Pool) -> dict[str, httpx.AsyncClient]:
    out = {"anonymous": httpx.AsyncClient(base_url=server.url)}
    for role in ROLES[1:]:
        user = (
            await candidate_with_request(pool)
            if role == "candidate"
            else await create_user(pool, role)
        )
        out[role] = await client_for(server.url, pool, user.id)
    return out


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize(
    ("method", "path", "body", "allowed"), ENDPOINTS, ids=[f"{m} {p}" for m, p, _, _ in ENDPOINTS]
)
async def test_role_matrix(
    clients: dict[str, httpx.AsyncClient],
    role: str,
    method: str,
    path: str,
    body: object,
    allowed: set[str],
) -> None:
    r = await clients[role].request(method, path, json=body)
    error = (
        r.json().get("error")
        if r.headers.get("content-type", "").startswith("application/json")
        else None
    )
    if role == "anonymous":
        assert (r.status_code, error) == (401, "not_signed_in")
    elif role in allowed:
        assert error not in ("not_signed_in", "forbidden", "csrf_failed"), r.text
    else:
        assert (r.status_code, error) == (403, "forbidden"), r.text


async def test_state_changes_need_the_csrf_token(server: LiveServer, pool: asyncpg.Pool) -> None:
    admin = await create_user(pool, "admin")
    signed = await client_for(server.url, pool, admin.id)
    async with httpx.AsyncClient(base_url=server.url, cookies=signed.cookies) as http:
        r = await http.post("/api/admin/classes", json={"name": "无令牌"})
    await signed.aclose()
    assert (r.status_code, r.json()["error"]) == (403, "csrf_failed")
