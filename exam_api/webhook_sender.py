"""The webhook sender: posts the outbox (``webhook_deliveries``), signed,
and retries with exponential back-off (rule M4).

A pass claims due deliveries with ``FOR UPDATE SKIP LOCKED`` and moves
their ``next_at`` a lease ahead, so two worker processes never post the same
delivery at once (a sender that dies mid-post leaves it to be retried when
the lease runs out: delivery is at least once, the delivery id lets a
receiver drop the repeat). Each try is recorded (``webhook_tries``) with the
receiver's status code or the error; a 2xx ends the delivery, anything else
schedules the next try after :func:`backoff`, up to ``max_tries``, then the
delivery is ``failed`` (the administrators' page shows it).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import httpx

from exam_api.webhooks import signature
from proctor.tasks import FailureLog, cancel_and_wait

log = logging.getLogger(__name__)

MAX_RESPONSE = 2000  # characters of an answer kept


def backoff(tries: int, base_s: float, cap_s: float) -> float:
    """Seconds before try ``tries + 1``, after ``tries`` failed ones: base, 2×, 4×… up to cap."""
    assert tries >= 1
    return float(min(cap_s, base_s * 2 ** (tries - 1)))


def body_of(delivery: asyncpg.Record | dict[str, Any]) -> bytes:
    """The posted JSON: the same bytes at every try (the signature covers them)."""
    document = {
        "id": delivery["delivery_id"],
        "event": delivery["event"],
        "created_at": delivery["created_at"].isoformat(),
        "data": delivery["payload"],
    }
    return json.dumps(document, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()


_CLAIM = """
UPDATE webhook_deliveries d SET next_at = now() + make_interval(secs => $2)
  FROM webhooks w
 WHERE d.webhook_id = w.id AND d.id IN (
       SELECT id FROM webhook_deliveries
        WHERE status = 'pending' AND next_at <= now()
        ORDER BY next_at LIMIT $1 FOR UPDATE SKIP LOCKED)
RETURNING d.id, d.delivery_id, d.event, d.payload, d.created_at, d.tries, w.url, w.secret
"""

_RECORD_TRY = """
INSERT INTO webhook_tries (delivery_id, try, at, status_code, error, response, duration_ms)
VALUES ($1, $2, now(), $3, $4, $5, $6)
"""

_DELIVERED = """
UPDATE webhook_deliveries SET status = 'delivered', tries = $2, delivered_at = now(),
       last_error = NULL
 WHERE id = $1
"""

_RETRY = """
UPDATE webhook_deliveries
   SET tries = $2, last_error = $3,
       status = CASE WHEN $4 THEN 'failed' ELSE 'pending' END,
       next_at = now() + make_interval(secs => $5)
 WHERE id = $1
"""


@dataclass
class WebhookSender:
    """The background task (start/stop) that empties the outbox."""

    pool: asyncpg.Pool
    base_delay_s: float = 2.0
    max_delay_s: float = 600.0
    max_tries: int = 8
    timeout_s: float = 5.0
    poll_s: float = 0.5
    batch: int = 20
    lease_s: float = 60.0
    now: Callable[[], float] = time.time  # the signature's timestamp (the wiring's clock)
    _task: asyncio.Task[None] | None = None
    _client: httpx.AsyncClient | None = None
    _failures: FailureLog = field(default_factory=lambda: FailureLog(log, "webhook pass"))

    async def start(self) -> None:
        assert self._task is None, "already started"
        # no redirects: a receiver answers where it was registered
        self._client = httpx.AsyncClient(timeout=self.timeout_s, follow_redirects=False)
        self._task = asyncio.create_task(self._run(), name="webhook-sender")

    async def stop(self) -> None:
        task, self._task = self._task, None
        await cancel_and_wait(task)
        client, self._client = self._client, None
        if client is not None:
            await client.aclose()

    async def _run(self) -> None:
        while True:
            try:
                sent = await self.pass_once()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self._failures.failed(exc, self.poll_s)
                sent = 0
            else:
                self._failures.succeeded()
            if sent < self.batch:
                await asyncio.sleep(self.poll_s)

    async def pass_once(self) -> int:
        """Claim the due deliveries and post them (concurrently); their count."""
        async with self.pool.acquire() as conn:
            due = await conn.fetch(_CLAIM, self.batch, self.lease_s)
        await asyncio.gather(*(self._deliver(d) for d in due))
        return len(due)

    async def _deliver(self, delivery: asyncpg.Record) -> None:
        assert self._client is not None
        body = body_of(delivery)
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "proctor-hub-webhooks/1",
            "X-Proctor-Delivery": delivery["delivery_id"],
            "X-Proctor-Event": delivery["event"],
            "X-Proctor-Signature": signature(delivery["secret"], int(self.now()), body),
        }
        attempt = delivery["tries"] + 1
        started = time.monotonic()
        status: int | None = None
        error: str | None = None
        answer: str | None = None
        try:
            reply = await self._client.post(delivery["url"], content=body, headers=headers)
            status, answer = reply.status_code, reply.text[:MAX_RESPONSE]
            if not 200 <= status < 300:
                error = f"HTTP {status}"
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}"[:MAX_RESPONSE]
        elapsed = int((time.monotonic() - started) * 1000)
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.execute(_RECORD_TRY, delivery["id"], attempt, status, error, answer, elapsed)
            if error is None:
                await conn.execute(_DELIVERED, delivery["id"], attempt)
            else:
                last = attempt >= self.max_tries
                delay = 0.0 if last else backoff(attempt, self.base_delay_s, self.max_delay_s)
                await conn.execute(_RETRY, delivery["id"], attempt, error, last, delay)
