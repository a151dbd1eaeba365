"""The hub of one process: live attempts, their local connections, and the
one way an event changes an attempt.

:meth:`Hub.apply` runs an event of the pure :class:`~hub.session.Session` on a
copy of the shared state, commits it to Redis with a compare-and-set (which
also publishes the messages to every hub process), writes the durable records
to PostgreSQL, and only then returns — the caller acknowledges the client
after that. When another process changed the attempt meanwhile, the event is
applied again to the fresh state: every process agrees on one history.
"""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import asyncpg
from redis.asyncio import Redis

from hub import durable, rebuild
from hub.contact import Contact
from hub.devices import Camera
from hub.errors import AuthError, HubError, NotAllowed, SessionEnded, SessionError
from hub.fanout import KICK, ChannelRouter
from hub.keys import ENDED_GRACE_S, Keys
from hub.ports import EndRecorder, PhotoSink
from hub.protocol import decode, encode
from hub.session import EndReason, Outputs, Rules, Session
from hub.store import StateStore, StreamBatcher
from proctor.clock import Clock
from proctor.metrics import Metrics
from proctor.redis_client import close, connect

log = logging.getLogger(__name__)

MAX_COMMIT_TRIES = 8
PHOTO_STORE_TIMEOUT_S = 15.0
REDIS_CONNECTIONS = 64
REDIS_WAIT_S = 20.0

Event = Callable[[Session], Outputs]


class Peer(Protocol):
    """A local connection the hub can deliver messages to."""

    id: str
    role: str  # "pc" | "phone" | "watch"

    def push(self, message: dict[str, Any]) -> None: ...

    def push_text(self, text: str) -> None: ...

    def kick(self, code: int, reason: str) -> None: ...

    def finish_when_idle(self, code: int, reason: str) -> None: ...


AUDIENCES: dict[str, frozenset[str]] = {
    "pc": frozenset({"pc"}),
    "phone": frozenset({"phone"}),
    "devices": frozenset({"pc", "phone"}),
    "watchers": frozenset({"watch"}),
    "all": frozenset({"pc", "phone", "watch"}),
}


@dataclass
class LiveAttempt:
    attempt_id: int
    session: Session
    version: int
    state: dict[str, Any]
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    peers: dict[str, Peer] = field(default_factory=dict)
    ended_seen: bool = False

    @property
    def ended(self) -> bool:
        return self.ended_seen or self.session.ended

    def adopt(self, session: Session, version: int, state: dict[str, Any] | None = None) -> None:
        self.session = session
        self.version = version
        self.state = state if state is not None else session.to_dict()


@dataclass(frozen=True)
class Applied:
    outputs: Outputs
    duplicate: bool = False

    @property
    def void(self) -> bool:
        """The clock ended the attempt first: the event was not stored."""
        return self.outputs.void


