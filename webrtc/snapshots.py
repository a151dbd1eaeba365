"""Dual snapshots (rule E2): the PC frame and the phone photo of one moment.

A *capture* is one moment: the hub decides it (random schedule, start,
violation, return to the page), names it with a signed ``capture_id``, asks
the phone for a photo and takes the PC frame at once. Both images are stored
content-addressed and linked in ``snapshots`` by attempt, device, time,
reason and the shared ``capture_id``. Face flags (H6) are added afterwards,
off the event loop, and never hold anything up.

The ``capture_id`` is ``<attempt>.<reason>.<issued ms>.<mac>``: an HMAC under
the server's secret, so any hub process can check that a phone photo answers
a capture of *its own* attempt, without shared state (rule H8).
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import hmac
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from webrtc.capture import MediaWorkers, capture_pc_jpeg
from webrtc.errors import RtcError
from webrtc.faces import FaceChecker
from webrtc.keyframes import KeyframeTap
from webrtc.schedule import REASONS, SnapshotReason
from webrtc.snapshot_rows import attempt_is_open, count_snapshots, insert_snapshot, set_faces
from webrtc.storage import MAX_PHOTO_BYTES, SnapshotStore, check_jpeg

log = logging.getLogger(__name__)

CAPTURE_MAX_AGE_S = 120.0
# Storage limit per attempt: a 3-hour exam at one capture per 45 s with
# violations and returns stays far below it; a phone flooding photos does not.
MAX_SNAPSHOTS_PER_ATTEMPT = 2000
# Reasons the phone may give for a photo it takes by itself (rule D4).
PHONE_OWN_REASONS: tuple[SnapshotReason, ...] = ("start", "return_to_page")

PhoneCaptureHook = Callable[[int, str, str], Awaitable[None]]
"""``(attempt_id, capture_id, reason)``: deliver a capture request to the phone."""
SnapshotListener = Callable[["SnapshotRecord"], Awaitable[None]]
"""Told about each stored snapshot once its face flag is known."""


@dataclass(frozen=True, slots=True)
class SnapshotRecord:
    id: int
    attempt_id: int
    device: str
    reason: str
    taken_at: datetime
    sha256: str
    path: str
    width: int
    height: int
    capture_id: str | None
    faces: int | None = None

    def public(self) -> dict[str, Any]:
        return {
            "snapshot_id": self.id,
            "attempt_id": self.attempt_id,
            "device": self.device,
            "reason": self.reason,
            "taken_at": self.taken_at.isoformat(),
            "sha256": self.sha256,
            "capture_id": self.capture_id,
            "faces": self.faces,
        }


def sign_capture_id(secret: bytes, attempt_id: int, reason: str, issued_ms: int) -> str:
    assert reason in REASONS
    body = f"{attempt_id}.{reason}.{issued_ms}"
    mac = hmac.new(secret, b"capture|" + body.encode(), hashlib.sha256).hexdigest()[:32]
    return f"{body}.{mac}"


def verify_capture_id(secret: bytes, capture_id: str, attempt_id: int, now_ms: int) -> str:
    """The capture's reason, if ``capture_id`` is ours, fresh and for ``attempt_id``."""
    parts = capture_id.split(".")
    if len(parts) != 4 or not parts[0].isdigit() or not parts[2].isdigit():
        raise RtcError("bad_request", "拍照请求编号无效")
    claimed_attempt, reason, issued = int(parts[0]), parts[1], int(parts[2])
    if reason not in REASONS:
        raise RtcError("bad_request", "拍照请求编号无效")
    expected = sign_capture_id(secret, claimed_attempt, reason, issued)
    if not hmac.compare_digest(expected, capture_id):
        raise RtcError("bad_request", "拍照请求编号无效")
    if claimed_attempt != attempt_id:
        raise RtcError("wrong_attempt", "照片不属于本场考试")
    if now_ms - issued > CAPTURE_MAX_AGE_S * 1000:
        raise RtcError("bad_request", "拍照请求已过期")
    return reason


