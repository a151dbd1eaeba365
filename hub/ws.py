"""Websocket endpoints of the hub: ``/ws/pc``, ``/ws/phone`` and ``/ws/watch``.

Thin adapters (STYLE rule 3): each connection runs a reader and a writer task
and waits for the first to finish. The reader feeds frames to the sans-I/O
:class:`~hub.protocol.ClientProtocol` and hands delivered messages to the
:class:`~hub.live.Hub`, one at a time, acknowledging each once it is stored.
The writer drains a bounded queue; a client that falls behind is dropped,
never allowed to slow the hub. The protocol is in ``docs/protocol.md``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from typing import Any
from urllib.parse import urlsplit

from starlette.requests import HTTPConnection
from starlette.websockets import WebSocket, WebSocketState

from hub.errors import (
    CLOSE_ENDED,
    CLOSE_FORBIDDEN,
    CLOSE_GOING_AWAY,
    CLOSE_INTERNAL,
    CLOSE_POLICY,
    CLOSE_TRY_AGAIN,
    HubError,
    SessionEnded,
    SessionError,
    TokenError,
)
from hub.fanout import KICK
from hub.live import Event, Hub, LiveAttempt
from hub.outbox import Outbox, OutboxFull
from hub.outputs import Outputs
from hub.protocol import (
    CONTACT_MESSAGES,
    PROTOCOL_VERSION,
    Call,
    CameraState,
    ClickOutside,
    ClientProtocol,
    Close,
    Deliver,
    Focus,
    Heartbeat,
    Hello,
    PageReturn,
    PhoneEnd,
    PhoneStart,
    Photo,
    Reply,
    Say,
    Seen,
    SeqMessage,
    Submit,
    WarningAck,
    ack_text,
    encode,
    error_message,
)
from hub.session import END_MESSAGES, Camera, Session
from hub.store import Overloaded
from hub.tokens import verify_device_token
from proctor.logs import bind
from proctor.outages import service_of
from proctor.state import base
from proctor.web_auth import can_watch, current_session

log = logging.getLogger(__name__)

HELLO_TIMEOUT_S = 10.0
IDLE_TIMEOUT_S = 45.0  # three missed heartbeats (every 5 s) and then some
SEND_QUEUE = 64
CLOSE_DRAIN_S = 5.0
WATCH_PRESENCE_S = 5.0
WATCH_ROLES = ("invigilator", "admin")


class Connection:
    """One websocket: a bounded outbound queue and a way to be closed."""

    def __init__(self, ws: WebSocket, role: str, protocol: ClientProtocol | None) -> None:
        self.id = secrets.token_hex(8)
        self.ws = ws
        self.role = role
        self.protocol = protocol
        self.queue: Outbox[str | Close] = Outbox(SEND_QUEUE)
        self.closing: Close | None = None
        self.busy = False  # the reader is applying a message; its ack is not out yet
        self.close_when_idle: Close | None = None
        self.contact_more: int | None = None  # the last index of a truncated ``messages`` batch
        # held while a message is on its way out: the reader's own acks
        # (``reply``) and the writer's queue never interleave
        self._sending = asyncio.Lock()

    def push(self, message: dict[str, Any]) -> None:
        self.push_text(encode(message))

    def push_text(self, text: str) -> None:
        """Queue an encoded server message (a JSON object; ``n`` is added on sending)."""
        if self.closing is not None:
            return
        try:
            self.queue.put_nowait(text)
        except OutboxFull:
            self.kick(CLOSE_TRY_AGAIN, "slow_consumer: the client does not read its messages")

    def kick(self, code: int, reason: str) -> None:
        if self.closing is not None:
            return
        self.closing = Close(code, reason[:120])
        self.queue.clear()  # a close jumps the queue
        self.queue.put_nowait(self.closing)

    def finish(self, code: int, reason: str) -> None:
        """Close after the messages already queued (a graceful close)."""
        if self.closing is not None:
            return
        self.closing = Close(code, reason[:120])
        try:
            self.queue.put_nowait(self.closing)
        except OutboxFull:
            self.closing = None
            self.kick(code, reason)

    def finish_when_idle(self, code: int, reason: str) -> None:
        """Close gracefully once the message being applied is acknowledged."""
        if self.busy:
            self.close_when_idle = Close(code, reason)
        else:
            self.finish(code, reason)

    async def reply(self, text: str) -> None:
        """Send the reader's own answer (an ack) at once when nothing is queued
        before it, without waking the writer task (one task wake-up less per
        message, issue #16); otherwise queue it behind the others."""
        if self.closing is not None or not self.queue.empty() or self._sending.locked():
            self.push_text(text)
            return
        async with self._sending:
            try:
                await self._send(text)
            except Exception:  # the peer is gone: end as the writer would
                self.kick(CLOSE_GOING_AWAY, "send failed")

    async def _send(self, text: str) -> None:
        if self.protocol is not None:
            # Encoded once for every recipient; the number spliced in here.
            text = f'{{"n":{self.protocol.next_number()},{text[1:]}'
        await self.ws.send_text(text)

    async def writer(self) -> None:
        while True:
            item = await self.queue.get()
            if isinstance(item, Close):
                await _close(self.ws, item.code, item.reason)
                return
            async with self._sending:
                await self._send(item)


async def _close(ws: WebSocket, code: int, reason: str) -> None:
    if ws.application_state is WebSocketState.CONNECTED:
        with contextlib.suppress(Exception):
            await ws.close(code, reason[:120])


def hub_of(conn: HTTPConnection) -> Hub:
    """This process's hub, from the lifespan state the wiring filled."""
    hub: Hub = conn.state.hub
    return hub


async def _run_pair(conn: Connection, reader: Any) -> None:
    """Run the reader and the writer; when either ends, cancel the other
    (rule 3) — except that a close the reader asked for is sent first."""
    read = asyncio.ensure_future(reader)
    write = asyncio.ensure_future(conn.writer())
    try:
        await asyncio.wait([read, write], return_when=asyncio.FIRST_COMPLETED)
        if read.done() and not read.cancelled() and read.exception() is not None:
            log.error("connection %s failed", conn.id, exc_info=read.exception())
            conn.kick(CLOSE_INTERNAL, "internal error")
        if read.done() and not write.done() and conn.closing is not None:
            await asyncio.wait([write], timeout=CLOSE_DRAIN_S)
    finally:
        for task in (read, write):
            task.cancel()
        for task in (read, write):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task


# ----- devices --------------------------------------------------------------------


async def pc_socket(ws: WebSocket) -> None:
    await device_socket(ws, "pc")


async def phone_socket(ws: WebSocket) -> None:
    await device_socket(ws, "phone")


async def any_device_socket(ws: WebSocket) -> None:
    """``/ws/{device}`` (the skeleton's path), same protocol."""
    device = ws.path_params["device"]
    if device not in ("pc", "phone"):
        await ws.accept()
        await _close(ws, CLOSE_FORBIDDEN, f"unknown device {device[:20]!r}")
        return
    await device_socket(ws, device)


async def device_socket(ws: WebSocket, device: str) -> None:
    hub = hub_of(ws)
    await ws.accept()
    try:
        claim = verify_device_token(
            base(ws).settings.secret_key, ws.query_params.get("token", ""), hub.clock.now()
        )
    except TokenError as error:
        await _close(ws, error.close_code or CLOSE_POLICY, f"{error.code}: {error.reason}")
        return
    if claim.device != device:
        await _close(ws, CLOSE_FORBIDDEN, f"wrong_device: the token is for the {claim.device}")
        return
    conn = Connection(ws, device, ClientProtocol(device))
    hello = await _await_hello(conn, hub.clock.now)
    if hello is None:
        return
    try:
        live = await hub.attempt(claim.attempt_id)
    except HubError as error:
        await _close(ws, error.close_code or CLOSE_POLICY, f"{error.code}: {error.reason}")
        return
    with bind(live.attempt_id, device):  # every log line of this connection
        await _serve_device(hub, live, conn, hello)


async def _serve_device(hub: Hub, live: LiveAttempt, conn: Connection, hello: Hello) -> None:
    """Greet the device, run its reader and writer, and record its leaving."""
    ws, device = conn.ws, conn.role
    connected = False
    sockets = hub.metrics.sockets.labels(device)
    sockets.inc()
    try:
        connected = await _greet(hub, live, conn, hello)
        if connected:
            await _catch_up(hub, live, conn)
            await _run_pair(conn, _device_reader(hub, live, conn))
        else:
            await conn.writer()
    except Exception as error:
        if service_of(error) is not None:  # PostgreSQL or Redis down: come back later
            log.warning("device of attempt %s refused: %s", live.attempt_id, error)
            await _close(ws, CLOSE_TRY_AGAIN, "unavailable: the service is down, retry")
        else:
            log.exception("device socket of attempt %s failed", live.attempt_id)
            await _close(ws, CLOSE_INTERNAL, "internal error")
    finally:
        sockets.dec()
        if connected:
            await asyncio.shield(_disconnect(hub, live, device, conn.id))
        await hub.detach(live, conn)


async def _await_hello(conn: Connection, clock: Any) -> Hello | None:
    assert conn.protocol is not None
    try:
        message = await asyncio.wait_for(conn.ws.receive(), HELLO_TIMEOUT_S)
    except TimeoutError:
        await _close(conn.ws, CLOSE_POLICY, "hello_timeout: send hello first")
        return None
    if message["type"] == "websocket.disconnect":
        return None
    now = clock()
    text = message.get("text")
    if text is not None:
        actions = conn.protocol.receive_text(text, now)
    else:
        actions = conn.protocol.receive_bytes(message.get("bytes") or b"", now)
    for action in actions:
        if isinstance(action, Deliver) and isinstance(action.message, Hello):
            return action.message
        if isinstance(action, Close):
            await _close(conn.ws, action.code, action.reason)
            return None
    await _close(conn.ws, CLOSE_POLICY, "hello_first: the first message must be hello")
    return None


async def _greet(hub: Hub, live: LiveAttempt, conn: Connection, hello: Hello) -> bool:
    """Welcome the device; register it as connected unless the attempt is over."""
    assert conn.protocol is not None
    device = conn.role
    # The welcome's last_acked must be true of PostgreSQL too: whatever the
    # shared state holds that is durable (a violation whose write failed
    # mid-outage) is written first; while PostgreSQL is down this raises and
    # the device is told to come back (rule: no acknowledged record lost).
    await hub.repair(live)
    acked = (await hub.store.load(live.attempt_id)).acked[device]
    conn.protocol.start(acked)
    now = hub.clock.now()
    conn.push(
        {
            "type": "welcome",
            "v": PROTOCOL_VERSION,
            "attempt_id": live.attempt_id,
            "device": device,
            "last_acked": acked,
            "resumed": hello.resume,
            "server_time": now,
            "deadline_at": live.session.deadline_at,
        }
    )
    # Attached after the welcome so that it is the first message; what was
    # published before is superseded by the state our connect publishes.
    await hub.attach(live, conn)
    kick = [{"to": KICK, "device": device, "keep": conn.id}]
    try:
        await hub.apply(live, lambda s: s.connect(device, now, conn.id), control=kick, now=now)
    except SessionEnded:
        pass
    if live.session.ended:
        conn.push(live.session.state_message(now))
        conn.push(_ended_message(live.session))
        if device == "phone" and live.session.phone_finished_at is None:
            return True  # rule D5: the phone may still end its part
        conn.finish(CLOSE_ENDED, f"ended: the attempt has ended ({live.session.end_reason})")
        return False
    return True


def _ended_message(session: Session) -> dict[str, Any]:
    assert session.end_reason is not None
    return {
        "type": "ended",
        "reason": session.end_reason.value,
        "at": session.ended_at,
        "violations": session.violation_count,
        "message": END_MESSAGES[session.end_reason],
    }


async def _disconnect(hub: Hub, live: LiveAttempt, device: str, conn_id: str) -> None:
    try:
        now = hub.clock.now()
        await hub.apply(live, lambda s: s.disconnect(device, now, conn_id))
    except Exception:
        log.exception("recording the disconnect of attempt %s failed", live.attempt_id)


async def _device_reader(hub: Hub, live: LiveAttempt, conn: Connection) -> None:
    protocol = conn.protocol
    assert protocol is not None
    ws = conn.ws
    while conn.closing is None:
        try:
            # asyncio.timeout, not wait_for: no extra task per message
            async with asyncio.timeout(IDLE_TIMEOUT_S):
                message = await ws.receive()
        except TimeoutError:
            conn.kick(CLOSE_GOING_AWAY, "idle: no message for too long")
            return
        if message["type"] == "websocket.disconnect":
            return
        now = hub.clock.now()
        text = message.get("text")
        if text is not None:
            actions = protocol.receive_text(text, now)
        else:
            actions = protocol.receive_bytes(message.get("bytes") or b"", now)
        for action in actions:
            if isinstance(action, Reply):
                conn.push(action.message)
            elif isinstance(action, Close):
                conn.kick(action.code, action.reason)
                return
            elif isinstance(action.message, Hello):
                conn.push(error_message("hello_twice", "hello is sent once"))
            else:
                conn.busy = True
                try:
                    await _handle(hub, live, conn, action.message, now)
                finally:
                    conn.busy = False
                if conn.close_when_idle is not None:
                    conn.finish(conn.close_when_idle.code, conn.close_when_idle.reason)
                    return


async def _handle(
    hub: Hub, live: LiveAttempt, conn: Connection, message: SeqMessage, now: float
) -> None:
    """Apply one client message and acknowledge it once stored."""
    assert conn.protocol is not None
    device = conn.role
    seq = message.seq
    kind = type(message).__name__
    hub.metrics.messages.labels(kind).inc()
    latency = hub.metrics.ack_seconds.labels(kind)
    try:
        if isinstance(message, Heartbeat) and not (live.ended or now >= live.session.deadline_at):
            # The fast path: telemetry only, batched into the stream.
            stream_id = await hub.batcher.append(live.attempt_id, device, seq, "heartbeat", now)
            await conn.reply(ack_text(seq, duplicate=stream_id is None))
            latency.observe(max(0.0, hub.clock.now() - now))
            return
        if isinstance(message, CONTACT_MESSAGES):
            await _contact(hub, live, conn, message, now)
        if isinstance(message, Photo):
            await hub.store_photo(live, message.request_id, message.jpeg, now)
        applied = await hub.apply(live, _event(device, message, now), device, seq, now=now)
        if applied.void:  # the clock ended the attempt first: not stored, no ack
            raise SessionEnded(live.session.end_reason or "time_up")
    except SessionError as error:
        conn.push(error_message(error.code, error.reason, seq))
        if isinstance(error, SessionEnded) and live.session.ended:
            conn.push(_ended_message(live.session))
        return
    except Overloaded as error:
        conn.kick(CLOSE_TRY_AGAIN, f"{error.code}: {error.reason}")
        return
    await conn.reply(ack_text(seq, duplicate=applied.duplicate))
    latency.observe(max(0.0, hub.clock.now() - now))


async def _catch_up(
    hub: Hub, live: LiveAttempt, conn: Connection, after: int | None = None
) -> None:
    """Rule L1: the contact messages this device lacks, after it subscribed
    (so nothing published meanwhile is missed; the page drops repeats)."""
    try:
        batch = await hub.contact.catch_up(live.attempt_id, conn.role, after)
    except Exception as error:
        if service_of(error) is None:
            raise
        # PostgreSQL down: the device still connects (its heartbeats need only
        # Redis); the messages wait for its next connection, none is lost
        log.warning("contact catch-up of attempt %s skipped: %s", live.attempt_id, error)
        return
    conn.contact_more = batch["items"][-1]["index"] if batch["more"] else None
    conn.push(batch)


async def _contact(
    hub: Hub, live: LiveAttempt, conn: Connection, message: Say | Call | Seen, now: float
) -> None:
    """A candidate's text or call is stored (and told) before its seq is; a
    ``seen`` moves the device's cursor (hub/contact.py)."""
    attempt_id, device = live.attempt_id, conn.role
    if isinstance(message, Seen):
        try:
            upto = await hub.contact.seen(attempt_id, device, message.upto, now)
        except Exception as error:
            if service_of(error) is None:
                raise
            return  # the cursor stays behind: only repeats later, which pages drop
        if conn.contact_more is not None and upto >= conn.contact_more:
            await _catch_up(hub, live, conn, upto)  # the next part of a long catch-up
        return
    kind, text = ("text", message.text) if isinstance(message, Say) else ("call", "")
    await hub.contact.from_candidate(
        attempt_id, device, message.cid, kind, text, live.session.ended, now
    )


def _event(device: str, message: SeqMessage, now: float) -> Event:
    if isinstance(message, Heartbeat):
        return lambda s: s.heartbeat(device, now)
    if isinstance(message, Focus):
        if message.state == "lost":
            return lambda s: s.focus_lost(message.cause, now)
        return lambda s: s.focus_back(now)
    if isinstance(message, ClickOutside):
        return lambda s: s.click_outside(now)
    if isinstance(message, CameraState):
        # rule H9: the client's word is a hint; the server measures cameras
        return lambda s: s.camera_hint(device, Camera(message.state), now)
    if isinstance(message, PhoneStart):
        return lambda s: s.phone_start(now)
    if isinstance(message, PageReturn):
        return lambda s: s.page_return(now)
    if isinstance(message, PhoneEnd):
        return lambda s: s.phone_end(message.confirmed, now)
    if isinstance(message, Submit):
        return lambda s: s.submit(now)
    if isinstance(message, WarningAck):
        return lambda s: s.acknowledge_warning(message.id, now)
    if isinstance(message, CONTACT_MESSAGES):
        return lambda s: Outputs()  # stored in contact_messages; only the seq here
    assert isinstance(message, Photo)
    return lambda s: s.photo(message.request_id, len(message.jpeg), now)


# ----- invigilators --------------------------------------------------------------------


def _same_origin(ws: WebSocket) -> bool:
    origin = ws.headers.get("origin")
    if origin is None:
        return True  # not a browser: the cookie alone decides
    return urlsplit(origin).netloc == ws.headers.get("host", "")


async def watch_socket(ws: WebSocket) -> None:
    """``/ws/watch?attempt=<id>``: an invigilator of the attempt's room (an
    admin: any room) follows one attempt — status, violations, cameras,
    heartbeats (rules G5, H4). Read-only: commands (warn, end, forgive) go
    through ``POST /api/invigilate/attempts/<id>/…``, which requires a reason
    and audits each in ``invigilator_actions`` (rule H3); a command sent here
    is refused with an error saying so."""
    hub = hub_of(ws)
    await ws.accept()
    session = await current_session(ws)
    if session is None:
        await _close(ws, 4401, "not_signed_in: sign in as an invigilator")
        return
    if session.user.role not in WATCH_ROLES or not _same_origin(ws):
        await _close(ws, CLOSE_FORBIDDEN, "forbidden: invigilators and admins only")
        return
    raw = ws.query_params.get("attempt", "")
    if not raw.isdigit():
        await _close(ws, CLOSE_POLICY, "bad_attempt: attempt=<id> is required")
        return
    attempt_id = int(raw)
    async with hub.pool.acquire() as db:
        allowed = await can_watch(db, session.user, attempt_id)
    if not allowed:
        await _close(ws, CLOSE_FORBIDDEN, "not_your_room: this attempt is in another room")
        return
    try:
        live = await hub.attempt(attempt_id)
    except HubError as error:
        await _close(ws, CLOSE_POLICY, f"{error.code}: {error.reason}")
        return
    conn = Connection(ws, "watch", None)
    # counted beside the devices' sockets: which process holds a wall's socket is measured
    watching = hub.metrics.sockets.labels("watch")
    await hub.attach(live, conn)
    watching.inc()
    try:
        conn.push(live.session.state_message(hub.clock.now()))
        await _run_pair(conn, _watch_reader(hub, live, conn))
    finally:
        watching.dec()
        await hub.detach(live, conn)


COMMANDS_OVER_HTTP = (
    "commands are not taken here: POST /api/invigilate/attempts/<id>/warn (text), "
    "/end (reason), /forgive (index, reason) or /messages (text); a reason is required "
    "and audited"
)


async def _watch_reader(hub: Hub, live: LiveAttempt, conn: Connection) -> None:
    while conn.closing is None:
        try:
            message = await asyncio.wait_for(conn.ws.receive(), WATCH_PRESENCE_S)
        except TimeoutError:
            beats = await hub.store.heartbeats(live.attempt_id)
            conn.push({"type": "presence", "heartbeats": beats, "server_time": hub.clock.now()})
            continue
        if message["type"] == "websocket.disconnect":
            return
        # One command path for every staff page (rule H3): HTTP, audited.
        conn.push(
            error_message(
                "use_http_commands", COMMANDS_OVER_HTTP.replace("<id>", str(live.attempt_id))
            )
        )