class Hub:
    """The hub of this process; built by the wiring with its collaborators,
    started and stopped by the app lifespan.

    ``record_end`` writes an end to PostgreSQL (the exam API's scoring end);
    ``photo_sink`` stores the phone's photos (the ingest's evidence store);
    ``ended_grace_s``: how long an ended attempt rebuilt from PostgreSQL keeps
    its state in Redis (``PROCTOR_ENDED_GRACE``, as the persistence worker's).
    """

    def __init__(
        self,
        *,
        redis_url: str,
        redis_cluster: bool = False,
        pool: asyncpg.Pool,
        keys: Keys,
        router: ChannelRouter,
        clock: Clock,
        record_end: EndRecorder,
        photo_sink: PhotoSink,
        rules: Rules | None = None,
        metrics: Metrics | None = None,
        ended_grace_s: int = ENDED_GRACE_S,
    ) -> None:
        self.pool = pool
        self.ended_grace_s = ended_grace_s
        self.metrics = metrics or Metrics()
        self.keys = keys
        self.clock = clock
        self.rules = rules or Rules()
        self.record_end = record_end
        self.photo_sink = photo_sink
        # The hub's own client: a pool that waits for a free connection (the
        # default one fails at its limit, which a storm of 10,000 connects or
        # disconnects reaches), sized for bursts, apart from the app's client;
        # on a Redis Cluster, a cluster client (proctor/redis_client.py).
        self.redis: Redis = connect(
            redis_url,
            cluster=redis_cluster,
            max_connections=REDIS_CONNECTIONS,
            wait_s=REDIS_WAIT_S,
        )
        self.store = StateStore(self.redis, keys)
        self.batcher = StreamBatcher(self.store)
        self.contact = Contact(pool, self.redis, keys, clock)  # rule L1: messages
        self.router = router
        router.route((*AUDIENCES, KICK), self._dispatch)
        self.attempts: dict[int, LiveAttempt] = {}
        self._loading: dict[int, asyncio.Lock] = {}
        self.dispatched = 0

    async def start(self) -> None:
        tune_gc()
        await self.store.load_scripts()
        await self.batcher.start()

    async def stop(self) -> None:
        for live in list(self.attempts.values()):
            for peer in list(live.peers.values()):
                peer.kick(1001, "server shutting down")
        await self.batcher.stop()
        await close(self.redis)

    # ----- attempts -------------------------------------------------------------

    async def attempt(self, attempt_id: int) -> LiveAttempt:
        """The live attempt, loaded from Redis, or created from PostgreSQL."""
        live = self.attempts.get(attempt_id)
        if live is not None:
            return live
        lock = self._loading.setdefault(attempt_id, asyncio.Lock())
        try:
            async with lock:
                live = self.attempts.get(attempt_id)
                if live is None:
                    live = await self._load(attempt_id)
                    self.attempts[attempt_id] = live
        finally:
            self._loading.pop(attempt_id, None)
        return live

    async def _load(self, attempt_id: int) -> LiveAttempt:
        loaded = await self.store.load(attempt_id)
        if loaded.state:
            session = Session.from_dict(_json(loaded.state))
            return LiveAttempt(attempt_id, session, loaded.version, session.to_dict())
        session, version = await self._from_postgres(attempt_id)
        return LiveAttempt(attempt_id, session, version, session.to_dict())

    async def _from_postgres(self, attempt_id: int) -> tuple[Session, int]:
        """The session built from PostgreSQL (hub/rebuild.py) and shared: no
        state in Redis (a first load, or an ended attempt's expired after its
        grace). A rebuilt ended state expires after the grace again: reading
        an old attempt leaves nothing behind. Another process may have
        shared one first: then that one."""
        async with self.pool.acquire() as conn:
            session = await rebuild.session_from_postgres(conn, attempt_id, self.rules)
        if session is None:
            raise AuthError("no_attempt", f"attempt {attempt_id} does not exist")
        expire_s = self.ended_grace_s if session.ended else 0
        state = session.to_dict()
        committed = await self.store.commit(attempt_id, 0, state, "", 0, [], [], expire_s)
        if committed.status == "conflict":
            return Session.from_dict(_json(committed.state)), committed.version
        return session, committed.version

    def release(self, live: LiveAttempt) -> None:
        """Forget an attempt nobody here holds any more (bounded memory)."""
        if not live.peers and not live.lock.locked():
            self.attempts.pop(live.attempt_id, None)

    async def attach(self, live: LiveAttempt, peer: Peer) -> None:
        await self.router.subscribe(live.attempt_id)
        live.peers[peer.id] = peer

    async def detach(self, live: LiveAttempt, peer: Peer) -> None:
        if live.peers.pop(peer.id, None) is not None:
            await self.router.unsubscribe(live.attempt_id)
        self.release(live)

    # ----- the one way an event changes an attempt --------------------------------

    async def apply(
        self,
        live: LiveAttempt,
        event: Event,
        device: str = "",
        seq: int = 0,
        control: list[dict[str, Any]] | None = None,
        now: float | None = None,
    ) -> Applied:
        """Apply ``event`` to the shared state; durable records are in
        PostgreSQL when this returns. Raises the event's ``SessionError``.

        ``seq`` > 0 is the device's client seq: one already stored (by any
        process) makes this a duplicate, applied never twice. A void event
        (the clock ended the attempt first) does not use up its seq.
        """
        attempt_id = live.attempt_id
        async with live.lock:
            for _ in range(MAX_COMMIT_TRIES):
                session = Session.from_dict(live.state)
                try:
                    outputs = event(session)
                except SessionError:
                    # Refused by this process's copy, which another process may
                    # have moved past (the violation's capture request, issued
                    # on the PC's process): only the shared state may refuse.
                    if not await self._refresh(live):
                        raise
                    continue
                if outputs.void:
                    seq = 0  # not stored: never acknowledged as stored
                state = session.to_dict()
                if state == live.state and not outputs.sends and not outputs.records and seq == 0:
                    return Applied(outputs)
                publish = [{"to": s.to, "m": s.message} for s in outputs.sends]
                if control:
                    publish.extend(control)
                committed = await self.store.commit(
                    attempt_id, live.version, state, device, seq, outputs.records, publish
                )
                if committed.status == "ok":
                    self._count(outputs)
                    before = live.session
                    live.adopt(session, committed.version, state)
                    await self._track_presence(before, session)
                    if outputs.records:
                        self.batcher.mark_dirty(self.keys.events(attempt_id))
                    if outputs.durable:
                        async with self.pool.acquire() as conn:
                            await durable.write_durable(
                                conn,
                                session,
                                outputs.records,
                                committed.stream_ids,
                                self._now(now),
                                self.record_end,
                            )
                    return Applied(outputs)
                if committed.status == "dup":
                    await self.repair(live, now)
                    return Applied(Outputs(), duplicate=True)
                if not committed.state:
                    # the shared state is gone (an ended attempt's, past its
                    # grace): PostgreSQL holds the truth, the event runs on that
                    live.adopt(*await self._from_postgres(attempt_id))
                    continue
                live.adopt(Session.from_dict(_json(committed.state)), committed.version)
        raise HubError("contention", f"attempt {attempt_id} is changing too fast, retry")

    async def _refresh(self, live: LiveAttempt) -> bool:
        """Adopt the shared state if it is newer than this copy; whether it was."""
        fresh = await self.store.load(live.attempt_id)
        if not fresh.state or fresh.version == live.version:
            return False
        live.adopt(Session.from_dict(_json(fresh.state)), fresh.version)
        return True

    async def _track_presence(self, before: Session, after: Session) -> None:
        """Keep ``keys.unattended()`` in step: an attempt whose devices are all
        gone is listed (so that abandonment is found with nobody connected)."""
        was = any(d.connected for d in before.devices.values())
        now_connected = any(d.connected for d in after.devices.values())
        if was == now_connected and before.ended == after.ended:
            return
        key = self.keys.unattended()
        if after.ended or now_connected:
            await self.redis.zrem(key, str(after.attempt_id))
        else:
            left = max((d.outage_since or 0.0) for d in after.devices.values())
            await self.redis.zadd(key, {str(after.attempt_id): left})

    async def repair(self, live: LiveAttempt, now: float | None = None) -> None:
        """Bring PostgreSQL up to the shared state's durable facts (idempotent)."""
        fresh = await self.store.load(live.attempt_id)
        if fresh.state and fresh.version != live.version:
            live.adopt(Session.from_dict(_json(fresh.state)), fresh.version)
        if not (live.session.ledger.violations or live.session.ended):
            return  # nothing durable yet: no PostgreSQL round trip (a connect storm)
        async with self.pool.acquire() as conn:
            await durable.repair(conn, live.session, self._now(now), self.record_end)

    def _count(self, outputs: Outputs) -> None:
        for send in outputs.sends:
            kind = send.message["type"]
            if kind == "violation":  # told once, when it is counted (rule E3)
                self.metrics.violations.inc()
            elif kind == "ended" and send.to == "all":
                self.metrics.ends.labels(str(send.message.get("reason"))).inc()

    def _now(self, now: float | None) -> float:
        return self.clock.now() if now is None else now

    # ----- what the other components ask of the hub (filled in by the wiring) -----

    async def event(self, attempt_id: int, event: Event, now: float) -> Applied:
        """Apply ``event`` to an attempt this process may hold no device of."""
        live = await self.attempt(attempt_id)
        try:
            return await self.apply(live, event, now=now)
        finally:
            self.release(live)

    async def camera_measured(self, attempt_id: int, device: str, camera: Camera) -> None:
        """The ingest measured a camera's change (rules D1, H2, H9)."""
        now = self.clock.now()
        try:
            await self.event(attempt_id, lambda s: s.camera_measured(device, camera, now), now)
        except SessionError as error:
            log.info("attempt %s: camera measurement not applied: %s", attempt_id, error)

    async def request_capture(self, attempt_id: int, capture_id: str) -> None:
        """The phone's half of a dual snapshot the ingest decided (rule E2),
        labelled by its capture id; a no-op once the attempt has ended."""
        now = self.clock.now()
        try:
            await self.event(attempt_id, lambda s: s.capture_request(capture_id, now), now)
        except SessionError as error:
            log.info("attempt %s: capture %s not requested: %s", attempt_id, capture_id, error)

    async def end(self, attempt_id: int, reason: str) -> None:
        """End the attempt by the exam API's request (submit, or the deadline
        seen on an answer): the one path of every end, so both devices and
        the invigilators learn it at once and PostgreSQL records it (rule E4).
        An attempt that had ended already stays as it was."""
        now = self.clock.now()
        event: Event = lambda s: s.submit(now)  # noqa: E731
        if reason == EndReason.TIME_UP:
            # the deadline's owner is PostgreSQL: the session follows it (rule E4)
            async with self.pool.acquire() as conn:
                row = await durable.attempt_row(conn, attempt_id)
            if row is not None:
                deadline = row.deadline_at
                event = lambda s: s.set_deadline(deadline, now)  # noqa: E731
        live = await self.attempt(attempt_id)
        try:
            try:
                await self.apply(live, event, now=now)
            except SessionEnded:
                await self.repair(live, now)  # PostgreSQL holds the end too
        finally:
            self.release(live)

    async def check_answer(self, attempt_id: int) -> None:
        """Rule D1 on the server: raise ``NotAllowed("cameras_not_live")``
        unless both cameras are live as measured (and the attempt runs)."""
        now = self.clock.now()
        loaded = await self.store.load(attempt_id)  # the shared state, fresh
        if loaded.state:
            session = Session.from_dict(_json(loaded.state))
        else:
            live = await self.attempt(attempt_id)  # created from PostgreSQL
            session = live.session
            self.release(live)
        if not session.ended and now < session.deadline_at and not session.cameras_live(now):
            message = "电脑和手机两路摄像头都开启后才能答题，请检查设备。"
            if session.cameras_live_without_screen(now):
                message = "请共享整个屏幕（不是窗口或标签页）后再答题。"  # rule J1
            raise NotAllowed("cameras_not_live", message)

    async def store_photo(
        self, live: LiveAttempt, request_id: int, jpeg: bytes, now: float
    ) -> None:
        """Store the phone's photo for an open capture request (rules D4, E2)
        before its event is committed: an acknowledged photo is on disk."""
        session = live.session
        if session.photo_label(request_id) is None:
            fresh = await self.store.load(live.attempt_id)
            if fresh.state:
                session = Session.from_dict(_json(fresh.state))
        label = session.photo_label(request_id)
        if label is None:
            raise NotAllowed("unknown_capture", f"no open capture request {request_id}")
        issued_at = session.capture_at.get(request_id, now)
        try:
            async with asyncio.timeout(PHOTO_STORE_TIMEOUT_S):
                await self.photo_sink(live.attempt_id, label, jpeg, issued_at, now)
        except TimeoutError:
            raise NotAllowed("photo_not_stored", "the photo could not be stored in time") from None

    # ----- fan-out -----------------------------------------------------------------

    def _dispatch(self, attempt_id: int, items: list[dict[str, Any]]) -> None:
        live = self.attempts.get(attempt_id)
        if live is None:
            return
        for item in items:
            to = item.get("to")
            if to == KICK:
                keep, device = item.get("keep"), item.get("device")
                for peer in list(live.peers.values()):
                    if peer.role == device and peer.id != keep:
                        peer.kick(4409, "replaced: this device connected again elsewhere")
                continue
            roles = AUDIENCES.get(str(to))
            message = item.get("m")
            if roles is None or not isinstance(message, dict):
                continue  # a control for another reader (hub/fanout.py)
            ended = message.get("type") == "ended"
            if ended:
                live.ended_seen = True  # a fast local check; the shared state says why
            elif message.get("type") == "resumed":
                live.ended_seen = False  # rule M3: reopened by an invigilator
            text: str | None = None
            for peer in list(live.peers.values()):
                if peer.role in roles:
                    if text is None:
                        text = encode(message)  # once for all recipients
                    peer.push_text(text)
                    self.dispatched += 1
                    if ended and peer.role == "pc":
                        # The PC's part is over; the phone stays to end its own (rule D5).
                        peer.finish_when_idle(
                            4410, f"ended: the attempt has ended ({message.get('reason')})"
                        )


GC_THRESHOLDS = (100_000, 20, 100)


def tune_gc() -> None:
    """Keep the cyclic garbage collector from stalling the event loop.

    With thousands of websockets the process holds millions of objects; at
    Python's default thresholds (700, 10, 10) short-lived per-message objects
    get promoted and a full collection runs every few seconds, stopping the
    loop for 0.4-1.3 s (measured by bench/hub_load.py at 5,000 websockets).
    A large first threshold lets them die young; ``gc.freeze()`` takes the
    objects alive at start (modules, app) out of every later collection.
    """
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


def _json(text: str) -> dict[str, Any]:
    value: dict[str, Any] = decode(text)
    return value
