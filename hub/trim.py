"""What Redis keeps of an attempt once PostgreSQL holds it.

Redis is the attempt's buffer, not its record: PostgreSQL is (rule G3). So
the persistence worker, after each pass has written a stream's entries and
acknowledged them (XACK), *settles* the stream in one script on the
attempt's slot (rule H8):

- **Trim** (``XTRIM MINID``) to the first entry PostgreSQL may not hold:
  the older of the group's first pending entry (read by some worker, dead or
  alive, and not acknowledged: not trimmed until claimed, written and
  acknowledged) and the entry after the last one the group was given. An
  entry is acknowledged only after its rows are committed, so nothing
  trimmed is missing from PostgreSQL. The hub never reads its streams back
  (a device's resume is the state's ``ack:<device>``, contact messages come
  from PostgreSQL), so nothing else needs the entries.
- **Expire** an ended attempt's stream and state hash ``grace`` seconds
  later, once nothing in the stream is pending or unread and the state says
  ended. Whether the attempt ended is PostgreSQL's to say: the script only
  reports the *candidate* (``CANDIDATE``); the worker asks PostgreSQL and
  runs the script again with the grace, which checks everything again
  atomically (an entry written meanwhile, or the attempt reopened, refuses).

The hub's writes undo an expiry (``hub/store.py``): every write of a
running attempt, and every write that appends entries, removes it (PERSIST),
so a live attempt's keys never expire and an entry never expires unpersisted;
the next settle after those entries are persisted expires the keys again.
After the grace the hub rebuilds an ended attempt from PostgreSQL
(``hub/rebuild.py``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import NoScriptError

from hub import state_schema as fields
from hub.keys import PERSIST_GROUP, Keys, attempt_of
from hub.session import Status

# What the script says of a stream.
GONE = -1  # no such key (expired, or never written): nothing to keep
KEPT = 0  # running, or entries still to persist
CANDIDATE = 1  # persisted, state ended (or absent), no expiry yet: PostgreSQL decides
EXPIRING = 2  # persisted and expiring

# KEYS: stream, state. ARGV: group, grace seconds ("0": trim and report only).
# Stream ids compare as (ms, seq) decimal strings without leading zeros: by
# length, then by text (exact, where Lua's numbers are not past 2^53).
_SETTLE_TEMPLATE = """
local function parts(id) return string.match(id, '^(%%d+)-(%%d+)$') end
local function before(a, b)
  local ams, aseq = parts(a)
  local bms, bseq = parts(b)
  if #ams ~= #bms then return #ams < #bms end
  if ams ~= bms then return ams < bms end
  if #aseq ~= #bseq then return #aseq < #bseq end
  return aseq < bseq
end
local function after(id)
  local ms, seq = parts(id)
  local i = #seq
  while i > 0 and string.sub(seq, i, i) == '9' do i = i - 1 end
  local zeros = string.rep('0', #seq - i)
  if i == 0 then return ms .. '-1' .. zeros end
  return ms .. '-' .. string.sub(seq, 1, i - 1)
    .. tostring(tonumber(string.sub(seq, i, i)) + 1) .. zeros
end
if redis.call('EXISTS', KEYS[1]) == 0 then return {0, %(gone)d} end
local delivered = nil
for _, group in ipairs(redis.call('XINFO', 'GROUPS', KEYS[1])) do
  local name, last = nil, nil
  for i = 1, #group, 2 do
    if group[i] == 'name' then name = group[i + 1]
    elseif group[i] == 'last-delivered-id' then last = group[i + 1] end
  end
  if name == ARGV[1] then delivered = last end
end
if delivered == nil then return {0, %(kept)d} end
local pending = redis.call('XPENDING', KEYS[1], ARGV[1])
local floor = after(delivered)
if pending[1] > 0 and before(pending[2], floor) then floor = pending[2] end
local trimmed = redis.call('XTRIM', KEYS[1], 'MINID', floor)
if pending[1] > 0 or redis.call('XLEN', KEYS[1]) > 0 then return {trimmed, %(kept)d} end
local status = redis.call('HGET', KEYS[2], '%(status)s')
if status and status ~= '%(ended)s' then return {trimmed, %(kept)d} end
if redis.call('PTTL', KEYS[1]) >= 0 then return {trimmed, %(expiring)d} end
if ARGV[2] == '0' then return {trimmed, %(candidate)d} end
redis.call('EXPIRE', KEYS[1], ARGV[2])
redis.call('EXPIRE', KEYS[2], ARGV[2])
return {trimmed, %(expiring)d}
"""
_NAMES = {
    "gone": GONE,
    "kept": KEPT,
    "candidate": CANDIDATE,
    "expiring": EXPIRING,
    "status": fields.STATUS,
    "ended": Status.ENDED.value,
}
_SETTLE = _SETTLE_TEMPLATE % _NAMES


@dataclass(frozen=True)
class Settled:
    """``trimmed`` entries left the stream; ``state`` is one of GONE … EXPIRING."""

    trimmed: int
    state: int


class StreamTrimmer:
    """Runs the settle script over many streams, in pipelines."""

    def __init__(self, redis: Redis, keys: Keys) -> None:
        self.redis = redis
        self.keys = keys
        self.source = _SETTLE
        self._sha = redis.register_script(_SETTLE).sha

    async def settle(
        self, streams: list[str], grace_s: int = 0, acks: dict[str, list[str]] | None = None
    ) -> dict[str, Settled]:
        """Acknowledge ``acks`` (stream → ids) and settle ``streams``, in one
        pipeline (the XACKs first: on one node, in order). ``grace_s`` > 0
        expires the persisted streams of ended attempts; 0 only reports them."""
        acks = acks or {}
        try:
            replies = await self._pipeline(streams, grace_s, acks)
        except NoScriptError:  # Redis restarted and lost its script cache
            await self.redis.script_load(self.source)
            replies = await self._pipeline(streams, grace_s, {})
        return {
            stream: Settled(int(reply[0]), int(reply[1]))
            for stream, reply in zip(streams, replies, strict=True)
        }

    async def _pipeline(
        self, streams: list[str], grace_s: int, acks: dict[str, list[str]]
    ) -> list[Any]:
        keys = self.keys
        async with self.redis.pipeline(transaction=False) as pipe:
            for stream, ids in acks.items():
                pipe.xack(stream, PERSIST_GROUP, *ids)
            for stream in streams:
                # execute_command, not the script object: the cluster client's
                # pipeline routes it by its keys (one slot, rule H8)
                pipe.execute_command(
                    "EVALSHA",
                    self._sha,
                    2,
                    stream,
                    keys.state(attempt_of(stream)),
                    PERSIST_GROUP,
                    str(int(grace_s)),
                )
            results: list[Any] = await pipe.execute(raise_on_error=False)
        for result in results:
            if isinstance(result, NoScriptError):
                raise result
            if isinstance(result, Exception):
                raise result
        return results[len(acks) :]
