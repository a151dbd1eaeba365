"""One candidate of bench/exam_day.py through the whole journey (login,
start, both devices ready, answers, submit), what it measures, and the
separate login storm."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import random
import re
import time
from dataclasses import dataclass, field
from typing import Any

from bench.exam_day_setup import CAPTCHA, PASSWORD, Account

HEARTBEAT_S = 5.0
STEPS = ("login", "start", "ready", "answer_ack", "submit")


@dataclass
class Run:
    """What every candidate measured, shared by their tasks."""

    ms: dict[str, list[float]] = field(default_factory=lambda: {s: [] for s in STEPS})
    errors: dict[str, int] = field(default_factory=dict)
    answers: dict[int, dict[int, Any]] = field(default_factory=dict)  # attempt → q → answer
    violations: dict[int, set[int]] = field(default_factory=dict)  # attempt → indices told
    finished: int = 0

    def error(self, kind: str) -> None:
        self.errors[kind] = self.errors.get(kind, 0) + 1


class StepFailed(Exception):
    def __init__(self, kind: str) -> None:
        super().__init__(kind)
        self.kind = kind


class Socket:
    """A device websocket: numbered sends, a reader keeping what the steps wait for."""

    def __init__(self, ws: Any, device: str) -> None:
        self.ws = ws
        self.device = device
        self.seq = 0
        self.acks: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self.state: dict[str, Any] = {}
        self.changed = asyncio.Event()
        self.captures: list[int] = []
        self.violations: set[int] = set()
        self.reader = asyncio.create_task(self._read())

    @classmethod
    async def open(cls, url: str, device: str) -> Socket:
        from websockets.asyncio.client import connect

        ws = await connect(url, compression=None, open_timeout=60, ping_interval=None)
        await ws.send(json.dumps({"type": "hello", "v": 1, "last_seen": 0}))
        welcome = json.loads(await ws.recv())
        if welcome.get("type") != "welcome":
            raise StepFailed(f"{device}_refused")
        return cls(ws, device)

    async def _read(self) -> None:
        with contextlib.suppress(Exception):
            async for raw in self.ws:
                message = json.loads(raw)
                kind = message.get("type")
                if kind in ("ack", "error") and "seq" in message:
                    future = self.acks.pop(message["seq"], None)
                    if future is not None and not future.done():
                        future.set_result(message)
                elif kind == "state":
                    self.state = message
                elif kind == "capture":
                    self.captures.append(message["request_id"])
                elif kind == "violation":
                    self.violations.add(message["index"])
                self.changed.set()

    async def call(self, kind: str, **fields: Any) -> dict[str, Any]:
        self.seq += 1
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self.acks[self.seq] = future
        await self.ws.send(json.dumps({"type": kind, "seq": self.seq, **fields}))
        reply = await asyncio.wait_for(future, 30)
        if reply["type"] != "ack":
            raise StepFailed(f"{kind}_{reply.get('code')}")
        return reply

    async def photo(self, request_id: int, jpeg: bytes) -> None:
        from hub.protocol import encode_photo

        self.seq += 1
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self.acks[self.seq] = future
        await self.ws.send(encode_photo(self.seq, request_id, jpeg))
        reply = await asyncio.wait_for(future, 30)
        if reply["type"] != "ack":
            raise StepFailed(f"photo_{reply.get('code')}")

    async def until(self, test: Any, within: float = 30) -> None:
        async with asyncio.timeout(within):
            while not test(self):
                self.changed.clear()
                await self.changed.wait()

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await self.ws.close()
        self.reader.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await self.reader


@dataclass
class Journey:
    """The shared parts every candidate's journey needs."""

    args: argparse.Namespace
    run: Run
    pool: Any  # asyncpg pool of the benchmark (the SMS outbox)
    paper_id: int
    question_ids: list[int]
    photo: bytes
    clip: list[bytes] | None


