"""The PC camera peers: one aiortc peer per attempt, liveness, random snapshots.

``PeerRegistry`` is the component started in the app lifespan. It

- answers ``POST /api/rtc/offer`` (non-trickle ICE, as aiortc needs): checks
  the offer (``webrtc/offers.py``), builds the peer, installs the keyframe
  tap (``webrtc/keyframes.py``: nothing is decoded until a snapshot is due);
- keeps one peer per attempt. A new offer from the same page (same
  ``client_id``: a reconnection after a network drop) replaces the old peer;
  from another page while the current one is live it is refused (409) and the
  current peer is left untouched; once the current one is dead it replaces it;
- ticks every 0.5 s: camera liveness (rules D1/H2: known within 3 s) and the
  attempt's random snapshot schedule (rule E2), plus a start snapshot when
  the camera first goes live;
- takes snapshots on demand (``snapshot_now``: violation, return to page);
- tells the page its frame rate over a data channel: low while nobody
  watches, full while an invigilator does (``set_watched``); a watch whose
  every lease lapsed (``hub/wall.py``) drops back to low at a tick.

What the hub must connect: ``camera_listeners`` (camera state changes, also
written to the attempt's Redis stream), ``snapshots.phone_capture`` (deliver
a capture request to the phone; by default published on the attempt's
pub/sub channel, in the hub's envelope, for a phone that uploads over HTTP), ``snapshot_now`` on violations, ``close_attempt`` when an
attempt ends, and ``store_phone_photo`` for photos arriving from the phone.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiortc import RTCDataChannel, RTCPeerConnection, RTCSessionDescription

from hub import wall
from hub.fanout import CAPTURE, WATCHERS, envelope
from hub.keys import STREAM_MAXLEN
from proctor.resources import Resources
from webrtc.commands import ChannelCommands
from webrtc.errors import RtcError
from webrtc.keyframes import KeyframeTap, install_keyframe_tap, restrict_to_vp8
from webrtc.liveness import CameraLiveness, CameraState
from webrtc.offers import check_offer
from webrtc.retention import RetentionSweeper
from webrtc.schedule import SnapshotReason, SnapshotSchedule
from webrtc.snapshot_rows import attempt_is_open
from webrtc.snapshots import SnapshotRecord, SnapshotService, snapshot_message
from webrtc.storage import FileSnapshotStore

log = logging.getLogger(__name__)

TICK_S = 0.5
LOW_FPS = 3  # nobody watching: enough for liveness and a snapshot
HIGH_FPS = 15  # an invigilator is watching
LOW_REMB_BPS = 300_000  # bitrate caps told to the page (REMB) for each rate
HIGH_REMB_BPS = 800_000
FIRST_FRAME_WITHIN_S = 15.0  # a peer that never sends video may be replaced
MAX_CAPTURES_IN_FLIGHT = 2  # per attempt
ATTEMPT_CHECK_EVERY_S = 10.0
LEASE_CHECK_EVERY_S = 2.0  # a lapsed watch lease (hub/wall.py) drops the rate within this

CameraListener = Callable[[int, str, CameraState, datetime], Awaitable[None]]
"""``(attempt_id, device, state, at)``: a camera's state changed."""


@dataclass
class PcPeer:
    """One PC page's connection."""

    attempt_id: int
    client_id: str
    pc: RTCPeerConnection
    created_at: float
    tap: KeyframeTap | None = None
    control: RTCDataChannel | None = None
    page_state: str = "live"  # what the page reports about its track
    liveness: CameraLiveness = field(default_factory=CameraLiveness)


@dataclass
class PhoneCamera:
    """What the hub tells us about the phone's camera (rule H2)."""

    last_seen_at: float | None = None
    camera_on: bool = True
    gone: bool = False
    liveness: CameraLiveness = field(default_factory=CameraLiveness)


