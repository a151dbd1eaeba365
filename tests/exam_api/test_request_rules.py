"""The wizard's rules as pure functions (B1–B5), and the field rules of accounts (A2)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from exam_api.errors import ApiError
from exam_api.identity import FieldError, check_password, check_phone, check_text, check_username
from exam_api.requests import validate_submission
from exam_api.review import parse_decision
from exam_api.sms import mask_phone, valid_phone
from exam_api.training import TrainingRecord
from tests.support.accounts import personal_fields, unique_id_card

TODAY = dt.date(2026, 11, 25)


def record(id_card: str, hours: str, category: str = "C1") -> TrainingRecord:
    return TrainingRecord(id_card, "张三", category, Decimal(hours))


def social(id_card: str, **overrides: object) -> dict[str, object]:
    return {
        "candidate_type": "social",
        "category": "A",
        "commitment_letter": 1,
        "study_proof": 2,
        **personal_fields(id_card),
        **overrides,
    }


def test_social_submission_is_accepted() -> None:
    card = unique_id_card()
    sub = validate_submission(social(card), None, card, TODAY)
    assert (sub.category, sub.documents) == ("A", {"commitment_letter": 1, "study_proof": 2})
    assert sub.training_hours is None


def test_type_is_checked_first() -> None:
    """Rule B1: step 1 decides the path."""
    with pytest.raises(FieldError) as caught:
        validate_submission(social(unique_id_card(), candidate_type="other"), None, None, TODAY)
    assert caught.value.code == "bad_candidate_type"


@pytest.mark.parametrize(("hours", "ok"), [("31.9", False), ("32", True), ("100", True)])
def test_non_social_needs_32_hours(hours: str, ok: bool) -> None:
    """Rule B2: the 32-hour threshold, inclusive."""
    card = unique_id_card()
    body = {"candidate_type": "non_social", "commitment_letter": 1, **personal_fields(card)}
    if ok:
        sub = validate_submission(body, record(card, hours), card, TODAY)
        assert (sub.category, sub.training_hours) == ("C1", Decimal(hours))
        assert "study_proof" not in sub.documents
    else:
        with pytest.raises(FieldError) as caught:
            validate_submission(body, record(card, hours), card, TODAY)
        assert caught.value.code == "training_hours_short"
        assert "31.9" in caught.value.message and "0.1" in caught.value.message


def test_upload_ids_must_be_positive_integers() -> None:
    card = unique_id_card()
    for bad in (None, "1", 0, -3, True, 1.5):
        with pytest.raises(FieldError):
            validate_submission(social(card, study_proof=bad), None, card, TODAY)


def test_field_rules() -> None:
    assert check_username("zhang_san1") == "zhang_san1"
    for bad in ("abc", "1abc", "zhang san", "a" * 33, "张三三三"):
        with pytest.raises(FieldError):
            check_username(bad)
    assert check_password("abcd1234") == "abcd1234"
    for bad in ("abc123", "abcdefgh", "12345678", "a1" * 33):
        with pytest.raises(FieldError):
            check_password(bad)
    assert check_text("  李四 ", "姓名", code="x") == "李四"
    for bad in ("", "   ", None, "a" * 31, "李\u0000四", "李\u200b四"):
        with pytest.raises(FieldError):
            check_text(bad, "姓名", code="x")
    assert check_text("<b>x</b>", "姓名", code="x") == "<b>x</b>"  # data, escaped by pages
    assert check_phone(" 13912345678 ") == "13912345678"
    with pytest.raises(FieldError):
        check_phone("12912345678")


def test_phone_helpers() -> None:
    assert valid_phone("19912345678") and not valid_phone("1991234567")
    assert mask_phone("13912345678") == "139****5678"


def test_decision_parsing() -> None:
    """Rule B6: approve or reject; a rejection carries its reason."""
    assert parse_decision({"decision": "approve"}) == ("approved", None)
    assert parse_decision({"decision": "reject", "reason": " 材料不清晰 "}) == (
        "rejected",
        "材料不清晰",
    )
    for body, code in (
        ({"decision": "reject"}, "reason_required"),
        ({"decision": "reject", "reason": "长" * 501}, "reason_too_long"),
        ({"decision": "later"}, "bad_decision"),
    ):
        with pytest.raises(ApiError) as caught:
            parse_decision(body)
        assert caught.value.code == code
