"""What a finished attempt means for the candidate (rule F2). Pure.

- a mock attempt is practice: its outcome is ``mock_done`` whatever the score;
- a formal attempt under the pass mark (60) has failed (``failed``);
- a formal attempt at or above it waits for a reviewer (``under_review``),
  whose decision makes it ``passed`` or ``failed`` — once, never twice.

``in_progress`` is an attempt that has not ended yet.
"""

from __future__ import annotations

from typing import Literal

from exam_api.errors import ApiError

PASS_MARK = 60.0

Outcome = Literal["in_progress", "mock_done", "failed", "under_review", "passed"]
OUTCOME_LABELS: dict[str, str] = {
    "in_progress": "考试中",
    "mock_done": "模拟考试已完成",
    "failed": "不合格",
    "under_review": "审核中",
    "passed": "合格",
}
Decision = Literal["passed", "failed"]


def outcome_after_scoring(paper_kind: str, score: float) -> Outcome:
    """The outcome an attempt gets the moment it ends and is scored."""
    if paper_kind == "mock":
        return "mock_done"
    # rule F2: < 60 failed at once; >= 60 goes to a reviewer
    return "under_review" if score >= PASS_MARK else "failed"


def apply_decision(current: str, decision: str) -> Decision:
    """The outcome after a reviewer's decision on an attempt in ``current``.

    Only an attempt under review can be decided, and only as passed/failed.
    """
    if decision not in ("passed", "failed"):
        raise ApiError(400, "bad_decision", "审核结果只能是“合格”或“不合格”")
    if current != "under_review":
        raise ApiError(
            409,
            "not_under_review",
            f"该考试记录当前为“{OUTCOME_LABELS.get(current, current)}”，不能审核",
        )
    return "passed" if decision == "passed" else "failed"
