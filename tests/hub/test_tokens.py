"""Unit tests of device tokens (hub/tokens.py)."""

from __future__ import annotations

import pytest

from hub.errors import TokenError
from hub.tokens import sign_device_token, verify_device_token

SECRET = b"s" * 32


def test_round_trip_binds_attempt_and_device() -> None:
    token = sign_device_token(SECRET, 42, "phone", now=1000.0, ttl_s=300)
    claim = verify_device_token(SECRET, token, now=1299.0)
    assert (claim.attempt_id, claim.device, claim.expires_at) == (42, "phone", 1300)


def test_expired_token_is_refused() -> None:
    token = sign_device_token(SECRET, 42, "pc", now=1000.0, ttl_s=300)
    with pytest.raises(TokenError) as err:
        verify_device_token(SECRET, token, now=1301.0)
    assert err.value.code == "token_expired"


@pytest.mark.parametrize(
    "mutate",
    [
        lambda t: t.replace("v1.42.", "v1.43.", 1),  # another attempt
        lambda t: t.replace(".pc.", ".phone.", 1),  # another device
        lambda t: t[:-1] + ("0" if t[-1] != "0" else "1"),  # forged signature
    ],
)
def test_tampered_token_is_refused(mutate: object) -> None:
    token = sign_device_token(SECRET, 42, "pc", now=1000.0, ttl_s=300)
    with pytest.raises(TokenError) as err:
        verify_device_token(SECRET, mutate(token), now=1001.0)  # type: ignore[operator]
    assert err.value.code == "token_invalid"


def test_other_secret_is_refused() -> None:
    token = sign_device_token(SECRET, 42, "pc", now=1000.0, ttl_s=300)
    with pytest.raises(TokenError):
        verify_device_token(b"t" * 32, token, now=1001.0)


@pytest.mark.parametrize("garbage", ["", "abc", "v2.1.pc.9.x", "v1.1.pc.9"])
def test_malformed_token_is_refused(garbage: str) -> None:
    with pytest.raises(TokenError) as err:
        verify_device_token(SECRET, garbage, now=0)
    assert err.value.code == "token_malformed"
