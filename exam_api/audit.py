"""The record's verification over HTTP (rule H7).

``GET /api/attempts/{id}/chain``: the attempt's hash chain verified now
(``proctor.audit_chain.verify``) — ``ok``, the number of links, the head hash
and, when broken, the first broken link. Readers: as the timeline's
(reviewers, administrators, the invigilators of the attempt's room). The
reviewer's timeline page shows "记录已校验" or the broken link.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from exam_api.assignments import REVIEW_ROLES, require_watch
from exam_api.auth import require_role
from exam_api.errors import ApiError
from exam_api.fields import path_id
from proctor import audit_chain
from proctor.state import base


async def get_chain(request: Request) -> Response:
    """GET /api/attempts/{id}/chain — reviewers, admins, the room's invigilators."""
    user = await require_role(request, "reviewer", "admin", "invigilator")
    attempt_id = path_id(request.path_params["attempt_id"])
    async with base(request).pool.acquire() as conn:
        if user.role not in REVIEW_ROLES:
            await require_watch(conn, user, attempt_id)
        if not await conn.fetchval("SELECT 1 FROM attempts WHERE id = $1", attempt_id):
            raise ApiError(404, "attempt_not_found", "考试记录不存在")
        result = await audit_chain.verify(conn, attempt_id)
    return JSONResponse(result.to_json())


routes: list[BaseRoute] = [
    Route("/api/attempts/{attempt_id:int}/chain", get_chain, methods=["GET"]),
]
