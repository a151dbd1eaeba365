"""Who the person in front of the camera should be (rules I1, I2): the
identity-provider interface, and the built-in provider.

A province may check a live picture against its authority database (公安
人口库) instead of the photo the candidate uploaded: it implements
:class:`IdentityProvider` and the wiring (``proctor/app.py``) passes it in.
The built-in :class:`ReferencePhotoProvider` compares the live face with the
ID photo (证件照) of the candidate's approved exam request, whose
descriptor was computed once on upload (``exam_api/id_photo.py``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, Protocol

from proctor.face_model import FaceReading, distance

Match = Literal["same", "other", "nobody", "several", "unclear", "no_reference"]


@dataclass(frozen=True, slots=True)
class Verdict:
    """One comparison: ``match`` and, when both faces were read, the distance."""

    match: Match
    distance: float | None = None


class IdentityProvider(Protocol):
    """Compares a live reading with the attempt's candidate."""

    async def verify(self, conn: Any, attempt_id: int, live: FaceReading) -> Verdict: ...


async def reference_descriptor(conn: Any, attempt_id: int) -> list[float] | None:
    """The descriptor of the ID photo on the attempt's candidate's approved request."""
    value: list[float] | None = await conn.fetchval(
        """SELECT f.descriptor
             FROM attempts a
             JOIN exam_requests r ON r.user_id = a.user_id AND r.status = 'approved'
             JOIN exam_request_documents d ON d.request_id = r.id AND d.role = 'id_photo'
             JOIN face_references f ON f.upload_id = d.upload_id
            WHERE a.id = $1""",
        attempt_id,
    )
    return value


def judge(live: FaceReading, reference: list[float] | None, threshold: float) -> Verdict:
    """The built-in rule: one clear face within ``threshold`` of the reference. Pure."""
    if reference is None:
        return Verdict("no_reference")
    if live.problem == "no_face":
        return Verdict("nobody")
    if live.problem == "several_faces":
        return Verdict("several")
    if live.descriptor is None:
        return Verdict("unclear")
    gap = distance(reference, live.descriptor)
    return Verdict("same" if gap <= threshold else "other", round(gap, 4))


class ReferencePhotoProvider:
    """The built-in provider: the uploaded ID photo is the reference."""

    def __init__(self, threshold: float) -> None:
        self.threshold = threshold

    async def verify(self, conn: Any, attempt_id: int, live: FaceReading) -> Verdict:
        return judge(live, await reference_descriptor(conn, attempt_id), self.threshold)
