"""``proctor cluster`` (issue #10, rule H8): one command starts three web
processes, the persistence worker and two schedulers behind HAProxy on the
embedded PostgreSQL and Redis, and an exam runs through it with the PC's
socket, the phone's socket and the invigilator's socket on three different
processes; SIGTERM stops every process and server."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import websockets
from aiortc import RTCPeerConnection, RTCSessionDescription

from exam_api.assignments import assign
from proctor.cluster import Plan, Spec, haproxy_config, plan
from tests.support.cluster_process import ClusterProcess, alive, start_cluster
from tests.support.devices import phone_proves_camera, send_photo
from tests.support.faces import picture_with_faces
from tests.support.hub_client import DeviceClient
from tests.support.papers import CORRECT, candidate_with_request, class_with_papers, client_for
from tests.support.rtc_peers import FakeCamera, FakeScreen
from tests.support.serve_process import embedded_processes, nothing_left
from tests.support.users import create_user, login_cookies
from tests.support.waits import eventually
from webrtc.loopback import enable_loopback_candidates

SERVER = "x-proctor-server"  # HAProxy names the web process that answered


def test_the_plan_puts_each_process_on_its_own_port() -> None:
    the_plan = plan(host="0.0.0.0", port=8000, member_host="127.0.0.1", ports=iter(range(9001, 9100)), hubs=3, schedulers=2)  # fmt: skip
    assert [(m.name, m.role, m.port) for m in the_plan.members] == [
        ("web-1", "web", 9001),
        ("web-2", "web", 9002),
        ("web-3", "web", 9003),
        ("persist-1", "persist", 9004),
        ("scheduler-1", "scheduler", 9005),
        ("scheduler-2", "scheduler", 9006),
    ]


def test_haproxy_balances_the_web_processes_only() -> None:
    the_plan = Plan("0.0.0.0", 8000, "127.0.0.1", (Spec("web-1", "web", 9001), Spec("persist-1", "persist", 9002)))  # fmt: skip
    text = haproxy_config(the_plan, Path("/run/proctor/haproxy.sock"))
    assert "bind 0.0.0.0:8000" in text
    assert "    server web-1 127.0.0.1:9001" in text
    assert "9002" not in text  # workers serve no client
    assert "uri /readyz" in text and "balance leastconn" in text
    assert "stats socket /run/proctor/haproxy.sock" in text


async def _connect_elsewhere(
    cluster: ClusterProcess, device: str, token: str, taken: set[str]
) -> tuple[DeviceClient, str]:
    """A device socket through HAProxy on a process none of ``taken`` is on
    (a new connection replaces the device's previous one)."""
    for _ in range(20):
        client = await DeviceClient.connect(cluster.ws_url, device, token)
        server = client.ws.response.headers[SERVER] if client.ws.response else ""
        if server not in taken:
            return client, server
        await client.close()
    raise AssertionError(f"HAProxy put every {device} socket on {taken}")


async def _watch_elsewhere(
    cluster: ClusterProcess, attempt_id: int, cookie: str, taken: set[str]
) -> tuple[Any, str]:
    for _ in range(20):
        ws = await websockets.connect(
            f"{cluster.ws_url}/ws/watch?attempt={attempt_id}",
            additional_headers={"Cookie": cookie, "Origin": cluster.url},
        )
        server = ws.response.headers[SERVER] if ws.response else ""
        if server not in taken:
            return ws, server
        await ws.close()
    raise AssertionError(f"HAProxy put every watch socket on {taken}")


async def _camera(
    cluster: ClusterProcess, pc_token: str, taken: set[str]
) -> tuple[RTCPeerConnection, str]:
    """The PC's camera peer, signalled through HAProxy, on a process none of
    ``taken`` is on (the page's client id: a new offer replaces its peer)."""
    enable_loopback_candidates()
    for _ in range(20):
        peer = RTCPeerConnection()
        peer.addTrack(FakeCamera(picture=picture_with_faces(1)))
        peer.addTrack(FakeScreen())  # rule J1: the whole screen, the offer's second video
        await peer.setLocalDescription(await peer.createOffer())
        body = {"token": pc_token, "sdp": peer.localDescription.sdp, "type": "offer"}
        body["client_id"] = "cluster-test-tab"
        async with httpx.AsyncClient(base_url=cluster.url, timeout=30) as http:
            answer = await http.post("/api/rtc/offer", json=body)
        assert answer.status_code == 200, answer.text
        await peer.setRemoteDescription(RTCSessionDescription(**answer.json()))
        if answer.headers[SERVER] not in taken:
            return peer, answer.headers[SERVER]
        await peer.close()
    raise AssertionError(f"HAProxy put every camera peer on {taken}")


async def _pc_photo(pool: asyncpg.Pool, attempt_id: int) -> bool:
    async with pool.acquire() as conn:
        return bool(
            await conn.fetchval(
                """SELECT count(*) FROM snapshots
                    WHERE attempt_id = $1 AND device = 'pc' AND violation_idx = 1""",
                attempt_id,
            )
        )


async def _watch_until_ended(ws: Any) -> list[dict[str, Any]]:
    seen: list[dict[str, Any]] = []
    while not seen or seen[-1]["type"] != "ended":
        seen.append(json.loads(await asyncio.wait_for(ws.recv(), 30)))
    return seen


async def _exam(cluster: ClusterProcess, pool: asyncpg.Pool) -> None:
    candidate = await candidate_with_request(pool)
    papers = await class_with_papers(pool, [candidate.id])
    invigilator = await create_user(pool, "invigilator", real_name="监考员甲")
    async with pool.acquire() as conn:
        await assign(conn, papers.class_id, invigilator.id)  # rule G5: the attempt's room
    async with await client_for(cluster.url, pool, candidate.id) as http:
        started = (await http.post("/api/attempts", json={"paper_id": papers.mock_id})).json()
        attempt_id = started["attempt_id"]
        pc, pc_on = await _connect_elsewhere(cluster, "pc", started["pc_token"], set())
        phone, phone_on = await _connect_elsewhere(
            cluster, "phone", started["phone_token"], {pc_on}
        )
        login = await login_cookies(pool, invigilator.id)
        cookie = "; ".join(f"{k}={v}" for k, v in login.cookies.items())
        watch, watch_on = await _watch_elsewhere(cluster, attempt_id, cookie, {pc_on, phone_on})
        peer, peer_on = await _camera(cluster, started["pc_token"], {pc_on})
        print(f"pc socket on {pc_on}, phone on {phone_on}, watch on {watch_on}, peer on {peer_on}")
        try:
            assert json.loads(await watch.recv())["type"] == "state"
            # both cameras live as measured, across processes (rules D1, H9)
            assert (await phone_proves_camera(phone))["type"] == "ack"
            await pc.wait_for("state", can_answer=True)
            for seq_device in (pc, phone, pc, phone):
                assert (await seq_device.call("heartbeat"))["type"] == "ack"
            for qid, answer in zip(papers.question_ids, CORRECT, strict=True):
                saved = await http.put(
                    f"/api/attempts/{attempt_id}/answers/{qid}", json={"answer": answer}
                )
                assert saved.status_code == 200, saved.text
            # a violation on the PC's process asks the phone's process for a photo (rule E3)
            lost = await pc.call("focus", state="lost", cause="blur")
            assert lost["type"] == "ack", lost
            capture = await phone.wait_for("capture", reason="violation")
            photo = await send_photo(phone, capture["request_id"])
            assert photo["type"] == "ack", photo
            # the PC's frame is taken by the peer's process, ordered by the PC's (rule H10)
            await eventually(lambda: _pc_photo(pool, attempt_id), within=60)
            assert (await pc.call("focus", state="back"))["type"] == "ack"
            assert (await pc.call("submit"))["type"] == "ack"
            await phone.wait_for("ended")
            seen = await _watch_until_ended(watch)
        finally:
            await watch.close()
            await pc.close()
            await phone.close()
            await peer.close()
    assert len({pc_on, phone_on, watch_on}) == 3 and peer_on != pc_on
    assert any(m["type"] == "violation" for m in seen), seen
    assert seen[-1]["reason"] == "submitted"

    async def persisted() -> asyncpg.Record | None:
        async with pool.acquire() as conn:
            row = await conn.fetchrow(
                """SELECT a.status, a.end_reason, a.violations, a.score,
                          (SELECT count(*) FROM attempt_answers x WHERE x.attempt_id = a.id) AS answers,
                          (SELECT count(*) FROM attempt_violations v WHERE v.attempt_id = a.id) AS counted,
                          (SELECT count(*) FROM attempt_events e WHERE e.attempt_id = a.id
                              AND e.kind = 'heartbeat') AS heartbeats,
                          (SELECT count(*) FROM snapshots s WHERE s.attempt_id = a.id
                              AND s.violation_idx = 1) AS violation_photos
                     FROM attempts a WHERE a.id = $1""",
                attempt_id,
            )
        found.append(row)
        # the persistence worker's copy and the PC's snapshot arrive a little later
        return row if row and row["heartbeats"] == 4 and row["violation_photos"] >= 2 else None

    found: list[asyncpg.Record | None] = []
    try:
        row = await eventually(persisted, within=60)
    finally:
        print("last found:", found[-1:])
    print("acknowledged: 4 heartbeats, 4 answers, 1 violation; found:", dict(row))
    assert (row["status"], row["end_reason"], row["violations"], row["counted"]) == (
        "ended",
        "submitted",
        1,
        1,
    )
    assert (row["answers"], row["score"]) == (4, 100)


async def test_an_exam_through_haproxy_with_each_device_on_another_process(
    data_dir: Path,
) -> None:
    cluster = start_cluster(data_dir, hubs=3, schedulers=2)
    try:
        await cluster.wait_started()
        assert set(cluster.members) == {
            "web-1", "web-2", "web-3", "persist-1", "scheduler-1", "scheduler-2"
        }  # fmt: skip
        pool = await cluster.pool()
        try:
            await _exam(cluster, pool)
        finally:
            await pool.close()
        pids = cluster.process_ids()
        assert len(pids) >= 8  # the cluster, HAProxy, 6 proctor processes (and the servers)
        out = await cluster.terminate()
    finally:
        cluster.kill_all()
        print(cluster.output()[-5000:])
    assert "every process exited cleanly" in out
    assert not alive(pids)
    await nothing_left(data_dir)
    assert not embedded_processes(data_dir)
