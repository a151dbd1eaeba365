"""Components built the way the wiring builds them, with a key prefix of
their own, for integration tests of one component on the real stores."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import asyncpg
from redis.asyncio import Redis

from exam_api.ending import end_attempt
from hub.fanout import ChannelRouter
from hub.keys import Keys
from hub.live import Hub
from proctor.clock import Clock, SystemClock
from proctor.settings import Settings
from webrtc.phone_photos import PhonePhotoSink
from webrtc.snapshots import SnapshotService
from webrtc.storage import FileSnapshotStore


@dataclass
class HubParts:
    hub: Hub
    router: ChannelRouter
    snapshots: SnapshotService
    keys: Keys


def own_keys(settings: Settings, name: str) -> Keys:
    """A prefix of its own: no other worker (the live server's) touches it."""
    return Keys(f"{settings.redis_prefix}-{name}-{uuid.uuid4().hex[:8]}")


@asynccontextmanager
async def started_hub(
    settings: Settings,
    pool: asyncpg.Pool,
    redis: Redis,
    keys: Keys | None = None,
    clock: Clock | None = None,
) -> AsyncIterator[HubParts]:
    """A hub process that has just started (nothing in memory), with the
    real collaborators: the channel router, the scoring end, the evidence store."""
    assert settings.redis_url
    keys = keys or Keys(settings.redis_prefix)
    router = ChannelRouter(redis, keys)
    snapshots = SnapshotService(pool, FileSnapshotStore(settings.data_dir / "snapshots"))
    hub = Hub(
        redis_url=settings.redis_url,
        redis_cluster=settings.redis_cluster,
        pool=pool,
        keys=keys,
        router=router,
        clock=clock or SystemClock(),
        record_end=end_attempt,
        photo_sink=PhonePhotoSink(snapshots),
        ended_grace_s=settings.ended_grace_s,
    )
    await router.start()
    snapshots.start()
    await hub.start()
    try:
        yield HubParts(hub, router, snapshots, keys)
    finally:
        await hub.stop()
        await snapshots.stop()
        await router.stop()
