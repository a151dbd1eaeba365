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
   clip at the page's idle 3 fps, bench/video_clip.py's ``ReplayTrack``, via
   ``POST /api/rtc/offer``): ready = start → ``state`` with ``can_answer``.
   For the others the PC camera is off (the phone's photos only): ready =
   start → both devices connected with the phone's camera live. Rule D1
   needs both cameras live to answer, so when not every candidate has video
   the server runs with ``PROCTOR_REQUIRE_LIVE_CAMERAS=0``, said in the JSON.
   The simulated candidates have no face to match with an ID photo and no
   screen to share, so the identity check before the paper (rule I2) and the
   screen rule (J1) are off (``PROCTOR_FACE_CHECK=0``,
   ``PROCTOR_REQUIRE_SCREEN=0``, ``"face_check": false, "require_screen":
   false`` in the JSON): their cost is measured by bench/face_match.py and
   bench/video_load.py;
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
import json
import os
import random
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.exam_day_candidate import STEPS, Journey, Run, candidate, login_storm  # noqa: E402
from bench.exam_day_setup import Account, make_exam  # noqa: E402
from bench.measure import (  # noqa: E402
    cpu_seconds,
    free_port,
    loadavg,
    percentile,
    role_cpu_seconds,
    rss_kib,
)
from bench.processes import bench_services, serve_role, stop_all, wait_port  # noqa: E402


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


async def main(args: argparse.Namespace) -> dict[str, Any]:
    import asyncpg

    from proctor.settings import load_settings

    all_video = args.video >= args.candidates
    extra_env = {
        "PROCTOR_TRUSTED_PROXIES": "127.0.0.1",
        "PROCTOR_REQUIRE_LIVE_CAMERAS": "1" if all_video else "0",
        "PROCTOR_DEV_SMS_OUTBOX": "1",
        # no face to match, no screen to share (docstring, step 3)
        "PROCTOR_FACE_CHECK": "0",
        "PROCTOR_REQUIRE_SCREEN": "0",
    }
    run = Run()
    with bench_services("exam_day_", f"day{os.getpid()}", extra_env) as bench:
        services, env = bench.services, bench.env
        settings = load_settings(env)
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
            worker = bench.add(serve_role("worker", worker_port, env, quiet=True))
            await wait_port(worker_port, worker)
            webs, urls = [], []
            for _ in range(args.hubs):
                port = free_port()
                web = bench.add(serve_role("web", port, env, quiet=True))
                webs.append(web)
                urls.append(f"http://127.0.0.1:{port}")
                await wait_port(port, web)
            pids = {"web": [w.pid for w in webs], "worker": [worker.pid]}
            pids.update({role: [pid] for role, pid in bench.service_pids().items()})

            storm = await login_storm(urls[0], pool, storm_accounts) if storm_accounts else None

            from webrtc.loopback import enable_loopback_candidates

            enable_loopback_candidates()
            clip = None
            if args.video:
                from bench.video_clip import encode_clip

                clip = encode_clip(3, 20)
            from tests.support.faces import jpeg_of, picture_with_faces

            journey = Journey(args, run, pool, paper_id, qids, jpeg_of(picture_with_faces(1)), clip)
            rng = random.Random(7)
            video_set = set(rng.sample(range(args.candidates), min(args.video, args.candidates)))
            cpu0, wall0 = role_cpu_seconds(pids), time.monotonic()
            self0 = cpu_seconds(os.getpid())
            rss_peak: dict[str, float] = {role: 0.0 for role in ("web", "worker")}

            async def sample_rss() -> None:
                while True:
                    for role in rss_peak:
                        rss = sum(rss_kib(p) for p in pids[role]) / 1024
                        rss_peak[role] = max(rss_peak[role], rss)
                    await asyncio.sleep(2)

            sampler = asyncio.create_task(sample_rss())

            async def arrive(n: int, account: Account) -> None:
                if not args.burst:
                    await asyncio.sleep(n * args.window / max(1, args.candidates))
                h = n % len(urls)
                phone_base = urls[(n + 1) % len(urls)].replace("http", "ws", 1)
                await candidate(
                    journey, account, urls[h], phone_base, n in video_set, random.Random(n)
                )

            await asyncio.gather(*(arrive(n, a) for n, a in enumerate(accounts)))
            wall = time.monotonic() - wall0
            cpu1, self1 = role_cpu_seconds(pids), cpu_seconds(os.getpid())
            sampler.cancel()
            load_after = loadavg()
            await asyncio.sleep(2)
            answers_lost, violations_lost = await lost(pool, run)
            stop_all(bench.procs, timeout=60)
        finally:
            if pool is not None:
                await pool.close()
    return {
        "candidates": args.candidates,
        "arrival_window_s": 0 if args.burst else args.window,
        "hubs": args.hubs,
        "video_candidates": len(video_set),
        "video": "pre-encoded VP8 clip at 3 fps over real WebRTC (aiortc sender)",
        "require_live_cameras": all_video,
        "face_check": False,
        "require_screen": False,
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
