"""Server-computed scores (rule C4) and what they mean (rule F2)."""

from __future__ import annotations

import pytest

from exam_api.errors import ApiError
from exam_api.outcomes import apply_decision, outcome_after_scoring
from exam_api.scoring import MarkingItem, score_attempt, to_hundred

PAPER = [
    MarkingItem(1, "single", "B", 40),
    MarkingItem(2, "multiple", ["A", "C"], 40),
    MarkingItem(3, "truefalse", False, 20),
]


def test_all_correct_scores_full_marks() -> None:
    sheet = score_attempt(PAPER, {1: "B", 2: ["C", "A"], 3: False})
    assert sheet.score == 100.0
    assert sheet.correct == frozenset({1, 2, 3})
    assert sheet.answered == 3


def test_multiple_choice_is_all_or_nothing() -> None:
    assert score_attempt(PAPER, {2: ["A"]}).points_earned == 0
    assert score_attempt(PAPER, {2: ["A", "B", "C"]}).points_earned == 0


def test_unanswered_and_wrongly_typed_answers_score_nothing() -> None:
    sheet = score_attempt(PAPER, {1: ["B"], 3: "false", 99: "A"})
    assert sheet.points_earned == 0
    assert sheet.answered == 2


def test_truefalse_false_key_needs_an_answer() -> None:
    # an unanswered true/false question whose key is False must not score
    assert score_attempt(PAPER, {}).points_earned == 0


def test_score_is_on_the_hundred_scale() -> None:
    assert to_hundred(2, 3) == 66.7
    assert to_hundred(1, 8) == 12.5
    assert to_hundred(1, 0) == 0.0
    small = [MarkingItem(1, "single", "A", 2), MarkingItem(2, "single", "A", 3)]
    assert score_attempt(small, {2: "A"}).score == 60.0


@pytest.mark.parametrize(
    ("kind", "score", "outcome"),
    [
        ("formal", 59.9, "failed"),  # rule F2: < 60 failed
        ("formal", 60.0, "under_review"),  # rule F2: >= 60 under review
        ("formal", 100, "under_review"),
        ("mock", 10, "mock_done"),
        ("mock", 90, "mock_done"),
    ],
)
def test_outcome_after_scoring(kind: str, score: float, outcome: str) -> None:
    assert outcome_after_scoring(kind, score) == outcome


def test_reviewer_decides_once() -> None:
    # rule F2: the reviewer's decision makes it passed or failed
    assert apply_decision("under_review", "passed") == "passed"
    assert apply_decision("under_review", "failed") == "failed"
    for current in ("passed", "failed", "in_progress", "mock_done"):
        with pytest.raises(ApiError) as info:
            apply_decision(current, "passed")
        assert info.value.status == 409
    with pytest.raises(ApiError):
        apply_decision("under_review", "maybe")
