"""The SSO settings (proctor/settings.py): off by default, the claims mapping, strict checks."""

from __future__ import annotations

import pytest

from proctor.settings import OidcClaims, SettingsError, load_oidc_settings

BASE = {
    "PROCTOR_OIDC_ISSUER": "https://sso.nmg.gov.cn/oidc",
    "PROCTOR_OIDC_CLIENT_ID": "exam",
    "PROCTOR_OIDC_CLIENT_SECRET": "secret",
}
URL = "https://exam.example.cn"


def test_off_by_default() -> None:
    assert load_oidc_settings({}, public_url=URL) is None


def test_defaults_and_derived_uris() -> None:
    oidc = load_oidc_settings(BASE, public_url=URL)
    assert oidc is not None
    assert oidc.claims == OidcClaims("name", "id_card_no", "phone_number")
    assert oidc.label == "蒙速办登录"
    assert oidc.scopes == "openid profile phone"
    assert oidc.redirect_uri == URL + "/api/auth/oidc/callback"
    assert oidc.post_logout_redirect_uri == URL + "/static/login.html"


def test_the_claims_mapping() -> None:
    env = BASE | {"PROCTOR_OIDC_CLAIMS": "real_name:xm, id_card:sfzh,phone:sjhm"}
    oidc = load_oidc_settings(env, public_url=URL)
    assert oidc is not None and oidc.claims == OidcClaims("xm", "sfzh", "sjhm")


@pytest.mark.parametrize(
    "change",
    [
        {"PROCTOR_OIDC_CLAIMS": "gender:xb"},
        {"PROCTOR_OIDC_CLAIMS": "real_name"},
        {"PROCTOR_OIDC_CLIENT_SECRET": ""},
        {"PROCTOR_OIDC_ISSUER": "http://sso.example.cn"},  # http only on loopback
        {"PROCTOR_OIDC_SCOPES": "profile phone"},
    ],
)
def test_bad_settings_are_refused(change: dict[str, str]) -> None:
    with pytest.raises(SettingsError):
        load_oidc_settings(BASE | change, public_url=URL)


def test_http_on_loopback_is_allowed() -> None:
    env = BASE | {"PROCTOR_OIDC_ISSUER": "http://127.0.0.1:9000"}
    oidc = load_oidc_settings(env, public_url=URL)
    assert oidc is not None and oidc.issuer == "http://127.0.0.1:9000"
