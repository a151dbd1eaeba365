"""The deadline scheduler: ends attempts whose time is up (rule E4, G4).

Deadlines live in PostgreSQL (``attempts.deadline_at``, indexed for open
attempts), not in a local sleep, so the scheduler survives a restart and ends
an attempt even when both devices are gone. Every hub process may run it: the
session's compare-and-set in Redis and the idempotent ``end_attempt`` make a
race between two processes harmless. The end reaches every connected device
and watcher through the fan-out.
"""

from __future__ import annotations

import asyncio
import logging

from hub import durable
from hub.live import Hub
from proctor.tasks import cancel_and_wait, run_every

log = logging.getLogger(__name__)


class DeadlineScheduler:
    def __init__(
        self,
        hub: Hub,
        interval_s: float = 0.5,
        batch: int = 200,
    ) -> None:
        self.hub = hub
        self.interval_s = interval_s
        self.batch = batch
        self.clock = hub.clock.now
        self.ended = 0
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        assert self._task is None
        self._task = asyncio.create_task(self._run(), name="deadline-scheduler")

    async def stop(self) -> None:
        task, self._task = self._task, None
        await cancel_and_wait(task)

    async def _run(self) -> None:
        await run_every(self.run_once, self.interval_s, log, "deadline pass")

    async def run_once(self) -> int:
        """End every attempt past its deadline; returns how many were ended."""
        now = self.clock()
        async with self.hub.pool.acquire() as conn:
            due = await durable.due_attempts(conn, now, self.batch)
        count = await self._abandoned(now)
        for attempt_id, deadline_at in due:
            try:
                await self.end_if_due(attempt_id, deadline_at, now)
                count += 1
            except Exception:
                log.exception("ending attempt %s at its deadline failed", attempt_id)
        self.ended += count
        return count

    async def _abandoned(self, now: float) -> int:
        """End attempts whose devices have all been gone for the rules'
        ``abandon_after_s``; the session's own clock rule decides."""
        hub = self.hub
        limit = now - hub.rules.abandon_after_s
        raw = await hub.redis.zrangebyscore(
            hub.keys.unattended(), "-inf", limit, start=0, num=self.batch
        )
        count = 0
        for member in raw:
            assert isinstance(member, bytes | str)
            attempt_id = int(member)
            live = await hub.attempt(attempt_id)
            try:
                await hub.apply(live, lambda s: s.tick(now), now=now)
                if live.session.ended:
                    count += 1
                if live.session.ended or any(d.connected for d in live.session.devices.values()):
                    await hub.redis.zrem(hub.keys.unattended(), member)
            except Exception:
                log.exception("checking attempt %s for abandonment failed", attempt_id)
            finally:
                hub.release(live)
        return count

    async def end_if_due(self, attempt_id: int, deadline_at: float, now: float) -> None:
        """End the attempt by the database's deadline (which the shared
        session follows if it was changed there)."""
        hub = self.hub
        live = await hub.attempt(attempt_id)
        try:
            await hub.apply(live, lambda s: s.set_deadline(deadline_at, now), now=now)
            if live.session.ended:
                # Already ended in Redis (say by another process that died
                # before PostgreSQL heard of it): converge PostgreSQL.
                await hub.repair(live, now)
        finally:
            hub.release(live)
