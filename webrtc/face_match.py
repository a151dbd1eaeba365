"""Face matching off the event loop (rules I1–I3).

:class:`FaceMatcher` reads faces (``proctor/face_model.py``: dlib's
descriptor, shipped by a package) in its own bounded media pool
(``webrtc/workers.py``), one thread, so the model is loaded once and a burst
of pictures waits in a short queue or hears "busy", never blocks the loop.

:class:`SnapshotScorer` is a snapshot listener: every stored PC frame of the
identity check (I2) and of the random schedule (I3) is compared with the
candidate by the identity provider, and the verdict is written on the
snapshot (``face_match``, ``face_distance``). The exam API reads those
verdicts: the check's tries, the wall's and the timeline's flags. Nothing
here ends or blocks an exam.
"""

from __future__ import annotations

import logging
from typing import Any, Protocol

import asyncpg

from proctor.face_model import FaceReading, ModelMissing, model_dir, read_faces_in_image
from webrtc.errors import RtcError
from webrtc.identity_provider import IdentityProvider
from webrtc.workers import MediaWorkers

log = logging.getLogger(__name__)

# the PC frames that are compared with the candidate: the check's and the random ones
SCORED_REASONS = frozenset({"identity", "random", "start"})


class FaceMatcher:
    """Reads faces in a bounded pool of its own; ``describe`` raises
    ``RtcError("busy")`` when the backlog is full or the pool is stopped."""

    def __init__(self, workers: int = 1, max_pending: int = 8) -> None:
        self._pool = MediaWorkers(workers, max_pending, thread_name_prefix="face-match")

    def start(self) -> None:
        model_dir()  # fail at start, not at the first candidate, when the model is missing
        self._pool.start()

    async def stop(self) -> None:
        await self._pool.stop()

    async def describe(self, picture: bytes) -> FaceReading:
        """The faces of an encoded picture (JPEG or PNG)."""
        return await self._pool.run(read_faces_in_image, picture)


class Snapshot(Protocol):
    """What the scorer needs of a stored snapshot (``webrtc.snapshots.SnapshotRecord``)."""

    @property
    def id(self) -> int: ...
    @property
    def attempt_id(self) -> int: ...
    @property
    def device(self) -> str: ...
    @property
    def reason(self) -> str: ...
    @property
    def sha256(self) -> str: ...


class Blobs(Protocol):
    def get(self, sha256: str) -> bytes: ...


class SnapshotScorer:
    """Scores PC snapshots against the candidate (a ``SnapshotListener``)."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        blobs: Blobs,
        matcher: FaceMatcher,
        provider: IdentityProvider,
        workers: MediaWorkers,
    ) -> None:
        self._pool = pool
        self._blobs = blobs
        self._matcher = matcher
        self._provider = provider
        self._workers = workers

    async def __call__(self, snapshot: Snapshot) -> None:
        if snapshot.device != "pc" or snapshot.reason not in SCORED_REASONS:
            return
        try:
            jpeg = await self._workers.run(self._blobs.get, snapshot.sha256)
            live = await self._matcher.describe(jpeg)
        except (RtcError, OSError) as exc:
            # unscored: the check's try stays open and the page asks again
            log.warning("snapshot %s not scored: %s", snapshot.id, exc)
            return
        except ModelMissing:
            log.exception("the face model is missing")
            return
        async with self._pool.acquire() as conn:
            verdict = await self._provider.verify(conn, snapshot.attempt_id, live)
            await set_face_match(conn, snapshot.id, verdict.match, verdict.distance)


async def set_face_match(conn: Any, snapshot_id: int, match: str, distance: float | None) -> None:
    await conn.execute(
        "UPDATE snapshots SET face_match = $2, face_distance = $3 WHERE id = $1",
        snapshot_id,
        match,
        distance,
    )
