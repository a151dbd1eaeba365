"""Every Redis key and stream name, in one place.

Keys that belong to one attempt carry the hash tag ``{att:<id>}`` so that all
of an attempt's keys land in one Redis Cluster slot (rule H8) and a Lua script
or MULTI over them stays legal on a cluster.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

PERSIST_GROUP = "persist"
# A safety bound only: the persistence worker trims each stream to what
# PostgreSQL holds after every pass (hub/trim.py); this cap matters only while
# the worker is down, and then it drops the oldest unpersisted entries.
STREAM_MAXLEN = 10_000
# How long an ended attempt's stream and state outlive its last persisted
# entry (PROCTOR_ENDED_GRACE, proctor/settings.py; the components' default).
ENDED_GRACE_S = 3600


def attempt_of(name: str) -> int:
    """The attempt of a per-attempt key or channel: ``"…{att:42}:events"`` → 42."""
    return int(name.split("{att:", 1)[1].split("}", 1)[0])


@dataclass(frozen=True)
class Keys:
    prefix: str = "proctor"

    def tag(self, attempt_id: int) -> str:
        return f"{self.prefix}:{{att:{attempt_id}}}"

    def events(self, attempt_id: int) -> str:
        """The attempt's stream: heartbeat, focus and camera events (rule G3).
        Trimmed to its entries not yet in PostgreSQL; once the attempt has
        ended and all are, it expires with the state (``hub/trim.py``)."""
        return f"{self.tag(attempt_id)}:events"

    def state(self, attempt_id: int) -> str:
        """The attempt's shared session state (hash). Never expires while the
        attempt runs; expires with the stream after it ended (``hub/trim.py``)."""
        return f"{self.tag(attempt_id)}:state"

    def watchers(self, attempt_id: int) -> str:
        """Sorted set: who watches the attempt's live video, watcher id →
        lease expiry (epoch seconds; ``hub/wall.py``, rule H4)."""
        return f"{self.tag(attempt_id)}:watchers"

    def phone_code_of(self, attempt_id: int) -> str:
        """The attempt's current short phone binding code (string, with a TTL)."""
        return f"{self.tag(attempt_id)}:phone-code"

    def phone_code(self, code: str) -> str:
        """A short phone binding code → its attempt id (single use, with a TTL)."""
        return f"{self.prefix}:phone-code:{code}"

    def holder_reply(self, attempt_id: int, request_id: str) -> str:
        """List: the answer to one call to the process holding the attempt's
        PC peer (a live still, a live-video answer), pushed by that process,
        popped by the one that asked (``webrtc/holder_calls.py``); expires
        after seconds."""
        return f"{self.tag(attempt_id)}:reply:{request_id}"

    def contact(self, attempt_id: int) -> str:
        """The attempt's last contact message index (a hint, ``hub/contact.py``):
        absent while the attempt has none, so a connecting device costs no
        PostgreSQL query then (a connect storm)."""
        return f"{self.tag(attempt_id)}:contact"

    def channel(self, attempt_id: int) -> str:
        """Pub/sub channel fanning an attempt's updates out to every hub process."""
        return f"{self.tag(attempt_id)}:updates"

    def active_streams(self) -> str:
        """Set of stream keys the persistence worker sweeps: every stream that
        exists (an ended attempt's until it expired), so that what a dead
        worker left pending is claimed."""
        return f"{self.prefix}:active-streams"

    def unattended(self) -> str:
        """Sorted set: attempts with no device connected, scored by the time
        the last one left (the deadline scheduler looks for abandoned ones)."""
        return f"{self.prefix}:unattended"

    def dirty_streams(self) -> str:
        """Set of stream keys written since the persistence worker last read
        them (SPOPped by the worker; the active set is swept now and then)."""
        return f"{self.prefix}:dirty-streams"

    def own_channel(self, role: str) -> str:
        """A pub/sub channel only this subscriber listens on (it keeps a
        subscription open while the subscriber follows no attempt)."""
        return f"{self.prefix}:{role}:{uuid.uuid4().hex}"
