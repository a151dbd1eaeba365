"""Capture ids (hub/captures.py): the name of one moment's dual snapshot,
a violation's carrying its index (rule H10)."""

from __future__ import annotations

import pytest

from hub.captures import CaptureId


def test_a_violation_capture_round_trips_with_its_index() -> None:
    capture = CaptureId.new(42, "violation", 1_700_000_000.1239, violation=5)
    assert str(capture) == "42.violation.1700000000123.5"
    assert CaptureId.parse(str(capture)) == capture
    assert capture.issued_at <= 1_700_000_000.1239  # never after the moment it names


def test_other_captures_have_no_index() -> None:
    capture = CaptureId.new(7, "random", 10.0)
    assert str(capture) == "7.random.10000"
    assert CaptureId.parse("7.random.10000") == capture


@pytest.mark.parametrize(
    "text",
    [
        "junk",
        "7.random",
        "7.nonsense.10000",
        "x.random.1",
        "7.violation.1",
        "7.random.1.2",
        "start",
    ],
)
def test_what_is_not_a_capture_id_parses_to_none(text: str) -> None:
    assert CaptureId.parse(text) is None


def test_an_index_belongs_to_violations_only() -> None:
    with pytest.raises(ValueError):
        CaptureId(1, "random", 1, violation=2)
    with pytest.raises(ValueError):
        CaptureId(1, "violation", 1)
