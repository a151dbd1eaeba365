"""What the exam API needs from the realtime side, as ports the wiring fills
(``proctor/app.py``): the exam API imports neither the video ingest nor the
wiring, and never ends an attempt behind the hub's back."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

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
        """A fresh picture, or None when the peer is not on this process."""
        ...

    async def request_watch(self, attempt_id: int, watched: bool) -> None:
        """Full frame rate while watched, wherever the peer is."""
        ...


class FaceModel(Protocol):
    """Reads the faces of a picture off the event loop (the ingest's bounded
    face pool, ``webrtc/face_match.py``); raises a ``ProctorError`` (busy)."""

    async def describe(self, picture: bytes) -> FaceReading: ...


@dataclass(frozen=True)
class ExamServices:
    ends: AttemptEnds
    gate: AnswerGate | None  # None: PROCTOR_REQUIRE_LIVE_CAMERAS=0
    live: LiveVideo
    keys: Keys
    accounts: AccountServices  # password hashing, the SMS sender, the identity provider
    training: TrainingLookup  # the training system's records (rule B7)
    faces: FaceModel  # the ID photo's face (rule I1)


def exam_services(conn: HTTPConnection) -> ExamServices:
    """The exam API's services, from the lifespan state the wiring filled."""
    value: ExamServices = conn.state.exam
    return value
