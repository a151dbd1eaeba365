"""Face presence flags (rule H6): counted locally, off the loop, never blocking."""

from __future__ import annotations

import asyncio

import pytest

from tests.support.faces import jpeg_of, picture_with_faces
from webrtc.faces import FaceChecker, count_faces, count_faces_in_jpeg, flag_for


@pytest.mark.parametrize("faces", [0, 1, 2])
def test_count_faces_on_synthetic_pictures(faces: int) -> None:
    assert count_faces(picture_with_faces(faces)) == faces


def test_count_faces_in_jpeg_and_junk() -> None:
    assert count_faces_in_jpeg(jpeg_of(picture_with_faces(1))) == 1
    with pytest.raises(ValueError):
        count_faces_in_jpeg(b"not a jpeg")


def test_flags() -> None:
    assert [flag_for(n) for n in (0, 1, 2, 5)] == ["none", "one", "several", "several"]


async def test_checker_flags_off_the_loop() -> None:
    checker = FaceChecker(workers=1, max_pending=4)
    checker.start()
    try:
        flags = await asyncio.gather(
            *(checker.check_jpeg(jpeg_of(picture_with_faces(n))) for n in (0, 1, 2))
        )
        assert flags == ["none", "one", "several"]
        assert await checker.check_jpeg(b"junk") == "unknown"
    finally:
        await checker.stop()


async def test_checker_says_unknown_when_backlog_is_full_or_stopped() -> None:
    # rule H6: never blocking the exam — past the backlog limit, no wait at all
    checker = FaceChecker(workers=1, max_pending=2)
    assert await checker.check_jpeg(jpeg_of(picture_with_faces(1))) == "unknown"  # not started
    checker.start()
    try:
        jpeg = jpeg_of(picture_with_faces(1))
        flags = await asyncio.gather(*(checker.check_jpeg(jpeg) for _ in range(5)))
        assert flags.count("one") == 2
        assert flags.count("unknown") == 3
    finally:
        await checker.stop()
