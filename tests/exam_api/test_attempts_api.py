"""Attempts: start/resume, answers saved as given, deadline, submit and score
(rules C4, E4, E7) against the real database."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import UTC, datetime, timedelta

import asyncpg

from exam_api.attempts import end_attempt
from proctor.ice_settings import IceServer
from proctor.settings import Settings
from tests.support.devices import Devices
from tests.support.live import LiveServer, start_live_server
from tests.support.papers import (
    CORRECT,
    candidate_with_request,
    class_with_papers,
    client_for,
    move_deadline,
)


async def _started(
    server: LiveServer, pool: asyncpg.Pool, devices: Devices
) -> tuple[int, int, list[int]]:
    """A candidate with a running mock attempt and both cameras live (rule D1):
    (user id, attempt id, question ids)."""
    user = await candidate_with_request(pool)
    papers = await class_with_papers(pool, [user.id])
    async with await client_for(server.url, pool, user.id) as http:
        r = await http.post("/api/attempts", json={"paper_id": papers.mock_id})
    assert r.status_code == 200, r.text
    await devices.live(server.ws_url, r.json())
    return user.id, r.json()["attempt_id"], papers.question_ids


async def test_start_returns_tokens_and_resume_returns_same_attempt(
    server: LiveServer, pool: asyncpg.Pool
) -> None:
    user = await candidate_with_request(pool)
    papers = await class_with_papers(pool, [user.id], time_limit_s=1800)
    async with await client_for(server.url, pool, user.id) as http:
        first = (await http.post("/api/attempts", json={"paper_id": papers.mock_id})).json()
        for field in (
            "attempt_id",
            "deadline_at",
            "pc_token",
            "phone_token",
            "ws_pc_url",
            "ws_phone_url",
        ):
            assert first[field]
        assert first["resumed"] is False
        started = datetime.fromisoformat(first["started_at"])
        # rule E4: the server fixes the deadline from the time limit
        assert datetime.fromisoformat(first["deadline_at"]) - started == timedelta(seconds=1800)
        again = (await http.post("/api/attempts", json={"paper_id": papers.mock_id})).json()
        assert again["attempt_id"] == first["attempt_id"] and again["resumed"] is True
        assert again["deadline_at"] == first["deadline_at"]


async def test_concurrent_starts_make_one_attempt(server: LiveServer, pool: asyncpg.Pool) -> None:
    user = await candidate_with_request(pool)
    papers = await class_with_papers(pool, [user.id])
    async with await client_for(server.url, pool, user.id) as http:
        replies = await asyncio.gather(
            *(http.post("/api/attempts", json={"paper_id": papers.mock_id}) for _ in range(5))
        )
    assert {r.status_code for r in replies} == {200}
    assert len({r.json()["attempt_id"] for r in replies}) == 1


async def test_exam_view_hides_the_keys(
    server: LiveServer, pool: asyncpg.Pool, devices: Devices
) -> None:
    user_id, attempt_id, qids = await _started(server, pool, devices)
    async with await client_for(server.url, pool, user_id) as http:
        view = (await http.get(f"/api/attempts/{attempt_id}")).json()
    assert [q["id"] for q in view["questions"]] == qids
    assert all("answer" not in q for q in view["questions"])
    assert view["questions"][2]["options"] == ["正确", "错误"]
    assert view["status"] == "in_progress" and 0 < view["remaining_s"] <= 3600


async def test_answers_are_saved_and_survive_a_reload(
    server: LiveServer, pool: asyncpg.Pool, devices: Devices
) -> None:
    # rule E7
    user_id, attempt_id, qids = await _started(server, pool, devices)
    async with await client_for(server.url, pool, user_id) as http:
        base = f"/api/attempts/{attempt_id}/answers"
        r = await http.put(f"{base}/{qids[0]}", json={"answer": "a", "rev": 1})
        assert r.status_code == 200 and r.json()["answer"] == "A" and r.json()["applied"]
        r = await http.put(f"{base}/{qids[1]}", json={"answer": ["C", "A"], "rev": 1})
        assert r.json()["answer"] == ["A", "C"]
        # the same PUT again is harmless (idempotent)
        r = await http.put(f"{base}/{qids[1]}", json={"answer": ["C", "A"], "rev": 1})
        assert r.status_code == 200 and r.json()["rev"] == 1
        await http.put(f"{base}/{qids[2]}", json={"answer": False})
        view = (await http.get(f"/api/attempts/{attempt_id}")).json()
    assert view["answers"] == {
        str(qids[0]): {"answer": "A", "rev": 1},
        str(qids[1]): {"answer": ["A", "C"], "rev": 1},
        str(qids[2]): {"answer": False, "rev": 1},
    }


async def test_a_late_older_revision_never_overwrites(
    server: LiveServer, pool: asyncpg.Pool, devices: Devices
) -> None:
    # rule E7: a retry of an old write arriving after a newer one is ignored
    user_id, attempt_id, qids = await _started(server, pool, devices)
    url = f"/api/attempts/{attempt_id}/answers/{qids[0]}"
    async with await client_for(server.url, pool, user_id) as http:
        await http.put(url, json={"answer": "B", "rev": 2})
        r = await http.put(url, json={"answer": "C", "rev": 1})
        assert r.status_code == 200
        assert (r.json()["answer"], r.json()["rev"], r.json()["applied"]) == ("B", 2, False)
        r = await http.put(url, json={"answer": None, "rev": 3})
        assert r.json()["answer"] is None  # cleared


async def test_bad_answers_are_refused_precisely(
    server: LiveServer, pool: asyncpg.Pool, devices: Devices
) -> None:
    user_id, attempt_id, qids = await _started(server, pool, devices)
    base = f"/api/attempts/{attempt_id}/answers"
    async with await client_for(server.url, pool, user_id) as http:
        cases = [
            (f"{base}/{qids[0]}", {"answer": "Z"}, 400, "bad_answer"),
            (f"{base}/{qids[0]}", {"answer": ["A", "B"]}, 400, "bad_answer"),
            (f"{base}/{qids[2]}", {"answer": "maybe"}, 400, "bad_answer"),
            (f"{base}/{qids[0]}", {}, 400, "missing_answer"),
            (f"{base}/{qids[0]}", {"answer": "A", "rev": -1}, 400, "bad_rev"),
            (f"{base}/999999999", {"answer": "A"}, 404, "question_not_in_paper"),
        ]
        for url, body, status, code in cases:
            r = await http.put(url, json=body)
            assert (r.status_code, r.json()["error"]) == (status, code), (body, r.text)
            assert r.json()["message"]
        r = await http.put(f"{base}/{qids[0]}", content=b"{oops")
        assert (r.status_code, r.json()["error"]) == (400, "bad_json")
        view = (await http.get(f"/api/attempts/{attempt_id}")).json()
    assert view["answers"] == {}  # nothing half-saved


async def test_submit_scores_on_the_server(
    server: LiveServer, pool: asyncpg.Pool, devices: Devices
) -> None:
    # rule C4: the server computes the score
    user_id, attempt_id, qids = await _started(server, pool, devices)
    async with await client_for(server.url, pool, user_id) as http:
        base = f"/api/attempts/{attempt_id}/answers"
        await http.put(f"{base}/{qids[0]}", json={"answer": CORRECT[0]})
        await http.put(f"{base}/{qids[1]}", json={"answer": ["A", "B"]})
        await http.put(f"{base}/{qids[2]}", json={"answer": CORRECT[2]})
        r = await http.post(f"/api/attempts/{attempt_id}/submit")
        assert r.status_code == 200
        end = r.json()
        assert (end["score"], end["points_earned"], end["points_total"]) == (60.0, 60.0, 100.0)
        assert end["end_reason"] == "submitted" and end["outcome"] == "mock_done"
        again = (await http.post(f"/api/attempts/{attempt_id}/submit")).json()
        assert again["ended_at"] == end["ended_at"]  # idempotent
        r = await http.put(f"{base}/{qids[3]}", json={"answer": True})
        assert (r.status_code, r.json()["error"]) == (409, "attempt_ended")


async def test_time_up_is_decided_by_the_server(
    server: LiveServer, pool: asyncpg.Pool, devices: Devices
) -> None:
    # rule E4: an answer after the deadline is refused and the attempt ends, scored
    user_id, attempt_id, qids = await _started(server, pool, devices)
    async with await client_for(server.url, pool, user_id) as http:
        base = f"/api/attempts/{attempt_id}/answers"
        await http.put(f"{base}/{qids[0]}", json={"answer": "A"})
        await move_deadline(pool, attempt_id, timedelta(seconds=-1))
        r = await http.put(f"{base}/{qids[1]}", json={"answer": "ABC"})
        assert (r.status_code, r.json()["error"]) == (409, "time_up")
        view = (await http.get(f"/api/attempts/{attempt_id}")).json()
    assert view["status"] == "ended"
    assert view["end"]["end_reason"] == "time_up" and view["end"]["score"] == 40.0


async def test_end_attempt_is_idempotent_and_first_reason_wins(
    server: LiveServer, pool: asyncpg.Pool, devices: Devices
) -> None:
    # the hub, the deadline timer and the submit button may race
    _, attempt_id, _ = await _started(server, pool, devices)
    now = datetime.now(UTC)
    async with pool.acquire() as c1, pool.acquire() as c2:
        first, second = await asyncio.gather(
            end_attempt(c1, attempt_id, "fifth_violation", now),
            end_attempt(c2, attempt_id, "time_up", now + timedelta(seconds=1)),
        )
    ends = sorted([first, second], key=lambda e: e.already_ended)
    assert ends[0].already_ended is False and ends[1].already_ended is True
    assert ends[0].reason == ends[1].reason and ends[0].ended_at == ends[1].ended_at


async def test_another_candidates_attempt_is_invisible(
    server: LiveServer, pool: asyncpg.Pool, devices: Devices
) -> None:
    _, attempt_id, qids = await _started(server, pool, devices)
    intruder = await candidate_with_request(pool)
    async with await client_for(server.url, pool, intruder.id) as other:
        for method, url, body in (
            ("GET", f"/api/attempts/{attempt_id}", None),
            ("PUT", f"/api/attempts/{attempt_id}/answers/{qids[0]}", {"answer": "A"}),
            ("POST", f"/api/attempts/{attempt_id}/submit", None),
            ("POST", f"/api/attempts/{attempt_id}/tokens", None),
        ):
            r = await other.request(method, url, json=body)
            assert (r.status_code, r.json()["error"]) == (404, "attempt_not_found"), url


async def test_one_running_attempt_at_a_time(server: LiveServer, pool: asyncpg.Pool) -> None:
    user = await candidate_with_request(pool)
    first = await class_with_papers(pool, [user.id])
    second = await class_with_papers(pool, [user.id])
    async with await client_for(server.url, pool, user.id) as http:
        assert (
            await http.post("/api/attempts", json={"paper_id": first.mock_id})
        ).status_code == 200
        r = await http.post("/api/attempts", json={"paper_id": second.mock_id})
        assert (r.status_code, r.json()["error"]) == (409, "another_attempt_running")


async def test_a_submit_over_http_ends_the_attempt_through_the_hub(
    server: LiveServer, pool: asyncpg.Pool, devices: Devices
) -> None:
    """Every end goes through the hub's one path (rule E4): the devices hear
    of a submit made over HTTP at once, and a second submit changes nothing."""
    user_id, attempt_id, qids = await _started(server, pool, devices)
    pc, phone = devices.opened[-1]
    async with await client_for(server.url, pool, user_id) as http:
        base = f"/api/attempts/{attempt_id}/answers"
        assert (await http.put(f"{base}/{qids[0]}", json={"answer": "A"})).status_code == 200
        first = await http.post(f"/api/attempts/{attempt_id}/submit")
        assert first.status_code == 200 and first.json()["end_reason"] == "submitted"
        for device in (pc, phone):
            assert (await device.wait_for("ended"))["reason"] == "submitted"
        again = await http.post(f"/api/attempts/{attempt_id}/submit")
        assert again.json()["ended_at"] == first.json()["ended_at"]
        r = await http.put(f"{base}/{qids[1]}", json={"answer": "AB"})
        assert (r.status_code, r.json()["error"]) == (409, "attempt_ended")
    state = await server.hub.store.load(attempt_id)
    assert '"s":"ended"' in state.state


async def test_every_acknowledged_answer_is_scored_even_racing_the_end(
    server: LiveServer, pool: asyncpg.Pool, devices: Devices
) -> None:
    # rules E7 + C4: an answer is either stored before the end (and scored) or refused
    user_id, attempt_id, qids = await _started(server, pool, devices)
    async with await client_for(server.url, pool, user_id) as http:
        base = f"/api/attempts/{attempt_id}/answers"
        puts = [
            http.put(f"{base}/{qid}", json={"answer": answer})
            for qid, answer in zip(qids, CORRECT, strict=True)
        ]
        *answers, end = await asyncio.gather(*puts, http.post(f"/api/attempts/{attempt_id}/submit"))
    accepted = [qid for qid, r in zip(qids, answers, strict=True) if r.status_code == 200]
    refused = [r for r in answers if r.status_code != 200]
    assert all((r.status_code, r.json()["error"]) == (409, "attempt_ended") for r in refused)
    points = dict(zip(qids, (40, 30, 20, 10), strict=True))
    assert end.json()["points_earned"] == sum(points[q] for q in accepted)


async def test_answers_need_both_cameras_live(
    server: LiveServer, pool: asyncpg.Pool, devices: Devices
) -> None:
    # rule D1 enforced by the server (PROCTOR_REQUIRE_LIVE_CAMERAS, on by default):
    # a client that skips the page still cannot answer without both cameras
    user = await candidate_with_request(pool)
    papers = await class_with_papers(pool, [user.id])
    async with await client_for(server.url, pool, user.id) as http:
        start = (await http.post("/api/attempts", json={"paper_id": papers.mock_id})).json()
        url = f"/api/attempts/{start['attempt_id']}/answers/{papers.question_ids[0]}"
        r = await http.put(url, json={"answer": "A"})
        assert (r.status_code, r.json()["error"]) == (409, "cameras_not_live")
        assert "摄像头" in r.json()["message"]
        _pc, phone = await devices.live(server.ws_url, start)
        assert (await http.put(url, json={"answer": "A"})).status_code == 200
        assert (await phone.call("camera", state="asleep"))["type"] == "ack"  # rule H2
        r = await http.put(url, json={"answer": "B"})
        assert (r.status_code, r.json()["error"]) == (409, "cameras_not_live")
        view = (await http.get(f"/api/attempts/{start['attempt_id']}")).json()
    assert view["answers"][str(papers.question_ids[0])]["answer"] == "A"  # nothing lost


async def test_the_tokens_answer_carries_the_ice_servers(
    settings: Settings, pool: asyncpg.Pool
) -> None:
    # docs/deployment.md: the PC page's camera relays through TURN behind strict NATs;
    # the page gets the servers with its tokens, only for its own attempt
    turn = IceServer(("turns:turn.example.cn:443",), "exam", "s3cret")
    live = await start_live_server(dataclasses.replace(settings, ice_servers=(turn,)))
    try:
        user = await candidate_with_request(pool)
        papers = await class_with_papers(pool, [user.id])
        async with await client_for(live.url, pool, user.id) as http:
            started = (await http.post("/api/attempts", json={"paper_id": papers.mock_id})).json()
            again = await http.post(f"/api/attempts/{started['attempt_id']}/tokens")
        expected = [
            {"urls": ["turns:turn.example.cn:443"], "username": "exam", "credential": "s3cret"}
        ]
        assert started["ice_servers"] == expected
        assert again.json()["ice_servers"] == expected
    finally:
        await live.stop()