@dataclass
class AttemptMedia:
    """Per-attempt state that survives a reconnection."""

    schedule: SnapshotSchedule
    started: bool = False
    watched: bool = False
    in_flight: int = 0


class PeerRegistry:
    """All PC camera peers of this process; ``stop()`` closes every one."""

    def __init__(self, res: Resources, rng: random.Random | None = None) -> None:
        self.res = res
        settings = res.settings
        self._rng = rng or random.SystemRandom()  # unpredictable by clients
        self._mean_s = float(settings.snapshot_mean_interval_s)
        self._min_gap_s = min(float(settings.snapshot_min_gap_s), self._mean_s / 2)
        self._max_peers = settings.rtc_max_peers
        self.store = FileSnapshotStore(settings.data_dir / "snapshots")
        self.snapshots = SnapshotService(res.pool, self.store, settings.secret_key)
        self.sweeper = RetentionSweeper(
            res.pool, self.store, settings.snapshot_retention_days, lambda: datetime.now(UTC)
        )
        self.snapshots.phone_capture = self._publish_capture_request
        self.snapshots.listeners.append(self._publish_snapshot)
        self.camera_listeners: list[CameraListener] = [self._record_camera_state]
        self.peers: dict[int, PcPeer] = {}
        self.media: dict[int, AttemptMedia] = {}
        self.phones: dict[int, PhoneCamera] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self.commands = ChannelCommands(
            res.redis, res.keys, on_snapshot=self.snapshot_now, on_watch=self.set_watched
        )
        self._monitor: asyncio.Task[None] | None = None
        self._next_attempt_check = 0.0
        self._next_lease_check = 0.0

    # ------------------------------------------------------------ lifecycle
    async def start(self) -> None:
        if self.res.settings.ice_loopback:
            from webrtc.loopback import enable_loopback_candidates

            enable_loopback_candidates()
        self.snapshots.start()
        self.sweeper.start()
        await self.commands.start()
        self._monitor = asyncio.get_running_loop().create_task(self._run_monitor())

    async def stop(self) -> None:
        if self._monitor is not None:
            self._monitor.cancel()
            await asyncio.gather(self._monitor, return_exceptions=True)
            self._monitor = None
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await asyncio.gather(*(p.pc.close() for p in self.peers.values()), return_exceptions=True)
        self.peers.clear()
        self.media.clear()
        await self.commands.stop()
        await self.sweeper.stop()
        await self.snapshots.stop()

    def _spawn(self, coro: Awaitable[Any]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # ------------------------------------------------------------ signalling
    async def answer(self, attempt_id: int, client_id: str, sdp: str) -> RTCSessionDescription:
        """Answer the PC page's offer for ``attempt_id``; raises ``RtcError``."""
        check_offer(sdp)
        now = asyncio.get_running_loop().time()
        current = self.peers.get(attempt_id)
        if current is not None and current.client_id != client_id and self._is_alive(current, now):
            raise RtcError("peer_exists", "本场考试的摄像头已在另一个页面连接")
        if current is None and len(self.peers) >= self._max_peers:
            raise RtcError("busy", "视频服务繁忙，请稍后重试")
        async with self.res.pool.acquire() as conn:
            if not await attempt_is_open(conn, attempt_id):
                raise RtcError("attempt_closed", "考试已结束或不存在")

        pc = RTCPeerConnection()
        peer = PcPeer(attempt_id, client_id, pc, created_at=now)
        try:
            await pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="offer"))
            for transceiver in pc.getTransceivers():
                if transceiver.kind == "video" and peer.tap is None:
                    restrict_to_vp8(transceiver)
                    media = self.media.get(attempt_id)
                    watched = media is not None and media.watched
                    peer.tap = install_keyframe_tap(
                        transceiver.receiver,
                        asyncio.get_running_loop().time,
                        remb_bps=HIGH_REMB_BPS if watched else LOW_REMB_BPS,
                    )
            if peer.tap is None:
                raise RtcError("no_video", "未包含摄像头视频")
            pc.on("datachannel", lambda channel: self._on_datachannel(peer, channel))
            await pc.setLocalDescription(await pc.createAnswer())
        except RtcError:
            await pc.close()
            raise
        except (ValueError, KeyError, TypeError) as exc:
            await pc.close()
            raise RtcError("bad_sdp", f"无法处理该 SDP：{exc}") from None
        # Checks passed and the answer exists: only now touch the attempt's state.
        current = self.peers.get(attempt_id)
        if current is not None and current.client_id != client_id and self._is_alive(current, now):
            await pc.close()  # another page won the race
            raise RtcError("peer_exists", "本场考试的摄像头已在另一个页面连接")
        self.peers[attempt_id] = peer
        if current is not None:
            self._spawn(current.pc.close())
        if attempt_id not in self.media:
            self.media[attempt_id] = AttemptMedia(
                SnapshotSchedule(self._rng, self._mean_s, self._min_gap_s)
            )
            await self.commands.follow(attempt_id)
        local = pc.localDescription
        assert local is not None
        return local

    def _is_alive(self, peer: PcPeer, now: float) -> bool:
        if peer.pc.connectionState in ("failed", "closed"):
            return False
        if peer.liveness.state in ("stalled", "ended"):
            return False
        waiting = peer.liveness.state == "waiting"
        return not (waiting and now - peer.created_at > FIRST_FRAME_WITHIN_S)

    def _on_datachannel(self, peer: PcPeer, channel: RTCDataChannel) -> None:
        if channel.label != "control":
            return
        peer.control = channel

        @channel.on("message")
        def on_message(message: Any) -> None:
            # The page reports its track's mute/ended events (faster than
            # waiting for packets to stop).
            try:
                data = json.loads(message) if isinstance(message, str) else {}
            except ValueError:
                return
            if data.get("type") == "camera" and data.get("state") in ("live", "muted", "ended"):
                peer.page_state = data["state"]

        @channel.on("open")
        def on_open() -> None:
            self._send_rate(peer)

        if channel.readyState == "open":
            self._send_rate(peer)

    def _send_rate(self, peer: PcPeer) -> None:
        media = self.media.get(peer.attempt_id)
        watched = media is not None and media.watched
        fps = HIGH_FPS if watched else LOW_FPS
        if peer.tap is not None and peer.tap.remb is not None:
            peer.tap.remb.set_max(HIGH_REMB_BPS if watched else LOW_REMB_BPS)
        if peer.control is not None and peer.control.readyState == "open":
            peer.control.send(json.dumps({"type": "rate", "max_framerate": fps}))

    # ------------------------------------------------------------ controls
    def set_watched(self, attempt_id: int, watched: bool) -> None:
        """An invigilator started/stopped watching: full or low frame rate."""
        media = self.media.get(attempt_id)
        if media is None or media.watched == watched:
            return
        media.watched = watched
        peer = self.peers.get(attempt_id)
        if peer is not None:
            self._send_rate(peer)

    def camera_state(self, attempt_id: int) -> CameraState | None:
        peer = self.peers.get(attempt_id)
        return None if peer is None else peer.liveness.state

    def note_phone(self, attempt_id: int, now: float, camera_on: bool = True) -> None:
        """The phone of ``attempt_id`` is heard from (hub: each heartbeat).

        ``now`` is the event loop's clock (``loop.time()``). With heartbeats
        every second, a phone that stops is reported ``stalled`` within 3 s;
        ``camera_on=False`` (the phone says its camera is off) at once.
        """
        phone = self.phones.get(attempt_id)
        if phone is None:
            if len(self.phones) >= 2 * self._max_peers:
                return
            phone = self.phones[attempt_id] = PhoneCamera()
        phone.last_seen_at = now
        phone.camera_on = camera_on

    def note_phone_gone(self, attempt_id: int) -> None:
        """The phone left for good (ended its part, rule D5)."""
        phone = self.phones.get(attempt_id)
        if phone is not None:
            phone.gone = True

    def phone_state(self, attempt_id: int) -> CameraState | None:
        phone = self.phones.get(attempt_id)
        return None if phone is None else phone.liveness.state

    async def close_attempt(self, attempt_id: int) -> None:
        """The attempt ended: stop its snapshots and close its peer."""
        if self.media.pop(attempt_id, None) is not None:
            await self.commands.unfollow(attempt_id)
        self.phones.pop(attempt_id, None)
        peer = self.peers.pop(attempt_id, None)
        if peer is not None:
            await peer.pc.close()

    def snapshot_now(self, attempt_id: int, reason: SnapshotReason) -> str | None:
        """Start a dual snapshot now (violation, return to page …).

        Returns the capture id, or None when the attempt has no media here or
        already has captures in flight.
        """
        media = self.media.get(attempt_id)
        if media is None or media.in_flight >= MAX_CAPTURES_IN_FLIGHT:
            return None
        capture_id = self.snapshots.new_capture_id(attempt_id, reason, int(time.time() * 1000))
        media.in_flight += 1
        self._spawn(self._capture(attempt_id, media, reason, capture_id))
        return capture_id

    async def _capture(
        self, attempt_id: int, media: AttemptMedia, reason: str, capture_id: str
    ) -> SnapshotRecord | None:
        taken_at = datetime.now(UTC)
        try:
            # The phone's request goes out first: it has the longer way to go.
            self._spawn(self.snapshots.request_phone(attempt_id, capture_id, reason))
            peer = self.peers.get(attempt_id)
            if peer is None or peer.tap is None:
                return None
            return await self.snapshots.capture_pc(
                attempt_id, peer.tap, reason, capture_id, taken_at
            )
        except RtcError as exc:
            log.warning("PC snapshot of attempt %s failed: %s", attempt_id, exc)
            return None
        finally:
            media.in_flight -= 1

    # ------------------------------------------------------------ monitor
    async def _run_monitor(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(TICK_S)
            try:
                await self.tick(loop.time())
            except Exception:
                log.exception("rtc monitor tick failed")

    async def tick(self, now: float, wall_now: float | None = None) -> None:
        """One monitor step: liveness, due snapshots, lapsed watch leases,
        ended attempts. ``now`` is the loop's clock; ``wall_now`` the epoch
        time the watch leases are scored in (default: ``time.time()``)."""
        for attempt_id, peer in list(self.peers.items()):
            tap = peer.tap
            ended = (
                tap is None
                or tap.ended
                or peer.page_state == "ended"
                or peer.pc.connectionState in ("failed", "closed")
            )
            last = None if tap is None else tap.last_frame_at
            muted = peer.page_state == "muted"
            changed = peer.liveness.observe(now, last, ended, muted)
            media = self.media.get(attempt_id)
            if changed is not None:
                self._spawn(self._announce(attempt_id, "pc", changed))
                if changed == "live" and media is not None and not media.started:
                    media.started = True
                    media.schedule.start(now)
                    self.snapshot_now(attempt_id, "start")
            if changed == "ended" and self.peers.get(attempt_id) is peer:
                del self.peers[attempt_id]
                self._spawn(peer.pc.close())
            if media is not None and peer.liveness.state == "live" and media.schedule.due(now):
                media.schedule.fire(now)
                self.snapshot_now(attempt_id, "random")
        for attempt_id, phone in list(self.phones.items()):
            changed = phone.liveness.observe(
                now, phone.last_seen_at, phone.gone, muted=not phone.camera_on
            )
            if changed is not None:
                self._spawn(self._announce(attempt_id, "phone", changed))
            if changed == "ended":
                del self.phones[attempt_id]
        if now >= self._next_lease_check and any(m.watched for m in self.media.values()):
            self._next_lease_check = now + LEASE_CHECK_EVERY_S
            await self._drop_lapsed_watches(time.time() if wall_now is None else wall_now)
        if now >= self._next_attempt_check and self.media:
            self._next_attempt_check = now + ATTEMPT_CHECK_EVERY_S
            await self._close_ended_attempts()

    async def _drop_lapsed_watches(self, wall_now: float) -> None:
        """Back to the low rate for an attempt whose every watch lease lapsed
        (a browser that vanished without releasing its lease, rule H4)."""
        ids = [a for a, m in self.media.items() if m.watched]
        still = await wall.watched(self.res.redis, self.res.keys, ids, wall_now)
        for attempt_id in ids:
            if attempt_id not in still:
                self.set_watched(attempt_id, False)

    async def _close_ended_attempts(self) -> None:
        ids = list(self.media)
        async with self.res.pool.acquire() as conn:
            rows = await conn.fetch(
                "SELECT id FROM attempts WHERE id = ANY($1::bigint[]) AND status <> 'in_progress'",
                ids,
            )
        for row in rows:
            await self.close_attempt(row["id"])

    async def _announce(self, attempt_id: int, device: str, state: CameraState) -> None:
        at = datetime.now(UTC)
        for listener in list(self.camera_listeners):
            try:
                await listener(attempt_id, device, state, at)
            except Exception:
                log.exception("camera listener failed")

    # ------------------------------------------------------------ defaults
    async def _record_camera_state(
        self, attempt_id: int, device: str, state: CameraState, at: datetime
    ) -> None:
        """Camera state into the attempt's stream (persisted, seen by the hub)."""
        keys, redis = self.res.keys, self.res.redis
        stream = keys.events(attempt_id)
        async with redis.pipeline(transaction=False) as pipe:
            pipe.xadd(
                stream,
                {
                    "device": device,
                    "kind": "camera",
                    "at": str(int(at.timestamp() * 1000)),
                    # "source" tells these measurements from the session's own
                    # camera records, which the hub writes on the same stream
                    "data": json.dumps({"state": state, "source": "rtc"}),
                },
                maxlen=STREAM_MAXLEN,
                approximate=True,
            )
            # After the entry: the persistence worker copies dirty streams at
            # once (no heartbeat needed), the active set is its safety sweep.
            pipe.sadd(keys.dirty_streams(), stream)
            pipe.sadd(keys.active_streams(), stream)
            await pipe.execute()
        await redis.publish(
            keys.channel(attempt_id),
            envelope((WATCHERS, {"type": "camera", "device": device, "state": state})),
        )

    async def _publish_capture_request(self, attempt_id: int, capture_id: str, reason: str) -> None:
        """Ask the phone for a photo via the attempt's channel (any hub process)."""
        message = {"type": "capture", "device": "phone", "capture_id": capture_id, "reason": reason}
        await self.res.redis.publish(
            self.res.keys.channel(attempt_id), envelope((CAPTURE, message))
        )

    async def _publish_snapshot(self, record: SnapshotRecord) -> None:
        """A stored snapshot, for the invigilators watching the attempt."""
        await self.res.redis.publish(
            self.res.keys.channel(record.attempt_id),
            envelope((WATCHERS, snapshot_message(record))),
        )


async def store_phone_photo(
    res: Resources,
    attempt_id: int,
    jpeg: bytes,
    *,
    capture_id: str | None = None,
    reason: str | None = None,
    now: datetime,
) -> SnapshotRecord:
    """Store a photo the phone of ``attempt_id`` sent (hub: binary frame).

    ``capture_id`` echoes the capture request it answers; without one,
    ``reason`` is ``start`` or ``return_to_page`` (rule D4). Raises
    ``RtcError`` (bad_photo, photo_too_large, wrong_attempt, bad_request,
    attempt_closed) and then stores nothing.
    """
    registry: PeerRegistry = res.components["rtc"]
    return await registry.snapshots.store_phone_photo(
        attempt_id, jpeg, capture_id=capture_id, reason=reason, now=now
    )
