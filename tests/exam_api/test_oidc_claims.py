"""The province's claims mapped and checked, pure (exam_api/oidc_claims.py)."""

from __future__ import annotations

import datetime as dt

import pytest

from exam_api.oidc_claims import sso_identity
from exam_api.oidc_errors import OidcError
from proctor.settings import OidcClaims

NAMES = OidcClaims(real_name="xm", id_card="sfzh", phone="sjhm")
TODAY = dt.date(2025, 1, 1)
GOOD = {"sub": "s1", "xm": " 张三 ", "sfzh": "11010519491231002x", "sjhm": "13800138000"}


def test_the_mapping_gives_the_fields() -> None:
    who = sso_identity("https://sso", GOOD, NAMES, TODAY)
    assert (who.subject, who.real_name, who.id_card, who.phone) == (
        "s1", "张三", "11010519491231002X", "13800138000",
    )  # fmt: skip


@pytest.mark.parametrize(
    ("change", "code", "text"),
    [
        ({"sfzh": None}, "claim_missing", "身份证号码（sfzh）"),
        ({"xm": ""}, "claim_missing", "真实姓名（xm）"),
        ({"sjhm": None}, "claim_missing", "手机号码（sjhm）"),
        ({"sfzh": "110105194912310021"}, "claim_invalid", "校验位不正确"),
        ({"sjhm": "12345"}, "claim_invalid", "11位手机号码"),
        ({"sub": None}, "id_token_invalid", "身份令牌"),
    ],
)
def test_a_missing_or_bad_claim_is_refused(change: dict[str, object], code: str, text: str) -> None:
    claims = {k: v for k, v in (GOOD | change).items() if v is not None}
    with pytest.raises(OidcError) as caught:
        sso_identity("https://sso", claims, NAMES, TODAY)
    assert caught.value.code == code and text in caught.value.message
