"""Who the SSO says the person is: the province's claim names mapped onto the
fields the exam system needs, each checked as the built-in register checks it.

Pure: claims and the mapping (``PROCTOR_OIDC_CLAIMS``) in, an
:class:`SsoIdentity` out, or an :class:`OidcError` naming the field.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from exam_api.idcard import IdCardError, parse_id_card
from exam_api.identity import FieldError, check_phone, check_text
from exam_api.oidc_errors import OidcError
from proctor.settings import OidcClaims

_LABELS = {"real_name": "真实姓名", "id_card": "身份证号码", "phone": "手机号码"}


@dataclass(frozen=True)
class SsoIdentity:
    issuer: str
    subject: str
    real_name: str
    id_card: str
    phone: str


def _claim(claims: dict[str, Any], names: OidcClaims, field: str) -> str:
    name: str = getattr(names, field)
    value = claims.get(name)
    if not isinstance(value, str) or not value.strip():
        raise OidcError(
            "claim_missing",
            f"统一身份认证平台未提供{_LABELS[field]}（{name}），无法登录。"
            "请在统一身份认证平台完善个人信息后重试",
        )
    return value


def sso_identity(
    issuer: str, claims: dict[str, Any], names: OidcClaims, today: dt.date
) -> SsoIdentity:
    """The identity in ``claims`` (the ID token's merged with userinfo's)."""
    subject = claims.get("sub")
    if not isinstance(subject, str) or not subject:
        raise OidcError("id_token_invalid")
    try:
        real_name = check_text(_claim(claims, names, "real_name"), "真实姓名", code="bad_real_name")
        phone = check_phone(_claim(claims, names, "phone"))
    except FieldError as exc:
        raise OidcError("claim_invalid", f"统一身份认证平台提供的信息有误：{exc.message}") from None
    try:
        id_card = parse_id_card(_claim(claims, names, "id_card"), today=today).number
    except IdCardError as exc:
        raise OidcError(
            "claim_invalid", f"统一身份认证平台提供的身份证号码无效：{exc.message}"
        ) from None
    return SsoIdentity(
        issuer=issuer, subject=subject, real_name=real_name, id_card=id_card, phone=phone
    )
