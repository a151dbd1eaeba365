"""The face check before answering (rule I2): the pure state machine, then
the real path — an ID photo uploaded through the API, a real aiortc PC peer
showing a real face, the frame taken and scored on the server — and the
hostile client that tries to skip it or to send its own verdict."""

from __future__ import annotations

import asyncpg
import httpx
import pytest

from exam_api.identity_check import Check
from proctor.settings import Settings
from tests.support import real_faces
from tests.support.identity import (
    Sitting,
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


# ----- the state machine (pure) ----------------------------------------------------


def test_a_match_passes_and_clears_answering() -> None:
    # rule I2
    check = Check().after("same", 3)
    assert check.state == "passed" and check.cleared


def test_three_failed_tries_wait_for_an_invigilator() -> None:
    # rule I2: 3 tries, then a person decides
    check = Check()
    for outcome in ("other", "nobody"):
        check = check.after(outcome, 3)
        assert check.state == "checking" and check.may_try(3)
    check = check.after("other", 3)
    assert check.state == "waiting" and not check.may_try(3) and not check.cleared
    assert check.decided(admit=True).state == "admitted"
    assert check.decided(admit=True).cleared
    assert check.decided(admit=False).state == "refused"
    assert not check.decided(admit=False).cleared


def test_a_lost_frame_is_not_the_candidates_try_and_no_reference_waits() -> None:
    assert Check().after("lost", 3) == Check()
    assert Check().after("no_reference", 3).state == "waiting"


def test_a_passed_check_cannot_be_decided_again() -> None:
    with pytest.raises(AssertionError):
        Check("passed").decided(admit=False)


# ----- the real path ---------------------------------------------------------------------


async def _state(client: httpx.AsyncClient, attempt_id: int) -> dict:
    response = await client.get(f"/api/attempts/{attempt_id}/identity")
    assert response.status_code == 200, response.text
    return response.json()


async def _try_once(client: httpx.AsyncClient, attempt_id: int, body: object = None) -> dict:
    """One try, waited for until the server has scored its frame."""
    response = await client.post(f"/api/attempts/{attempt_id}/identity/try", json=body)
    assert response.status_code == 202, response.text
    n = response.json()["tries"][-1]["n"]

    async def scored() -> dict | None:
        state = await _state(client, attempt_id)
        last = state["tries"][-1]
        return state if last["n"] == n and last["outcome"] is not None else None

    return await eventually(scored, within=60)


async def _answer(client: httpx.AsyncClient, s: Sitting) -> httpx.Response:
    return await client.put(
        f"/api/attempts/{s.attempt_id}/answers/{s.question_ids[0]}", json={"answer": "A"}
    )


async def test_the_candidates_own_face_passes_and_opens_answering(
    identity_server: LiveServer, pool: asyncpg.Pool, identity_settings: Settings
) -> None:
    # rule I2: the PC frame matches the ID photo → answers are accepted
    s = await sitting(identity_server, pool, identity_settings, real_faces.hopper())
    pc = await pc_camera(identity_server, s.pc_token, face_camera(real_faces.hopper()))
    try:
        async with await client_for(identity_server.url, pool, s.candidate.id) as client:
            refused = await _answer(client, s)
            assert refused.status_code == 403
            assert refused.json()["error"] == "identity_not_verified"
            assert "人脸核验" in refused.json()["message"]
            state = await _try_once(client, s.attempt_id)
            assert state["state"] == "passed" and state["cleared"]
            assert state["tries"][-1]["outcome"] == "same"
            assert state["tries"][-1]["message"] == "人脸核验通过"
            assert state["tries"][-1]["distance"] < identity_settings.identity.threshold
            assert (await _answer(client, s)).status_code == 200
            again = await client.post(f"/api/attempts/{s.attempt_id}/identity/try")
            assert again.status_code == 409  # nothing to retry once passed
    finally:
        await pc.close()
    async with pool.acquire() as conn:
        frame = await conn.fetchrow(
            "SELECT reason, face_match FROM snapshots WHERE attempt_id = $1 AND reason = 'identity'",
            s.attempt_id,
        )
    assert frame["face_match"] == "same"  # the frame is kept as evidence


async def test_someone_else_is_refused_three_times_then_an_invigilator_admits(
    identity_server: LiveServer, pool: asyncpg.Pool, identity_settings: Settings
) -> None:
    # rule I2, hostile: the client's own "match" claim changes nothing
    s = await sitting(identity_server, pool, identity_settings, real_faces.hopper())
    pc = await pc_camera(identity_server, s.pc_token, face_camera(real_faces.astronaut()))
    try:
        async with await client_for(identity_server.url, pool, s.candidate.id) as client:
            for n in (1, 2, 3):
                claim = {"match": "same", "distance": 0.0, "state": "passed", "cleared": True}
                state = await _try_once(client, s.attempt_id, claim)
                assert state["tries"][-1]["outcome"] == "other"
                assert state["tries"][-1]["message"] == "摄像头中的人脸与证件照不一致"
                assert state["failed"] == n
            assert state["state"] == "waiting" and not state["may_try"]
            assert state["message"] == "人脸核验未通过，请等待监考员人工核验"
            fourth = await client.post(f"/api/attempts/{s.attempt_id}/identity/try")
            assert fourth.status_code == 409 and fourth.json()["error"] == "identity_waiting"
            assert (await _answer(client, s)).status_code == 403
            # a candidate cannot decide for the invigilator
            own = await client.post(
                f"/api/invigilate/attempts/{s.attempt_id}/identity",
                json={"decision": "admit", "reason": "本人"},
            )
            assert own.status_code == 403
            async with await client_for(identity_server.url, pool, s.invigilator.id) as staff:
                seen = (await staff.get(f"/api/invigilate/attempts/{s.attempt_id}/identity")).json()
                assert seen["state"] == "waiting" and len(seen["tries"]) == 3
                photo = await staff.get(seen["id_photo_url"])
                assert photo.status_code == 200 and photo.headers["content-type"] == "image/jpeg"
                frame = await staff.get(seen["tries"][-1]["image_url"])
                assert frame.status_code == 200 and frame.content[:3] == b"\xff\xd8\xff"
                no_reason = await staff.post(
                    f"/api/invigilate/attempts/{s.attempt_id}/identity", json={"decision": "admit"}
                )
                assert no_reason.status_code == 400
                admitted = await staff.post(
                    f"/api/invigilate/attempts/{s.attempt_id}/identity",
                    json={"decision": "admit", "reason": "已核对身份证原件，为本人"},
                )
                assert admitted.status_code == 200, admitted.text
            assert (await _state(client, s.attempt_id))["state"] == "admitted"
            assert (await _answer(client, s)).status_code == 200
    finally:
        await pc.close()
    async with pool.acquire() as conn:
        audit = await conn.fetchrow(
            "SELECT user_id, action, reason FROM invigilator_actions WHERE attempt_id = $1",
            s.attempt_id,
        )
    assert (audit["user_id"], audit["action"]) == (s.invigilator.id, "admit")
    assert audit["reason"] == "已核对身份证原件，为本人"


async def test_an_invigilator_refusal_ends_the_attempt_with_the_reason(
    identity_server: LiveServer, pool: asyncpg.Pool, identity_settings: Settings
) -> None:
    # rule I2: no reference photo → a person decides; a refusal is audited and ends it
    s = await sitting(identity_server, pool, identity_settings, None)
    pc = await pc_camera(identity_server, s.pc_token, face_camera(real_faces.hopper()))
    try:
        async with await client_for(identity_server.url, pool, s.candidate.id) as client:
            state = await _try_once(client, s.attempt_id)
            assert state["tries"][-1]["outcome"] == "no_reference"
            assert state["state"] == "waiting"
        async with await client_for(identity_server.url, pool, s.invigilator.id) as staff:
            refused = await staff.post(
                f"/api/invigilate/attempts/{s.attempt_id}/identity",
                json={"decision": "refuse", "reason": "与身份证照片不符"},
            )
            assert refused.status_code == 200, refused.text
    finally:
        await pc.close()

    async def ended() -> asyncpg.Record | None:
        async with pool.acquire() as conn:
            return await conn.fetchrow(
                "SELECT status, end_reason FROM attempts WHERE id = $1 AND status = 'ended'",
                s.attempt_id,
            )

    row = await eventually(ended)
    assert row["status"] == "ended"
    async with pool.acquire() as conn:
        action = await conn.fetchval(
            "SELECT action FROM invigilator_actions WHERE attempt_id = $1", s.attempt_id
        )
    assert action == "refuse"


async def test_another_candidate_cannot_read_or_try_my_check(
    identity_server: LiveServer, pool: asyncpg.Pool, identity_settings: Settings
) -> None:
    mine = await sitting(identity_server, pool, identity_settings, None)
    other = await sitting(identity_server, pool, identity_settings, None)
    async with await client_for(identity_server.url, pool, other.candidate.id) as client:
        assert (await client.get(f"/api/attempts/{mine.attempt_id}/identity")).status_code == 404
        tried = await client.post(f"/api/attempts/{mine.attempt_id}/identity/try")
        assert tried.status_code == 404
    async with await client_for(identity_server.url, pool, other.invigilator.id) as staff:
        # another room's invigilator
        seen = await staff.get(f"/api/invigilate/attempts/{mine.attempt_id}/identity")
        assert seen.status_code == 403
