"""The shared session state in Redis, changed atomically by Lua scripts.

Per attempt (all keys in the ``{att:<id>}`` hash tag, rule H8):

- ``…:state`` hash: ``v`` (version), ``s`` (the :class:`hub.session.Session`
  as JSON), ``status``, ``violations``, ``deadline`` (readable copies for
  operators), ``ack:<device>`` (highest client seq stored, the duplicate
  filter shared by every hub process) and ``hb:<device>`` (last heartbeat, ms).
- ``…:events`` stream (approximate MAXLEN, a safety bound): heartbeat, focus,
  camera … events, trimmed by the persistence worker to what PostgreSQL
  does not hold yet (``hub/trim.py``).

Expiry: an ended attempt's two keys expire after a grace (``hub/trim.py``).
Both scripts undo it (PERSIST) whenever they append entries, and COMMIT
whenever the attempt is running (reopened, rule M3): a live attempt's keys
never expire, and no entry expires before it is in PostgreSQL.

Two scripts:

``COMMIT`` is a compare-and-set of the whole session: it fails when another
process changed the state since we read it (then it returns the current state
and the caller re-applies its event), drops a client seq already stored, and
otherwise writes the new state, appends the event records to the stream and
publishes the messages for every hub process — all in one atomic step and one
round trip.

``INGEST`` is the fast path for telemetry that does not change the session
(heartbeats): drop a stored seq, else append to the stream. The
:class:`StreamBatcher` sends many of them in one pipeline.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import NoScriptError

from hub import state_schema as fields
from hub.errors import HubError
from hub.keys import STREAM_MAXLEN, Keys
from hub.protocol import encode
from hub.session import Record, Status

_FIELDS = {
    "ack": fields.ack(""),
    "hb": fields.heartbeat(""),
    "version": fields.VERSION,
    "session": fields.SESSION,
    "status": fields.STATUS,
    "violations": fields.VIOLATIONS,
    "deadline": fields.DEADLINE,
    "ended": Status.ENDED.value,
}

log = logging.getLogger(__name__)

# Field names come from hub/state_schema.py (the one place that names them).
_COMMIT = """
local dev = ARGV[3]
local seq = tonumber(ARGV[4])
if seq > 0 then
  local acked = tonumber(redis.call('HGET', KEYS[1], '%(ack)s' .. dev) or '0')
  if seq <= acked then return {'dup', acked} end
end
local v = redis.call('HGET', KEYS[1], '%(version)s') or '0'
if v ~= ARGV[1] then
  return {'conflict', v, redis.call('HGET', KEYS[1], '%(session)s') or ''}
end
local nv = tostring(tonumber(v) + 1)
redis.call('HSET', KEYS[1], '%(version)s', nv, '%(session)s', ARGV[2], '%(status)s', ARGV[5],
           '%(violations)s', ARGV[6], '%(deadline)s', ARGV[7])
if seq > 0 then redis.call('HSET', KEYS[1], '%(ack)s' .. dev, seq) end
local n = tonumber(ARGV[9])
if n > 0 or ARGV[5] ~= '%(ended)s' then
  redis.call('PERSIST', KEYS[1])
  redis.call('PERSIST', KEYS[2])
elseif ARGV[10] ~= '0' then
  redis.call('EXPIRE', KEYS[1], ARGV[10])
end
local out = {'ok', nv}
local i = 11
for r = 1, n do
  out[r + 2] = redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[8], '*',
    'device', ARGV[i], 'kind', ARGV[i + 1], 'at', ARGV[i + 2], 'data', ARGV[i + 3])
  i = i + 4
end
if ARGV[i] ~= '' then redis.call('PUBLISH', ARGV[i], ARGV[i + 1]) end
return out
"""

# ARGV: device, seq, at (ms)[, kind, data]: a heartbeat needs only three
# arguments (fewer to pack per call on the hot path).
_INGEST = """
local acked = tonumber(redis.call('HGET', KEYS[1], '%(ack)s' .. ARGV[1]) or '0')
local seq = tonumber(ARGV[2])
if seq <= acked then return false end
redis.call('HSET', KEYS[1], '%(ack)s' .. ARGV[1], seq, '%(hb)s' .. ARGV[1], ARGV[3])
redis.call('PERSIST', KEYS[1])
redis.call('PERSIST', KEYS[2])
return redis.call('XADD', KEYS[2], 'MAXLEN', '~', '%(maxlen)d', '*',
  'device', ARGV[1], 'kind', ARGV[4] or 'heartbeat', 'at', ARGV[3], 'data', ARGV[5] or '{}',
  'seq', ARGV[2])
