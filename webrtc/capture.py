"""Turn "a snapshot is due" into a stored-ready JPEG of the PC camera.

The pipeline: ask the :class:`~webrtc.keyframes.KeyframeTap` for the next
keyframe (sends a rate-limited PLI), then decode that single frame and encode
it as JPEG in a worker thread. :class:`MediaWorkers` is that thread pool, with
a bounded backlog so a burst of snapshots can never queue without limit.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TypeVar

import cv2

from webrtc.errors import RtcError
from webrtc.keyframes import EncodedKeyframe, KeyframeTap, decode_keyframe

T = TypeVar("T")
JPEG_QUALITY = 85


@dataclass(frozen=True, slots=True)
class CapturedJpeg:
    jpeg: bytes
    width: int
    height: int


def keyframe_to_jpeg(keyframe: EncodedKeyframe, quality: int = JPEG_QUALITY) -> CapturedJpeg:
    """Decode one keyframe and encode it as JPEG (blocking: ≈5 ms at 640x480)."""
    picture = decode_keyframe(keyframe)
    ok, encoded = cv2.imencode(".jpg", picture, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise RtcError("bad_keyframe", "无法生成 JPEG")
    height, width = picture.shape[:2]
    return CapturedJpeg(encoded.tobytes(), width, height)


class MediaWorkers:
    """A small thread pool for decode/encode/disk work, with a bounded backlog."""

    def __init__(self, workers: int = 2, max_pending: int = 64) -> None:
        self._workers = workers
        self._max_pending = max_pending
        self._pending = 0
        self._executor: ThreadPoolExecutor | None = None

    def start(self) -> None:
        assert self._executor is None
        self._executor = ThreadPoolExecutor(self._workers, thread_name_prefix="media")

    async def stop(self) -> None:
        executor, self._executor = self._executor, None
        if executor is not None:
            await asyncio.to_thread(executor.shutdown, wait=True, cancel_futures=True)

    async def run(self, fn: Callable[..., T], *args: object) -> T:
        """Run ``fn(*args)`` in the pool; ``RtcError("busy")`` when the backlog is full."""
        if self._executor is None:
            raise RtcError("busy", "服务正在关闭")
        if self._pending >= self._max_pending:
            raise RtcError("busy", "服务繁忙，请稍后")
        self._pending += 1
        try:
            return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)
        finally:
            self._pending -= 1


async def capture_pc_jpeg(
    tap: KeyframeTap, workers: MediaWorkers, timeout_s: float = 3.0
) -> CapturedJpeg:
    """The PC camera's picture right now, as JPEG.

    Raises ``RtcError`` with ``keyframe_timeout`` / ``track_ended`` /
    ``bad_keyframe`` / ``busy``.
    """
    keyframe = await tap.next_keyframe(timeout_s)
    return await workers.run(keyframe_to_jpeg, keyframe)
