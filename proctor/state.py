"""The shared resources every package's endpoints reach: built once by the
wiring (``proctor/app.py``), handed out through Starlette's lifespan state.

Each request's ``state`` is a copy of the lifespan state, so an endpoint
reads ``base(request).pool``; each package reaches its own services the same
way through a typed accessor of its own (``hub.ws.hub_of``,
``webrtc.endpoints.registry_of``, ``exam_api.services.exam_services``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import asyncpg
from redis.asyncio import Redis
from starlette.requests import HTTPConnection

from proctor.clock import Clock, as_datetime
from proctor.outages import OutageLog
from proctor.settings import Settings


@dataclass(frozen=True)
class Base:
    settings: Settings
    pool: asyncpg.Pool
    redis: Redis
    clock: Clock
    outages: OutageLog


def base(conn: HTTPConnection) -> Base:
    """The shared resources of the app serving ``conn``."""
    value: Base = conn.state.base
    return value


def now_of(conn: HTTPConnection) -> datetime:
    """Now, by the app's clock (the one the wiring passed in), as PostgreSQL stores it."""
    return as_datetime(base(conn).clock.now())
