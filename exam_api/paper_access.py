"""May this candidate open this paper now, and if not, why? (rules C2, C3). Pure.

The candidate's paper center shows every paper of their classes with one of
four states; the attempt endpoint asks the same question before it starts an
attempt, so what the page shows and what the server allows never disagree.

- ``resume``: an attempt on this paper is running — go back into it;
- ``open``:   may start now;
- ``locked``: visible, not startable; ``reason`` + ``message`` say why;
- ``done``:   the formal paper is taken (one formal attempt per candidate).

A candidate whose exam request is not approved sees no paper at all (C3):
:func:`papers_visible` is checked before any listing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from exam_api.sitting_rules import BEIJING, SittingTimes, sitting_lock, when

State = Literal["resume", "open", "locked", "done"]

REQUEST_MESSAGES: dict[str, str] = {
    "none": "请先提交考试请求，审核通过后才可以看到试卷",
    "pending": "考试请求审核中，审核通过后才可以看到试卷",
    "rejected": "考试请求未通过审核，请修改后重新提交",
}


@dataclass(frozen=True, slots=True)
class PaperFacts:
    """What the rule needs to know about one paper and this candidate."""

    kind: str  # 'mock' | 'formal'
    opens_at: datetime | None
    closes_at: datetime | None
    running_attempt: bool  # an attempt on this paper has not ended
    ended_attempts: int  # attempts on this paper that have ended
    # An ended attempt exists on a mock paper of the same class. Every end counts as a
    # submission: time up and the fifth violation submit automatically (rules E3, E4).
    mock_submitted: bool
    # rule M1: a paper with sittings opens only in the candidate's sitting
    has_sittings: bool = False
    sitting: SittingTimes | None = None


@dataclass(frozen=True, slots=True)
class Access:
    state: State
    reason: str = ""
    message: str = ""


def papers_visible(request_status: str) -> bool:
    """Rule C3: no paper is visible before the exam request is approved."""
    return request_status == "approved"


__all__ = ["BEIJING", "Access", "PaperFacts", "paper_access", "papers_visible"]

_when = when

NO_SITTING = "您未被安排本试卷的考试场次，请联系考务管理员"


def paper_access(facts: PaperFacts, now: datetime) -> Access:
    """The state of one visible paper for one candidate at ``now``."""
    if facts.running_attempt:
        return Access("resume")
    if facts.kind == "formal" and facts.ended_attempts > 0:
        return Access("done", "formal_taken", "正式考试已完成，成绩请在考试记录中查看")
    if facts.closes_at is not None and now >= facts.closes_at:
        return Access("locked", "closed", f"考试已于 {_when(facts.closes_at)} 结束")
    if facts.kind == "formal" and not facts.mock_submitted:
        # rule C2: the formal paper opens only after the mock is submitted
        return Access("locked", "mock_required", "请先完成并提交模拟考试，提交后才可以开始正式考试")
    if facts.opens_at is not None and now < facts.opens_at:
        return Access("locked", "not_open", f"考试将于 {_when(facts.opens_at)} 开放")
    if facts.has_sittings:
        if facts.sitting is None:
            return Access("locked", "no_sitting", NO_SITTING)
        lock = sitting_lock(facts.sitting, now)
        if lock is not None:
            return Access("locked", lock.reason, lock.message)
    return Access("open")


def attempt_deadline(
    started_at: datetime, time_limit_s: int, closes_at: datetime | None
) -> datetime:
    """Rule E4: the server's deadline — the time limit, cut at the window's close."""
    deadline = started_at + timedelta(seconds=time_limit_s)
    if closes_at is not None and closes_at < deadline:
        return closes_at
    return deadline
