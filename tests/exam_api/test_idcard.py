"""Rule B5: the ID-card number is checked against its GB 11643 check digit."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from exam_api.idcard import IdCardError, check_char, parse_id_card

TODAY = dt.date(2026, 11, 25)


def test_standard_example_is_valid() -> None:
    card = parse_id_card("11010519491231002X", today=TODAY)
    assert card.birth_date == dt.date(1949, 12, 31)
    assert card.region == "110105"
    assert card.gender == "female"


def test_lower_case_x_and_blanks_are_normalised() -> None:
    assert parse_id_card(" 11010519491231002x ").number == "11010519491231002X"


def test_odd_sequence_digit_is_male() -> None:
    body = "15010219800101001"
    assert parse_id_card(body + check_char(body)).gender == "male"


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("110105194912310021", "id_card_check_digit"),  # rule B5: bad check digit
        ("1101051949123100", "id_card_length"),
        ("11010519491231002Y", "id_card_format"),
        ("1101051949A231002X", "id_card_format"),
        ("110105194902300020", "id_card_birth_date"),  # 30 February
        ("110105180001010018", "id_card_birth_date"),
    ],
)
def test_bad_numbers_are_refused_with_a_reason(raw: str, code: str) -> None:
    with pytest.raises(IdCardError) as caught:
        parse_id_card(raw, today=TODAY)
    assert caught.value.code == code
    assert caught.value.message  # a readable Chinese reason


def test_birth_date_in_the_future_is_refused() -> None:
    body = "15010220300101001"
    with pytest.raises(IdCardError):
        parse_id_card(body + check_char(body), today=TODAY)


@given(st.dates(min_value=dt.date(1930, 1, 1), max_value=TODAY), st.integers(0, 999))
def test_every_wrong_check_char_is_caught(birth: dt.date, seq: int) -> None:
    body = f"150102{birth:%Y%m%d}{seq:03d}"
    right = check_char(body)
    assert parse_id_card(body + right, today=TODAY).birth_date == birth
    for wrong in "0123456789X".replace(right, ""):
        with pytest.raises(IdCardError):
            parse_id_card(body + wrong, today=TODAY)
