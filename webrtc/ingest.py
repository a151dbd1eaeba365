"""The PC camera peers: one aiortc peer per attempt, liveness, random snapshots.

``PeerRegistry`` is built by the wiring with its collaborators and started in
the app lifespan. It

- answers ``POST /api/rtc/offer`` (non-trickle ICE, as aiortc needs): checks
  the offer (``webrtc/offers.py``), builds the peer, installs the keyframe
  tap (``webrtc/keyframes.py``: nothing is decoded until a snapshot is due);
- keeps one peer per attempt. A new offer from the same page (same
  ``client_id``: a reconnection after a network drop) replaces the old peer;
  from another page while the current one is live it is refused (409) and the
  current peer is left untouched; once the current one is dead it replaces it;
- ticks every 0.5 s: camera liveness measured on the received video (rules
  D1, H2, H9: known within 3 s), told to the hub, which owns the session's
  camera state; the attempt's random snapshot schedule (rule E2), plus a
  start snapshot when the camera first goes live;
- takes the snapshots the session orders (a violation's, in the commit that
  counts it, rule H10) through the channel commands of this process;
- tells the page its frame rate over a data channel: low while nobody
  watches, full while an invigilator does (``set_watched``); a watch whose
  every lease lapsed (``hub/wall.py``) drops back to low at a tick.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
from collections.abc import Awaitable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

import asyncpg
from aiortc import (
    RTCConfiguration,
    RTCDataChannel,
    RTCIceServer,
    RTCPeerConnection,
    RTCSessionDescription,
)
from redis.asyncio import Redis

from hub import wall
from hub.captures import CaptureId
from hub.devices import SCREEN, Camera
from hub.fanout import WATCHERS, ChannelRouter, envelope
from hub.keys import Keys
from proctor.clock import Clock
from proctor.metrics import Metrics
from proctor.settings import Settings
from webrtc.capture import capture_pc_jpeg
from webrtc.commands import ChannelCommands
from webrtc.errors import RtcError
from webrtc.keyframes import KeyframeTap, install_keyframe_tap, restrict_to_vp8
from webrtc.liveness import CameraLiveness, CameraState
from webrtc.offers import check_offer
from webrtc.recorder import Recorder
from webrtc.schedule import SnapshotSchedule
from webrtc.screen import SCREEN_REMB_BPS, ScreenFeed, video_transceivers
from webrtc.snapshot_rows import attempt_is_open
from webrtc.snapshots import SnapshotRecord, SnapshotService, snapshot_message

log = logging.getLogger(__name__)

TICK_S = 0.5
LOW_FPS = 3  # nobody watching: enough for liveness and a snapshot
HIGH_FPS = 15  # an invigilator is watching
LOW_REMB_BPS = 300_000  # bitrate caps told to the page (REMB) for each rate
HIGH_REMB_BPS = 800_000
FIRST_FRAME_WITHIN_S = 15.0  # a peer that never sends video may be replaced
MAX_CAPTURES_IN_FLIGHT = 2  # per attempt, random and start captures
MAX_VIOLATION_CAPTURES_IN_FLIGHT = 8  # a violation's capture is never skipped for a random one
ATTEMPT_CHECK_EVERY_S = 10.0
LEASE_CHECK_EVERY_S = 2.0  # a lapsed watch lease (hub/wall.py) drops the rate within this
LIVE_STILL_TIMEOUT_S = 2.5

# What the ingest measures, as the session's camera state (rule H2: a camera
# that stopped sending is lost; "waiting" for a first frame changes nothing).
MEASURED = {"live": Camera.LIVE, "stalled": Camera.LOST, "ended": Camera.LOST}


class Sessions(Protocol):
    """What the ingest asks of the hub (``hub.live.Hub`` fills it)."""

    async def camera_measured(self, attempt_id: int, device: str, camera: Camera) -> None: ...

    async def request_capture(self, attempt_id: int, capture_id: str) -> None: ...


@dataclass
class PcPeer:
    """One PC page's connection."""

    attempt_id: int
    client_id: str
    pc: RTCPeerConnection
    created_at: float
    tap: KeyframeTap | None = None
    control: RTCDataChannel | None = None
    page_state: str = "live"  # what the page reports about its track (it may only lower)
    liveness: CameraLiveness = field(default_factory=CameraLiveness)
    screen: ScreenFeed | None = None  # the offer's second video (rule J1, webrtc/screen.py)


