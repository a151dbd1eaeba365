"""Who is sitting during the exam (rule I3): the pure run rule, then the real
path — random PC snapshots of someone else raise the wall's flag and a
timeline item, and the exam goes on."""

from __future__ import annotations

import asyncpg

from exam_api.identity_watch import Scored, current_flag, runs
from exam_api.wall import risk_of
from proctor.settings import Settings
from tests.support import real_faces
from tests.support.identity import (
    client_for,
    face_camera,
    identity_server,
    identity_settings,
    pc_camera,
    sitting,
)
from tests.support.live import LiveServer
from tests.support.waits import eventually

__all__ = ["identity_server", "identity_settings"]


def _shots(*matches: str) -> list[Scored]:
    return [Scored(i + 1, float(i * 45), m) for i, m in enumerate(matches)]


def test_k_in_a_row_raise_one_flag_at_the_kth() -> None:
    # rule I3
    found = runs(_shots("same", "other", "other", "other", "same"), 3)
    assert len(found) == 1
    assert found[0].flag == "someone_else" and found[0].t == 3 * 45.0
    assert found[0].snapshot_ids == (2, 3, 4) and not found[0].ongoing


def test_fewer_than_k_or_a_match_between_raise_nothing() -> None:
    assert runs(_shots("other", "other", "same", "other", "other"), 3) == []
    assert current_flag(["other", "same", "other"], 2) is None


def test_unclear_frames_neither_count_nor_break_a_run() -> None:
    found = runs(_shots("nobody", "unclear", "nobody", "nobody"), 3)
    assert [(r.flag, r.ongoing) for r in found] == [("nobody", True)]
    assert current_flag(["nobody", "unclear", "nobody"], 2) == "nobody"
    assert current_flag(["several", "nobody"], 2) == "someone_else"


def test_the_flag_raises_the_tile_risk() -> None:
    plain, _ = risk_of(None, [], 0)
    flagged, reasons = risk_of(None, [], 0, "someone_else")
    assert flagged > plain and reasons == ["someone_else"]


async def test_random_snapshots_of_someone_else_flag_the_wall_and_timeline_and_end_nothing(
    identity_server: LiveServer, pool: asyncpg.Pool, identity_settings: Settings
) -> None:
    # rule I3: flag_after = 2 in this server's settings
    s = await sitting(identity_server, pool, identity_settings, real_faces.hopper())
    pc = await pc_camera(identity_server, s.pc_token, face_camera(real_faces.astronaut()))
    try:
        async with await client_for(identity_server.url, pool, s.invigilator.id) as staff:

            async def flagged_tile() -> dict | None:
                wall = (await staff.get("/api/invigilate/sessions")).json()
                tiles = [t for t in wall["sessions"] if t["attempt_id"] == s.attempt_id]
                return tiles[0] if tiles and tiles[0]["identity_flag"] else None

            tile = await eventually(flagged_tile, within=90)
            assert tile["identity_flag"] == "someone_else"
            assert "someone_else" in tile["risk_reasons"]
            timeline = (await staff.get(f"/api/attempts/{s.attempt_id}/timeline")).json()
    finally:
        await pc.close()
    flags = [i for i in timeline["items"] if i["type"] == "identity_flag"]
    assert flags and flags[0]["flag"] == "someone_else"
    assert flags[0]["label"] == "连续多张抓拍中不是考生本人"
    shots = {x["id"]: x for x in timeline["snapshots"]}
    assert all(shots[i]["face_match"] == "other" for i in flags[0]["snapshot_ids"])
    async with pool.acquire() as conn:
        status = await conn.fetchval("SELECT status FROM attempts WHERE id = $1", s.attempt_id)
    assert status == "in_progress"  # a flag never ends the exam
