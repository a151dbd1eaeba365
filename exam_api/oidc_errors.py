"""Why a sign-in through the province's SSO was refused: a code, an HTTP
status and a message a candidate can read (zh-CN), in one catalogue."""

from __future__ import annotations

from exam_api.errors import ApiError

_ID_TOKEN_BAD = "统一身份认证平台返回的身份令牌校验未通过，登录已拒绝，请重新登录"

CATALOGUE: dict[str, tuple[int, str]] = {
    "sso_off": (404, "未启用统一身份认证登录"),
    "state_invalid": (400, "登录请求已失效或已被使用，请返回登录页重新登录"),
    "provider_refused": (400, "统一身份认证平台未完成登录（可能已取消），请返回登录页重新登录"),
    "code_missing": (400, "登录回调缺少授权码，请返回登录页重新登录"),
    "code_rejected": (400, "授权码无效、已过期或已被使用，请返回登录页重新登录"),
    "provider_unavailable": (503, "统一身份认证平台暂时无法访问，请稍后重试"),
    "provider_misconfigured": (502, "统一身份认证平台的配置信息有误，请联系管理员"),
    "id_token_missing": (400, _ID_TOKEN_BAD),
    "id_token_signature": (400, "身份令牌的签名无效（不是统一身份认证平台签发的），登录已拒绝"),
    "id_token_expired": (400, "身份令牌已过期，请返回登录页重新登录"),
    "id_token_issuer": (400, _ID_TOKEN_BAD),
    "id_token_audience": (400, _ID_TOKEN_BAD),
    "id_token_nonce": (400, _ID_TOKEN_BAD),
    "id_token_invalid": (400, _ID_TOKEN_BAD),
    "userinfo_subject": (400, "统一身份认证平台返回的用户信息与身份令牌不一致，登录已拒绝"),
    "claim_missing": (422, "统一身份认证平台未提供必需的个人信息，无法登录"),
    "claim_invalid": (422, "统一身份认证平台提供的个人信息不符合要求，无法登录"),
    "id_card_staff": (409, "该身份证号码属于工作人员账号，不能通过统一身份认证登录，请联系管理员"),
    "id_card_linked": (409, "该身份证号码已绑定另一个统一身份认证账号，请联系管理员"),
    "phone_taken": (409, "统一身份认证平台提供的手机号已被其他账号使用，请联系管理员"),
}


class OidcError(ApiError):
    """A refused SSO sign-in; ``message`` defaults to the catalogue's text for ``code``."""

    def __init__(self, code: str, message: str | None = None) -> None:
        status, text = CATALOGUE[code]
        super().__init__(status, code, message or text)
