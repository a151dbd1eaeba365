"""The ID token of the province's SSO, verified (OpenID Connect Core 3.1.3.7).

Pure: the token, the provider's key set, the expected issuer, audience and
nonce, and ``now`` in; the claims out, or an :class:`OidcError`. JOSE is
joserfc's (signature, algorithms, claim checks), none of it written here.
"""

from __future__ import annotations

from typing import Any

from joserfc import jwt
from joserfc.errors import ClaimError, JoseError
from joserfc.jwk import KeySet

from exam_api.oidc_errors import OidcError

# Asymmetric signatures only: never "none", never HS256 with the client secret.
ALGORITHMS = ("RS256", "PS256", "ES256", "EdDSA", "Ed25519")
LEEWAY_S = 60  # clock skew between the provider and this server


def verify_id_token(
    raw: str, keys: KeySet, *, issuer: str, client_id: str, nonce: str, now: float
) -> dict[str, Any]:
    """The claims of ``raw`` if it is signed by one of ``keys`` and was issued
    by ``issuer`` for ``client_id`` with ``nonce``, and ``now`` is before its expiry."""
    try:
        token = jwt.decode(raw, keys, algorithms=list(ALGORITHMS))
    except (JoseError, ValueError):
        # a bad signature, a key id not in the set, an algorithm not allowed, a malformed token
        raise OidcError("id_token_signature") from None
    claims = dict(token.claims)
    registry = jwt.JWTClaimsRegistry(
        now=int(now),
        leeway=LEEWAY_S,
        iss={"essential": True, "value": issuer},
        aud={"essential": True, "value": client_id},
        sub={"essential": True},
        exp={"essential": True},
        iat={"essential": True},
        nonce={"essential": True, "value": nonce},
    )
    try:
        registry.validate(claims)
    except ClaimError as exc:
        raise OidcError(_claim_code(exc.claim)) from None
    except JoseError:
        raise OidcError("id_token_invalid") from None
    audiences = claims["aud"] if isinstance(claims["aud"], list) else [claims["aud"]]
    # Core 3.1.3.7 (4, 5): several audiences need azp, and azp must be us.
    if (len(audiences) > 1 or "azp" in claims) and claims.get("azp") != client_id:
        raise OidcError("id_token_audience")
    return claims


def _claim_code(claim: str) -> str:
    return {
        "iss": "id_token_issuer",
        "aud": "id_token_audience",
        "nonce": "id_token_nonce",
        "exp": "id_token_expired",
    }.get(claim, "id_token_invalid")
