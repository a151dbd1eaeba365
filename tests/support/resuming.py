"""Devices that behave like the reference client core (``static/js/hub-core.js``)
under faults: an outbox of numbered messages kept until acknowledged, a
reconnect with back-off whenever the socket drops, and on every welcome the
outbox renumbered from ``last_acked + 1`` and sent again in order
(docs/protocol.md). What each device knows was stored — every ack, and
everything up to a welcome's ``last_acked`` — is its tally, to compare with
PostgreSQL afterwards. Many of them together: a ``Fleet``."""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
from dataclasses import dataclass, field
from typing import Any

import websockets
from websockets.asyncio.client import ClientConnection

RECV_TIMEOUT_S = 10.0
MAX_OUTBOX = 2000  # bounded: at 2 s a heartbeat, an hour of outage


@dataclass
class Tally:
    """What one device of one attempt was told was stored."""

    stored: dict[int, str] = field(default_factory=dict)  # seq → message type
    stored_lost: int = 0  # `focus lost` among them (each one a violation, rule E3)
    refused: int = 0
    connects: int = 0
    acks_since_mark: int = 0  # acks after the test's last mark() (a fault)
    ended: bool = False


class ResumingDevice:
    """One device socket through the load balancer, resumed after every drop."""

    def __init__(self, ws_url: str, attempt_id: int, device: str, token: str) -> None:
        self.url = f"{ws_url}/ws/{device}?token={token}"
        self.attempt_id = attempt_id
        self.device = device
        self.tally = Tally()
        self.outbox: list[tuple[int, dict[str, Any]]] = []  # (seq, message) not yet stored
        self.next_seq = 1
        self.queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.sending = True  # new heartbeats; False: drain the outbox, then stop
        self.connected = asyncio.Event()
        self.server: str = ""  # the process HAProxy put the socket on
        self._task: asyncio.Task[None] | None = None

    # ----- what the test does -------------------------------------------------

    def start(self, interval_s: float) -> None:
        self._task = asyncio.create_task(
            self._run(interval_s), name=f"{self.device}-{self.attempt_id}"
        )

    def send(self, message: dict[str, Any]) -> None:
        """Queue one message (it gets the next seq when it leaves)."""
        self.queue.put_nowait(message)

    @property
    def drained(self) -> bool:
        return self.tally.ended or (not self.outbox and self.queue.empty())

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    # ----- the client core --------------------------------------------------------

    async def _run(self, interval_s: float) -> None:
        backoff = 0.2
        while not self.tally.ended:
            try:
                async with websockets.connect(self.url, open_timeout=10, max_size=None) as ws:
                    self.server = (
                        ws.response.headers.get("x-proctor-server", "") if ws.response else ""
                    )
                    await self._session(ws, interval_s)
                    backoff = 0.2
            except (OSError, TimeoutError, websockets.InvalidStatus, websockets.InvalidHandshake):
                pass  # HAProxy had no process to offer, or it went away mid-handshake
            except websockets.ConnectionClosed:
                pass
            finally:
                self.connected.clear()
            if self.tally.ended:
                return
            await asyncio.sleep(backoff * (0.5 + random.random()))
            backoff = min(backoff * 2, 3.0)

    async def _session(self, ws: ClientConnection, interval_s: float) -> None:
        await ws.send(json.dumps({"type": "hello", "v": 1, "last_seen": 0, "resume": True}))
        while True:
            first = json.loads(await asyncio.wait_for(ws.recv(), RECV_TIMEOUT_S))
            if first["type"] == "welcome":
                break
        self.tally.connects += 1
        self._welcome(int(first["last_acked"]))
        for seq, message in self.outbox:
            await ws.send(json.dumps({**message, "seq": seq}))
        self.connected.set()
        reader = asyncio.create_task(self._read(ws))
        writer = asyncio.create_task(self._write(ws, interval_s))
        try:
            done, _ = await asyncio.wait({reader, writer}, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                task.result()  # a closed socket raises here: reconnect
        finally:
            for task in (reader, writer):
                task.cancel()
            await asyncio.gather(reader, writer, return_exceptions=True)

    def _welcome(self, last_acked: int) -> None:
        """Everything up to ``last_acked`` is stored; the rest is renumbered after it."""
        keep = []
        for seq, message in self.outbox:
            if seq <= last_acked:
                self._stored(seq, message)
            else:
                keep.append(message)
        self.outbox = [(last_acked + 1 + i, m) for i, m in enumerate(keep)]
        self.next_seq = last_acked + 1 + len(keep)

    def _stored(self, seq: int, message: dict[str, Any]) -> None:
        if seq in self.tally.stored:
            return
        self.tally.stored[seq] = message["type"]
        if message["type"] == "focus" and message.get("state") == "lost":
            self.tally.stored_lost += 1

    async def _write(self, ws: ClientConnection, interval_s: float) -> None:
        while True:
            try:
                message = await asyncio.wait_for(self.queue.get(), interval_s)
            except TimeoutError:
                if not self.sending or len(self.outbox) >= MAX_OUTBOX:
                    continue
                message = {"type": "heartbeat"}
            seq = self.next_seq
            self.next_seq += 1
            self.outbox.append((seq, message))
            await ws.send(json.dumps({**message, "seq": seq}))

    async def _read(self, ws: ClientConnection) -> None:
        while True:
            message = json.loads(await ws.recv())
            kind = message.get("type")
            if kind == "ack":
                self._acked(int(message["seq"]))
            elif kind == "error" and "seq" in message:
                self._refused(int(message["seq"]))
            elif kind == "ended":
                self.tally.ended = True
                return

    def _acked(self, seq: int) -> None:
        self.tally.acks_since_mark += 1
        for i, (queued, message) in enumerate(self.outbox):
            if queued == seq:
                self._stored(seq, message)
                del self.outbox[i]
                return

    def _refused(self, seq: int) -> None:
        """A message the state refused uses up its seq and is not sent again."""
        for i, (queued, _) in enumerate(self.outbox):
            if queued == seq:
                self.tally.refused += 1
                del self.outbox[i]
                return


@dataclass
class Fleet:
    """Every device of the sessions under test."""

    devices: list[ResumingDevice]

    def start(self, interval_s: float) -> None:
        for device in self.devices:
            device.start(interval_s)

    def mark(self) -> None:
        """Count acks from now on (after a fault: did every client resume?)."""
        for device in self.devices:
            device.tally.acks_since_mark = 0

    def pcs(self) -> list[ResumingDevice]:
        return [d for d in self.devices if d.device == "pc"]

    async def all_connected(self) -> bool:
        return all(d.connected.is_set() or d.tally.ended for d in self.devices)

    async def all_resumed(self) -> bool:
        """Every device still running was acknowledged since the mark."""
        return all(d.tally.acks_since_mark > 0 or d.tally.ended for d in self.devices)

    def stop_sending(self) -> None:
        for device in self.devices:
            device.sending = False

    async def drained(self) -> bool:
        return all(d.drained for d in self.devices)

    async def stop(self) -> None:
        await asyncio.gather(*(d.stop() for d in self.devices))

    def by_server(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for device in self.devices:
            if device.connected.is_set():
                counts[device.server] = counts.get(device.server, 0) + 1
        return counts
