"""Which papers a candidate may open, and why not (rules C2, C3, E4)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from exam_api.paper_access import PaperFacts, attempt_deadline, paper_access, papers_visible

NOW = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)


def facts(**overrides: object) -> PaperFacts:
    fields: dict[str, object] = {
        "kind": "mock",
        "opens_at": NOW - timedelta(days=1),
        "closes_at": NOW + timedelta(days=1),
        "running_attempt": False,
        "ended_attempts": 0,
        "mock_submitted": False,
    }
    fields.update(overrides)
    return PaperFacts(**fields)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("status", "visible"),
    [("none", False), ("pending", False), ("rejected", False), ("approved", True)],
)
def test_papers_only_after_approval(status: str, visible: bool) -> None:
    # rule C3
    assert papers_visible(status) is visible


def test_mock_open_formal_locked_until_mock_submitted() -> None:
    # rule C2
    assert paper_access(facts(), NOW).state == "open"
    locked = paper_access(facts(kind="formal"), NOW)
    assert (locked.state, locked.reason) == ("locked", "mock_required")
    assert "模拟考试" in locked.message
    assert paper_access(facts(kind="formal", mock_submitted=True), NOW).state == "open"


def test_mock_can_be_retaken_formal_only_once() -> None:
    assert paper_access(facts(ended_attempts=2, mock_submitted=True), NOW).state == "open"
    done = paper_access(facts(kind="formal", ended_attempts=1, mock_submitted=True), NOW)
    assert (done.state, done.reason) == ("done", "formal_taken")


def test_running_attempt_resumes_even_after_close() -> None:
    late = NOW + timedelta(days=2)
    assert paper_access(facts(running_attempt=True), late).state == "resume"


def test_opening_window_in_beijing_time() -> None:
    early = paper_access(facts(opens_at=NOW + timedelta(hours=1)), NOW)
    assert (early.state, early.reason) == ("locked", "not_open")
    assert "2026-11-25 17:00" in early.message  # 09:00 UTC = 17:00 Beijing
    closed = paper_access(facts(closes_at=NOW), NOW)
    assert (closed.state, closed.reason) == ("locked", "closed")
    assert paper_access(facts(opens_at=NOW), NOW).state == "open"
    assert paper_access(facts(opens_at=None, closes_at=None), NOW).state == "open"


def test_deadline_is_time_limit_cut_at_close() -> None:
    # rule E4: the server's clock decides
    assert attempt_deadline(NOW, 3600, None) == NOW + timedelta(hours=1)
    assert attempt_deadline(NOW, 3600, NOW + timedelta(minutes=10)) == NOW + timedelta(minutes=10)
