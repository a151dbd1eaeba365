"""Dual snapshots (rule E2): the PC frame and the phone photo of one moment.

A *capture* is one moment, named by a capture id (``hub/captures.py``): the
ingest's random schedule or the session (a violation, rule H10) issues it;
the phone is asked for a photo through the hub and the PC frame is taken by
the process holding the PC peer. Both images are stored content-addressed
and linked in ``snapshots`` by attempt, device, reason, the shared
``capture_id`` and, for a violation's capture, the violation's index. Face
flags (H6) are added afterwards, off the event loop, and never hold anything up.

Evidence of a moment before the end is accepted after it (rule H10): a
capture issued at or before ``ended_at`` is stored within
``CAPTURE_MAX_AGE_S`` of its issue, so the fifth violation keeps its pictures.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import asyncpg

from hub.captures import CaptureId
from hub.devices import SCREEN
from webrtc.capture import MediaWorkers, capture_pc_jpeg
from webrtc.errors import RtcError
from webrtc.faces import FaceChecker
from webrtc.keyframes import KeyframeTap
from webrtc.snapshot_rows import count_snapshots, evidence_accepted, insert_snapshot, set_faces
from webrtc.storage import MAX_PHOTO_BYTES, SnapshotStore, check_jpeg

log = logging.getLogger(__name__)

CAPTURE_MAX_AGE_S = 120.0
# Storage limit per attempt: a 3-hour exam at one capture per 45 s with
# violations and returns stays far below it; a phone flooding photos does not.
MAX_SNAPSHOTS_PER_ATTEMPT = 2000
# The session's labels of the phone's own photos (hub/session.py), as the
# snapshot reasons: start (rule D4), every return to the page, and the photo
# that proves a phone camera which says it is live (rule H9).
PHONE_OWN_REASONS = {"start": "start", "return": "return_to_page", "camera_check": "camera_check"}

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
    violation: int | None = None

    def public(self) -> dict[str, Any]:
        return {
            "snapshot_id": self.id,
            "attempt_id": self.attempt_id,
            "device": self.device,
            "reason": self.reason,
            "taken_at": self.taken_at.isoformat(),
            "sha256": self.sha256,
            "capture_id": self.capture_id,
            "violation": self.violation,
            "faces": self.faces,
        }


class SnapshotService:
    """Takes, stores and links snapshots; owns the media and face workers."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        store: SnapshotStore,
        *,
        workers: MediaWorkers | None = None,
        faces: FaceChecker | None = None,
        listeners: list[SnapshotListener] | None = None,
    ) -> None:
        self._pool = pool
        self.store = store
        self.workers = workers or MediaWorkers()
        self.faces = faces or FaceChecker()
        self.listeners: list[SnapshotListener] = list(listeners or [])
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

    async def capture_pc(
        self, tap: KeyframeTap, capture: CaptureId, taken_at: datetime
    ) -> SnapshotRecord:
        """Take the PC camera's frame now and store it; raises ``RtcError``."""
        shot = await capture_pc_jpeg(tap, self.workers)
        return await self._store_and_link(
            capture.attempt_id,
            "pc",
            capture.reason,
            capture,
            _utc(capture.issued_at),
            taken_at,
            shot.jpeg,
            shot.width,
            shot.height,
        )

    async def capture_screen(
        self, tap: KeyframeTap, capture: CaptureId, taken_at: datetime
    ) -> SnapshotRecord:
        """Take the PC screen share's frame now (rule J2: every dual snapshot
        keeps one) and store it as device ``screen``; raises ``RtcError``."""
        shot = await capture_pc_jpeg(tap, self.workers)
        return await self._store_and_link(
            capture.attempt_id,
            SCREEN,
            capture.reason,
            capture,
            _utc(capture.issued_at),
            taken_at,
            shot.jpeg,
            shot.width,
            shot.height,
        )

    async def store_phone_photo(
        self, attempt_id: int, jpeg: bytes, label: str, issued_at: float, now: datetime
    ) -> SnapshotRecord:
        """Store a photo from the phone of ``attempt_id`` for the capture
        request labelled ``label`` (issued at ``issued_at``): a capture id —
        the phone's half of a dual snapshot — or the session's label of a
        photo the phone takes by itself (rule D4). Bad input raises
        ``RtcError`` and stores nothing."""
        if len(jpeg) > MAX_PHOTO_BYTES:  # before any decoding work
            raise RtcError("photo_too_large", "照片过大")
        capture = CaptureId.parse(label)
        if capture is not None:
            if capture.attempt_id != attempt_id:
                raise RtcError("wrong_attempt", "照片不属于本场考试")
            reason = capture.reason
            issued_at = capture.issued_at
        elif label in PHONE_OWN_REASONS:
            reason = PHONE_OWN_REASONS[label]
        else:
            raise RtcError("bad_request", "拍照请求无效")
        info = await self.workers.run(check_jpeg, jpeg)
        return await self._store_and_link(
            attempt_id,
            "phone",
            reason,
            capture,
            _utc(issued_at),
            now,
            jpeg,
            info.width,
            info.height,
        )

    async def _store_and_link(
        self,
        attempt_id: int,
        device: str,
        reason: str,
        capture: CaptureId | None,
        issued_at: datetime,
        taken_at: datetime,
        jpeg: bytes,
        width: int,
        height: int,
    ) -> SnapshotRecord:
        async with self._pool.acquire() as conn:
            if not await evidence_accepted(conn, attempt_id, issued_at, CAPTURE_MAX_AGE_S):
                raise RtcError("attempt_closed", "考试已结束")
            if await count_snapshots(conn, attempt_id) >= MAX_SNAPSHOTS_PER_ATTEMPT:
                raise RtcError("too_many_photos", "本场考试的照片数量已达上限")
        blob = await self.workers.run(self.store.put, jpeg)
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
                capture_id=None if capture is None else str(capture),
                violation=None if capture is None else capture.violation,
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
            None if capture is None else str(capture),
            violation=None if capture is None else capture.violation,
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
        flag = None if record.device == SCREEN else await self.faces.check_jpeg(jpeg)
        count = {"none": 0, "one": 1, "several": 2}.get(flag or "")
        if count is not None:
            async with self._pool.acquire() as conn:
                await set_faces(conn, record.id, count)
        flagged = dataclasses.replace(record, faces=count)
        for listener in list(self.listeners):
            try:
                await listener(flagged)
            except Exception:
                log.exception("snapshot listener failed")


def _utc(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def snapshot_message(record: SnapshotRecord) -> dict[str, Any]:
    """What an invigilator receives about a stored snapshot."""
    return {"type": "snapshot", **record.public()}