class SnapshotService:
    """Takes, stores and links snapshots; owns the media and face workers."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        store: SnapshotStore,
        secret: bytes,
        *,
        workers: MediaWorkers | None = None,
        faces: FaceChecker | None = None,
    ) -> None:
        self._pool = pool
        self._store = store
        self._secret = secret
        self.workers = workers or MediaWorkers()
        self.faces = faces or FaceChecker()
        self.phone_capture: PhoneCaptureHook | None = None
        self.listeners: list[SnapshotListener] = []
        self._face_tasks: set[asyncio.Task[None]] = set()
        self._max_face_tasks = 64

    def start(self) -> None:
        self.workers.start()
        self.faces.start()

    async def stop(self) -> None:
        for task in list(self._face_tasks):
            task.cancel()
        await asyncio.gather(*self._face_tasks, return_exceptions=True)
        await self.faces.stop()
        await self.workers.stop()

    def new_capture_id(self, attempt_id: int, reason: SnapshotReason, now_ms: int) -> str:
        return sign_capture_id(self._secret, attempt_id, reason, now_ms)

    async def request_phone(self, attempt_id: int, capture_id: str, reason: str) -> bool:
        """Ask the phone for a photo; False when no hook is wired or it failed."""
        hook = self.phone_capture
        if hook is None:
            return False
        try:
            await hook(attempt_id, capture_id, reason)
        except Exception:
            log.exception("phone capture request for attempt %s failed", attempt_id)
            return False
        return True

    async def capture_pc(
        self,
        attempt_id: int,
        tap: KeyframeTap,
        reason: str,
        capture_id: str | None,
        taken_at: datetime,
    ) -> SnapshotRecord:
        """Take the PC camera's frame now and store it; raises ``RtcError``."""
        shot = await capture_pc_jpeg(tap, self.workers)
        return await self._store_and_link(
            attempt_id, "pc", reason, capture_id, taken_at, shot.jpeg, shot.width, shot.height
        )

    async def store_phone_photo(
        self,
        attempt_id: int,
        jpeg: bytes,
        *,
        capture_id: str | None,
        reason: str | None,
        now: datetime,
    ) -> SnapshotRecord:
        """Store a photo from the phone of ``attempt_id``.

        With a ``capture_id`` it answers that capture (the reason comes from
        it); without one it is a photo the phone took by itself, and
        ``reason`` must be ``start`` or ``return_to_page`` (rule D4). Bad
        input raises ``RtcError`` and stores nothing.
        """
        if len(jpeg) > MAX_PHOTO_BYTES:  # before any decoding work
            raise RtcError("photo_too_large", "照片过大")
        if capture_id is not None:
            reason = verify_capture_id(
                self._secret, capture_id, attempt_id, int(now.timestamp() * 1000)
            )
        elif reason not in PHONE_OWN_REASONS:
            raise RtcError("bad_request", "缺少拍照请求编号或拍照原因")
        assert reason is not None
        info = await self.workers.run(check_jpeg, jpeg)
        return await self._store_and_link(
            attempt_id, "phone", reason, capture_id, now, jpeg, info.width, info.height
        )

    async def _store_and_link(
        self,
        attempt_id: int,
        device: str,
        reason: str,
        capture_id: str | None,
        taken_at: datetime,
        jpeg: bytes,
        width: int,
        height: int,
    ) -> SnapshotRecord:
        async with self._pool.acquire() as conn:
            if not await attempt_is_open(conn, attempt_id):
                raise RtcError("attempt_closed", "考试已结束")
            if await count_snapshots(conn, attempt_id) >= MAX_SNAPSHOTS_PER_ATTEMPT:
                raise RtcError("too_many_photos", "本场考试的照片数量已达上限")
        blob = await self.workers.run(self._store.put, jpeg)
        async with self._pool.acquire() as conn:
            snapshot_id = await insert_snapshot(
                conn,
                attempt_id=attempt_id,
                device=device,
                reason=reason,
                taken_at=taken_at,
                blob=blob,
                width=width,
                height=height,
                capture_id=capture_id,
            )
        record = SnapshotRecord(
            snapshot_id,
            attempt_id,
            device,
            reason,
            taken_at,
            blob.sha256,
            blob.path,
            width,
            height,
            capture_id,
        )
        self._flag_faces_later(record, jpeg)
        return record

    def _flag_faces_later(self, record: SnapshotRecord, jpeg: bytes) -> None:
        if len(self._face_tasks) >= self._max_face_tasks:
            log.warning("face backlog full; snapshot %s stays unflagged", record.id)
            return
        task = asyncio.get_running_loop().create_task(self._flag_faces(record, jpeg))
        self._face_tasks.add(task)
        task.add_done_callback(self._face_tasks.discard)

    async def _flag_faces(self, record: SnapshotRecord, jpeg: bytes) -> None:
        # rule H6: a flag for humans, computed off the loop, never blocking.
        flag = await self.faces.check_jpeg(jpeg)
        count = {"none": 0, "one": 1, "several": 2}.get(flag)
        if count is not None:
            async with self._pool.acquire() as conn:
                await set_faces(conn, record.id, count)
        flagged = dataclasses.replace(record, faces=count)
        for listener in list(self.listeners):
            try:
                await listener(flagged)
            except Exception:
                log.exception("snapshot listener failed")


def snapshot_message(record: SnapshotRecord) -> dict[str, Any]:
    """What an invigilator receives about a stored snapshot."""
    return {"type": "snapshot", **record.public()}
