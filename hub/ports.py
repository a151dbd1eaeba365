"""The ports of the hub: what it needs from above, as small protocol types
that the wiring (``proctor/app.py``) fills in. The hub imports neither the
exam API nor the video ingest (STYLE rule 14)."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

import asyncpg


class EndRecorder(Protocol):
    """Ends and scores the attempt in PostgreSQL, idempotently, inside the
    hub's durable write (the exam API's ``end_attempt``: the record)."""

    async def __call__(
        self, conn: asyncpg.Connection, attempt_id: int, reason: str, now: datetime
    ) -> object: ...


class PhotoSink(Protocol):
    """Stores the phone's photo as evidence before the hub acknowledges it
    (the ingest's snapshot store). ``label`` is the capture request's label:
    a capture id (``hub/captures.py``) or the phone's own reason; ``issued_at``
    when the request went out (evidence of a moment before the end is accepted
    after it, rule H10). Raises a :class:`hub.errors.SessionError` when the
    photo is refused."""

    async def __call__(
        self, attempt_id: int, label: str, jpeg: bytes, issued_at: float, now: float
    ) -> None: ...
