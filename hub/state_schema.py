"""The fields of an attempt's shared state, named once (beside ``hub/keys.py``).

The ``…:state`` hash (``Keys.state``) holds:

=================  ===========================================================
``v``              version of the session (the compare-and-set's counter)
``s``              the :class:`hub.session.Session` as JSON (the one owner)
``status``         readable copy for operators: ``running`` / ``ended``
``violations``     readable copy: violations counted and not forgiven
``deadline``       readable copy: the deadline, epoch seconds
``ack:<device>``   highest client seq stored (the duplicate filter)
``hb:<device>``    last heartbeat, epoch ms (the fast path writes only this)
=================  ===========================================================

Entries of the ``…:events`` stream carry :data:`STREAM_FIELDS`. The Lua
scripts of ``hub/store.py`` take the field names from here; every reader
goes through :func:`read_views`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis

from hub.keys import Keys
from hub.protocol import decode
from hub.session import Session

VERSION = "v"
SESSION = "s"
STATUS = "status"
VIOLATIONS = "violations"
DEADLINE = "deadline"
DEVICES = ("pc", "phone")

# stream entry fields: device, kind, at (epoch ms), data (JSON), seq (heartbeats)
STREAM_FIELDS = ("device", "kind", "at", "data", "seq")


def ack(device: str) -> str:
    return f"ack:{device}"


def heartbeat(device: str) -> str:
    return f"hb:{device}"


@dataclass(frozen=True)
class StateView:
    """What a reader (the wall, the watch socket) sees of one attempt."""

    attempt_id: int
    session: Session | None
    heartbeats: dict[str, float | None]  # epoch seconds


_VIEW_FIELDS = [SESSION, *(heartbeat(d) for d in DEVICES)]


def _view(attempt_id: int, reply: list[Any]) -> StateView:
    state, *beats = reply
    return StateView(
        attempt_id,
        Session.from_dict(decode(state)) if state else None,
        {d: (int(b) / 1000 if b else None) for d, b in zip(DEVICES, beats, strict=True)},
    )


async def read_views(redis: Redis, keys: Keys, attempt_ids: list[int]) -> dict[int, StateView]:
    """The views of many attempts in one pipeline (no hub needs to hold them)."""
    if not attempt_ids:
        return {}
    async with redis.pipeline(transaction=False) as pipe:
        for attempt_id in attempt_ids:
            pipe.hmget(keys.state(attempt_id), _VIEW_FIELDS)
        replies: list[list[Any]] = await pipe.execute()
    return {a: _view(a, r) for a, r in zip(attempt_ids, replies, strict=True)}