async def sms_code(pool: Any, phone: str) -> str:
    for _ in range(100):
        body = await pool.fetchval(
            "SELECT body FROM sms_outbox WHERE phone = $1 AND purpose = 'login'"
            " ORDER BY id DESC LIMIT 1",
            phone,
        )
        if body:
            found = re.search(r"\d{6}", body)
            if found:
                return found.group(0)
        await asyncio.sleep(0.05)
    raise StepFailed("sms_missing")


async def login(http: Any, pool: Any, account: Account) -> str:
    """Captcha + password → SMS code → signed in; the CSRF token."""
    r = await http.post(
        "/api/auth/login",
        json={
            "username": account.username,
            "password": PASSWORD,
            "captcha_id": account.captcha_id,
            "captcha": CAPTCHA,
        },
    )
    if r.status_code != 200:
        raise StepFailed(f"login_{r.status_code}_{_code(r)}")
    code = await sms_code(pool, account.phone)
    r = await http.post(
        "/api/auth/login/verify", json={"challenge_id": r.json()["challenge_id"], "code": code}
    )
    if r.status_code != 200:
        raise StepFailed(f"verify_{r.status_code}_{_code(r)}")
    csrf: str = r.json()["csrf_token"]
    return csrf


def _code(response: Any) -> str:
    with contextlib.suppress(Exception):
        return str(response.json().get("code"))
    return "?"


async def camera_peer(base_url: str, pc_token: str, clip: list[bytes]) -> Any:
    """The PC page's camera: the pre-encoded clip at the idle 3 fps over WebRTC."""
    import httpx
    from aiortc import RTCPeerConnection, RTCSessionDescription

    from bench.video_clip import ReplayTrack

    peer = RTCPeerConnection()
    track = ReplayTrack(clip, 3)
    track.sender = peer.addTrack(track)
    await peer.setLocalDescription(await peer.createOffer())
    async with httpx.AsyncClient(base_url=base_url, timeout=60) as http:
        r = await http.post(
            "/api/rtc/offer",
            json={"token": pc_token, "sdp": peer.localDescription.sdp, "type": "offer"},
        )
    if r.status_code != 200:
        await peer.close()
        raise StepFailed(f"offer_{r.status_code}_{_code(r)}")
    await peer.setRemoteDescription(RTCSessionDescription(**r.json()))
    return peer


