"""The face check before answering (rule I2).

After the device check, before the paper opens, the PC camera's picture is
compared 1:1 with the candidate's ID photo on the server:

    POST /api/attempts/{id}/identity/try   the candidate asks for a try
    GET  /api/attempts/{id}/identity       the check's state and the last try's result

A try is a capture the server orders (``<attempt>.identity.<ms>``, the same
``rtc.snapshot`` command as a violation's frame, so whichever process holds
the PC peer takes it); the frame is stored as evidence and scored by the
identity provider off the event loop (``webrtc/face_match.py``). The client
sends no picture and no verdict: it can only ask for a try and read the
result. Three failed tries (``IdentitySettings.tries``) and the attempt
waits for an invigilator (``exam_api/identity_review.py``), who sees both
pictures and admits or refuses with a reason. Answers are refused until the
check passed or an invigilator admitted (:func:`require_cleared`).

The state machine (:class:`Check`) is pure; the rest is SQL and two routes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from exam_api.auth import require_role
from exam_api.errors import ApiError
from exam_api.fields import path_id
from exam_api.services import exam_services
from hub.captures import CaptureId
from hub.fanout import RTC, envelope
from proctor.state import base

State = Literal["checking", "passed", "waiting", "admitted", "refused"]
# what a scored frame showed (webrtc/identity_provider.py) → what the candidate reads
OUTCOME_MESSAGES = {
    "same": "人脸核验通过",
    "other": "摄像头中的人脸与证件照不一致",
    "nobody": "未检测到人脸，请正对摄像头",
    "several": "画面中有多张人脸，请确保只有本人在镜头前",
    "unclear": "人脸不够清晰，请调整光线、正对摄像头后重试",
    "no_reference": "没有可比对的证件照，请等待监考员人工核验",
    "lost": "没有拍到画面，请确认摄像头已开启后重试",
}
STATE_MESSAGES: dict[str, str] = {
    "checking": "请正对摄像头，点击“开始人脸核验”",
    "passed": "人脸核验通过，可以开始答题",
    "waiting": "人脸核验未通过，请等待监考员人工核验",
    "admitted": "监考员已人工核验通过，可以开始答题",
    "refused": "监考员核验未通过，本场考试已结束",
}
# a try whose frame has not been scored after this long is lost (the camera was
# not on any process, or the pool was busy): it does not count, the page may retry
TRY_LOST_AFTER = timedelta(seconds=20)


@dataclass(frozen=True, slots=True)
class Check:
    """An attempt's face check: its state and the failed tries so far. Pure."""

    state: State = "checking"
    failed: int = 0

    @property
    def cleared(self) -> bool:
        """May the candidate answer? (rule I2)"""
        return self.state in ("passed", "admitted")

    def may_try(self, max_tries: int) -> bool:
        return self.state == "checking" and self.failed < max_tries

    def after(self, outcome: str, max_tries: int) -> Check:
        """The check once a try showed ``outcome``."""
        assert self.state == "checking", self.state
        if outcome == "same":
            return Check("passed", self.failed)
        if outcome == "lost":
            return self  # the server's miss, not the candidate's try
        if outcome == "no_reference":
            return Check("waiting", self.failed)  # nothing to compare with: a person decides
        failed = self.failed + 1
        return Check("waiting" if failed >= max_tries else "checking", failed)

    def decided(self, admit: bool) -> Check:
        """An invigilator's decision, allowed once the check has not passed."""
        assert self.state in ("checking", "waiting"), self.state
        return Check("admitted" if admit else "refused", self.failed)


# ----- SQL ----------------------------------------------------------------------------


async def load_check(conn: Any, attempt_id: int, *, lock: bool = False) -> Check:
    row = await conn.fetchrow(
        "SELECT state, tries FROM identity_checks WHERE attempt_id = $1"
        + (" FOR UPDATE" if lock else ""),
        attempt_id,
    )
    return Check() if row is None else Check(row["state"], row["tries"])


async def save_check(conn: Any, attempt_id: int, check: Check, now: datetime) -> None:
    await conn.execute(
        """INSERT INTO identity_checks (attempt_id, state, tries, updated_at)
           VALUES ($1, $2, $3, $4)
           ON CONFLICT (attempt_id) DO UPDATE
              SET state = EXCLUDED.state, tries = EXCLUDED.tries, updated_at = EXCLUDED.updated_at""",
        attempt_id,
        check.state,
        check.failed,
        now,
    )


async def _lock_row(conn: Any, attempt_id: int, now: datetime) -> Check:
    await conn.execute(
        """INSERT INTO identity_checks (attempt_id, state, tries, updated_at)
           VALUES ($1, 'checking', 0, $2) ON CONFLICT (attempt_id) DO NOTHING""",
        attempt_id,
        now,
    )
    return await load_check(conn, attempt_id, lock=True)


