"""`proctor serve` as a user runs it: embedded PostgreSQL and Redis in a fresh data
folder, /readyz green, the demo thread working, and SIGTERM leaving no server behind."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import re
import secrets
import signal
import subprocess
import sys
from pathlib import Path

import asyncpg
import httpx
import psutil
import websockets

from exam_api import captcha
from tests.support.live import free_port
from tests.support.waits import eventually


def _children_using(data_dir: Path) -> list[psutil.Process]:
    found = []
    for proc in psutil.process_iter(["cmdline"]):
        cmd = " ".join(proc.info["cmdline"] or [])
        if str(data_dir) in cmd and ("postgres" in cmd or "redis-server" in cmd):
            found.append(proc)
    return found


async def known_captcha_on(conn: asyncpg.Connection, secret: bytes) -> dict[str, str]:
    captcha_id, answer = secrets.token_urlsafe(12), "AB3K"
    await conn.execute(
        "INSERT INTO captchas (id, answer_hash, expires_at) VALUES ($1, $2, $3)",
        captcha_id,
        captcha._digest(secret, captcha_id, answer),
        dt.datetime.now(dt.UTC) + dt.timedelta(minutes=5),
    )
    return {"captcha_id": captcha_id, "captcha": answer}


async def test_serve_embedded_then_sigterm_leaves_nothing(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PROCTOR_")}
    env |= {"PROCTOR_DATA_DIR": str(data_dir), "PROCTOR_PORT": str(port)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "proctor.cli", "serve", "--demo", "--log-level", "warning"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient(base_url=base) as http:

            async def ready() -> bool:
                try:
                    return (await http.get("/readyz")).status_code == 200
                except httpx.TransportError:
                    assert proc.poll() is None, "server exited early"
                    return False

            await eventually(ready, within=60)
            assert _children_using(data_dir), "embedded servers should be running"

            db_url = f"postgresql://postgres@/postgres?host={data_dir / 'pg'}"
            conn = await asyncpg.connect(db_url)
            try:
                # Rule A1 as a user goes through it: password + captcha → SMS code → session.
                # The captcha is made with a known answer (its image is for eyes, not tests).
                secret = (data_dir / "secret_key").read_bytes().strip()
                known = await known_captcha_on(conn, secret)
                r = await http.post(
                    "/api/auth/login",
                    json={"username": "demo_candidate", "password": "Demo@2026", **known},
                )
                assert r.status_code == 200, r.text
                challenge = r.json()["challenge_id"]
                body = await conn.fetchval("SELECT body FROM sms_outbox ORDER BY id DESC LIMIT 1")
                code = re.search(r"\d{6}", body)
                assert code is not None, body
                r = await http.post(
                    "/api/auth/login/verify",
                    json={"challenge_id": challenge, "code": code.group(0)},
                )
                assert r.status_code == 200, r.text
                csrf = r.json()["csrf_token"]
                paper_id = await conn.fetchval(
                    "SELECT id FROM papers WHERE kind = 'mock' ORDER BY id LIMIT 1"
                )
                r = await http.post(
                    "/api/attempts", json={"paper_id": paper_id}, headers={"X-CSRF-Token": csrf}
                )
                assert r.status_code == 200, r.text
                start = r.json()
                async with websockets.connect(start["ws_phone_url"]) as phone:
                    await phone.send(json.dumps({"type": "hello", "v": 1, "last_seen": 0}))
                    await phone.recv()  # welcome
                    await phone.send(json.dumps({"type": "heartbeat", "seq": 1}))
                    while json.loads(await phone.recv())["type"] != "ack":
                        pass  # state updates come and go

                async def persisted() -> int:
                    n: int = await conn.fetchval(
                        "SELECT count(*) FROM attempt_events WHERE attempt_id = $1"
                        " AND device = 'phone'",
                        start["attempt_id"],
                    )
                    return n

                assert await eventually(persisted, within=10) >= 1
            finally:
                await conn.close()
    finally:
        proc.send_signal(signal.SIGTERM)
        out, _ = await asyncio.to_thread(proc.communicate, timeout=30)
    assert proc.returncode == 0, out.decode(errors="replace")[-2000:]
    assert b"demo_candidate" in out and b"/readyz" in out
    # rule A4, issue #9: the outbox sender says loudly that no code reaches a phone
    assert b"WARNING exam_api.account_services: SMS codes are NOT sent to phones" in out

    def gone() -> bool:
        return not _children_using(data_dir)

    async def all_gone() -> bool:
        return gone()

    assert await eventually(all_gone, within=15)
