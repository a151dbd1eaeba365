"""An attempt's session built from PostgreSQL, when Redis holds none.

Redis keeps an ended attempt's state for a grace only (``hub/trim.py``);
after it, PostgreSQL holds the truth, and a late reconnect, an
invigilator's look or a reopen (rule M3) reads it from there. An ended
attempt is rebuilt with what its end and a reopen depend on: the end's
reason and time, the counted violations (rules E3, H3, so a reopened attempt
still ends at the fifth), when each device's last outage began (an abandoned
attempt's fault time, rule M3) and whether the phone ended its part (rule D5).

What Redis alone knew is not rebuilt: a device's highest stored seq
(``ack:<device>``), so the welcome's ``last_acked`` is 0 — it claims
nothing, and an ended attempt takes no more of the device's messages
(the phone's ``phone_end`` apart, which has no effect a second time).

A running attempt without state (Redis lost it) starts from its row, as it
always did: its deadline and start.
"""

from __future__ import annotations

from datetime import datetime

import asyncpg

from hub.devices import Device
from hub.session import DEVICES, EndReason, Rules, Session, Status
from hub.violations import Violation, ViolationLedger


def _s(value: datetime | None) -> float | None:
    return None if value is None else value.timestamp()


async def session_from_postgres(
    conn: asyncpg.Connection, attempt_id: int, rules: Rules
) -> Session | None:
    """The attempt's session as PostgreSQL knows it; None: no such attempt."""
    row = await conn.fetchrow(
        """SELECT started_at, deadline_at, status, end_reason, ended_at
             FROM attempts WHERE id = $1""",
        attempt_id,
    )
    if row is None:
        return None
    started, deadline = row["started_at"].timestamp(), row["deadline_at"].timestamp()
    session = Session(
        attempt_id=attempt_id,
        started_at=started,
        deadline_at=max(deadline, started),
        rules=rules,
    )
    if row["status"] != "ended":
        return session
    session.status = Status.ENDED
    session.end_reason = EndReason(row["end_reason"] or "submitted")
    session.ended_at = _s(row["ended_at"]) or deadline
    session.ledger = ViolationLedger(rules.debounce_s, await _violations(conn, attempt_id))
    session.devices = await _devices(conn, attempt_id)
    session.phone_started_at, session.phone_finished_at = await _phone(conn, attempt_id)
    return session


async def _violations(conn: asyncpg.Connection, attempt_id: int) -> list[Violation]:
    rows = await conn.fetch(
        """SELECT idx, causes, started_at, ended_at, forgiven_by
             FROM attempt_violations WHERE attempt_id = $1 ORDER BY idx""",
        attempt_id,
    )
    return [
        Violation(
            index=r["idx"],
            started_at=r["started_at"].timestamp(),
            causes=list(r["causes"]),
            ended_at=_s(r["ended_at"]),
            forgiven_by=r["forgiven_by"],
        )
        for r in rows
    ]


async def _devices(conn: asyncpg.Connection, attempt_id: int) -> dict[str, Device]:
    """Every device disconnected (the grace is long over); one whose last
    presence record is an outage's start has that outage open since then."""
    rows = await conn.fetch(
        """SELECT DISTINCT ON (device) device, kind, at FROM attempt_events
            WHERE attempt_id = $1 AND device = ANY($2::text[])
              AND kind IN ('connect', 'outage_start', 'outage_end')
            ORDER BY device, at DESC, stream_id COLLATE "C" DESC""",
        attempt_id,
        list(DEVICES),
    )
    devices = {name: Device() for name in DEVICES}
    for r in rows:
        if r["kind"] == "outage_start":
            devices[r["device"]].outage_since = r["at"].timestamp()
    return devices


async def _phone(conn: asyncpg.Connection, attempt_id: int) -> tuple[float | None, float | None]:
    row = await conn.fetchrow(
        """SELECT min(at) FILTER (WHERE kind = 'phone_start') AS started,
                  min(at) FILTER (WHERE kind = 'phone_end') AS finished
             FROM attempt_events
            WHERE attempt_id = $1 AND device = 'phone' AND kind IN ('phone_start', 'phone_end')""",
        attempt_id,
    )
    return (_s(row["started"]), _s(row["finished"])) if row else (None, None)
