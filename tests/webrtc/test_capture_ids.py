"""Signed capture ids: a phone photo answers a capture of its own attempt."""

from __future__ import annotations

import pytest

from webrtc.errors import RtcError
from webrtc.snapshots import sign_capture_id, verify_capture_id

SECRET = b"k" * 32


def test_round_trip_gives_the_reason() -> None:
    capture = sign_capture_id(SECRET, 42, "violation", 1_000)
    assert verify_capture_id(SECRET, capture, 42, now_ms=2_000) == "violation"


@pytest.mark.parametrize(
    ("mutate", "attempt", "now_ms", "code"),
    [
        (lambda c: c, 43, 2_000, "wrong_attempt"),  # a photo for another attempt
        (lambda c: c, 42, 1_000 + 121_000, "bad_request"),  # too old
        (lambda c: c[:-1] + ("0" if c[-1] != "0" else "1"), 42, 2_000, "bad_request"),
        (lambda c: c.replace("violation", "random"), 42, 2_000, "bad_request"),
        (lambda c: "junk", 42, 2_000, "bad_request"),
        (lambda c: c.replace("42.", "43.", 1), 43, 2_000, "bad_request"),  # forged attempt
    ],
)
def test_forged_stale_or_foreign_ids_are_refused(mutate, attempt, now_ms, code) -> None:  # type: ignore[no-untyped-def]
    capture = mutate(sign_capture_id(SECRET, 42, "violation", 1_000))
    with pytest.raises(RtcError) as err:
        verify_capture_id(SECRET, capture, attempt, now_ms)
    assert err.value.code == code


def test_another_secret_does_not_verify() -> None:
    capture = sign_capture_id(b"x" * 32, 42, "random", 1_000)
    with pytest.raises(RtcError):
        verify_capture_id(SECRET, capture, 42, 2_000)
