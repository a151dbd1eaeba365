"""`proctor serve` as a user runs it: embedded PostgreSQL and Redis in a fresh data
folder, /readyz green, the demo thread working, and SIGTERM leaving no server behind."""

from __future__ import annotations

import datetime as dt
import json
import re
import secrets
from pathlib import Path

import asyncpg
import httpx
import websockets

from exam_api import captcha
from tests.support.serve_process import embedded_processes, nothing_left, start_serve
from tests.support.waits import eventually


async def known_captcha_on(conn: asyncpg.Connection, secret: bytes) -> dict[str, str]:
    captcha_id, answer = secrets.token_urlsafe(12), "AB3K"
    await conn.execute(
        "INSERT INTO captchas (id, answer_hash, expires_at) VALUES ($1, $2, $3)",
        captcha_id,
        captcha._digest(secret, captcha_id, answer),
        dt.datetime.now(dt.UTC) + dt.timedelta(minutes=5),
    )
    return {"captcha_id": captcha_id, "captcha": answer}


async def test_serve_embedded_then_sigterm_leaves_nothing(data_dir: Path) -> None:
    serve = start_serve(data_dir)
    try:
        await serve.wait_ready()
        assert embedded_processes(data_dir), "embedded servers should be running"
        async with httpx.AsyncClient(base_url=serve.base) as http:
            await _demo_thread(http, data_dir)
    finally:
        out = await serve.terminate()
    assert "demo_candidate" in out and "/readyz" in out
    # rule A4, issue #9: the outbox sender says loudly that no code reaches a phone
    assert "WARNING exam_api.account_services: SMS codes are NOT sent to phones" in out
    await nothing_left(data_dir, within=15)


async def _demo_thread(http: httpx.AsyncClient, data_dir: Path) -> None:
    """Rule A1 as a user goes through it (password + captcha → SMS code →
    session), then an attempt and a phone heartbeat that reaches PostgreSQL."""
    db_url = f"postgresql://postgres@/postgres?host={data_dir / 'pg'}"
    conn = await asyncpg.connect(db_url)
    try:
        # the captcha is made with a known answer (its image is for eyes, not tests)
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
            "/api/auth/login/verify", json={"challenge_id": challenge, "code": code.group(0)}
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
                "SELECT count(*) FROM attempt_events WHERE attempt_id = $1 AND device = 'phone'",
                start["attempt_id"],
            )
            return n

        assert await eventually(persisted, within=10) >= 1
    finally:
        await conn.close()