async def candidate(
    journey: Journey,
    account: Account,
    http_url: str,
    phone_url_base: str,
    video: bool,
    rng: random.Random,
) -> None:
    import httpx

    args, run = journey.args, journey.run
    pc = phone = None
    peer = None
    beats: list[asyncio.Task[None]] = []
    step = "login"
    try:
        async with httpx.AsyncClient(
            base_url=http_url,
            timeout=60,
            headers={"X-Forwarded-For": account.address},
            # well below the server's 5 s keep-alive and 10 s header timeout
            # (PROCTOR_HTTP_*): a starved server loop sees a reused
            # connection's request late and may close it meanwhile
            limits=httpx.Limits(keepalive_expiry=1),
        ) as http:
            t0 = time.perf_counter()
            csrf = await login(http, journey.pool, account)
            t1 = time.perf_counter()
            run.ms["login"].append((t1 - t0) * 1000)
            step = "start"
            http.headers["x-csrf-token"] = csrf
            r = await http.post("/api/attempts", json={"paper_id": journey.paper_id})
            if r.status_code != 200:
                raise StepFailed(f"start_{r.status_code}_{_code(r)}")
            t2 = time.perf_counter()
            run.ms["start"].append((t2 - t1) * 1000)
            step = "ready"
            started = r.json()
            attempt_id = started["attempt_id"]
            pc_url = started["ws_pc_url"]
            phone_url = phone_url_base + "/ws/phone?token=" + started["phone_token"]
            pc, phone = await asyncio.gather(
                Socket.open(pc_url, "pc"), Socket.open(phone_url, "phone")
            )
            await phone.call("phone_start")
            await phone.until(lambda s: bool(s.captures))
            await phone.photo(phone.captures.pop(0), journey.photo)
            await phone.call("camera", state="live")
            if video:
                assert journey.clip is not None
                peer = await camera_peer(http_url, started["pc_token"], journey.clip)
                await pc.until(lambda s: s.state.get("can_answer") is True, 60)
            else:
                await pc.until(
                    lambda s: (
                        s.state.get("devices", {}).get("phone", {}).get("camera") == "live"
                        and s.state["devices"]["pc"]["connected"]
                    ),
                    60,
                )
            t3 = time.perf_counter()
            run.ms["ready"].append((t3 - t2) * 1000)
            step = "answer"

            async def beat(sock: Socket) -> None:
                with contextlib.suppress(Exception):
                    while True:
                        await asyncio.sleep(HEARTBEAT_S)
                        await sock.call("heartbeat")

            beats = [asyncio.create_task(beat(pc)), asyncio.create_task(beat(phone))]
            pace = args.seconds_per_question / args.time_factor
            questions = list(journey.question_ids)
            violate_at = set(
                rng.sample(range(len(questions)), min(args.violations, len(questions)))
            )
            answers = run.answers.setdefault(attempt_id, {})
            for n, qid in enumerate(questions):
                await asyncio.sleep(rng.uniform(0.5, 1.5) * pace)
                if n in violate_at:
                    await pc.call("focus", state="lost", cause="blur")
                    await asyncio.sleep(0.5)
                    await pc.call("focus", state="back")
                    await asyncio.sleep(1.2)  # beyond the H3 debounce
                answer = rng.choice("ABCD")
                ta = time.perf_counter()
                r = await http.put(
                    f"/api/attempts/{attempt_id}/answers/{qid}", json={"answer": answer}
                )
                if r.status_code != 200:
                    raise StepFailed(f"answer_{r.status_code}_{_code(r)}")
                run.ms["answer_ack"].append((time.perf_counter() - ta) * 1000)
                answers[qid] = answer
            step = "submit"
            ts = time.perf_counter()
            r = await http.post(f"/api/attempts/{attempt_id}/submit", json={})
            if r.status_code != 200:
                raise StepFailed(f"submit_{r.status_code}_{_code(r)}")
            run.ms["submit"].append((time.perf_counter() - ts) * 1000)
            await asyncio.sleep(0.5)  # the violations told meanwhile
            run.violations[attempt_id] = set(pc.violations)
            run.finished += 1
    except StepFailed as failed:
        run.error(failed.kind)
    except TimeoutError:
        run.error(f"{step}_timeout")
    except Exception as error:  # counted by step and kind; the run goes on
        run.error(f"{step}_{type(error).__name__}")
    finally:
        for task in beats:
            task.cancel()
        for sock in (pc, phone):
            if sock is not None:
                await sock.close()
        if peer is not None:
            with contextlib.suppress(Exception):
                await peer.close()


async def login_storm(http_url: str, pool: Any, accounts: list[Account]) -> dict[str, Any]:
    """``len(accounts)`` logins at once (captcha, argon2id, SMS, verify)."""
    import httpx

    done = 0
    failed: dict[str, int] = {}

    async def one(account: Account) -> None:
        nonlocal done
        async with httpx.AsyncClient(
            base_url=http_url, timeout=120, headers={"X-Forwarded-For": account.address}
        ) as http:
            try:
                await login(http, pool, account)
                done += 1
            except StepFailed as error:
                failed[error.kind] = failed.get(error.kind, 0) + 1

    t0 = time.perf_counter()
    await asyncio.gather(*(one(a) for a in accounts))
    took = time.perf_counter() - t0
    return {
        "logins": done,
        "seconds": round(took, 2),
        "logins_per_s": round(done / took, 1),
        "errors": failed,
    }
