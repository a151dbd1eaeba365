"""Resident ID-card numbers (GB 11643-1999): format, birth date and check digit.

A number is 18 characters: a 6-digit region code, the birth date as YYYYMMDD,
a 3-digit sequence (odd for men, even for women) and a check character
computed with ISO 7064 MOD 11-2 (``0``–``9`` or ``X``).  Rule B5 requires the
check digit to be verified before a request is accepted.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Literal

_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK_CHARS = "10X98765432"

Gender = Literal["male", "female"]


class IdCardError(ValueError):
    """An ID-card number that is not valid; ``code`` names the reason."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class IdCard:
    number: str
    region: str
    birth_date: dt.date
    gender: Gender


def check_char(first17: str) -> str:
    """The GB 11643 check character of the first 17 digits."""
    assert len(first17) == 17 and first17.isdigit(), first17
    total = sum(int(d) * w for d, w in zip(first17, _WEIGHTS, strict=True))
    return _CHECK_CHARS[total % 11]


def normalize(raw: str) -> str:
    """Strip blanks and upper-case a trailing ``x``."""
    return raw.strip().replace(" ", "").upper()


def parse_id_card(raw: str, *, today: dt.date | None = None) -> IdCard:
    """Validate an 18-character ID-card number and return its parts.

    Raises ``IdCardError`` with a Chinese message a candidate can act on.
    ``today`` (when given) rejects birth dates in the future.
    """
    number = normalize(raw)
    if len(number) != 18:
        raise IdCardError("id_card_length", "身份证号码应为18位")
    body, last = number[:17], number[17]
    if not body.isdigit() or not (last.isdigit() or last == "X"):
        raise IdCardError(
            "id_card_format", "身份证号码格式不正确：前17位应为数字，最后一位为数字或X"
        )
    try:
        birth = dt.date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        raise IdCardError("id_card_birth_date", "身份证号码中的出生日期不存在") from None
    if birth.year < 1900 or (today is not None and birth > today):
        raise IdCardError("id_card_birth_date", "身份证号码中的出生日期不合理")
    if check_char(body) != last:
        raise IdCardError("id_card_check_digit", "身份证号码校验位不正确，请核对后重新输入")
    gender: Gender = "male" if int(number[16]) % 2 == 1 else "female"
    return IdCard(number=number, region=number[:6], birth_date=birth, gender=gender)