"""


class Overloaded(HubError):
    """The write queue is full: the hub sheds load rather than grow without limit."""

    close_code = 1013


def _s(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def ms(seconds: float) -> str:
    return str(int(seconds * 1000))


@dataclass(frozen=True)
class Committed:
    """``status``: ``ok`` (written; ``stream_ids`` of the records), ``dup`` (the
    client seq was stored before) or ``conflict`` (``version``/``state`` are
    the current ones)."""

    status: str
    version: int
    state: str = ""
    stream_ids: tuple[str, ...] = ()


@dataclass(frozen=True)
class Loaded:
    version: int
    state: str
    acked: dict[str, int]


class StateStore:
    """Reads and atomically writes an attempt's shared state."""

    def __init__(self, redis: Redis, keys: Keys, maxlen: int = STREAM_MAXLEN) -> None:
        self.redis = redis
        self.keys = keys
        self.maxlen = maxlen
        self.commit_source = _COMMIT % _FIELDS
        self._commit = redis.register_script(self.commit_source)
        self.ingest_source = _INGEST % {"maxlen": maxlen, **_FIELDS}
        self.ingest_script = redis.register_script(self.ingest_source)

    async def load_scripts(self) -> None:
        """Load the scripts into Redis' cache (pipelines call them by sha)."""
        await self.redis.script_load(self.commit_source)
        await self.redis.script_load(self.ingest_source)

    async def load(self, attempt_id: int) -> Loaded:
        raw = await self.redis.hmget(
            self.keys.state(attempt_id),
            [fields.VERSION, fields.SESSION, fields.ack("pc"), fields.ack("phone")],
        )
        v, s, ack_pc, ack_phone = raw
        return Loaded(
            version=int(v or 0),
            state=_s(s) if s else "",
            acked={"pc": int(ack_pc or 0), "phone": int(ack_phone or 0)},
        )

    async def commit(
        self,
        attempt_id: int,
        expected_version: int,
        state: dict[str, Any],
        device: str,
        seq: int,
        records: list[Record],
        publish: list[dict[str, Any]],
        expire_s: int = 0,
    ) -> Committed:
        """Compare-and-set the state. ``expire_s`` > 0: an ended state written
        without entries expires then (an ended attempt rebuilt from
        PostgreSQL, ``hub/rebuild.py``)."""
        args: list[Any] = [
            str(expected_version),
            encode(state),
            device,
            str(seq),
            state["s"],
            str(sum(1 for v in state["l"]["v"] if v.get("f") is None)),
            str(state["dl"]),
            str(self.maxlen),
            str(len(records)),
            str(int(expire_s)),
        ]
        for record in records:
            args += [
                record.device or "",
                record.kind,
                ms(record.at),
                encode(record.data),
            ]
        if publish:
            args += [
                self.keys.channel(attempt_id),
                encode(publish),
            ]
        else:
            args += ["", ""]
        reply = await self._commit(
            keys=[self.keys.state(attempt_id), self.keys.events(attempt_id)], args=args
        )
        status = _s(reply[0])
        if status == "ok":
            return Committed("ok", int(reply[1]), stream_ids=tuple(_s(x) for x in reply[2:]))
        if status == "dup":
            return Committed("dup", expected_version)
        return Committed("conflict", int(_s(reply[1])), state=_s(reply[2]))

    async def heartbeats(self, attempt_id: int) -> dict[str, float | None]:
        raw = await self.redis.hmget(
            self.keys.state(attempt_id), [fields.heartbeat(d) for d in fields.DEVICES]
        )
        return {
            device: (int(value) / 1000 if value else None)
            for device, value in zip(("pc", "phone"), raw, strict=True)
        }


class StreamAnnouncer:
    """Remembers which streams were recently added to the persistence
    worker's active set, so the hub re-adds each at most once a minute."""

    def __init__(self, keys: Keys, ttl_s: float = 60.0, max_size: int = 100_000) -> None:
        self.keys = keys
        self.ttl_s = ttl_s
        self.max_size = max_size
        self._seen: dict[str, float] = {}

    def fresh(self, streams: Iterable[str], now: float) -> list[str]:
        """The streams to announce now (and remember them)."""
        if len(self._seen) > self.max_size:
            self._seen.clear()
        out = []
        for stream in streams:
            seen = self._seen.get(stream)
            if seen is None or now - seen > self.ttl_s:
                self._seen[stream] = now
                out.append(stream)
        return out


@dataclass(slots=True)
class _Item:
    attempt_id: int
    device: str
    seq: int
    kind: str
    at: float
    data: str
    future: asyncio.Future[str | None]


