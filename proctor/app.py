"""The ASGI application: routes of every package, and the lifespan that owns
the shared resources (pool, Redis client, keys) and the background components."""

from __future__ import annotations

import contextlib
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

from exam_api.errors import ApiError, api_error_response
from exam_api.housekeeping import Housekeeper
from exam_api.routes import routes as exam_routes
from hub.deadlines import DeadlineScheduler
from hub.keys import Keys
from hub.live import Hub
from hub.persist import PersistWorker
from hub.routes import routes as hub_routes
from proctor.body_limits import body_limits
from proctor.db import apply_schema, create_pool
from proctor.device_bridge import DeviceBridge
from proctor.health import healthz, readyz
from proctor.http_guard import BodyGuard
from proctor.resources import Resources
from proctor.security_headers import SecurityHeaders
from proctor.settings import Settings
from webrtc.ingest import PeerRegistry
from webrtc.routes import routes as rtc_routes

log = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).resolve().parent.parent / "static"


async def _index(request: object) -> Response:
    return RedirectResponse("/static/index.html")


def create_app(settings: Settings) -> Starlette:
    """The app for these settings; the database and Redis URLs must be resolved."""
    assert settings.database_url and settings.redis_url, "start the services first"

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        assert settings.database_url and settings.redis_url
        pool = await create_pool(settings.database_url)
        redis = Redis.from_url(settings.redis_url)
        try:
            async with pool.acquire() as conn:
                await apply_schema(conn)
            res = Resources(
                settings=settings, pool=pool, redis=redis, keys=Keys(settings.redis_prefix)
            )
            app.state.res = res
            hub = Hub(res)
            bridge = DeviceBridge(res)
            components: list[tuple[str, Any]] = [
                ("hub", hub),
                ("deadlines", DeadlineScheduler(hub)),
                ("persist", PersistWorker(res)),
                ("accounts-housekeeping", Housekeeper(res)),
                ("rtc", PeerRegistry(res)),
                # joins the two above: camera liveness, capture requests, phone photos
                ("device-bridge", bridge),
            ]
            started = []
            try:
                for name, component in components:
                    await component.start()
                    res.components[name] = component
                    started.append(component)
                if settings.require_live_cameras:
                    # rule D1 on the server: an answer needs both cameras live
                    res.components["answer_gate"] = bridge.answer_gate
                yield
            finally:
                for component in reversed(started):
                    await component.stop()
        finally:
            await redis.aclose()
            await pool.close()

    routes: list[BaseRoute] = [
        Route("/", _index),
        Route("/healthz", healthz),
        Route("/readyz", readyz),
        *exam_routes,
        *hub_routes,
        *rtc_routes,
        Mount("/static", StaticFiles(directory=STATIC_DIR), name="static"),
    ]
    return Starlette(
        routes=routes,
        lifespan=lifespan,
        exception_handlers={ApiError: api_error_response},
        # issue #9: headers outermost, so the guard's own 413/408 carry them too
        middleware=[
            Middleware(SecurityHeaders, https=settings.public_url.startswith("https://")),
            Middleware(BodyGuard, limits=body_limits(settings.http)),
        ],
    )
