"""The wiring: the one place that builds every component with its
collaborators, passed in through constructors (STYLE rule 14), and hands
them to the endpoints through Starlette's lifespan state.

Layers, bottom up (``docs/architecture.md``): ``proctor`` base (settings,
database, clock, errors, web auth) ← ``hub`` (pure session core, Redis stores,
the hub service) ← ``webrtc`` (the PC camera ingest, evidence) and
``exam_api`` (HTTP API) ← this module. Where a lower layer needs a higher
one it calls a port (``hub/ports.py``, ``exam_api/services.py``) that is
filled in here. Nothing imports this module but the command line.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from redis.asyncio import Redis
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from exam_api.account_services import AccountServices
from exam_api.ending import end_attempt
from exam_api.evidence_bundle import RecordingPart, SnapshotPart
from exam_api.housekeeping import Housekeeper
from exam_api.oidc_client import OidcClient
from exam_api.routes import routes as exam_routes
from exam_api.services import ExamServices
from exam_api.sms import SmsSender
from exam_api.training import TableLookup
from exam_api.webhook_sender import WebhookSender
from hub.deadlines import DeadlineScheduler
from hub.fanout import ChannelRouter
from hub.keys import Keys
from hub.live import Hub
from hub.persist import PersistWorker
from hub.routes import device_sockets
from hub.routes import routes as hub_routes
from hub.session import Rules
from proctor.body_limits import body_limits
from proctor.clock import Clock, SystemClock, as_datetime
from proctor.db import apply_schema, create_pool
from proctor.errors import ProctorError, error_response
from proctor.health import healthz, readyz
from proctor.http_guard import BodyGuard
from proctor.metrics import Metrics, metrics_endpoint
from proctor.outages import OutageLog, outage_response
from proctor.redis_client import close, connect, ready
from proctor.security_headers import SecurityHeaders
from proctor.settings import Settings
from proctor.socket_shortcut import SocketShortcut
from proctor.state import Base
from webrtc.commands import request_watch
from webrtc.evidence_store import evidence_objects, snapshot_store
from webrtc.face_match import FaceMatcher, SnapshotScorer
from webrtc.faces import FaceChecker
from webrtc.identity_provider import ReferencePhotoProvider
from webrtc.ingest import PeerRegistry, publish_snapshot
from webrtc.live_still import LiveStills
from webrtc.live_video import LiveViewers
from webrtc.phone_photos import PhonePhotoSink
from webrtc.recorder import Recorder
from webrtc.recordings import RecordingStore
from webrtc.retention import RetentionSweeper
from webrtc.routes import routes as rtc_routes
from webrtc.snapshots import SnapshotService
from webrtc.workers import MediaWorkers

log = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).resolve().parent.parent / "static"
STOP_TIMEOUT_S = 10.0  # each component's stop at shutdown, then the pool's


async def _index(request: object) -> Response:
    return RedirectResponse("/static/index.html")


class LiveVideo:
    """The exam API's ``LiveVideo`` port: the still and the watched rate,
    from and to whichever process holds the peer."""

    def __init__(self, stills: LiveStills, viewers: LiveViewers, redis: Redis, keys: Keys) -> None:
        self._stills = stills
        self._viewers = viewers
        self._redis = redis
        self._keys = keys

    async def live_still(self, attempt_id: int) -> bytes | None:
        return await self._stills.still(attempt_id)

    async def live_video(self, attempt_id: int, sdp: str, watcher: str) -> str | None:
        return await self._viewers.offer(attempt_id, sdp, watcher)

    async def request_watch(self, attempt_id: int, watched: bool) -> None:
        await request_watch(self._redis, self._keys, attempt_id, watched)


ROLES = ("web", "persist", "scheduler")
"""``web``: the HTTP API, the hub's sockets and the camera peers (many of
them behind a load balancer). ``persist``: the persistence worker (streams →
PostgreSQL), off the web processes' event loops. ``scheduler``: deadlines,
abandonment, accounts housekeeping and evidence retention. Both of the last
are safe to run twice (a consumer group; compare-and-set and idempotent
ends; deletes by primary key). ``proctor serve`` runs all three."""

WORKER = frozenset({"persist", "scheduler"})
"""``proctor serve --role worker``: the persistence worker and the scheduler in one process."""


def create_app(
    settings: Settings,
    clock: Clock | None = None,
    rules: Rules | None = None,
    sms_sender: SmsSender | None = None,
    roles: frozenset[str] = frozenset(ROLES),
) -> Starlette:
    """The app for these settings; the database and Redis URLs must be resolved.
    ``clock``, ``rules`` and ``sms_sender`` replace the defaults (the system
    clock, the exam rules, the outbox sender): a real SMS gateway in a
    deployment, stand-ins in tests. ``roles`` (``ROLES``) choose what this
    process runs; a process without ``web`` serves only its health and metrics."""
    if not roles or not roles <= set(ROLES):
        raise ValueError(f"roles must be some of {', '.join(ROLES)}")
    if not (settings.database_url and settings.redis_url):
        raise ValueError("start the services first: the database and Redis URLs are needed")
    database_url, redis_url = settings.database_url, settings.redis_url
    the_clock = clock or SystemClock()
    # rule J1: whether answering needs the screen share is the settings' word
    rules = dataclasses.replace(rules or Rules(), require_screen=settings.evidence.require_screen)
    outages = OutageLog()
    metrics = Metrics()

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[dict[str, Any]]:
        pool = await create_pool(database_url)
        redis = connect(redis_url, cluster=settings.redis_cluster)
        started: list[Any] = []
        try:
            await ready(redis)  # the router's pub/sub needs a cluster's slots
            async with pool.acquire() as conn:
                await apply_schema(conn)
            keys = Keys(settings.redis_prefix)
            router = ChannelRouter(redis, keys)
            # rule K2: the evidence store, local disk unless an object store is configured
            objects = evidence_objects(settings)
            store = snapshot_store(settings, objects)
            recordings = RecordingStore(pool, objects)
            recorder = (
                Recorder(
                    settings.data_dir,
                    settings.evidence.segment_s,
                    the_clock.now,
                    recordings.store,
                )
                if settings.evidence.recording and "web" in roles
                else None
            )
            media_workers = MediaWorkers()
            # rules I1–I3: the packaged face model in its own bounded pool; the
            # built-in identity provider compares with the uploaded ID photo
            face_matcher = FaceMatcher()
            provider = ReferencePhotoProvider(settings.identity.threshold)
            snapshots = SnapshotService(
                pool,
                store,
                workers=media_workers,
                faces=FaceChecker(),
                listeners=[
                    # rules I2, I3; off with the face check (PROCTOR_FACE_CHECK=0)
                    *(
                        [SnapshotScorer(pool, store, face_matcher, provider, media_workers)]
                        if settings.identity.required
                        else []
                    ),
                    functools.partial(publish_snapshot, redis, keys),
                ],
            )
            hub = Hub(
                redis_url=redis_url,
                redis_cluster=settings.redis_cluster,
                pool=pool,
                keys=keys,
                router=router,
                clock=the_clock,
                record_end=end_attempt,
                photo_sink=PhonePhotoSink(snapshots),
                rules=rules,
                metrics=metrics,
                ended_grace_s=settings.ended_grace_s,
            )
            rtc = PeerRegistry(
                settings=settings,
                pool=pool,
                redis=redis,
                keys=keys,
                router=router,
                sessions=hub,
                snapshots=snapshots,
                clock=the_clock,
                metrics=metrics,
                recorder=recorder,
            )
            stills = LiveStills(
                source=rtc, redis=redis, keys=keys, router=router, now=the_clock.now
            )
            viewers = LiveViewers(
                source=rtc,
                redis=redis,
                keys=keys,
                router=router,
                now=the_clock.now,
                metrics=metrics,
            )
            accounts = AccountServices(settings, sender=sms_sender)  # hashing, SMS (A4, A5)
            services = ExamServices(
                ends=hub,
                gate=hub if settings.require_live_cameras else None,  # rules D1, H9
                live=LiveVideo(stills, viewers, redis, keys),
                keys=keys,
                accounts=accounts,
                training=TableLookup(),
                # rule M4: the bundle's pictures; screen frames and the recording join here
                bundle_parts=(SnapshotPart(store), RecordingPart(objects)),
                faces=face_matcher,
            )
            base = Base(settings=settings, pool=pool, redis=redis, clock=the_clock, outages=outages)
            # the province's single sign-on (issue #15); None: off
            sso = OidcClient(settings.oidc, the_clock) if settings.oidc else None
            web: list[Any] = (
                [rtc, stills, viewers, *([sso] if sso else [])] if "web" in roles else []
            )
            if recorder is not None:
                web.insert(0, recorder)  # stopped after the peers: their last segments close
            worker: list[Any] = []
            if "persist" in roles:
                worker.append(
                    PersistWorker(
                        redis=redis,
                        pool=pool,
                        keys=keys,
                        metrics=metrics,
                        ended_grace_s=settings.ended_grace_s,
                    )
                )
            if "scheduler" in roles:
                worker += [
                    DeadlineScheduler(hub),
                    Housekeeper(pool, settings.data_dir),
                    WebhookSender(pool, now=the_clock.now),  # rule M4: the outbox, signed
                    RetentionSweeper(
                        pool,
                        store,
                        settings.snapshot_retention_days,
                        lambda: as_datetime(the_clock.now()),
                        objects=objects,
                        recording_days=settings.evidence.retention_days["recordings"],
                    ),
                ]
            components: list[Any] = [
                metrics,
                accounts,
                router,
                face_matcher,
                snapshots,
                hub,
                *web,
                *worker,
            ]
            for component in components:
                started_now = component.start()
                if started_now is not None:
                    await started_now
                started.append(component)
            yield {
                "base": base,
                "hub": hub,
                "rtc": rtc,
                "viewers": viewers,
                "exam": services,
                "sso": sso,
                "recordings": recordings,
            }
        finally:
            # a bounded shutdown: a component that does not stop in time is
            # named in the log and left behind, the others still stop
            for component in reversed(started):
                name = type(component).__name__
                try:
                    await asyncio.wait_for(component.stop(), STOP_TIMEOUT_S)
                except TimeoutError:
                    log.error("stopping %s took over %.0f s; left behind", name, STOP_TIMEOUT_S)
                except Exception:
                    log.exception("stopping %s failed", name)
            await close(redis)
            try:
                await asyncio.wait_for(pool.close(), STOP_TIMEOUT_S)
            except TimeoutError:
                log.error(
                    "PostgreSQL connections still in use after %.0f s; closed", STOP_TIMEOUT_S
                )
                pool.terminate()

    routes: list[BaseRoute] = [
        Route("/healthz", healthz),
        Route("/readyz", readyz),
        Route("/metrics", metrics_endpoint(metrics)),
    ]
    if "web" in roles:
        routes += [
            Route("/", _index),
            *exam_routes,
            *hub_routes,
            *rtc_routes,
            Mount("/static", StaticFiles(directory=STATIC_DIR), name="static"),
        ]
    return Starlette(
        routes=routes,
        lifespan=lifespan,
        exception_handlers={
            ProctorError: error_response,
            **dict.fromkeys(OutageLog.ERRORS, functools.partial(outage_response, outages)),
        },
        # issue #9: headers outermost, so the guard's own 413/408 carry them too
        middleware=[
            # issue #16: the device sockets skip the layers below (5 KiB per socket)
            *([Middleware(SocketShortcut, handlers=device_sockets)] if "web" in roles else []),
            Middleware(SecurityHeaders, https=settings.public_url.startswith("https://")),
            Middleware(BodyGuard, limits=body_limits(settings.http)),
        ],
    )
