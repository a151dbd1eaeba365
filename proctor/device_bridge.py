"""Joins the hub and the WebRTC ingest into one exam for the candidate's two
devices (rules D1, D4, E2, E4, H2).

The hub (``hub/``) keeps the session state machine and the device websockets;
the ingest (``webrtc/``) keeps the PC camera's peer and the snapshot store.
Each exposes hooks; this component connects them, in either direction, through
the one way an attempt changes (:meth:`hub.live.Hub.apply`), so it works
whichever hub process holds the PC, the phone or the camera peer (rule H8):

- the PC camera's liveness, measured on the received video, becomes the
  session's PC camera state (rule D1: answering needs both cameras live);
- a dual snapshot's phone half (rule E2) becomes a capture request of the
  session, sent to the phone over its websocket; the request's label is the
  signed ``capture_id``, so the photo that answers it is stored beside the PC
  frame of the same moment;
- a photo the phone sends over its websocket (binary frame) is stored as
  evidence before the hub acknowledges it: the answer to a capture, or the
  phone's own start / return-to-page photo (rule D4);
- a violation the hub announces takes a dual snapshot in the process holding
  the PC peer (``proctor/violation_snapshots.py``, rules E2, H3);
- an end decided by the exam API (submit, time up seen on an answer) is told
  to the hub, so the phone and the invigilators learn it at once (rule E4).
"""

from __future__ import annotations

import json
import logging
import time
from datetime import UTC, datetime

from exam_api.errors import ApiError
from hub.errors import HubError, NotAllowed, SessionError
from hub.live import Event, Hub
from hub.session import Camera, Session
from proctor.resources import Resources
from proctor.violation_snapshots import ViolationSnapshots
from webrtc.errors import RtcError
from webrtc.ingest import PeerRegistry, store_phone_photo
from webrtc.liveness import CameraState
from webrtc.snapshots import PhoneCaptureHook

log = logging.getLogger(__name__)

# The labels the session gives the phone's own photos (hub/session.py), as
# the snapshot reasons of the evidence store (webrtc/snapshots.py).
OWN_PHOTO_REASONS = {"start": "start", "return": "return_to_page"}
# What the ingest measures, as the session's camera state (rule H2: a camera
# that stopped sending is lost; "waiting" for a first frame changes nothing).
PC_CAMERA = {"live": Camera.LIVE, "stalled": Camera.LOST, "ended": Camera.LOST}


def is_capture_id(label: str) -> bool:
    """``<attempt>.<reason>.<issued ms>.<mac>`` (webrtc/snapshots.py)."""
    parts = label.split(".")
    return len(parts) == 4 and parts[0].isdigit() and parts[2].isdigit()


