"""Shared resources built in the app lifespan and reached via ``request.app.state.res``."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import asyncpg
from redis.asyncio import Redis

from hub.keys import Keys
from proctor.settings import Settings

if TYPE_CHECKING:
    from starlette.requests import HTTPConnection


@dataclass
class Resources:
    settings: Settings
    pool: asyncpg.Pool
    redis: Redis
    keys: Keys
    # Started components (peer registry, workers …), by name, for handlers that need them.
    components: dict[str, Any] = field(default_factory=dict)


def resources(conn: HTTPConnection) -> Resources:
    res: Resources = conn.app.state.res
    return res