@dataclass
class AttemptMedia:
    """Per-attempt state that survives a reconnection."""

    schedule: SnapshotSchedule
    started: bool = False
    watched: bool = False
    in_flight: int = 0
    violations_in_flight: int = 0
    # the attempt is known to have ended: no new random captures; the peer
    # closes as soon as the captures in flight are stored
    ending: bool = False


class PeerRegistry:
    """All PC camera peers of this process; ``stop()`` closes every one."""

    def __init__(
        self,
        *,
        settings: Settings,
        pool: asyncpg.Pool,
        redis: Redis,
        keys: Keys,
        router: ChannelRouter,
        sessions: Sessions,
        snapshots: SnapshotService,
        clock: Clock,
        rng: random.Random | None = None,
        metrics: Metrics | None = None,
        recorder: Recorder | None = None,
    ) -> None:
        self.pool = pool
        self.metrics = metrics or Metrics()
        self.redis = redis
        self.keys = keys
        self.sessions = sessions
        self.snapshots = snapshots
        self.clock = clock
        self.recorder = recorder  # rule K1: None when the recording is off
        self._ice_loopback = settings.ice_loopback
        self._rng = rng or random.SystemRandom()  # unpredictable by clients
        self._mean_s = float(settings.snapshot_mean_interval_s)
        self._min_gap_s = min(float(settings.snapshot_min_gap_s), self._mean_s / 2)
        self._max_peers = settings.rtc_max_peers
        # The same STUN/TURN servers as the page (a relay when this process is
        # behind NAT); unset: aiortc's default STUN server, as before.
        self._ice = RTCConfiguration(
            iceServers=[
                RTCIceServer(urls=list(s.urls), username=s.username, credential=s.credential)
                for s in settings.ice_servers
            ]
            or None
        )
        self.store = snapshots.store
        self.peers: dict[int, PcPeer] = {}
        self.media: dict[int, AttemptMedia] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self.commands = ChannelCommands(
            router, on_snapshot=self.snapshot_of, on_watch=self.set_watched
        )
        self._monitor: asyncio.Task[None] | None = None
        self._next_attempt_check = 0.0
        self._next_lease_check = 0.0

    # ------------------------------------------------------------ lifecycle
    async def start(self) -> None:
        if self._ice_loopback:
            from webrtc.loopback import enable_loopback_candidates

            enable_loopback_candidates()
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
        async with self.pool.acquire() as conn:
            if not await attempt_is_open(conn, attempt_id):
                raise RtcError("attempt_closed", "考试已结束或不存在")

        pc = RTCPeerConnection(self._ice)
        peer = PcPeer(attempt_id, client_id, pc, created_at=now)
        try:
            await pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="offer"))
            camera, screen = video_transceivers(pc.getTransceivers())
            if camera is None:
                raise RtcError("no_video", "未包含摄像头视频")
            restrict_to_vp8(camera)
            media = self.media.get(attempt_id)
            watched = media is not None and media.watched
            loop_time = asyncio.get_running_loop().time
            peer.tap = install_keyframe_tap(
                camera.receiver, loop_time, remb_bps=HIGH_REMB_BPS if watched else LOW_REMB_BPS
            )
            if screen is not None:  # rule J1: its own tap, nothing decoded either
                restrict_to_vp8(screen)
                peer.screen = ScreenFeed(
                    install_keyframe_tap(screen.receiver, loop_time, remb_bps=SCREEN_REMB_BPS)
                )
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
        if self.recorder is not None:  # rule K1: encoded frames copied, never decoded
            self.recorder.attach(attempt_id, "camera", peer.tap)
            if peer.screen is not None:
                self.recorder.attach(attempt_id, "screen", peer.screen.tap)
        if peer.screen is None:
            # rule J1: a page that offers no screen has none, whatever it had
            self._spawn(self.sessions.camera_measured(attempt_id, SCREEN, Camera.LOST))
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
            # waiting for packets to stop); it can only lower the state
            # (rule H9: "live" needs frames, which the tap measures).
            try:
                data = json.loads(message) if isinstance(message, str) else {}
            except ValueError:
                return
            if data.get("type") == "camera" and data.get("state") in ("live", "muted", "ended"):
                peer.page_state = data["state"]
            elif data.get("type") == "screen" and peer.screen is not None:
                peer.screen.report(data.get("state"))

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

    def holds(self, attempt_id: int) -> bool:
        """Whether the attempt's PC peer (with its video) is on this process."""
        peer = self.peers.get(attempt_id)
        return peer is not None and peer.tap is not None

    def tap_of(self, attempt_id: int) -> KeyframeTap | None:
        """The keyframe tap of the attempt's PC peer here (the live video's source)."""
        peer = self.peers.get(attempt_id)
        return None if peer is None else peer.tap

    async def live_still(self, attempt_id: int) -> bytes | None:
        """The PC camera's picture now (a fresh keyframe, not stored as
        evidence), or None when the attempt's peer is not on this process."""
        peer = self.peers.get(attempt_id)
        if peer is None or peer.tap is None:
            return None
        shot = await capture_pc_jpeg(peer.tap, self.snapshots.workers, LIVE_STILL_TIMEOUT_S)
        return shot.jpeg

    async def close_attempt(self, attempt_id: int) -> None:
        """The attempt ended: stop its snapshots and close its peer."""
        if self.media.pop(attempt_id, None) is not None:
            await self.commands.unfollow(attempt_id)
        peer = self.peers.pop(attempt_id, None)
        if peer is not None:
            await peer.pc.close()

    def snapshot_now(self, attempt_id: int, reason: str) -> str | None:
        """Start a dual snapshot now (random, start …): the phone is asked
        through the hub, the PC frame taken here. Returns the capture id, or
        None when the attempt has no media here or has captures in flight."""
        media = self.media.get(attempt_id)
        if media is None or media.ending or media.in_flight >= MAX_CAPTURES_IN_FLIGHT:
            return None
        capture = CaptureId.new(attempt_id, reason, self.clock.now())
        media.in_flight += 1
        self._spawn(self.sessions.request_capture(attempt_id, str(capture)))
        self._spawn(self._capture(media, capture))
        return str(capture)

    def snapshot_of(self, capture: CaptureId) -> bool:
        """Take the PC frame of a capture the session ordered (a violation's:
        its phone half was requested by the same commit, rule H10). False
        when the attempt's peer is not here."""
        media = self.media.get(capture.attempt_id)
        if media is None:
            return False
        if capture.violation is None:  # a face check's frame (rule I2): the ordinary budget
            if media.in_flight >= MAX_CAPTURES_IN_FLIGHT:
                return False
            media.in_flight += 1
        elif media.violations_in_flight >= MAX_VIOLATION_CAPTURES_IN_FLIGHT:
            return False
        else:
            media.violations_in_flight += 1
        self._spawn(self._capture(media, capture))
        return True

    async def _capture(self, media: AttemptMedia, capture: CaptureId) -> SnapshotRecord | None:
        taken_at = datetime.fromtimestamp(self.clock.now(), UTC)
        started = self.clock.monotonic()
        try:
            peer = self.peers.get(capture.attempt_id)
            if peer is None or peer.tap is None:
                return None
            screen = peer.screen
            pc_frame = self.snapshots.capture_pc(peer.tap, capture, taken_at)
            if screen is None or screen.liveness.state != "live":
                record = await pc_frame
            else:  # rule J2: the screen's frame of the same moment, beside it
                record, _ = await asyncio.gather(
                    pc_frame, self._capture_screen(screen, capture, taken_at)
                )
            self.metrics.snapshot_seconds.observe(self.clock.monotonic() - started)
            return record
        except RtcError as exc:
            log.warning("PC snapshot %s failed: %s", capture, exc)
            if exc.code == "attempt_closed":
                media.ending = True  # the peer goes once the captures in flight are done
            return None
        finally:
            if capture.violation is None:
                media.in_flight -= 1
            else:
                media.violations_in_flight -= 1
            if media.ending and not (media.in_flight or media.violations_in_flight):
                if self.media.get(capture.attempt_id) is media:
                    self._spawn(self.close_attempt(capture.attempt_id))

    async def _capture_screen(
        self, screen: ScreenFeed, capture: CaptureId, taken_at: datetime
    ) -> SnapshotRecord | None:
        try:
            return await self.snapshots.capture_screen(screen.tap, capture, taken_at)
        except RtcError as exc:
            log.warning("screen snapshot %s failed: %s", capture, exc)
            return None

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
        time the watch leases are scored in (default: the clock's)."""
        self.metrics.peers.set(len(self.peers))
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
            if changed in MEASURED:
                self._spawn(self.sessions.camera_measured(attempt_id, "pc", MEASURED[changed]))
                self._spawn(self._publish_camera(attempt_id, changed))
                if changed == "live" and media is not None and not media.started:
                    media.started = True
                    media.schedule.start(now)
                    self.snapshot_now(attempt_id, "start")
            if peer.screen is not None:
                self._observe_screen(attempt_id, peer, peer.screen, now)
            if changed == "ended" and self.peers.get(attempt_id) is peer:
                del self.peers[attempt_id]
                self._spawn(peer.pc.close())
            if media is not None and peer.liveness.state == "live" and media.schedule.due(now):
                media.schedule.fire(now)
                self.snapshot_now(attempt_id, "random")
        if now >= self._next_lease_check and any(m.watched for m in self.media.values()):
            self._next_lease_check = now + LEASE_CHECK_EVERY_S
            await self._drop_lapsed_watches(self.clock.now() if wall_now is None else wall_now)
        if now >= self._next_attempt_check and self.media:
            self._next_attempt_check = now + ATTEMPT_CHECK_EVERY_S
            await self._close_ended_attempts()

    def _observe_screen(
        self, attempt_id: int, peer: PcPeer, screen: ScreenFeed, now: float
    ) -> None:
        """Rule J1: the screen share as measured, told to the hub like a camera."""
        gone = peer.liveness.state == "ended" or peer.pc.connectionState in ("failed", "closed")
        changed = screen.observe(now, gone)
        if changed in MEASURED:
            self._spawn(self.sessions.camera_measured(attempt_id, SCREEN, MEASURED[changed]))
            self._spawn(self._publish_camera(attempt_id, changed, SCREEN))

    async def _drop_lapsed_watches(self, wall_now: float) -> None:
        """Back to the low rate for an attempt whose every watch lease lapsed
        (a browser that vanished without releasing its lease, rule H4)."""
        ids = [a for a, m in self.media.items() if m.watched]
        still = await wall.watched(self.redis, self.keys, ids, wall_now)
        for attempt_id in ids:
            if attempt_id not in still:
                self.set_watched(attempt_id, False)

    async def _close_ended_attempts(self) -> None:
        # an attempt whose last captures are still being taken keeps its peer
        # until they are stored (the fifth violation's frame, rule H10); it
        # takes no new random ones, so the peer goes when those are done
        ids = [a for a, m in self.media.items() if not m.ending]
        async with self.pool.acquire() as conn:
            rows = await conn.fetch(
                "SELECT id FROM attempts WHERE id = ANY($1::bigint[]) AND status <> 'in_progress'",
                ids,
            )
        for row in rows:
            media = self.media.get(row["id"])
            if media is None:
                continue
            if media.in_flight or media.violations_in_flight:
                media.ending = True
            else:
                await self.close_attempt(row["id"])

    async def _publish_camera(
        self, attempt_id: int, state: CameraState, device: str = "pc"
    ) -> None:
        """The measured camera (or screen) state, for the invigilators watching."""
        await self.redis.publish(
            self.keys.channel(attempt_id),
            envelope((WATCHERS, {"type": "camera", "device": device, "state": state})),
        )


async def publish_snapshot(redis: Redis, keys: Keys, record: SnapshotRecord) -> None:
    """A stored snapshot, for the invigilators watching the attempt (the
    snapshot service's listener, connected by the wiring)."""
    await redis.publish(
        keys.channel(record.attempt_id), envelope((WATCHERS, snapshot_message(record)))
    )
