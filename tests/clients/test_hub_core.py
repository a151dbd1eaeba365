"""The client core (static/js/hub-core.js) in Node against the real hub:
bind, the start photo, capture answers, a dropped socket resumed, a restart
that lost its storage, the early-end confirmation, a capture answered after
the end, the end (rules D3–D6, H1, H10, N1) — then PostgreSQL is checked."""

from __future__ import annotations

import json
from pathlib import Path

import asyncpg

from proctor.settings import Settings
from tests.clients.node import node_test
from tests.support.files import jpeg_bytes
from tests.support.hub_client import new_attempt
from tests.support.live import LiveServer
from tests.support.waits import eventually


async def test_core_in_node_against_the_hub(
    server: LiveServer, pool: asyncpg.Pool, settings: Settings, tmp_path: Path
) -> None:
    attempt = await new_attempt(pool, settings)
    photo = tmp_path / "photo.jpg"
    photo.write_bytes(jpeg_bytes(320, 240))
    code, output = await node_test(
        ["hub-core.live.test.js", "core-copy.test.js"],
        {
            "HUB_HTTP_URL": server.url,
            "HUB_WS_URL": server.ws_url,
            "HUB_PC_TOKEN": attempt.pc_token,
            "HUB_PHONE_TOKEN": attempt.phone_token,
            "HUB_JPEG": str(photo),
        },
    )
    assert code == 0, output

    async with pool.acquire() as conn:
        row = await conn.fetchrow(
            "SELECT status, end_reason, violations FROM attempts WHERE id = $1",
            attempt.attempt_id,
        )
        reasons = [
            r["reason"]
            for r in await conn.fetch(
                """SELECT reason FROM snapshots WHERE attempt_id = $1 AND device = 'phone'
                   ORDER BY id""",
                attempt.attempt_id,
            )
        ]
    assert row is not None
    assert (row["end_reason"], row["violations"]) == ("submitted", 0)
    # rule D4: the start photo, a photo on each return (one resumed after the
    # drop, one after the restart)
    assert reasons[0] == "start" and reasons.count("return_to_page") == 3, reasons
    # every photo the phone sent is stored, the camera check asked before the
    # end and answered after it included (rule H10)
    result = json.loads(output.split("RESULT ", 1)[1].splitlines()[0])
    assert len(reasons) == result["photos"], (reasons, result)

    async def events() -> list[str] | None:
        async with pool.acquire() as conn:
            kinds = [
                r["kind"]
                for r in await conn.fetch(
                    """SELECT kind FROM attempt_events
                        WHERE attempt_id = $1 AND device = 'phone' ORDER BY at""",
                    attempt.attempt_id,
                )
            ]
        return kinds if "phone_end" in kinds else None

    kinds = await eventually(events, within=20)
    assert kinds.count("phone_start") == 1  # nothing counted twice
    assert kinds.count("page_return") == 3  # nothing lost across the drop and the restart
    assert kinds.count("phone_end") == 1
