"""Rule B5: the company's unified social credit code is checked (GB 32100)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from exam_api.uscc import ALPHABET, UsccError, check_char, parse_uscc


def test_published_example_is_valid() -> None:
    assert parse_uscc("91350100M000100Y43") == "91350100M000100Y43"


def test_lower_case_is_normalised() -> None:
    assert parse_uscc(" 91350100m000100y43") == "91350100M000100Y43"


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("91350100M000100Y44", "uscc_check_char"),
        ("91350100M000100Y4", "uscc_length"),
        ("91350100M0001O0Y43", "uscc_format"),  # letter O is not in the alphabet
        ("913A0100M000100Y43", "uscc_format"),  # region must be digits
    ],
)
def test_bad_codes_are_refused(raw: str, code: str) -> None:
    with pytest.raises(UsccError) as caught:
        parse_uscc(raw)
    assert caught.value.code == code


@given(st.text(alphabet=ALPHABET, min_size=9, max_size=9), st.integers(0, 999_999))
def test_only_the_right_check_char_passes(org: str, region: int) -> None:
    body = f"91{region:06d}{org}"
    right = check_char(body)
    assert parse_uscc(body + right) == body + right
    for wrong in ALPHABET.replace(right, "")[:5]:
        with pytest.raises(UsccError):
            parse_uscc(body + wrong)
