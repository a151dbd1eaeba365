"""The invigilator's side of the face check (rule I2).

    GET  /api/invigilate/attempts/{id}/identity           the check, its tries (frames), the ID photo
    GET  /api/invigilate/attempts/{id}/id-photo           the reference picture
    POST /api/invigilate/attempts/{id}/identity {decision: "admit"|"refuse", reason}

Only the attempt's room invigilator (or an administrator) may look or
decide; both decisions need a reason and are audited in
``invigilator_actions``. A refusal ends the attempt through the hub's one
path (the session's ``invigilator_end``), so both devices hear it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Route

from exam_api import identity_check, uploads
from exam_api.documents import document_headers
from exam_api.errors import ApiError, json_body
from exam_api.fields import text_field
from exam_api.invigilation import MAX_REASON, command, record_action, room_staff
from proctor.state import base

DECISIONS = ("admit", "refuse")


async def id_photo_of(conn: Any, attempt_id: int) -> Any:
    """The ID photo upload of the attempt's candidate's approved request, or None."""
    return await conn.fetchrow(
        """SELECT u.id, u.kind, u.original_name, u.relpath
             FROM attempts a
             JOIN exam_requests r ON r.user_id = a.user_id AND r.status = 'approved'
             JOIN exam_request_documents d ON d.request_id = r.id AND d.role = 'id_photo'
             JOIN uploads u ON u.id = d.upload_id
            WHERE a.id = $1""",
        attempt_id,
    )


async def get_identity(request: Request) -> Response:
    """GET …/identity — what the invigilator decides on: both pictures."""
    _, attempt_id = await room_staff(request)
    res = base(request)
    max_tries = res.settings.identity.tries
    now = datetime.fromtimestamp(res.clock.now(), UTC)
    async with res.pool.acquire() as conn:
        async with conn.transaction():
            check = await identity_check.settle(conn, attempt_id, max_tries, now)
        tries = await identity_check.tries_of(conn, attempt_id)
        photo = await id_photo_of(conn, attempt_id)
    for one in tries:
        sid = one["snapshot_id"]
        one["image_url"] = None if sid is None else f"/api/rtc/snapshots/{sid}/image"
    body = identity_check.view(check, tries, max_tries)
    body["id_photo_url"] = (
        None if photo is None else f"/api/invigilate/attempts/{attempt_id}/id-photo"
    )
    return JSONResponse(body)


async def get_id_photo(request: Request) -> Response:
    """GET …/id-photo — the candidate's ID photo, to the room's invigilator."""
    _, attempt_id = await room_staff(request)
    res = base(request)
    async with res.pool.acquire() as conn:
        photo = await id_photo_of(conn, attempt_id)
    if photo is None:
        raise ApiError(404, "id_photo_not_found", "该考生没有证件照")
    path = uploads.resolve(uploads.uploads_root(res.settings.data_dir), photo["relpath"])
    if not path.is_file():
        raise ApiError(404, "id_photo_not_found", "该考生没有证件照")
    return FileResponse(
        path,
        media_type=uploads.CONTENT_TYPES[photo["kind"]],
        headers=document_headers(photo["kind"], photo["original_name"]),
    )


async def post_decision(request: Request) -> Response:
    """POST …/identity {decision, reason} — admit or refuse by hand, audited."""
    user, attempt_id = await room_staff(request)
    body = await json_body(request)
    decision = body.get("decision")
    if decision not in DECISIONS:
        raise ApiError(400, "bad_decision", "请选择人工核验通过（admit）或不通过（refuse）")
    reason = text_field(body, "reason", "人工核验的理由", max_chars=MAX_REASON)
    res = base(request)
    max_tries = res.settings.identity.tries
    now_s = res.clock.now()
    now = datetime.fromtimestamp(now_s, UTC)
    async with res.pool.acquire() as conn, conn.transaction():
        status = await conn.fetchval("SELECT status FROM attempts WHERE id = $1", attempt_id)
        if status != "in_progress":
            raise ApiError(409, "attempt_ended", "考试已结束")
        check = await identity_check.settle(conn, attempt_id, max_tries, now)
        if check.state not in ("checking", "waiting"):
            raise ApiError(
                409, f"identity_{check.state}", identity_check.STATE_MESSAGES[check.state]
            )
        check = check.decided(decision == "admit")
        await identity_check.save_check(conn, attempt_id, check, now)
        if decision == "admit":
            action_id = await record_action(
                conn, attempt_id, user.id, "admit", {"failed": check.failed}, reason, now
            )
    if decision == "refuse":
        ended = f"人脸核验未通过：{reason}"
        return await command(
            request,
            user,
            attempt_id,
            "refuse",
            lambda by, at: lambda s: s.invigilator_end(by, ended, at),
            {"failed": check.failed},
            reason,
        )
    return JSONResponse(
        {"ok": True, "action_id": action_id, "attempt_id": attempt_id, "action": "admit"}
    )


routes = [
    Route("/api/invigilate/attempts/{attempt_id:int}/identity", get_identity, methods=["GET"]),
    Route("/api/invigilate/attempts/{attempt_id:int}/identity", post_decision, methods=["POST"]),
    Route("/api/invigilate/attempts/{attempt_id:int}/id-photo", get_id_photo, methods=["GET"]),
]
