"""The invigilator wall's API (rules G5, H3, H4).

``GET /api/invigilate/sessions`` lists the running attempts of the caller's
rooms (an administrator: all), each as a tile of ``exam_api/wall.py``. A
poll costs one SQL query and one Redis pipeline whatever the number of
tiles: the wall polls this every 2–3 s instead of holding 100 websockets.

Commands (warn, end with a reason, forgive one violation with a reason) go
through the hub's one way of changing an attempt (:meth:`hub.live.Hub.apply`
with the session's own ``warn`` / ``invigilator_end`` / ``forgive``), so the
candidate's devices and every watcher hear them on whichever process they
are; each is audited in ``invigilator_actions`` (who, when, what, why).

Live video is on demand for the one attempt an invigilator opens: ``watch``
raises the page's frame rate, ``live.jpg`` is a fresh keyframe of the PC
camera, decoded only when asked for, and ``live-video`` answers the page's
offer to receive the PC camera's frames as they arrive (rule L2).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import asyncpg
from redis.asyncio import Redis
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route, WebSocketRoute
from starlette.websockets import WebSocket

from exam_api.assignments import ALL_ROOMS_ROLES, assigned_class_ids, require_watch
from exam_api.auth import require_role
from exam_api.errors import ApiError, json_body
from exam_api.fields import int_field, path_id, text_field
from exam_api.identity_watch import WATCHED_REASONS, current_flag
from exam_api.services import exam_services
from exam_api.wall import AttemptFacts, Snapshot, build_tile, sort_key
from hub import contact
from hub import wall as wall_leases
from hub.errors import HubError, SessionEnded, SessionError
from hub.keys import Keys
from hub.live import Event
from hub.session import Session
from hub.state_schema import read_views
from hub.ws import hub_of, watch_socket
from proctor import audit_chain
from proctor.errors import ProctorError
from proctor.state import base
from proctor.web_sessions import User

WATCH_ROLES = ("invigilator", "admin")
MAX_ROOM_ATTEMPTS = 1000  # running attempts read per poll, at most
DEFAULT_PAGE = 100
MAX_PAGE = 200
MAX_WARNING = 200
MAX_REASON = 200


# ----- reading the wall ----------------------------------------------------------


async def running_attempts(
    conn: asyncpg.Connection,
    class_ids: list[int] | None,
    limit: int,
    room_invigilator: int | None = None,
    flag_after: int = 3,
) -> list[AttemptFacts]:
    """Running attempts of these classes (None: all) and of the sitting rooms
    of ``room_invigilator`` (rule M1), with the latest snapshot of each camera,
    the warning count and the newest face matches (rule I3: ``flag_after`` in
    a row raise a flag), in one query."""
    rows = await conn.fetch(
        """SELECT a.id, a.started_at, a.deadline_at, a.violations,
                  u.real_name, u.username, p.title, p.class_id, c.name AS class_name,
                  (SELECT count(*) FROM invigilator_actions ia
                    WHERE ia.attempt_id = a.id AND ia.action = 'warn') AS warnings,
                  (SELECT json_agg(json_build_object(
                          'device', s.device, 'id', s.id,
                          'taken_at', extract(epoch FROM s.taken_at), 'faces', s.faces))
                     FROM (SELECT DISTINCT ON (device) device, id, taken_at, faces
                             FROM snapshots WHERE attempt_id = a.id
                            ORDER BY device, taken_at DESC, id DESC) s) AS latest,
                  (SELECT array_agg(m.face_match ORDER BY m.taken_at DESC, m.id DESC)
                     FROM (SELECT id, taken_at, face_match FROM snapshots
                            WHERE attempt_id = a.id AND device = 'pc'
                              AND face_match IS NOT NULL AND reason = ANY($4::text[])
                            ORDER BY taken_at DESC, id DESC LIMIT $5) m) AS face_matches,
                  (SELECT state FROM identity_checks ic WHERE ic.attempt_id = a.id)
                    AS identity_state
             FROM attempts a
             JOIN users u ON u.id = a.user_id
             JOIN papers p ON p.id = a.paper_id
             JOIN classes c ON c.id = p.class_id
            WHERE a.status = 'in_progress'
              AND ($1::bigint[] IS NULL OR p.class_id = ANY($1::bigint[])
                   OR EXISTS (SELECT 1 FROM sitting_candidates sc
                                JOIN sitting_rooms r ON r.id = sc.room_id
                               WHERE sc.sitting_id = a.sitting_id AND sc.user_id = a.user_id
                                 AND r.invigilator_id = $3))
            ORDER BY a.started_at, a.id
            LIMIT $2""",
        class_ids,
        limit,
        room_invigilator,
        list(WATCHED_REASONS),
        4 * flag_after,  # enough to skip the unclear ones
    )
    out = []
    for r in rows:
        latest = {
            s["device"]: Snapshot(int(s["id"]), float(s["taken_at"]), s["faces"])
            for s in (r["latest"] or [])
        }
        out.append(
            AttemptFacts(
                attempt_id=r["id"],
                candidate_name=r["real_name"],
                username=r["username"],
                paper_title=r["title"],
                class_id=r["class_id"],
                class_name=r["class_name"],
                started_at=r["started_at"].timestamp(),
                deadline_at=r["deadline_at"].timestamp(),
                violations=r["violations"],
                warnings=r["warnings"],
                latest=latest,
                identity_flag=current_flag(list(r["face_matches"] or []), flag_after),
                identity_state=r["identity_state"],
            )
        )
    return out


async def live_states(
    redis: Redis, keys: Keys, attempt_ids: list[int]
) -> dict[int, tuple[Session | None, dict[str, float | None]]]:
    """The shared session state and the heartbeat times of many attempts,
    read in one Redis pipeline (``hub/state_schema.py``)."""
    views = await read_views(redis, keys, attempt_ids)
    return {a: (v.session, v.heartbeats) for a, v in views.items()}


def _page_arg(request: Request, name: str, default: int, high: int) -> int:
    raw = request.query_params.get(name, str(default))
    if not raw.isdigit() or not 0 <= int(raw) <= high:
        raise ApiError(400, f"bad_{name}", f"{name} 应为 0–{high} 的整数")
    return int(raw)


async def get_sessions(request: Request) -> Response:
    """GET /api/invigilate/sessions?limit=100&offset=0 — the wall, riskiest first."""
    user = await require_role(request, *WATCH_ROLES)
    limit = max(1, _page_arg(request, "limit", DEFAULT_PAGE, MAX_PAGE))
    offset = _page_arg(request, "offset", 0, MAX_ROOM_ATTEMPTS)
    res = base(request)
    async with res.pool.acquire() as conn:
        rooms = await _rooms(conn, user)
        class_ids = None if user.role in ALL_ROOMS_ROLES else [r["id"] for r in rooms]
        facts = await running_attempts(
            conn,
            class_ids,
            MAX_ROOM_ATTEMPTS,
            None if class_ids is None else user.id,
            res.settings.identity.flag_after,
        )
        waiting = await contact.attention(conn, [f.attempt_id for f in facts])  # rule L1
    states = await live_states(
        res.redis, exam_services(request).keys, [f.attempt_id for f in facts]
    )
    now = res.clock.now()
    tiles = [build_tile(f, *states[f.attempt_id], now) for f in facts]
    for tile in tiles:
        found = waiting.get(tile["attempt_id"])
        tile["contact"] = None if found is None else found.view()
    tiles.sort(key=sort_key)
    return JSONResponse(
        {
            "server_time": now,
            "rooms": rooms,
            "total": len(tiles),
            "limit": limit,
            "offset": offset,
            "sessions": tiles[offset : offset + limit],
        }
    )


async def _rooms(conn: asyncpg.Connection, user: User) -> list[dict[str, Any]]:
    if user.role in ALL_ROOMS_ROLES:
        rows = await conn.fetch("SELECT id, name FROM classes ORDER BY id")
    else:
        ids = await assigned_class_ids(conn, user.id)
        rows = await conn.fetch(
            "SELECT id, name FROM classes WHERE id = ANY($1::bigint[]) ORDER BY id", ids
        )
    return [{"id": r["id"], "name": r["name"]} for r in rows]


# ----- commands -------------------------------------------------------------------


async def record_action(
    conn: asyncpg.Connection,
    attempt_id: int,
    user_id: int,
    action: str,
    detail: dict[str, Any],
    reason: str,
    at: datetime,
) -> int:
    """Audit one invigilator command (who, when, what, why)."""
    async with conn.transaction():
        row = await conn.fetchrow(
            """INSERT INTO invigilator_actions (attempt_id, user_id, action, detail, reason, at)
               VALUES ($1, $2, $3, $4, $5, $6) RETURNING *""",
            attempt_id,
            user_id,
            action,
            detail,
            reason,
            at,
        )
        assert row is not None
        await audit_chain.append(conn, attempt_id, [(audit_chain.ACTION, row)])  # rule H7
    action_id: int = row["id"]
    return action_id


async def room_staff(request: Request) -> tuple[User, int]:
    """The caller and the attempt of the path, once the caller may act on
    it (its room's invigilator, or an admin): checked before the body is
    read, so another room's invigilator learns nothing from validation."""
    user = await require_role(request, *WATCH_ROLES)
    attempt_id = path_id(request.path_params["attempt_id"])
    async with base(request).pool.acquire() as conn:
        await require_watch(conn, user, attempt_id)
    return user, attempt_id


async def command(
    request: Request,
    user: User,
    attempt_id: int,
    action: str,
    event_for: Callable[[int, float], Event],
    detail: dict[str, Any],
    reason: str,
) -> Response:
    """Apply the session event through the hub and audit it (the room was
    checked by :func:`room_staff`). ``event_for(by_user, now)`` builds the event."""
    res = base(request)
    hub = hub_of(request)
    now = hub.clock.now()
    event: Event = event_for(user.id, now)
    try:
        live = await hub.attempt(attempt_id)
    except HubError as error:
        raise ApiError(404, error.code, "考试记录不存在") from None
    try:
        await hub.apply(live, event, now=now)
    except SessionEnded:
        raise ApiError(409, "attempt_ended", "考试已结束") from None
    except SessionError as error:
        raise ApiError(409, error.code, _COMMAND_ERRORS.get(error.code, error.reason)) from None
    finally:
        hub.release(live)
    at = datetime.fromtimestamp(now, UTC)
    async with res.pool.acquire() as conn:
        action_id = await record_action(conn, attempt_id, user.id, action, detail, reason, at)
    return JSONResponse(
        {"ok": True, "action_id": action_id, "attempt_id": attempt_id, "action": action}
    )


_COMMAND_ERRORS = {
    "no_such_violation": "没有这条违规记录",
    "already_forgiven": "这条违规记录已被撤销",
    "too_many_warnings": "考生还有 20 条警告未确认，请等待考生确认后再发送",
}


async def post_warn(request: Request) -> Response:
    """POST …/warn {text} — the candidate's devices show the warning (rule H4)."""
    user, attempt_id = await room_staff(request)
    body = await json_body(request)
    text = text_field(body, "text", "警告内容", max_chars=MAX_WARNING)
    return await command(
        request,
        user,
        attempt_id,
        "warn",
        lambda by, now: lambda s: s.warn(by, text, now),
        {"text": text},
        "",
    )


async def post_end(request: Request) -> Response:
    """POST …/end {reason} — end the attempt; the reason is required and audited."""
    user, attempt_id = await room_staff(request)
    body = await json_body(request)
    reason = text_field(body, "reason", "结束考试的原因", max_chars=MAX_REASON)
    return await command(
        request,
        user,
        attempt_id,
        "end",
        lambda by, now: lambda s: s.invigilator_end(by, reason, now),
        {},
        reason,
    )


async def post_forgive(request: Request) -> Response:
    """POST …/forgive {index, reason} — forgive one violation (rule H3), audited."""
    user, attempt_id = await room_staff(request)
    body = await json_body(request)
    index = int_field(body, "index", "违规序号", low=1, high=1000)
    reason = text_field(body, "reason", "撤销违规的原因", max_chars=MAX_REASON)
    return await command(
        request,
        user,
        attempt_id,
        "forgive",
        lambda by, now: lambda s: s.forgive(index, by, now),
        {"index": index},
        reason,
    )


# ----- live video on demand ----------------------------------------------------------


async def post_watch(request: Request) -> Response:
    """POST …/watch {watched} — the detail panel opened or closed. While at
    least one watcher holds a lease the PC page sends full frame rate
    (whichever process holds its peer); the panel renews its lease with each
    live still it fetches."""
    user, attempt_id = await room_staff(request)
    body = await json_body(request)
    watched = body.get("watched")
    if not isinstance(watched, bool):
        raise ApiError(400, "bad_watched", "watched 必须是 true 或 false")
    res, services = base(request), exam_services(request)
    now = res.clock.now()
    if watched:
        await wall_leases.hold(res.redis, services.keys, attempt_id, str(user.id), now)
        await services.live.request_watch(attempt_id, True)
    elif await wall_leases.release(res.redis, services.keys, attempt_id, str(user.id), now):
        await services.live.request_watch(attempt_id, False)
    return JSONResponse({"ok": True, "attempt_id": attempt_id, "watched": watched})


async def get_live_frame(request: Request) -> Response:
    """GET …/live.jpg — the PC camera's picture now (a fresh keyframe, not
    stored as evidence), taken by whichever process holds the PC peer
    (``webrtc/live_still.py``). 404 ``no_live_video`` while the PC camera is
    not live (the page shows the latest snapshot); 503 when the capture
    failed or the peer's process did not answer in time."""
    user = await require_role(request, *WATCH_ROLES)
    attempt_id = path_id(request.path_params["attempt_id"])
    res, services = base(request), exam_services(request)
    async with res.pool.acquire() as conn:
        await require_watch(conn, user, attempt_id)
    if await wall_leases.hold(res.redis, services.keys, attempt_id, str(user.id), res.clock.now()):
        # the lease had lapsed (a long pause): the page may be at its low rate again
        await services.live.request_watch(attempt_id, True)
    try:
        jpeg = await services.live.live_still(attempt_id)
    except ProctorError as error:
        raise ApiError(503, error.code, error.message) from None
    if jpeg is None:
        raise ApiError(404, "no_live_video", "暂无实时画面（电脑摄像头未连接）")
    return Response(jpeg, media_type="image/jpeg", headers={"Cache-Control": "no-store"})


async def post_live_video(request: Request) -> Response:
    """POST …/live-video {sdp, type: "offer"} → {sdp, type: "answer"} — the
    PC camera as live video (rule L2): the page's offer to receive one VP8
    video (recvonly, ICE gathered), answered by a peer on whichever process
    holds the candidate's peer, which forwards the candidate's frames as they
    are (``webrtc/live_video.py``). Holds the caller's watch lease, so the
    page sends its full frame rate. One live video per user and attempt: a new
    offer replaces the caller's earlier one. 404 ``no_live_video`` while the PC
    camera is not live; 503 ``too_many_viewers`` / ``live_video_timeout``."""
    user = await require_role(request, *WATCH_ROLES)
    attempt_id = path_id(request.path_params["attempt_id"])
    res, services = base(request), exam_services(request)
    async with res.pool.acquire() as conn:
        await require_watch(conn, user, attempt_id)
    body = await json_body(request, max_bytes=128 * 1024)
    sdp, kind = body.get("sdp"), body.get("type")
    if not isinstance(sdp, str) or kind != "offer":
        raise ApiError(400, "bad_offer", "需要 sdp 与 type=offer")
    if await wall_leases.hold(res.redis, services.keys, attempt_id, str(user.id), res.clock.now()):
        await services.live.request_watch(attempt_id, True)
    answer = await services.live.live_video(attempt_id, sdp, str(user.id))
    if answer is None:
        raise ApiError(404, "no_live_video", "暂无实时画面（电脑摄像头未连接）")
    return JSONResponse({"sdp": answer, "type": "answer"})


# ----- the detail panel's live state -------------------------------------------------


async def watch_room_socket(ws: WebSocket) -> None:
    """``/ws/invigilate?attempt=<id>``: the hub's ``/ws/watch`` (live state of
    one attempt), which itself lets in only the invigilators of the attempt's
    room and admins (rule G5), so every staff path has the same check."""
    await watch_socket(ws)


routes: list[BaseRoute] = [
    WebSocketRoute("/ws/invigilate", watch_room_socket),
    Route("/api/invigilate/sessions", get_sessions, methods=["GET"]),
    Route("/api/invigilate/attempts/{attempt_id:int}/warn", post_warn, methods=["POST"]),
    Route("/api/invigilate/attempts/{attempt_id:int}/end", post_end, methods=["POST"]),
    Route("/api/invigilate/attempts/{attempt_id:int}/forgive", post_forgive, methods=["POST"]),
    Route("/api/invigilate/attempts/{attempt_id:int}/watch", post_watch, methods=["POST"]),
    Route("/api/invigilate/attempts/{attempt_id:int}/live.jpg", get_live_frame, methods=["GET"]),
    Route(
        "/api/invigilate/attempts/{attempt_id:int}/live-video", post_live_video, methods=["POST"]
    ),
]
