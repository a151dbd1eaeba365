"""An exam day: N candidates arriving over W seconds, each through the whole journey.

    .venv/bin/python bench/exam_day.py --candidates 2000 --window 300 --video 100

Against ``proctor serve`` as deployed: ``--hubs H`` processes of ``proctor
serve --role web`` (H=1 by default; with several, a candidate's HTTP and PC
go to one and the phone to the next, as behind a load balancer) and one
``proctor serve --role worker``, embedded PostgreSQL and Redis. Each
candidate, arriving uniformly over the window (``--burst``: all at once):

1. login: ``POST /api/auth/login`` with password and a captcha the benchmark
   planted (the tests do the same: the server keeps only its hash), the SMS
   code read from the outbox table, ``POST /api/auth/login/verify``
   (argon2id in the server's thread pool; ``p99_login_ms`` includes the
   outbox read, a ≈1 ms query);
2. start: ``POST /api/attempts`` on the formal paper;
3. ready: the PC and phone websockets (hello → welcome), the phone's start
   photo answering its capture request and its camera hint; for ``--video``
   of the candidates the PC's camera is real WebRTC video (a pre-encoded VP8
   clip at the page's idle 3 fps, bench/video_load.py's ``ReplayTrack``, via
   ``POST /api/rtc/offer``): ready = start → ``state`` with ``can_answer``.
   For the others the PC camera is off (the phone's photos only): ready =
   start → both devices connected with the phone's camera live. Rule D1
   needs both cameras live to answer, so when not every candidate has video
   the server runs with ``PROCTOR_REQUIRE_LIVE_CAMERAS=0``, said in the JSON;
4. answers: every question answered (``PUT …/answers/<q>``) at a human pace
   (``--seconds-per-question``) divided by ``--time-factor``, heartbeats every
   5 s on both sockets meanwhile, ``--violations`` focus lost/back pairs;
5. submit: ``POST …/submit``.

Afterwards every acknowledged answer (200) and every violation the PC was
told of is looked up in PostgreSQL: ``answers_lost``, ``violations_lost``.
CPU and RSS per role from /proc; the load average before and after.
``logins_per_s``: a separate storm of ``--login-storm`` logins at once
(argon2id, the server's parameters) — logins completed per second.
The last line printed is one JSON object (docs/benchmarks.md).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.hub_load import wait_port  # noqa: E402
from bench.measure import (  # noqa: E402
    children_cpu_seconds,
    cpu_seconds,
    free_port,
    loadavg,
    percentile,
    rss_kib,
)

PASSWORD = "Bench-Passw0rd"
CAPTCHA = "AB3K"
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


@dataclass
class Account:
    username: str
    phone: str
    address: str  # X-Forwarded-For: every candidate has an address of their own
    captcha_id: str


# ----- setup -------------------------------------------------------------------------


async def make_exam(
    database_url: str, secret: bytes, candidates: int, questions: int, extra_captchas: int
) -> tuple[int, list[Account], list[int], list[str]]:
    """A class of ``candidates`` approved candidates who each submitted the mock
    (rule C2), a formal paper of ``questions`` single-choice questions, a
    planted captcha per login. Returns (paper, accounts, question ids, the
    captcha ids of the login storm)."""
    import asyncpg

    from exam_api import captcha
    from exam_api.papers import create_paper
    from exam_api.passwords import hash_password
    from exam_api.question_rules import build_question
    from exam_api.questions import add_questions, create_bank
    from proctor.db import _init_connection, apply_schema

    conn = await asyncpg.connect(database_url)
    try:
        await apply_schema(conn)
        await _init_connection(conn)  # the pool's jsonb codec (proctor/db.py)
        stamp = f"{os.getpid()}_{int(time.time())}"
        # One argon2id hash for all: the server checks each login against it
        # with its own parameters; hashing 2,000 here would cost minutes.
        password_hash = hash_password(PASSWORD)
        phones = [f"13{(os.getpid() % 1000):03d}{n:06d}" for n in range(candidates)]
        users = [
            r["id"]
            for r in await conn.fetch(
                """INSERT INTO users (username, password_hash, role, real_name, phone)
                   SELECT 'day_' || $1 || '_' || g, $2, 'candidate', '压测考生', p
                     FROM unnest($3::text[]) WITH ORDINALITY AS t(p, g) RETURNING id""",
                stamp,
                password_hash,
                phones,
            )
        ]
        now = datetime.now(UTC)
        await conn.executemany(
            """INSERT INTO exam_requests (user_id, candidate_type, category, real_name, id_card,
                   gender, phone, company_name, company_uscc, position, status,
                   submitted_at, decided_at)
               VALUES ($1, 'social', 'A', '压测考生', '150100198503150011', 'male', $2,
                       '压测公司', '91150100MA0N000010', '经理', 'approved', $3, $3)""",
            [(u, p, now) for u, p in zip(users, phones, strict=True)],
        )
        class_id = await conn.fetchval(
            "INSERT INTO classes (name) VALUES ($1) RETURNING id", f"exam_day_{stamp}"
        )
        await conn.executemany(
            "INSERT INTO class_members (class_id, user_id) VALUES ($1, $2)",
            [(class_id, u) for u in users],
        )
        bank_id = await create_bank(conn, f"exam_day_{stamp}")
        drafts = [
            build_question(
                kind="single",
                stem=f"压测单选题第{n + 1}题：安全生产工作应当坚持的方针是？",
                options=["安全第一、预防为主、综合治理", "效益优先", "先生产后安全", "其他"],
                answer="A",
                points=1,
            )
            for n in range(questions)
        ]
        await add_questions(conn, bank_id, drafts)
        qids = [
            r["id"]
            for r in await conn.fetch(
                "SELECT id FROM questions WHERE bank_id = $1 ORDER BY id", bank_id
            )
        ]
        common: dict[str, Any] = {
            "class_id": class_id,
            "time_limit_s": 7200,
            "opens_at": None,
            "closes_at": None,
            "question_ids": qids,
        }
        mock_id = await create_paper(conn, kind="mock", title="压测模拟", **common)
        formal_id = await create_paper(conn, kind="formal", title="压测正式考试", **common)
        await conn.execute(
            """INSERT INTO attempts (user_id, paper_id, status, started_at, deadline_at,
                                     ended_at, end_reason)
               SELECT u, $2, 'ended', $3, $3, $3, 'submitted' FROM unnest($1::bigint[]) u""",
            users,
            mock_id,
            now - timedelta(hours=1),
        )
        captcha_ids = [secrets.token_urlsafe(12) for _ in range(candidates + extra_captchas)]
        await conn.executemany(
            "INSERT INTO captchas (id, answer_hash, expires_at) VALUES ($1, $2, $3)",
            [
                (c, captcha._digest(secret, c, CAPTCHA), now + timedelta(hours=2))
                for c in captcha_ids
            ],
        )
        accounts = [
            Account(
                f"day_{stamp}_{n + 1}",
                phones[n],
                f"10.{n >> 16 & 255}.{n >> 8 & 255}.{n & 255}",
                captcha_ids[n],
            )
            for n in range(candidates)
        ]
        return formal_id, accounts, qids, captcha_ids[candidates:]
    finally:
        await conn.close()


# ----- one candidate -------------------------------------------------------------------


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

    from bench.video_load import ReplayTrack

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


# ----- checks afterwards -----------------------------------------------------------------


async def lost(pool: Any, run: Run) -> tuple[int, int]:
    """Acknowledged answers and told violations not in PostgreSQL."""
    attempts = sorted(run.answers)
    rows = await pool.fetch(
        "SELECT attempt_id, question_id, answer FROM attempt_answers"
        " WHERE attempt_id = ANY($1::bigint[])",
        attempts,
    )
    stored = {(r["attempt_id"], r["question_id"]): json.loads(r["answer"]) for r in rows}
    answers_lost = sum(
        1
        for a, answers in run.answers.items()
        for q, answer in answers.items()
        if stored.get((a, q)) != answer
    )
    rows = await pool.fetch(
        "SELECT attempt_id, idx FROM attempt_violations WHERE attempt_id = ANY($1::bigint[])",
        sorted(run.violations),
    )
    found = {(r["attempt_id"], r["idx"]) for r in rows}
    violations_lost = sum(
        1 for a, told in run.violations.items() for i in told if (a, i) not in found
    )
    return answers_lost, violations_lost


# ----- the run ------------------------------------------------------------------------------


def serve(role: str, port: int, env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "proctor.cli",
            "serve",
            "--role",
            role,
            "--port",
            str(port),
            "--log-level",
            "warning",
        ],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
    )


async def main(args: argparse.Namespace) -> dict[str, Any]:
    import asyncpg

    from proctor.embedded import start_services
    from proctor.settings import load_settings

    tmp = Path(tempfile.mkdtemp(prefix="exam_day_"))
    services = start_services(
        os.environ.get("PROCTOR_DATABASE_URL"), os.environ.get("PROCTOR_REDIS_URL"), tmp
    )
    all_video = args.video >= args.candidates
    env = {
        **os.environ,
        "PROCTOR_DATABASE_URL": services.database_url,
        "PROCTOR_REDIS_URL": services.redis_url,
        "PROCTOR_DATA_DIR": str(tmp / "data"),
        "PROCTOR_REDIS_PREFIX": f"day{os.getpid()}",
        "PROCTOR_SECRET_KEY": "bench-secret-key-0123456789",
        "PROCTOR_TRUSTED_PROXIES": "127.0.0.1",
        "PROCTOR_REQUIRE_LIVE_CAMERAS": "1" if all_video else "0",
        "PROCTOR_DEV_SMS_OUTBOX": "1",
    }
    settings = load_settings(env)
    procs: list[subprocess.Popen[bytes]] = []
    run = Run()
    load_before = loadavg()
    pool = None
    try:
        paper_id, accounts, qids, storm_captchas = await make_exam(
            services.database_url,
            settings.secret_key,
            args.candidates + args.login_storm,
            args.questions,
            0,
        )
        del storm_captchas
        storm_accounts, accounts = accounts[args.candidates :], accounts[: args.candidates]
        pool = await asyncpg.create_pool(services.database_url, min_size=2, max_size=10)
        worker_port = free_port()
        worker = serve("worker", worker_port, env)
        procs.append(worker)
        await wait_port(worker_port, worker)
        webs, urls = [], []
        for _ in range(args.hubs):
            port = free_port()
            web = serve("web", port, env)
            procs.append(web)
            webs.append(web)
            urls.append(f"http://127.0.0.1:{port}")
            await wait_port(port, web)
        pids = {"web": [w.pid for w in webs], "worker": [worker.pid]}
        if services.redis is not None and services.redis._proc is not None:
            pids["redis"] = [services.redis._proc.pid]
        if services.postgres is not None:
            pids["pg"] = [int((services.postgres.pgdata / "postmaster.pid").read_text().split()[0])]

        def cpu() -> dict[str, float]:
            return {
                role: sum((children_cpu_seconds if role == "pg" else cpu_seconds)(p) for p in group)
                for role, group in pids.items()
            }

        storm = await login_storm(urls[0], pool, storm_accounts) if storm_accounts else None

        from webrtc.loopback import enable_loopback_candidates

        enable_loopback_candidates()
        clip = None
        if args.video:
            from bench.video_load import encode_clip

            clip = encode_clip(3, 20)
        from tests.support.faces import jpeg_of, picture_with_faces

        journey = Journey(args, run, pool, paper_id, qids, jpeg_of(picture_with_faces(1)), clip)
        rng = random.Random(7)
        video_set = set(rng.sample(range(args.candidates), min(args.video, args.candidates)))
        cpu0, wall0 = cpu(), time.monotonic()
        self0 = cpu_seconds(os.getpid())
        rss_peak: dict[str, float] = {role: 0.0 for role in ("web", "worker")}

        async def sample_rss() -> None:
            while True:
                for role in rss_peak:
                    rss_peak[role] = max(rss_peak[role], sum(rss_kib(p) for p in pids[role]) / 1024)
                await asyncio.sleep(2)

        sampler = asyncio.create_task(sample_rss())

        async def arrive(n: int, account: Account) -> None:
            if not args.burst:
                await asyncio.sleep(n * args.window / max(1, args.candidates))
            h = n % len(urls)
            phone_base = urls[(n + 1) % len(urls)].replace("http", "ws", 1)
            await candidate(journey, account, urls[h], phone_base, n in video_set, random.Random(n))

        await asyncio.gather(*(arrive(n, a) for n, a in enumerate(accounts)))
        wall = time.monotonic() - wall0
        cpu1, self1 = cpu(), cpu_seconds(os.getpid())
        sampler.cancel()
        load_after = loadavg()
        await asyncio.sleep(2)
        answers_lost, violations_lost = await lost(pool, run)
        for proc in procs:
            proc.send_signal(signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
    finally:
        if pool is not None:
            await pool.close()
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        services.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    return {
        "candidates": args.candidates,
        "arrival_window_s": 0 if args.burst else args.window,
        "hubs": args.hubs,
        "video_candidates": len(video_set),
        "video": "pre-encoded VP8 clip at 3 fps over real WebRTC (aiortc sender)",
        "require_live_cameras": all_video,
        "questions": args.questions,
        "time_factor": args.time_factor,
        "finished": run.finished,
        "run_s": round(wall, 1),
        **{f"p50_{s}_ms": round(percentile(run.ms[s], 0.50), 1) for s in STEPS},
        **{f"p99_{s}_ms": round(percentile(run.ms[s], 0.99), 1) for s in STEPS},
        "errors": run.errors,
        "answers_acked": sum(len(a) for a in run.answers.values()),
        "answers_lost": answers_lost,
        "violations_told": sum(len(v) for v in run.violations.values()),
        "violations_lost": violations_lost,
        "cpu_pct": {role: round(100 * (cpu1[role] - cpu0[role]) / wall, 1) for role in cpu0},
        "loadgen_cpu_pct": round(100 * (self1 - self0) / wall, 1),
        "rss_mib": {role: round(v, 1) for role, v in rss_peak.items()},
        "login_storm": storm,
        "logins_per_s": None if storm is None else storm["logins_per_s"],
        "loadavg_before": load_before,
        "loadavg_after": load_after,
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--candidates", type=int, default=100)
    parser.add_argument("--window", type=float, default=60.0, help="arrival window, seconds")
    parser.add_argument("--burst", action="store_true", help="everyone arrives at once")
    parser.add_argument("--hubs", type=int, default=1, help="proctor serve --role web processes")
    parser.add_argument("--video", type=int, default=5, help="candidates with real WebRTC video")
    parser.add_argument("--questions", type=int, default=10)
    parser.add_argument("--seconds-per-question", type=float, default=30.0)
    parser.add_argument("--time-factor", type=float, default=15.0)
    parser.add_argument("--violations", type=int, default=2, help="focus lost/back pairs each")
    parser.add_argument(
        "--login-storm", type=int, default=50, help="logins at once, for logins_per_s"
    )
    cli = parser.parse_args()
    import uvloop

    result = uvloop.run(main(cli))
    print(json.dumps(result))
