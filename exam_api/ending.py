"""The one way an attempt ends (rules C4, E3, E4, F2).

Submitted by the candidate, time up, fifth violation, ended by an invigilator
or abandoned: every end goes through the hub (``hub.live.Hub.apply``), whose
durable write calls :func:`end_attempt` (the wiring passes it in as the hub's
``record_end`` port). It marks the attempt ended, scores it from the saved
answers and records its outcome, in one transaction under the attempt's row
lock. Ending an ended attempt returns the existing end unchanged, so the hub
processes and the deadline scheduler may race freely.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from exam_api import webhooks
from exam_api.errors import ApiError
from exam_api.outcomes import outcome_after_scoring
from exam_api.scoring import MarkingItem, score_attempt
from exam_api.services import AttemptEnds
from proctor import audit_chain

# The hub's EndReason values (hub/session.py) plus the candidate's submit.
END_REASONS = ("submitted", "time_up", "fifth_violation", "invigilator", "abandoned")
END_REASON_LABELS = {
    "submitted": "考生交卷",
    "time_up": "考试时间到，系统自动交卷",
    "fifth_violation": "切屏满 5 次，系统自动交卷",
    "invigilator": "监考员结束考试",
    "abandoned": "考生离开考试，系统自动交卷",
}


@dataclass(frozen=True, slots=True)
class AttemptEnd:
    attempt_id: int
    reason: str
    ended_at: datetime
    score: float
    points_earned: float
    points_total: float
    outcome: str
    already_ended: bool

    def to_json(self) -> dict[str, Any]:
        return {
            "attempt_id": self.attempt_id,
            "status": "ended",
            "end_reason": self.reason,
            "end_reason_label": END_REASON_LABELS.get(self.reason, self.reason),
            "ended_at": self.ended_at.isoformat(),
            "score": self.score,
            "points_earned": self.points_earned,
            "points_total": self.points_total,
            "outcome": self.outcome,
        }


async def marking_items(conn: asyncpg.Connection, paper_id: int) -> list[MarkingItem]:
    rows = await conn.fetch(
        """SELECT q.id, q.kind, q.answer, q.points FROM paper_questions pq
             JOIN questions q ON q.id = pq.question_id
            WHERE pq.paper_id = $1 ORDER BY pq.position""",
        paper_id,
    )
    return [MarkingItem(r["id"], r["kind"], r["answer"], float(r["points"])) for r in rows]


def _existing(row: asyncpg.Record) -> AttemptEnd:
    return AttemptEnd(
        attempt_id=row["id"],
        reason=row["end_reason"],
        ended_at=row["ended_at"],
        score=float(row["score"] or 0),
        points_earned=float(row["points_earned"] or 0),
        points_total=float(row["points_total"] or 0),
        outcome=row["outcome"],
        already_ended=True,
    )


async def end_attempt(
    conn: asyncpg.Connection, attempt_id: int, reason: str, now: datetime
) -> AttemptEnd:
    """End and score the attempt; idempotent (an ended attempt's end is returned).

    ``reason`` is one of END_REASONS. Raises ApiError 404 for an unknown id.
    The hub calls it (its durable write, ``hub/ports.py``): every end goes
    through the hub's one path, and this is its record.
    """
    if reason not in END_REASONS:
        raise ValueError(f"unknown end reason {reason!r}")
    async with conn.transaction():
        row = await conn.fetchrow(
            """SELECT a.id, a.paper_id, a.status, a.ended_at, a.end_reason, a.score,
                      a.points_earned, a.points_total, a.outcome, p.kind
                 FROM attempts a JOIN papers p ON p.id = a.paper_id
                WHERE a.id = $1 FOR UPDATE OF a""",
            attempt_id,
        )
        if row is None:
            raise ApiError(404, "attempt_not_found", "考试记录不存在")
        if row["status"] == "ended":
            return _existing(row)
        answers = {
            r["question_id"]: r["answer"]
            for r in await conn.fetch(
                """SELECT question_id, answer FROM attempt_answers
                    WHERE attempt_id = $1 AND answer IS NOT NULL""",
                attempt_id,
            )
        }
        sheet = score_attempt(await marking_items(conn, row["paper_id"]), answers)
        outcome = outcome_after_scoring(row["kind"], sheet.score)
        ended = await conn.fetchrow(
            """UPDATE attempts SET status = 'ended', ended_at = $2, end_reason = $3, score = $4,
                      points_earned = $5, points_total = $6, outcome = $7
                WHERE id = $1 RETURNING *""",
            attempt_id,
            now,
            reason,
            sheet.score,
            sheet.points_earned,
            sheet.points_total,
            outcome,
        )
        assert ended is not None
        head = await audit_chain.append(conn, attempt_id, [(audit_chain.START, ended)])  # H7
        # rule M4: the receivers hear of it from this same transaction (the outbox)
        await webhooks.attempt_ended(conn, ended, row["kind"], head)
    return AttemptEnd(
        attempt_id=attempt_id,
        reason=reason,
        ended_at=now,
        score=sheet.score,
        points_earned=sheet.points_earned,
        points_total=sheet.points_total,
        outcome=outcome,
        already_ended=False,
    )


async def expire_overdue(
    conn: asyncpg.Connection, user_id: int, now: datetime, ends: AttemptEnds
) -> None:
    """End this candidate's attempts whose deadline has passed (rule E4),
    through the hub (``ends``), so that a read never ends an attempt behind
    the devices' back. The hub's deadline scheduler normally has done it."""
    overdue = await conn.fetch(
        """SELECT id FROM attempts
            WHERE user_id = $1 AND status = 'in_progress' AND deadline_at <= $2""",
        user_id,
        now,
    )
    for row in overdue:
        await ends.end(row["id"], "time_up")
