"""Property tests: no input makes the importer or the answer check crash —
every bad input becomes a readable error (rule C4, "Bad input")."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from exam_api.question_import import parse_question_file
from exam_api.question_rules import KINDS, QuestionError, canonical_choice

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=8), inner, max_size=5)
    ),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=2000))
def test_any_bytes_parse_or_explain(data: bytes) -> None:
    parsed = parse_question_file(data)
    assert parsed.questions or parsed.errors
    for error in parsed.errors:
        assert error.message and error.row >= 0


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.dictionaries(
            st.sampled_from(["kind", "stem", "options", "answer", "points", "题型", "x"]),
            json_values,
            max_size=7,
        ),
        max_size=6,
    )
)
def test_any_json_questions_parse_or_explain(items: list[dict[str, object]]) -> None:
    parsed = parse_question_file(json.dumps(items, ensure_ascii=False).encode())
    assert parsed.questions or parsed.errors
    assert all(error.message for error in parsed.errors)
    # every item is either a question or has at least one error of its own
    rows = {error.row for error in parsed.errors}
    assert len(parsed.questions) + len(rows - {0}) >= len(items) or 0 in rows


@settings(max_examples=500, deadline=None)
@given(st.sampled_from(KINDS), json_values, st.integers(min_value=2, max_value=8))
def test_candidate_answers_are_canonical_or_refused(kind: str, value: object, options: int) -> None:
    try:
        answer = canonical_choice(kind, value, options)  # type: ignore[arg-type]
    except QuestionError as exc:
        assert exc.field == "answer" and exc.message
        return
    if kind == "truefalse":
        assert isinstance(answer, bool)
    elif kind == "single":
        assert isinstance(answer, str) and answer in "ABCDEFGH"[:options]
    else:
        assert isinstance(answer, list) and answer == sorted(set(answer)) and answer
