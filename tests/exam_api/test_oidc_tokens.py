"""ID-token checks, pure (exam_api/oidc_tokens.py): tokens made here with joserfc."""

from __future__ import annotations

from typing import Any

import pytest
from joserfc import jwt
from joserfc.jwk import KeySet, OctKey, RSAKey

from exam_api.oidc_errors import OidcError
from exam_api.oidc_tokens import verify_id_token

ISSUER, CLIENT, NONCE, NOW = "https://sso.example.cn", "exam", "n-123", 1_700_000_000
KEY = RSAKey.generate_key(2048, parameters={"kid": "k1"})
OTHER = RSAKey.generate_key(2048, parameters={"kid": "k1"})
KEYS = KeySet([RSAKey.import_key(KEY.as_dict(private=False))])


def _token(key: Any = KEY, alg: str = "RS256", **changes: Any) -> str:
    claims = {"iss": ISSUER, "aud": CLIENT, "sub": "s1", "nonce": NONCE,
              "iat": NOW - 10, "exp": NOW + 300} | changes  # fmt: skip
    claims = {k: v for k, v in claims.items() if v is not None}
    return jwt.encode({"alg": alg, "kid": "k1"}, claims, key, algorithms=[alg])


def _verify(raw: str) -> dict[str, Any]:
    return verify_id_token(raw, KEYS, issuer=ISSUER, client_id=CLIENT, nonce=NONCE, now=NOW)


def test_a_good_token_gives_its_claims() -> None:
    assert _verify(_token())["sub"] == "s1"


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        (_token(OTHER), "id_token_signature"),
        (_token(OctKey.import_key(b"k" * 32), "HS256"), "id_token_signature"),
        (_token(exp=NOW - 61), "id_token_expired"),
        (_token(iss="https://evil.example"), "id_token_issuer"),
        (_token(aud="someone-else"), "id_token_audience"),
        (_token(aud=[CLIENT, "other"]), "id_token_audience"),  # several audiences need azp
        (_token(nonce="replayed"), "id_token_nonce"),
        (_token(nonce=None), "id_token_nonce"),
        (_token(sub=None), "id_token_invalid"),
        ("not.a.token", "id_token_signature"),
    ],
)
def test_a_bad_token_is_refused(raw: str, code: str) -> None:
    with pytest.raises(OidcError) as caught:
        _verify(raw)
    assert caught.value.code == code


def test_clock_skew_within_the_leeway_is_accepted() -> None:
    assert _verify(_token(exp=NOW - 30))["sub"] == "s1"