async def settle(conn: Any, attempt_id: int, max_tries: int, now: datetime) -> Check:
    """Apply every try whose frame has been scored (or lost) since the last
    look; in the caller's transaction, the check's row locked."""
    check = await _lock_row(conn, attempt_id, now)
    open_tries = await conn.fetch(
        """SELECT t.n, t.requested_at, s.id AS snapshot_id, s.face_match, s.face_distance
             FROM identity_tries t
             LEFT JOIN snapshots s ON s.capture_id = t.capture_id AND s.device = 'pc'
            WHERE t.attempt_id = $1 AND t.outcome IS NULL
            ORDER BY t.n""",
        attempt_id,
    )
    for row in open_tries:
        outcome = row["face_match"]
        if outcome is None:
            if now - row["requested_at"] < TRY_LOST_AFTER:
                continue
            outcome = "lost"
        await conn.execute(
            """UPDATE identity_tries SET outcome = $3, distance = $4, snapshot_id = $5
                WHERE attempt_id = $1 AND n = $2""",
            attempt_id,
            row["n"],
            outcome,
            row["face_distance"],
            row["snapshot_id"],
        )
        if check.state == "checking":
            check = check.after(outcome, max_tries)
    await save_check(conn, attempt_id, check, now)
    return check


async def tries_of(conn: Any, attempt_id: int) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        """SELECT n, requested_at, outcome, distance, snapshot_id FROM identity_tries
            WHERE attempt_id = $1 ORDER BY n""",
        attempt_id,
    )
    return [
        {
            "n": r["n"],
            "requested_at": r["requested_at"].isoformat(),
            "outcome": r["outcome"],
            "message": OUTCOME_MESSAGES.get(r["outcome"] or "", "正在核验…"),
            "distance": r["distance"],
            "snapshot_id": r["snapshot_id"],
        }
        for r in rows
    ]


async def require_cleared(conn: Any, attempt_id: int) -> None:
    """Rule I2 on the server: answers only after the check passed or an
    invigilator admitted. Raises 403 ``identity_not_verified``."""
    check = await load_check(conn, attempt_id)
    if not check.cleared:
        raise ApiError(403, "identity_not_verified", "请先完成人脸核验，通过后才能答题")


def view(check: Check, tries: list[dict[str, Any]], max_tries: int) -> dict[str, Any]:
    return {
        "state": check.state,
        "message": STATE_MESSAGES[check.state],
        "cleared": check.cleared,
        "failed": check.failed,
        "max_tries": max_tries,
        "may_try": check.may_try(max_tries) and not any(t["outcome"] is None for t in tries),
        "tries": tries,
    }


# ----- routes ---------------------------------------------------------------------------


async def _candidate_attempt(request: Request) -> tuple[int, Any]:
    user = await require_role(request, "candidate")
    attempt_id = path_id(request.path_params["attempt_id"])
    async with base(request).pool.acquire() as conn:
        row = await conn.fetchrow("SELECT user_id, status FROM attempts WHERE id = $1", attempt_id)
    if row is None or row["user_id"] != user.id:  # another's attempt answers like a missing one
        raise ApiError(404, "attempt_not_found", "考试记录不存在")
    return attempt_id, row


async def get_identity(request: Request) -> Response:
    """GET /api/attempts/{id}/identity — the check and its tries (rule I2)."""
    attempt_id, _ = await _candidate_attempt(request)
    res = base(request)
    max_tries = res.settings.identity.tries
    now = datetime.fromtimestamp(res.clock.now(), UTC)
    async with res.pool.acquire() as conn, conn.transaction():
        check = await settle(conn, attempt_id, max_tries, now)
        tries = await tries_of(conn, attempt_id)
    body = view(check, tries, max_tries)
    body["required"] = res.settings.identity.required  # off: the page skips the step
    return JSONResponse(body, headers={"Cache-Control": "no-store"})


async def post_try(request: Request) -> Response:
    """POST /api/attempts/{id}/identity/try — the server takes the PC frame now.
    The body is ignored: nothing the client says is a picture or a verdict."""
    attempt_id, row = await _candidate_attempt(request)
    if row["status"] != "in_progress":
        raise ApiError(409, "attempt_ended", "考试已结束")
    res = base(request)
    max_tries = res.settings.identity.tries
    now_s = res.clock.now()
    now = datetime.fromtimestamp(now_s, UTC)
    async with res.pool.acquire() as conn, conn.transaction():
        check = await settle(conn, attempt_id, max_tries, now)
        if not check.may_try(max_tries):
            raise ApiError(409, f"identity_{check.state}", STATE_MESSAGES[check.state])
        pending = await conn.fetchval(
            "SELECT 1 FROM identity_tries WHERE attempt_id = $1 AND outcome IS NULL", attempt_id
        )
        if pending:
            raise ApiError(409, "identity_try_pending", "正在核验，请稍候")
        n = await conn.fetchval(
            "SELECT coalesce(max(n), 0) + 1 FROM identity_tries WHERE attempt_id = $1", attempt_id
        )
        capture = CaptureId.new(attempt_id, "identity", now_s)
        await conn.execute(
            """INSERT INTO identity_tries (attempt_id, n, capture_id, requested_at)
               VALUES ($1, $2, $3, $4)""",
            attempt_id,
            n,
            str(capture),
            now,
        )
    # whichever process holds the PC peer takes the frame (webrtc/commands.py)
    keys = exam_services(request).keys
    await res.redis.publish(
        keys.channel(attempt_id),
        envelope((RTC, {"type": "rtc.snapshot", "capture_id": str(capture)})),
    )
    async with res.pool.acquire() as conn:
        tries = await tries_of(conn, attempt_id)
    return JSONResponse(view(check, tries, max_tries), status_code=202)


routes = [
    Route("/api/attempts/{attempt_id:int}/identity", get_identity, methods=["GET"]),
    Route("/api/attempts/{attempt_id:int}/identity/try", post_try, methods=["POST"]),
]
