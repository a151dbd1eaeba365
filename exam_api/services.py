"""What the exam API needs from the realtime side, as ports the wiring fills
(``proctor/app.py``): the exam API imports neither the video ingest nor the
wiring, and never ends an attempt behind the hub's back."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

import asyncpg
from starlette.requests import HTTPConnection

from hub.keys import Keys
from proctor.face_model import FaceReading

if TYPE_CHECKING:
    from exam_api.account_services import AccountServices
    from exam_api.training import TrainingLookup


class AttemptEnds(Protocol):
    """The one path of every end (the hub): both devices and the watchers
    learn it at once, and PostgreSQL records it (scored) before it returns."""

    async def end(self, attempt_id: int, reason: str) -> None: ...


class AnswerGate(Protocol):
    """Rule D1 on the server: raises (``cameras_not_live``) unless both
    cameras are live as the server measures them (rule H9)."""

    async def check_answer(self, attempt_id: int) -> None: ...


class LiveVideo(Protocol):
    """The PC camera seen live by an invigilator (rule H4)."""

    async def live_still(self, attempt_id: int) -> bytes | None:
        """A fresh picture from whichever process holds the PC peer, or None
        when the PC camera is not live; raises a ``ProctorError`` when the
        capture failed or its process did not answer in time."""
        ...

    async def live_video(self, attempt_id: int, sdp: str, watcher: str) -> str | None:
        """The answer to ``watcher``'s offer to receive the PC camera live
        (rule L2), from whichever process holds the peer, replacing the
        watcher's earlier one of the attempt; None when the PC camera is not
        live; raises a ``ProctorError`` otherwise."""
        ...

    async def request_watch(self, attempt_id: int, watched: bool) -> None:
        """Full frame rate while watched, wherever the peer is."""
        ...


class FaceModel(Protocol):
    """Reads the faces of a picture off the event loop (the ingest's bounded
    face pool, ``webrtc/face_match.py``); raises a ``ProctorError`` (busy)."""

    async def describe(self, picture: bytes) -> FaceReading: ...


@dataclass(frozen=True)
class BundleEntry:
    """One file of an evidence bundle: its name inside the zip and its bytes,
    read piece by piece when the zip is streamed (memory: one piece)."""

    name: str
    chunks: Callable[[], AsyncIterator[bytes]]


class BundlePart(Protocol):
    """A kind of evidence in an attempt's bundle (rule M4): the snapshots of
    every device (screen frames included) and the recording
    (``exam_api/evidence_bundle.py``). ``entries`` reads only rows (small, bounded);
    the bytes come later, through each entry's ``chunks``."""

    @property
    def name(self) -> str: ...

    async def entries(self, conn: asyncpg.Connection, attempt_id: int) -> list[BundleEntry]: ...


class EvidenceBlobs(Protocol):
    """The evidence store (filled with ``webrtc`` ``SnapshotStore``): a picture by digest."""

    def get(self, sha256: str) -> bytes: ...


class EvidenceObjects(Protocol):
    """The evidence object store (filled with ``webrtc`` ``ObjectStore``): a
    file by key, read in ranges (a recording segment is megabytes)."""

    def size(self, key: str) -> int | None: ...

    def read_range(self, key: str, start: int, end: int) -> bytes: ...


@dataclass(frozen=True)
class ExamServices:
    ends: AttemptEnds
    gate: AnswerGate | None  # None: PROCTOR_REQUIRE_LIVE_CAMERAS=0
    live: LiveVideo
    keys: Keys
    accounts: AccountServices  # password hashing, the SMS sender, the identity provider
    training: TrainingLookup  # the training system's records (rule B7)
    faces: FaceModel  # the ID photo's face (rule I1)
    # rule M4: what an evidence bundle holds besides the timeline and the chain
    bundle_parts: tuple[BundlePart, ...] = ()


def exam_services(conn: HTTPConnection) -> ExamServices:
    """The exam API's services, from the lifespan state the wiring filled."""
    value: ExamServices = conn.state.exam
    return value