class StreamBatcher:
    """Appends telemetry to attempt streams in pipelines (rule G3).

    ``append`` returns once Redis has stored the entry (its stream id) or
    found the seq stored before (``None``): only then may the client be
    acknowledged. At most ``flushers`` pipelines are in flight; whatever
    arrived meanwhile goes in the next, so the hub is bound by Redis throughput, not
    by round trips. The queue is bounded: past ``max_pending`` the caller gets
    :class:`Overloaded`.

    A device's entries are never in two pipelines in flight at once: two
    pipelines on two connections (or, on a Redis Cluster, reaching the node
    in either order) could store a later seq first, and the earlier one would
    then be dropped as a duplicate. So a batch leaves in the queue the
    entries of a device whose earlier entries are still in flight; they go
    in the next pipeline, after those are stored.
    """

    def __init__(
        self,
        store: StateStore,
        max_batch: int = 512,
        max_pending: int = 50_000,
        flushers: int = 2,
    ) -> None:
        self.store = store
        self.max_batch = max_batch
        self.max_pending = max_pending
        self.flushers = flushers
        self._queue: deque[_Item] = deque()
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self.announcer = StreamAnnouncer(store.keys)
        self._dirty: set[str] = set()
        self._in_flight: dict[tuple[int, str], int] = {}  # (attempt, device) → entries

    async def start(self) -> None:
        assert not self._tasks
        self._tasks = [
            asyncio.create_task(self._run(), name=f"stream-batcher-{n}")
            for n in range(self.flushers)
        ]

    async def stop(self) -> None:
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        while self._queue:
            item = self._queue.popleft()
            if not item.future.done():
                item.future.set_exception(Overloaded("stopping", "the hub is stopping"))

    async def append(
        self, attempt_id: int, device: str, seq: int, kind: str, at: float, data: str = "{}"
    ) -> str | None:
        if len(self._queue) >= self.max_pending:
            raise Overloaded("overloaded", "the hub is overloaded, retry shortly")
        future: asyncio.Future[str | None] = asyncio.get_running_loop().create_future()
        self._queue.append(_Item(attempt_id, device, seq, kind, at, data, future))
        self._wake.set()
        return await future

    async def _run(self) -> None:
        # ``flushers`` of these share the queue: while one pipeline is in
        # flight the next batch goes out on another connection. Each client
        # waits for its previous message's ack, so order per device holds.
        while True:
            while not self._queue and not self._dirty:
                self._wake.clear()
                await self._wake.wait()
            batch = self._take()
            if not batch and not self._dirty:
                # everything queued waits for a pipeline in flight: its end wakes us
                self._wake.clear()
                await self._wake.wait()
                continue
            for item in batch:
                device = (item.attempt_id, item.device)
                self._in_flight[device] = self._in_flight.get(device, 0) + 1
            try:
                await self._flush(batch)
            finally:
                for item in batch:
                    device = (item.attempt_id, item.device)
                    left = self._in_flight[device] - 1
                    if left:
                        self._in_flight[device] = left
                    else:
                        del self._in_flight[device]
                if self._queue:
                    self._wake.set()

    def _take(self) -> list[_Item]:
        """The next batch, in queue order, without the entries of a device
        that has entries in flight (left queued in their order). Looks at
        most ``2 × max_batch`` entries."""
        batch: list[_Item] = []
        held: list[_Item] = []
        busy = self._in_flight
        queue = self._queue
        while queue and len(batch) < self.max_batch and len(held) < self.max_batch:
            item = queue.popleft()
            if (item.attempt_id, item.device) in busy:
                held.append(item)
            else:
                batch.append(item)
        queue.extendleft(reversed(held))
        return batch

    async def _flush(self, batch: list[_Item]) -> None:
        try:
            try:
                results = await self._pipeline(batch)
            except NoScriptError:  # Redis restarted and lost its script cache
                await self.store.load_scripts()
                results = await self._pipeline(batch)
        except Exception as error:  # Redis down: every caller learns it, the loop lives on
            log.warning("stream batch failed: %s", error)
            for item in batch:
                if not item.future.done():
                    item.future.set_exception(error)
            return
        for item, result in zip(batch, results, strict=True):
            if item.future.done():
                continue
            if isinstance(result, Exception):
                item.future.set_exception(result)
            else:
                item.future.set_result(None if result is None else _s(result))

    def mark_dirty(self, stream: str) -> None:
        """A stream got entries outside the batcher (a commit): tell the
        persistence worker with the next pipeline."""
        self._dirty.add(stream)
        self._wake.set()

    async def _pipeline(self, batch: list[_Item]) -> list[Any]:
        store = self.store
        keys = store.keys
        sha = store.ingest_script.sha
        now = time.monotonic()
        dirty, self._dirty = self._dirty, set()
        async with store.redis.pipeline(transaction=False) as pipe:
            for item in batch:
                stream = keys.events(item.attempt_id)
                dirty.add(stream)
                # execute_command, not pipe.evalsha: the cluster client's
                # pipeline refuses evalsha by name, yet routes the command by
                # its keys (one slot: the attempt's hash tag, rule H8)
                if item.kind == "heartbeat" and item.data == "{}":
                    pipe.execute_command(
                        "EVALSHA",
                        sha,
                        2,
                        keys.state(item.attempt_id),
                        stream,
                        item.device,
                        item.seq,
                        ms(item.at),
                    )
                else:
                    pipe.execute_command(
                        "EVALSHA",
                        sha,
                        2,
                        keys.state(item.attempt_id),
                        stream,
                        item.device,
                        item.seq,
                        ms(item.at),
                        item.kind,
                        item.data,
                    )
            # After the entries: the worker pops a dirty stream only once they are in it.
            extra = 0
            if dirty:
                pipe.sadd(keys.dirty_streams(), *dirty)
                extra += 1
            fresh = self.announcer.fresh(dirty, now)
            if fresh:
                pipe.sadd(keys.active_streams(), *fresh)
                extra += 1
            results: list[Any] = await pipe.execute(raise_on_error=False)
        if extra:
            results = results[:-extra]
        for result in results:
            if isinstance(result, NoScriptError):
                raise result
        return results
