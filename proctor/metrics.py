"""Metrics for Prometheus (rule O2), one registry per app, passed in.

The components take a :class:`Metrics` from the wiring and count what they
see; ``GET /metrics`` serves the registry in Prometheus' text format. Nothing
here is global: two apps in one process (the tests) keep separate figures.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from starlette.requests import Request
from starlette.responses import Response

from proctor.tasks import cancel_and_wait

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class Metrics:
    """The figures of one process."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.sockets = Gauge("proctor_sockets", "Open websockets", ["device"], registry=r)
        self.messages = Counter(
            "proctor_messages_total", "Client messages applied", ["type"], registry=r
        )
        self.ack_seconds = Histogram(
            "proctor_ack_seconds",
            "A client message received → its ack queued",
            ["type"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.violations = Counter("proctor_violations_total", "Violations counted", registry=r)
        self.ends = Counter("proctor_ends_total", "Attempts ended", ["reason"], registry=r)
        self.peers = Gauge("proctor_rtc_peers", "PC camera peers held here", registry=r)
        self.viewers = Gauge(
            "proctor_live_viewers", "Invigilators' live-video peers held here", registry=r
        )
        self.snapshot_seconds = Histogram(
            "proctor_snapshot_seconds",
            "A PC snapshot ordered → stored",
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.persisted = Counter(
            "proctor_persisted_events_total", "Stream entries copied to PostgreSQL", registry=r
        )
        self.trimmed = Counter(
            "proctor_trimmed_events_total",
            "Stream entries trimmed from Redis once PostgreSQL held them",
            registry=r,
        )
        self.persist_lag = Gauge(
            "proctor_persist_lag_seconds",
            "Age of the oldest entry in the last persistence pass",
            registry=r,
        )
        self.loop_lag = Gauge(
            "proctor_loop_lag_seconds", "How late the event loop woke a 0.5 s sleep", registry=r
        )
        self.tasks = Gauge(
            "proctor_asyncio_tasks", "asyncio tasks alive in this process (leaks show)", registry=r
        )
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._watch_loop(), name="loop-lag")

    async def stop(self) -> None:
        task, self._task = self._task, None
        await cancel_and_wait(task)

    async def _watch_loop(self, every_s: float = 0.5) -> None:
        loop = asyncio.get_running_loop()
        while True:
            start = loop.time()
            await asyncio.sleep(every_s)
            self.loop_lag.set(max(0.0, loop.time() - start - every_s))
            self.tasks.set(len(asyncio.all_tasks(loop)))

    def render(self) -> bytes:
        return generate_latest(self.registry)


def metrics_endpoint(metrics: Metrics) -> Callable[[Request], Awaitable[Response]]:
    """``GET /metrics`` for this app's registry."""

    async def endpoint(request: Request) -> Response:
        return Response(metrics.render(), media_type=CONTENT_TYPE_LATEST)

    return endpoint