class DeviceBridge:
    """Started after the hub and the peer registry; ``stop()`` unhooks."""

    def __init__(self, res: Resources) -> None:
        self.res = res
        self._hub: Hub | None = None
        self._rtc: PeerRegistry | None = None
        self._publish_capture: PhoneCaptureHook | None = None
        self.violations: ViolationSnapshots | None = None

    async def start(self) -> None:
        hub: Hub = self.res.components["hub"]
        rtc: PeerRegistry = self.res.components["rtc"]
        self._hub, self._rtc = hub, rtc
        hub.photo_sink = self.store_photo
        # First: answering pauses as soon as the camera is lost (rule D1); the
        # ingest's own record of the measurement follows it in the stream.
        rtc.camera_listeners.insert(0, self.camera_changed)
        # The ingest's own hook (a message on the attempt's channel, for phones
        # that upload over HTTP) keeps working beside the websocket one.
        self._publish_capture = rtc.snapshots.phone_capture
        rtc.snapshots.phone_capture = self.request_photo
        self.res.components["attempt_ended"] = self.api_ended
        self.violations = ViolationSnapshots(self.res.redis, self.res.keys, rtc)
        await self.violations.start()

    async def stop(self) -> None:
        if self.violations is not None:
            await self.violations.stop()
        if self._hub is not None and self._hub.photo_sink == self.store_photo:
            self._hub.photo_sink = None
        if self._rtc is not None:
            if self.camera_changed in self._rtc.camera_listeners:
                self._rtc.camera_listeners.remove(self.camera_changed)
            if self._rtc.snapshots.phone_capture == self.request_photo:
                self._rtc.snapshots.phone_capture = self._publish_capture
        self.res.components.pop("attempt_ended", None)

    async def _apply(self, attempt_id: int, event: Event, now: float) -> bool:
        """Apply ``event`` to the attempt's shared state; False if the session
        refused it (e.g. the attempt has ended)."""
        assert self._hub is not None
        live = await self._hub.attempt(attempt_id)
        try:
            await self._hub.apply(live, event, now=now)
        except SessionError as error:
            log.info("attempt %s: %s", attempt_id, error)
            return False
        finally:
            self._hub.release(live)
        return True

    # ----- rtc → hub ------------------------------------------------------------------

    async def camera_changed(
        self, attempt_id: int, device: str, state: CameraState, at: datetime
    ) -> None:
        """The ingest measured a change of the PC camera (rules D1, H2)."""
        camera = PC_CAMERA.get(state)
        if device != "pc" or camera is None:
            return
        now = at.timestamp()
        await self._apply(attempt_id, lambda s: s.camera("pc", camera, now), now)

    async def request_photo(self, attempt_id: int, capture_id: str, reason: str) -> None:
        """The phone's half of a dual snapshot (rule E2), labelled by its capture id."""
        if self._publish_capture is not None:
            await self._publish_capture(attempt_id, capture_id, reason)
        now = time.time()
        await self._apply(attempt_id, lambda s: s.capture_request(capture_id, now), now)

    # ----- hub → rtc ------------------------------------------------------------------

    async def store_photo(
        self, attempt_id: int, request_id: int, label: str, jpeg: bytes, now: float
    ) -> None:
        """Store the phone's photo for its capture request; a refused photo is
        the session error ``bad_photo``/… that the phone is told about."""
        capture_id: str | None = label if is_capture_id(label) else None
        reason = None if capture_id else OWN_PHOTO_REASONS.get(label, label)
        try:
            await store_phone_photo(
                self.res,
                attempt_id,
                jpeg,
                capture_id=capture_id,
                reason=reason,
                now=datetime.fromtimestamp(now, UTC),
            )
        except RtcError as error:
            raise NotAllowed(error.code, error.reason) from None

    # ----- exam API → hub ---------------------------------------------------------------

    async def answer_gate(self, attempt_id: int) -> None:
        """Rule D1 on the server: refuse an answer unless both cameras are live.

        The exam API awaits ``res.components["answer_gate"]`` before it stores
        an answer; the app registers it unless ``PROCTOR_REQUIRE_LIVE_CAMERAS``
        is off, so the page's pause binds clients that bypass the page too.
        """
        assert self._hub is not None
        loaded = await self._hub.store.load(attempt_id)  # the shared state, fresh
        if not loaded.state:
            live = await self._hub.attempt(attempt_id)  # created from PostgreSQL
            session = live.session
            self._hub.release(live)
        else:
            session = Session.from_dict(json.loads(loaded.state))
        if not session.ended and time.time() < session.deadline_at and not session.cameras_live():
            raise ApiError(
                409, "cameras_not_live", "电脑和手机两路摄像头都开启后才能答题，请检查设备。"
            )

    async def api_ended(self, attempt_id: int) -> None:
        """The exam API ended the attempt (submit, or the deadline seen on an
        answer): the session ends the same way and tells both devices."""
        async with self.res.pool.acquire() as conn:
            reason = await conn.fetchval(
                "SELECT end_reason FROM attempts WHERE id = $1", attempt_id
            )
        now = time.time()
        try:
            if reason == "time_up":
                await self._apply(attempt_id, lambda s: s.tick(now), now)
            else:
                await self._apply(attempt_id, lambda s: s.submit(now), now)
        except HubError as error:  # the database already holds the end
            log.warning("telling the hub about the end of attempt %s failed: %s", attempt_id, error)
