"""The persistence worker: copies attempt streams from Redis into PostgreSQL.

At least once: entries are read through a consumer group and acknowledged
only after the rows are committed; the (attempt, stream id) primary key makes
a second copy of the same entry a no-op.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import socket
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from redis.exceptions import ResponseError

from hub.keys import PERSIST_GROUP
from proctor.resources import Resources

log = logging.getLogger(__name__)

_INSERT = """INSERT INTO attempt_events (attempt_id, stream_id, device, kind, at, data)
              VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING"""


def _attempt_of(stream: str) -> int:
    # "<prefix>:{att:42}:events" → 42
    return int(stream.split("{att:", 1)[1].split("}", 1)[0])


def _row(stream: str, entry_id: str, fields: dict[str, str]) -> tuple[object, ...]:
    at = datetime.fromtimestamp(int(fields.get("at", "0")) / 1000, UTC)
    data = json.loads(fields.get("data") or "{}")
    return (
        _attempt_of(stream),
        entry_id,
        fields.get("device", ""),
        fields.get("kind", ""),
        at,
        data,
    )


@dataclass
class PersistWorker:
    res: Resources
    batch: int = 500
    block_ms: int = 200
    consumer: str = field(default_factory=lambda: f"{socket.gethostname()}-{os.getpid()}")
    _task: asyncio.Task[None] | None = None
    _known: set[str] = field(default_factory=set)
    _stopping: asyncio.Event = field(default_factory=asyncio.Event)

    async def start(self) -> None:
        assert self._task is None
        self._task = asyncio.create_task(self._run(), name="persist-worker")

    async def stop(self) -> None:
        task, self._task = self._task, None
        # The event as well as the cancel: a client library that swallows a
        # CancelledError must not keep the worker alive.
        self._stopping.set()
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _ensure_group(self, stream: str) -> None:
        if stream in self._known:
            return
        try:
            await self.res.redis.xgroup_create(stream, PERSIST_GROUP, id="0", mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise
        self._known.add(stream)

    async def _pause(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), seconds)

    async def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                copied = await self.run_once()
                if not copied:
                    await self._pause(self.block_ms / 1000)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("persistence pass failed; retrying")
                await self._pause(1)

    async def run_once(self) -> int:
        """One pass over every active stream: first our pending entries, then new ones."""
        redis, keys = self.res.redis, self.res.keys
        raw = await redis.smembers(keys.active_streams())
        streams = sorted(s.decode() if isinstance(s, bytes) else s for s in raw)
        copied = 0
        for stream in streams:
            await self._ensure_group(stream)
            for start in ("0", ">"):
                reply = await redis.xreadgroup(
                    PERSIST_GROUP, self.consumer, {stream: start}, count=self.batch
                )
                copied += await self._copy(reply)
        return copied

    async def _copy(self, reply: Any) -> int:
        copied = 0
        for stream_b, entries in reply or []:
            stream = stream_b.decode() if isinstance(stream_b, bytes) else stream_b
            rows, ids = [], []
            for entry_id_b, fields_b in entries:
                if not fields_b:
                    continue
                entry_id = entry_id_b.decode() if isinstance(entry_id_b, bytes) else entry_id_b
                fields = {k.decode(): v.decode() for k, v in fields_b.items()}
                rows.append(_row(stream, entry_id, fields))
                ids.append(entry_id)
            if not rows:
                continue
            async with self.res.pool.acquire() as conn:
                await conn.executemany(_INSERT, rows)
            await self.res.redis.xack(stream, PERSIST_GROUP, *ids)
            copied += len(rows)
        return copied
