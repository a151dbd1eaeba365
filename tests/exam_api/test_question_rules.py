"""Question validation and canonical answers (rule C4)."""

from __future__ import annotations

import pytest

from exam_api.question_rules import (
    QuestionError,
    build_question,
    canonical_choice,
    fingerprint,
    parse_kind,
)


def single(**overrides: object) -> dict[str, object]:
    fields: dict[str, object] = {
        "kind": "单选",
        "stem": "施工现场临时用电应采用哪种系统？",
        "options": ["TN-S", "TN-C", "TT", "IT"],
        "answer": "a",
        "points": "2",
    }
    fields.update(overrides)
    return fields


def test_single_choice_is_canonical_upper_letter() -> None:
    draft = build_question(**single())
    assert draft.kind == "single"
    assert draft.answer == "A"
    assert draft.points == 2.0
    assert draft.options == ("TN-S", "TN-C", "TT", "IT")


@pytest.mark.parametrize("raw", ["ACD", "a,c,d", "D C A", ["C", "A", "D"], "A、C、D"])
def test_multiple_choice_answer_is_sorted_letters(raw: object) -> None:
    draft = build_question(**single(kind="多选题", answer=raw))
    assert draft.answer == ["A", "C", "D"]


def test_multiple_choice_key_needs_two_letters() -> None:
    with pytest.raises(QuestionError) as info:
        build_question(**single(kind="multiple", answer="A"))
    assert info.value.field == "answer"


@pytest.mark.parametrize(
    ("raw", "expected"), [("对", True), ("正确", True), ("T", True), ("错", False), (False, False)]
)
def test_truefalse_answers(raw: object, expected: bool) -> None:
    draft = build_question(
        kind="判断", stem="安全帽应系紧下颏带。", options=None, answer=raw, points=1
    )
    assert draft.answer is expected
    assert draft.options == ("正确", "错误")


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"kind": "填空"}, "kind"),
        ({"stem": "   "}, "stem"),
        ({"stem": "题" * 1001}, "stem"),
        ({"options": ["只有一个"]}, "options"),
        ({"options": ["相同", "相同"]}, "options"),
        ({"options": [str(i) for i in range(9)]}, "options"),
        ({"options": ["甲", ""]}, "options"),
        ({"answer": "E"}, "answer"),
        ({"answer": "AB"}, "answer"),
        ({"answer": 3}, "answer"),
        ({"points": "两分"}, "points"),
        ({"points": 0}, "points"),
        ({"points": 1.3}, "points"),
        ({"points": True}, "points"),
        ({"points": 101}, "points"),
    ],
)
def test_bad_fields_name_the_field(overrides: dict[str, object], field: str) -> None:
    with pytest.raises(QuestionError) as info:
        build_question(**single(**overrides))
    assert info.value.field == field
    assert info.value.message  # a readable reason


def test_candidate_answer_validation() -> None:
    assert canonical_choice("single", "c", 4) == "C"
    assert canonical_choice("multiple", ["B"], 4) == ["B"]  # a candidate may pick one
    with pytest.raises(QuestionError):
        canonical_choice("multiple", ["A", "A"], 4)
    with pytest.raises(QuestionError):
        canonical_choice("single", "Z", 4)
    with pytest.raises(QuestionError):
        canonical_choice("truefalse", "maybe", 2)


def test_kind_aliases() -> None:
    assert parse_kind("单选题") == "single"
    assert parse_kind(" Multiple ") == "multiple"
    assert parse_kind("判断") == "truefalse"


def test_fingerprint_ignores_key_and_points() -> None:
    a = build_question(**single())
    b = build_question(**single(answer="B", points=5))
    c = build_question(**single(stem="另一道题"))
    assert fingerprint(a) == fingerprint(b)
    assert fingerprint(a) != fingerprint(c)
