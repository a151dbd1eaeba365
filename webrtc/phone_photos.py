"""The phone's photos as evidence: the hub's :class:`hub.ports.PhotoSink`.

The phone sends each photo over its websocket as the answer to a capture
request of the session (rules D4, E2, H9); the hub stores it here before it
acknowledges the photo, so an acknowledged photo is on disk and linked in
``snapshots`` — beside the PC frame of the same capture id, and to its
violation by index (rule H10).
"""

from __future__ import annotations

from datetime import UTC, datetime

from hub.errors import NotAllowed
from webrtc.errors import RtcError
from webrtc.snapshots import SnapshotService


class PhonePhotoSink:
    """Filled into the hub by the wiring."""

    def __init__(self, snapshots: SnapshotService) -> None:
        self._snapshots = snapshots

    async def __call__(
        self, attempt_id: int, label: str, jpeg: bytes, issued_at: float, now: float
    ) -> None:
        try:
            await self._snapshots.store_phone_photo(
                attempt_id, jpeg, label, issued_at=issued_at, now=datetime.fromtimestamp(now, UTC)
            )
        except RtcError as error:
            # the phone is told with the session error of the same code
            raise NotAllowed(error.code, error.reason) from None
