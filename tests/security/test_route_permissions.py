"""One authorization matrix over every route of the app (issue #9).

Generated from the app's route table: a route without a rule here fails the
test, so a new endpoint cannot ship without saying who may call it. Each
HTTP route is called by every role — anonymous, the candidate who owns the
objects, another candidate, a reviewer, the invigilator of the attempt's
room, an invigilator of another room, an administrator — against objects
that really exist. A role the rule denies must get 401, 403 or 404 (404:
"not yours", no existence leak); a role it allows must pass the check (any
answer but 401/403/404: a 400 for the empty body is fine). Each allowed call
runs on a world of its own, so a DELETE cannot hide a later role's answer.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
from starlette.routing import Route, WebSocketRoute

from exam_api.assignments import assign
from exam_api.rooms import fill_rooms
from exam_api.sittings import assign_candidates, create_sitting
from tests.support import files
from tests.support.live import LiveServer
from tests.support.papers import candidate_with_request, class_with_papers
from tests.support.users import create_class_with_paper, create_user, login_cookies

ROLES = (
    "anonymous",
    "owner",
    "other_candidate",
    "reviewer",
    "invigilator",
    "other_invigilator",
    "admin",
)
PUBLIC = frozenset(ROLES)
SIGNED_IN = PUBLIC - {"anonymous"}
CANDIDATE = frozenset({"owner", "other_candidate"})
OWNER = frozenset({"owner"})
ADMIN = frozenset({"admin"})
REVIEW = frozenset({"reviewer", "admin"})
ROOM = frozenset({"invigilator", "admin"})  # the attempt's room (admins: every room)
EVIDENCE = frozenset({"reviewer", "invigilator", "admin"})
WATCHERS = frozenset({"invigilator", "other_invigilator", "admin"})  # each sees their rooms
DEVICE = "device token"  # called with a device's token, not a cookie (tests/hub, webrtc)

# (method, path) → who may call it. Keep in step with docs/api.md.
RULES: dict[tuple[str, str], frozenset[str] | str] = {
    ("GET", "/"): PUBLIC,
    ("GET", "/healthz"): PUBLIC,
    ("GET", "/readyz"): PUBLIC,
    ("GET", "/metrics"): PUBLIC,  # figures only; keep it off the public address (deployment)
    ("GET", "/api/auth/captcha"): PUBLIC,
    ("POST", "/api/auth/login"): PUBLIC,
    ("POST", "/api/auth/login/verify"): PUBLIC,
    ("POST", "/api/auth/sms"): PUBLIC,
    ("POST", "/api/auth/register"): PUBLIC,
    ("POST", "/api/auth/reset"): PUBLIC,
    ("POST", "/api/auth/logout"): SIGNED_IN,
    ("GET", "/api/dev/sms-outbox"): ADMIN,
    ("GET", "/api/auth/me"): SIGNED_IN,
    # single sign-on (issue #15): the sign-in itself; tests/exam_api/test_oidc.py
    ("GET", "/api/auth/oidc/config"): PUBLIC,
    ("GET", "/api/auth/oidc/start"): PUBLIC,
    ("GET", "/api/auth/oidc/callback"): PUBLIC,
    ("POST", "/api/uploads"): CANDIDATE,
    ("POST", "/api/uploads/id-photo"): CANDIDATE,  # rule I1
    ("GET", "/api/uploads/{upload_id:int}"): OWNER | REVIEW,
    ("GET", "/api/requests/mine"): CANDIDATE,
    ("POST", "/api/requests"): CANDIDATE,
    ("GET", "/api/training/me"): CANDIDATE,
    ("GET", "/api/review/requests"): REVIEW,
    ("GET", "/api/review/requests/{request_id:int}"): REVIEW,
    ("POST", "/api/review/requests/{request_id:int}/decision"): REVIEW,
    ("GET", "/api/admin/classes"): ADMIN,
    ("POST", "/api/admin/classes"): ADMIN,
    ("GET", "/api/admin/classes/{class_id:int}"): ADMIN,
    ("POST", "/api/admin/classes/{class_id:int}/members"): ADMIN,
    ("DELETE", "/api/admin/classes/{class_id:int}/members/{user_id:int}"): ADMIN,
    ("GET", "/api/admin/banks"): ADMIN,
    ("POST", "/api/admin/banks"): ADMIN,
    ("GET", "/api/admin/banks/{bank_id:int}/questions"): ADMIN,
    ("POST", "/api/admin/banks/{bank_id:int}/questions"): ADMIN,
    ("POST", "/api/admin/banks/{bank_id:int}/import"): ADMIN,
    ("DELETE", "/api/admin/questions/{question_id:int}"): ADMIN,
    ("GET", "/api/papers"): CANDIDATE,
    ("GET", "/api/admin/papers"): ADMIN,
    ("POST", "/api/admin/papers"): ADMIN,
    ("DELETE", "/api/admin/papers/{paper_id:int}"): ADMIN,
    ("POST", "/api/attempts"): CANDIDATE,
    ("GET", "/api/attempts/{attempt_id:int}"): OWNER,
    ("POST", "/api/attempts/{attempt_id:int}/tokens"): OWNER,
    ("PUT", "/api/attempts/{attempt_id:int}/answers/{question_id:int}"): OWNER,
    ("POST", "/api/attempts/{attempt_id:int}/submit"): OWNER,
    # rule I2: the face check before answering; tests/exam_api/test_identity_check.py
    ("GET", "/api/attempts/{attempt_id:int}/identity"): OWNER,
    ("POST", "/api/attempts/{attempt_id:int}/identity/try"): OWNER,
    ("GET", "/api/invigilate/attempts/{attempt_id:int}/identity"): ROOM,
    ("POST", "/api/invigilate/attempts/{attempt_id:int}/identity"): ROOM,
    ("GET", "/api/invigilate/attempts/{attempt_id:int}/id-photo"): ROOM,
    ("GET", "/api/records"): CANDIDATE,
    ("GET", "/api/result-reviews"): REVIEW,
    ("POST", "/api/result-reviews/{attempt_id:int}"): REVIEW,
    ("GET", "/api/attempts/{attempt_id:int}/phone-qr"): OWNER,
    ("GET", "/api/attempts/{attempt_id:int}/phone-link"): OWNER,
    ("GET", "/api/phone/info"): DEVICE,
    ("POST", "/api/phone/token"): DEVICE,
    ("POST", "/api/phone/bind"): PUBLIC,  # the short code is the credential (rate-limited)
    ("GET", "/p"): PUBLIC,
    ("GET", "/api/admin/invigilation/assignments"): ADMIN,
    ("POST", "/api/admin/classes/{class_id:int}/invigilators"): ADMIN,
    ("DELETE", "/api/admin/classes/{class_id:int}/invigilators/{user_id:int}"): ADMIN,
    ("GET", "/api/invigilate/sessions"): WATCHERS,
    ("POST", "/api/invigilate/attempts/{attempt_id:int}/warn"): ROOM,
    ("POST", "/api/invigilate/attempts/{attempt_id:int}/end"): ROOM,
    ("POST", "/api/invigilate/attempts/{attempt_id:int}/forgive"): ROOM,
    ("POST", "/api/invigilate/attempts/{attempt_id:int}/watch"): ROOM,
    ("GET", "/api/invigilate/attempts/{attempt_id:int}/live.jpg"): ROOM,
    ("POST", "/api/invigilate/attempts/{attempt_id:int}/live-video"): ROOM,
    ("GET", "/api/invigilate/attempts/{attempt_id:int}/messages"): ROOM,  # rule L1
    ("POST", "/api/invigilate/attempts/{attempt_id:int}/messages"): ROOM,
    ("POST", "/api/invigilate/attempts/{attempt_id:int}/answered"): ROOM,
    ("POST", "/api/invigilate/rooms/{class_id:int}/messages"): ROOM,
    ("GET", "/api/invigilate/presets"): WATCHERS,
    ("PUT", "/api/admin/contact/presets"): ADMIN,
    ("GET", "/api/attempts/{attempt_id:int}/timeline"): EVIDENCE,
    # issue #12 (H7, M4): tests/exam_api/test_audit.py
    ("GET", "/api/attempts/{attempt_id:int}/chain"): EVIDENCE,
    ("GET", "/api/attempts/{attempt_id:int}/evidence.zip"): REVIEW,
    ("GET", "/api/exports/classes/{class_id:int}/results.csv"): REVIEW,
    ("GET", "/api/exports/classes/{class_id:int}/results.xlsx"): REVIEW,
    ("POST", "/api/admin/classes/{class_id:int}/members/bulk"): ADMIN,  # issue #14
    ("GET", "/api/admin/candidates/unplaced"): ADMIN,
    ("GET", "/api/exports/sittings/{sitting_id:int}/results.csv"): REVIEW,
    ("GET", "/api/exports/sittings/{sitting_id:int}/results.xlsx"): REVIEW,
    ("GET", "/api/admin/webhooks"): ADMIN,
    ("POST", "/api/admin/webhooks"): ADMIN,
    ("DELETE", "/api/admin/webhooks/{webhook_id:int}"): ADMIN,
    ("GET", "/api/admin/webhooks/{webhook_id:int}/deliveries"): ADMIN,
    ("POST", "/api/rtc/offer"): DEVICE,
    ("GET", "/api/rtc/attempts/{attempt_id:int}/snapshots"): EVIDENCE,
    ("GET", "/api/rtc/snapshots/{snapshot_id:int}/image"): EVIDENCE,
    ("DELETE", "/api/rtc/attempts/{attempt_id:int}/evidence"): ADMIN,
    # sittings and rooms, extra time, resume (issue #12, rules M1-M3)
    ("GET", "/api/admin/sittings"): ADMIN,
    ("GET", "/api/admin/results/sittings/{sitting_id:int}"): ADMIN,
    ("GET", "/api/admin/results/classes/{class_id:int}"): ADMIN,
    ("POST", "/api/admin/sittings"): ADMIN,
    ("DELETE", "/api/admin/sittings/{sitting_id:int}"): ADMIN,
    ("POST", "/api/admin/sittings/{sitting_id:int}/candidates"): ADMIN,
    ("DELETE", "/api/admin/sittings/{sitting_id:int}/candidates/{user_id:int}"): ADMIN,
    ("GET", "/api/admin/sittings/{sitting_id:int}/rooms"): ADMIN,
    ("POST", "/api/admin/sittings/{sitting_id:int}/rooms/fill"): ADMIN,
    ("PUT", "/api/admin/sittings/{sitting_id:int}/candidates/{user_id:int}/room"): ADMIN,
    ("PUT", "/api/admin/rooms/{room_id:int}"): ADMIN,
    ("GET", "/api/sittings/mine"): CANDIDATE,
    ("GET", "/api/invigilate/rooms"): WATCHERS,
    ("POST", "/api/invigilate/rooms/{room_id:int}/extra-time"): ROOM,
    ("POST", "/api/invigilate/attempts/{attempt_id:int}/extra-time"): ROOM,
    ("POST", "/api/invigilate/attempts/{attempt_id:int}/resume"): ROOM,
    # rule K1: the recording plays for reviewers and administrators only
    ("GET", "/api/attempts/{attempt_id:int}/recording"): REVIEW,
    ("GET", "/api/recordings/{segment_id:int}"): REVIEW,
}
# Websockets: room-checked or device-token sockets, attacked in tests/hub.
SOCKETS = {
    "/ws/invigilate": "tests/hub/test_live.py (watch: the room's invigilators and admins)",
    "/ws/watch": "tests/hub/test_live.py, tests/hub/test_bad_input.py",
    "/ws/pc": "tests/hub/test_bad_input.py (device tokens)",
    "/ws/phone": "tests/hub/test_bad_input.py (device tokens)",
    "/ws/{device:str}": "tests/hub/test_bad_input.py",
}
DENIED = (401, 403, 404)
# answers of an allowed caller that mean "nothing to show now", not "not yours"
NOTHING_NOW = {"no_live_video", "id_photo_not_found"}


def http_routes(server: LiveServer) -> list[tuple[str, str]]:
    out = []
    for route in server.app.routes:
        if isinstance(route, Route):
            out += [(m, route.path) for m in sorted(route.methods or ()) if m != "HEAD"]
    return out


def test_every_route_has_a_rule(server: LiveServer) -> None:
    routes = http_routes(server)
    assert [r for r in routes if r not in RULES] == []  # a new route needs a rule
    assert [r for r in RULES if r not in routes] == []  # and a rule its route
    sockets = [r.path for r in server.app.routes if isinstance(r, WebSocketRoute)]
    assert sorted(sockets) == sorted(SOCKETS)


@dataclass
class World:
    """Real objects of every kind the routes take, and a client per role."""

    ids: dict[str, int]
    clients: dict[str, httpx.AsyncClient]
    pool: asyncpg.Pool

    async def aclose(self) -> None:
        for client in self.clients.values():
            await client.aclose()
        # each world's running attempt ends with it: a hundred worlds left
        # running would fill the first page of every administrator's wall
        # for the tests after this one
        async with self.pool.acquire() as conn:
            await conn.execute(
                """UPDATE attempts SET status = 'ended', ended_at = now(), end_reason = 'submitted'
                    WHERE id = $1 AND status = 'in_progress'""",
                self.ids["attempt_id"],
            )


async def make_world(server: LiveServer, pool: asyncpg.Pool) -> World:
    owner = await candidate_with_request(pool)
    other = await candidate_with_request(pool)
    papers = await class_with_papers(pool, [owner.id, other.id])
    invigilator = await create_user(pool, "invigilator")
    other_invigilator = await create_user(pool, "invigilator")
    reviewer = await create_user(pool, "reviewer")
    admin = await create_user(pool, "admin")
    other_candidate_room = await create_user(pool)
    other_paper = await create_class_with_paper(pool, [other_candidate_room.id])
    async with pool.acquire() as conn:
        await assign(conn, papers.class_id, invigilator.id)
        other_class = await conn.fetchval("SELECT class_id FROM papers WHERE id = $1", other_paper)
        await assign(conn, other_class, other_invigilator.id)
        bank_id = await conn.fetchval(
            "SELECT bank_id FROM questions WHERE id = $1", papers.question_ids[0]
        )
        request_id = await conn.fetchval(
            "SELECT id FROM exam_requests WHERE user_id = $1 ORDER BY id DESC LIMIT 1", owner.id
        )
        # rule M1: a sitting of the formal paper; the owner sits in the invigilator's room
        sitting_id = await create_sitting(
            conn,
            paper_id=papers.formal_id,
            title="授权矩阵场次",
            starts_at=datetime.now(UTC) + timedelta(days=1),
            ends_at=None,
            late_entry_s=1800,
            checkin_s=1800,
            capacity=10,
        )
        await assign_candidates(conn, sitting_id, [owner.username])
        await fill_rooms(conn, sitting_id, [invigilator.username])
        room_id = await conn.fetchval(
            "SELECT id FROM sitting_rooms WHERE sitting_id = $1", sitting_id
        )
    users = {
        "owner": owner.id,
        "other_candidate": other.id,
        "reviewer": reviewer.id,
        "invigilator": invigilator.id,
        "other_invigilator": other_invigilator.id,
        "admin": admin.id,
    }
    clients = {"anonymous": httpx.AsyncClient(base_url=server.url, timeout=30)}
    for role, user_id in users.items():
        login = await login_cookies(pool, user_id)
        clients[role] = httpx.AsyncClient(
            base_url=server.url, cookies=login.cookies, headers=login.headers, timeout=30
        )
    owner_http = clients["owner"]
    started = await owner_http.post("/api/attempts", json={"paper_id": papers.mock_id})
    assert started.status_code == 200, started.text
    upload = await owner_http.post("/api/uploads", content=files.pdf_bytes())
    assert upload.status_code in (200, 201), upload.text
    attempt_id = started.json()["attempt_id"]
    blob = server.rtc.store.put(files.jpeg_bytes())
    async with pool.acquire() as conn:
        snapshot_id = await conn.fetchval(
            """INSERT INTO snapshots (attempt_id, device, reason, taken_at, sha256, path)
               VALUES ($1, 'pc', 'random', now(), $2, $3) RETURNING id""",
            attempt_id,
            blob.sha256,
            blob.path,
        )
        # an inactive receiver: the world's ends post nothing anywhere
        webhook_id = await conn.fetchval(
            """INSERT INTO webhooks (url, secret, events, active)
               VALUES ('http://127.0.0.1:9/', 'matrix-test-secret-0000', '{attempt.ended}', false)
               RETURNING id"""
        )
    segment_id = await recording_segment(server, pool, attempt_id)
    ids = {
        "webhook_id": webhook_id,
        "segment_id": segment_id,
        "attempt_id": attempt_id,
        "question_id": papers.question_ids[0],
        "request_id": request_id,
        "class_id": papers.class_id,
        "user_id": owner.id,
        "bank_id": bank_id,
        "paper_id": papers.formal_id,
        "upload_id": upload.json()["id"],
        "snapshot_id": snapshot_id,
        "invigilator_id": invigilator.id,
        "sitting_id": sitting_id,
        "room_id": room_id,
    }
    return World(ids, clients, pool)


async def recording_segment(server: LiveServer, pool: asyncpg.Pool, attempt_id: int) -> int:
    """A stored recording segment of the attempt (rule K1)."""
    name = f"recordings/{attempt_id}/camera-{secrets.token_hex(4)}.webm"
    server.recordings.objects.put_bytes(name, b"\x1aE\xdf\xa3 webm")
    async with pool.acquire() as conn:
        segment_id: int = await conn.fetchval(
            """INSERT INTO recording_segments
                   (attempt_id, track, started_at, ended_at, path, size_bytes, frames)
               VALUES ($1, 'camera', now(), now(), $2, 10, 1) RETURNING id""",
            attempt_id,
            name,
        )
    return segment_id


def fill(path: str, ids: dict[str, int]) -> str:
    if path.endswith("/invigilators/{user_id:int}"):
        ids = {**ids, "user_id": ids["invigilator_id"]}
    return re.sub(r"\{(\w+)(:\w+)?\}", lambda m: str(ids[m.group(1)]), path)


async def call(world: World, role: str, method: str, path: str) -> httpx.Response:
    url = fill(path, world.ids)
    body: dict[str, Any] | None = None if method in ("GET", "DELETE") else {}
    if method == "DELETE":
        body = {"reason": "授权矩阵测试"}
    return await world.clients[role].request(method, url, json=body)


async def test_every_role_gets_exactly_what_its_rule_allows(
    server: LiveServer, pool: asyncpg.Pool
) -> None:
    wrong: list[str] = []
    denied_world = await make_world(server, pool)
    try:
        for method, path in http_routes(server):
            rule = RULES[(method, path)]
            if rule == DEVICE or path.startswith("/api/auth/"):
                continue  # device tokens and the sign-in flow: their own tests
            assert isinstance(rule, frozenset)
            for role in ROLES:
                if role in rule:
                    continue
                status = (await call(denied_world, role, method, path)).status_code
                if status not in DENIED:
                    wrong.append(f"{role} {method} {path}: {status}, expected 401/403/404")
    finally:
        await denied_world.aclose()
    for method, path in http_routes(server):
        rule = RULES[(method, path)]
        if rule == DEVICE or path.startswith("/api/auth/") or not isinstance(rule, frozenset):
            continue
        for role in sorted(rule):
            world = await make_world(server, pool)  # its own world: a DELETE hides nothing
            try:
                reply = await call(world, role, method, path)
            finally:
                await world.aclose()
            error = (
                reply.json().get("error")
                if reply.headers.get("content-type", "").startswith("application/json")
                else None
            )
            if reply.status_code in DENIED and error not in NOTHING_NOW:
                wrong.append(f"{role} {method} {path}: {reply.status_code} {reply.text[:80]}")
    assert wrong == [], "\n".join(wrong)


async def test_device_routes_refuse_a_caller_without_the_token(server: LiveServer) -> None:
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as anonymous:
        assert (await anonymous.get("/api/phone/info")).status_code == 401
        assert (await anonymous.post("/api/phone/token")).status_code == 401
        offer = await anonymous.post(
            "/api/rtc/offer", json={"token": "x", "sdp": "v=0", "type": "offer"}
        )
        assert offer.status_code == 401
