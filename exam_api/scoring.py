"""Server-side scoring of an attempt (rule C4: scores are computed by the
server). Pure: the paper's questions and the given answers in, a score out.

Marking: a single-choice or true/false question scores its points when the
answer equals the key; a multiple-choice question scores only when the set of
letters is exactly the key (no partial credit, as on the province's paper).
An unanswered question scores nothing.

The score is reported on the 100-point scale the pass mark (rule F2: 60) is
written for: ``score = 100 * earned / total``, rounded half-up to one
decimal, so a paper whose points add up to 100 scores exactly its points.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from exam_api.question_rules import Answer, Kind


@dataclass(frozen=True, slots=True)
class MarkingItem:
    """One question of a paper as the marker sees it."""

    question_id: int
    kind: Kind
    key: Answer
    points: float


@dataclass(frozen=True, slots=True)
class ScoreSheet:
    points_earned: float
    points_total: float
    score: float
    correct: frozenset[int]
    answered: int


def is_correct(kind: Kind, key: Answer, given: Answer | None) -> bool:
    """Compare one given answer to the key (both canonical; see question_rules)."""
    if given is None:
        return False
    if kind == "multiple":
        if not isinstance(given, list) or not isinstance(key, list):
            return False
        return sorted(given) == sorted(key)
    if kind == "truefalse":
        return isinstance(given, bool) and given is key
    return isinstance(given, str) and given == key


def to_hundred(earned: float, total: float) -> float:
    """``earned/total`` on the 100-point scale, half-up to one decimal."""
    if total <= 0:
        return 0.0
    value = Decimal(str(earned)) * 100 / Decimal(str(total))
    return float(value.quantize(Decimal("0.1"), rounding=ROUND_HALF_UP))


def score_attempt(items: Sequence[MarkingItem], answers: Mapping[int, Answer]) -> ScoreSheet:
    """Mark every question of the paper; answers to other ids are ignored."""
    earned = 0.0
    total = 0.0
    correct: set[int] = set()
    answered = 0
    for item in items:
        total += item.points
        given = answers.get(item.question_id)
        if given is not None:
            answered += 1
        if is_correct(item.kind, item.key, given):
            earned += item.points
            correct.add(item.question_id)
    return ScoreSheet(
        points_earned=earned,
        points_total=total,
        score=to_hundred(earned, total),
        correct=frozenset(correct),
        answered=answered,
    )
