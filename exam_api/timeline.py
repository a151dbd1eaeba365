"""The reviewer's evidence timeline of one attempt (rules H3, H5, H6).

``GET /api/attempts/{id}/timeline``: the attempt's recorded events, its
violations (kind, duration, forgiveness and the snapshots of both cameras
around each — rule H3), every snapshot with its face flag (rule H6: a flag,
never a verdict), the invigilators' commands and the end, merged on one time
axis (``items``, oldest first). Heartbeats are counted, not listed: thousands
of identical dots would hide the evidence.

Readers: reviewers and administrators, and the invigilators of the attempt's
room. Images are served by the evidence endpoint
(``/api/rtc/snapshots/{id}/image``), which checks the role again.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import asyncpg
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from exam_api import identity_watch
from exam_api.assignments import REVIEW_ROLES, require_watch
from exam_api.auth import require_role
from exam_api.ending import END_REASON_LABELS
from exam_api.errors import ApiError
from exam_api.fields import path_id
from exam_api.outcomes import OUTCOME_LABELS
from exam_api.wall import face_flag
from hub import contact
from proctor.state import base

MAX_EVENTS = 2000  # listed events (heartbeats excluded), oldest first
MAX_SNAPSHOTS = 2000  # the ingest's per-attempt snapshot limit
MAX_MESSAGES = 2000  # contact messages listed (rule L1)

EVENT_LABELS = {
    "connect": "设备连接",
    "outage_start": "设备断线",
    "outage_end": "设备重新连接",
    "camera": "摄像头状态",
    "camera_hint": "摄像头状态（设备自报，未作为依据）",
    "screen": "屏幕共享状态",
    "focus": "焦点变化",
    "phone_start": "手机端开始监控",
    "page_return": "手机端返回考试页面",
    "photo": "手机拍照",
    "phone_end": "手机端结束监控",
    "warning": "监考员警告",
    "warning_ack": "考生已确认监考员警告",  # rule H4: 我知道了 on the PC
    "forgiven": "违规已撤销",
    "deadline": "考试时间调整",
    "extra_time": "监考员补时",
    "resumed": "考试已恢复",
    "violation": "违规",
    "ended": "考试结束",
}
MESSAGE_LABELS = {
    ("candidate", "text"): "考生消息",
    ("candidate", "call"): "考生呼叫监考员",
    ("invigilator", "text"): "监考员消息",
    ("invigilator", "answered"): "监考员已处理呼叫",
}
ACTION_LABELS = {
    "warn": "警告考生",
    "end": "结束考试",
    "forgive": "撤销违规",
    "extra_time": "补时",
    "resume": "恢复考试",
    "admit": "人脸核验：监考员人工通过",  # rule I2
    "refuse": "人脸核验：监考员人工不通过",
}
MATCH_LABELS = {
    "same": "本人",
    "other": "非本人",
    "nobody": "无人",
    "several": "多人",
    "unclear": "不清晰",
    "no_reference": "无证件照",
}
VIOLATION_LABELS = {
    "tab_hidden": "切换页面或窗口",
    "window_blur": "离开考试窗口",
    "click_outside": "点击试卷以外区域",
}


def _t(moment: datetime | None) -> float | None:
    return None if moment is None else moment.timestamp()


async def _attempt(conn: asyncpg.Connection, attempt_id: int) -> asyncpg.Record | None:
    row: asyncpg.Record | None = await conn.fetchrow(
        """SELECT a.id, a.status, a.started_at, a.deadline_at, a.ended_at, a.end_reason,
                  a.score, a.outcome, a.violations, u.username, u.real_name,
                  p.title, p.kind, c.name AS class_name
             FROM attempts a JOIN users u ON u.id = a.user_id
             JOIN papers p ON p.id = a.paper_id JOIN classes c ON c.id = p.class_id
            WHERE a.id = $1""",
        attempt_id,
    )
    return row


async def _events(conn: asyncpg.Connection, attempt_id: int) -> list[asyncpg.Record]:
    rows: list[asyncpg.Record] = await conn.fetch(
        """SELECT stream_id, device, kind, at, data FROM attempt_events
            WHERE attempt_id = $1 AND kind <> 'heartbeat'
            ORDER BY at, stream_id LIMIT $2""",
        attempt_id,
        MAX_EVENTS,
    )
    return rows


async def _heartbeats(conn: asyncpg.Connection, attempt_id: int) -> dict[str, int]:
    rows = await conn.fetch(
        """SELECT device, count(*) AS n FROM attempt_events
            WHERE attempt_id = $1 AND kind = 'heartbeat' GROUP BY device""",
        attempt_id,
    )
    return {r["device"]: r["n"] for r in rows}


async def _violations(conn: asyncpg.Connection, attempt_id: int) -> list[asyncpg.Record]:
    rows: list[asyncpg.Record] = await conn.fetch(
        """SELECT v.idx, v.kind, v.causes, v.started_at, v.ended_at, v.duration_s,
                  v.forgiven_by, u.real_name AS forgiven_by_name
             FROM attempt_violations v LEFT JOIN users u ON u.id = v.forgiven_by
            WHERE v.attempt_id = $1 ORDER BY v.idx""",
        attempt_id,
    )
    return rows


async def _snapshots(conn: asyncpg.Connection, attempt_id: int) -> list[asyncpg.Record]:
    rows: list[asyncpg.Record] = await conn.fetch(
        """SELECT id, device, reason, taken_at, capture_id, violation_idx, faces,
                  face_match, face_distance FROM snapshots
            WHERE attempt_id = $1 ORDER BY taken_at, id LIMIT $2""",
        attempt_id,
        MAX_SNAPSHOTS,
    )
    return rows


async def _actions(conn: asyncpg.Connection, attempt_id: int) -> list[asyncpg.Record]:
    rows: list[asyncpg.Record] = await conn.fetch(
        """SELECT ia.id, ia.action, ia.detail, ia.reason, ia.at, u.username, u.real_name
             FROM invigilator_actions ia JOIN users u ON u.id = ia.user_id
            WHERE ia.attempt_id = $1 ORDER BY ia.at, ia.id""",
        attempt_id,
    )
    return rows


def snapshots_of(snapshots: list[dict[str, Any]], index: int) -> list[int]:
    """Ids of the violation's own dual snapshot (both cameras), linked to it
    by its index when they were taken — never guessed from a time window
    (rules H3, H10)."""
    return [s["id"] for s in snapshots if s["violation"] == index]


async def build_timeline(
    conn: asyncpg.Connection, attempt_id: int, flag_after: int = 3
) -> dict[str, Any]:
    """The whole timeline; raises 404 for an unknown attempt. ``flag_after``
    scored snapshots in a row of someone else or nobody are a flag (rule I3)."""
    attempt = await _attempt(conn, attempt_id)
    if attempt is None:
        raise ApiError(404, "attempt_not_found", "考试记录不存在")
    snapshots = [
        {
            "id": r["id"],
            "device": r["device"],
            "reason": r["reason"],
            "t": r["taken_at"].timestamp(),
            "capture_id": r["capture_id"],
            "violation": r["violation_idx"],
            "face_flag": face_flag(r["faces"]),
            # rules I2, I3: compared with the candidate's ID photo
            "face_match": r["face_match"],
            "face_match_label": MATCH_LABELS.get(r["face_match"] or ""),
            "face_distance": r["face_distance"],
            "image_url": f"/api/rtc/snapshots/{r['id']}/image",
        }
        for r in await _snapshots(conn, attempt_id)
    ]
    identity_flags = [
        {
            "flag": run.flag,
            "label": identity_watch.LABELS[run.flag],
            "t": run.t,
            "snapshot_ids": list(run.snapshot_ids),
            "ongoing": run.ongoing,
        }
        for run in identity_watch.runs(
            (
                identity_watch.Scored(s["id"], s["t"], s["face_match"])
                for s in snapshots
                if s["device"] == "pc"
                and s["face_match"] is not None
                and s["reason"] in identity_watch.WATCHED_REASONS
            ),
            flag_after,
        )
    ]
    actions = [
        {
            "id": r["id"],
            "action": r["action"],
            "label": ACTION_LABELS[r["action"]],
            "detail": r["detail"],
            "reason": r["reason"],
            "t": r["at"].timestamp(),
            "by": {"username": r["username"], "real_name": r["real_name"]},
        }
        for r in await _actions(conn, attempt_id)
    ]
    forgive_reasons = {
        a["detail"].get("index"): a["reason"] for a in actions if a["action"] == "forgive"
    }
    violations = [
        {
            "index": r["idx"],
            "kind": r["kind"],
            "label": VIOLATION_LABELS.get(r["kind"], r["kind"]),
            "causes": list(r["causes"]),
            "t": r["started_at"].timestamp(),
            "ended_t": _t(r["ended_at"]),
            "duration_s": round(float(r["duration_s"]), 1),
            "forgiven": r["forgiven_by"] is not None,
            "forgiven_by": r["forgiven_by_name"],
            "forgive_reason": forgive_reasons.get(r["idx"]),
            "snapshot_ids": snapshots_of(snapshots, r["idx"]),
        }
        for r in await _violations(conn, attempt_id)
    ]
    event_rows = await _events(conn, attempt_id)
    events = [
        {
            "t": r["at"].timestamp(),
            "device": r["device"],
            "kind": r["kind"],
            "label": EVENT_LABELS.get(r["kind"], r["kind"]),
            "data": _object(r["data"]),
        }
        for r in event_rows
        # violations and the end have richer items of their own
        if r["kind"] not in ("violation", "ended", "forgiven")
    ]
    messages = [
        {
            **{k: v for k, v in m.wire().items() if k != "type"},  # the item's type: "message"
            "t": m.at,
            "label": MESSAGE_LABELS[(m.sender, m.kind)]
            + ("（全考场）" if m.scope == "room" else ""),
        }
        for m in await contact.latest_messages(conn, attempt_id, MAX_MESSAGES)
    ]
    ended_t = _t(attempt["ended_at"])
    end = None
    if ended_t is not None:
        reason = attempt["end_reason"] or ""
        end = {"t": ended_t, "reason": reason, "label": END_REASON_LABELS.get(reason, reason)}
    items: list[dict[str, Any]] = [
        {"type": "start", "t": attempt["started_at"].timestamp(), "label": "开始考试"},
        *({"type": "event", **e} for e in events),
        *({"type": "violation", **v} for v in violations),
        *({"type": "snapshot", **s} for s in snapshots),
        *({"type": "action", **a} for a in actions),
        *({"type": "identity_flag", **f} for f in identity_flags),
        *({"type": "message", **m} for m in messages),
    ]
    if end is not None:
        items.append({"type": "end", **end})
    order = {
        "start": 0,
        "event": 1,
        "violation": 2,
        "snapshot": 3,
        "identity_flag": 4,
        "action": 5,
        "message": 6,
        "end": 6,
    }
    items.sort(key=lambda i: (i["t"], order[i["type"]]))
    outcome = attempt["outcome"]
    return {
        "attempt": {
            "attempt_id": attempt["id"],
            "candidate": {"username": attempt["username"], "real_name": attempt["real_name"]},
            "paper_title": attempt["title"],
            "paper_kind": attempt["kind"],
            "class_name": attempt["class_name"],
            "status": attempt["status"],
            "started_t": attempt["started_at"].timestamp(),
            "deadline_t": attempt["deadline_at"].timestamp(),
            "ended_t": ended_t,
            "score": None if attempt["score"] is None else float(attempt["score"]),
            "outcome": outcome,
            "outcome_label": OUTCOME_LABELS.get(outcome, outcome) if outcome else None,
            "violations": attempt["violations"],
        },
        "end": end,
        "heartbeats": await _heartbeats(conn, attempt_id),
        "violations": violations,
        "snapshots": snapshots,
        "actions": actions,
        "identity_flags": identity_flags,
        "messages": messages,
        "events_truncated": len(event_rows) >= MAX_EVENTS,
        "items": items,
    }


async def get_timeline(request: Request) -> Response:
    """GET /api/attempts/{id}/timeline — reviewers, admins, the room's invigilators."""
    user = await require_role(request, "reviewer", "admin", "invigilator")
    attempt_id = path_id(request.path_params["attempt_id"])
    res = base(request)
    async with res.pool.acquire() as conn:
        if user.role not in REVIEW_ROLES:
            await require_watch(conn, user, attempt_id)
        timeline = await build_timeline(conn, attempt_id, res.settings.identity.flag_after)
        return JSONResponse(timeline)


routes: list[BaseRoute] = [
    Route("/api/attempts/{attempt_id:int}/timeline", get_timeline, methods=["GET"]),
]


def _object(data: Any) -> Any:
    """An event's data as an object. Rows written before the hub stored
    objects hold a JSON string of one (hub/durable.py); read it as the object."""
    if isinstance(data, str):
        try:
            return json.loads(data)
        except ValueError:
            return {"raw": data}
    return data
