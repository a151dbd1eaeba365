"""The recording (rule K1): the PC camera and the screen, never decoded.

Every encoded VP8 frame the keyframe tap sees (``KeyframeTap.listen``)
is copied as it is into a WebM segment file of its attempt and track
(``camera`` or ``screen``), with PyAV's muxer only: no decoder, no encoder,
so the recording costs I/O, not CPU (``bench/recording_cost.py``).

- A segment starts at a keyframe (a VP8 inter-frame needs the frames before
  it). Chromium sends keyframes only when asked, so a track that needs one
  sends a PLI through its tap (rate-limited there, shared with snapshots).
- A segment lasts ``segment_s`` (default 60 s): when it is due, the next
  keyframe (asked for) closes it and opens the next one.
- The event loop only decides (a comparison a frame) and queues; one writer
  thread does the file I/O for every track of the process. The queue is
  bounded: when the disk falls behind, frames are dropped, the open segment
  is closed, and the next keyframe starts a new one — the recording has a
  gap, the hub never slows down.
- A finished segment is closed (cues written, seekable), fsynced, and handed
  to ``on_segment`` on the event loop, which stores it (local disk or the
  object store, ``webrtc/recordings.py``) and links it in
  ``recording_segments``.
"""

from __future__ import annotations

import asyncio
import fractions
import functools
import logging
import os
import queue
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import av

from webrtc.keyframes import KeyframeTap, vp8_keyframe_size

log = logging.getLogger(__name__)

TRACKS = ("camera", "screen")
QUEUE_LIMIT = 4096  # frames waiting for the writer thread, all tracks together
RTP_CLOCK = 90_000
MS = fractions.Fraction(1, 1000)


@dataclass(frozen=True, slots=True)
class SegmentFile:
    """A finished segment file, closed and fsynced, not yet stored."""

    attempt_id: int
    track: str
    path: Path  # the local file
    name: str  # its key in the evidence store: recordings/<attempt>/<track>-<ms>.webm
    started_at: float  # epoch seconds of its first frame
    duration_s: float
    frames: int
    size: int
    width: int
    height: int


SegmentSink = Callable[[SegmentFile], Awaitable[None]]


class SegmentWriter:
    """One WebM file being written (blocking: the writer thread only)."""

    def __init__(self, path: Path, width: int, height: int) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.width, self.height = width, height
        self._container: Any = av.open(str(path), "w", format="webm")
        stream = self._container.add_stream("vp8", rate=30)  # the muxer's stream only
        stream.width, stream.height = width, height
        stream.time_base = MS
        self._stream = stream
        self._first_ts: int | None = None
        self._prev_ts = 0
        self._elapsed = 0  # RTP ticks since the first frame, unwrapped
        self.last_ms = -1
        self.frames = 0

    def write(self, data: bytes, rtp_timestamp: int, keyframe: bool) -> None:
        if self._first_ts is None:
            self._first_ts = self._prev_ts = rtp_timestamp
        step = (rtp_timestamp - self._prev_ts) & 0xFFFFFFFF
        if step < 1 << 31:  # forward (with 32-bit wrap); a late frame keeps the time
            self._elapsed += step
            self._prev_ts = rtp_timestamp
        ms = max(self._elapsed * 1000 // RTP_CLOCK, self.last_ms + 1)  # strictly rising
        packet = av.Packet(data)
        packet.stream = self._stream
        packet.pts = packet.dts = ms
        packet.time_base = MS
        packet.is_keyframe = keyframe
        self._container.mux(packet)
        self.last_ms = ms
        self.frames += 1

    def close(self) -> int:
        """Finish the file (cues, duration), fsync it; its size in bytes."""
        self._container.close()
        fd = os.open(self.path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        return self.path.stat().st_size


class TrackRecording:
    """The loop-side state of one recorded track: which frames go where."""

    def __init__(self, recorder: Recorder, attempt_id: int, track: str, tap: KeyframeTap) -> None:
        self.recorder = recorder
        self.attempt_id = attempt_id
        self.track = track
        self.tap = tap
        self.key = f"{attempt_id}/{track}/{id(self)}"
        self.open = False
        self.segment_started: float = 0.0
        self.dropped = 0
        self.closed = False
        self._asking = False

    def feed(self, data: bytes, rtp_timestamp: int, keyframe: bool) -> None:
        """Called by the tap for every encoded frame, on the event loop."""
        if self.closed:
            return
        now = self.recorder.clock()
        if self.open and now - self.segment_started >= self.recorder.segment_s:
            if keyframe:
                self.open = False  # this keyframe starts the next segment
            else:
                self._ask_keyframe()
        if not self.open:
            if not keyframe:
                self.dropped += 1
                self._ask_keyframe()
                return
            width, height = vp8_keyframe_size(data)
            name = f"recordings/{self.attempt_id}/{self.track}-{int(now * 1000)}.webm"
            item = ("open", (name, now, width, height))
            if not self.recorder.enqueue(self, item):
                return
            self.open, self.segment_started = True, now
        if not self.recorder.enqueue(self, ("frame", (data, rtp_timestamp, keyframe))):
            # the writer fell behind: this segment ends here, the next keyframe opens one
            self.open = False
            self.dropped += 1

    def _ask_keyframe(self) -> None:
        if self._asking or self.tap.ended:
            return
        self._asking = True

        async def ask() -> None:
            try:
                await self.tap.request_keyframe()
            finally:
                self._asking = False

        self.recorder.spawn(ask())

    def end(self) -> None:
        """The track ended (its peer closed): close its segment."""
        if self.closed:
            return
        self.closed = True
        self.open = False
        self.recorder.enqueue(self, ("end", None), force=True)


class Recorder:
    """Every recorded track of this process and their one writer thread.

    ``root`` is the local folder segments are written in (``data_dir``);
    ``clock`` the wall clock (epoch seconds); ``on_segment`` stores a
    finished segment. ``start()`` / ``stop()``: stop closes every open
    segment and waits for them to be stored.
    """

    def __init__(
        self,
        root: Path,
        segment_s: float,
        clock: Callable[[], float],
        on_segment: SegmentSink,
        queue_limit: int = QUEUE_LIMIT,
    ) -> None:
        assert segment_s > 0
        self.root = root
        self.segment_s = segment_s
        self.clock = clock
        self.on_segment = on_segment
        self._queue: queue.Queue[tuple[TrackRecording, tuple[str, Any]] | None] = queue.Queue(
            queue_limit
        )
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._tasks: set[asyncio.Future[Any]] = set()
        self.tracks: dict[str, TrackRecording] = {}
        self.segments_written = 0
        self.failures = 0

    # ------------------------------------------------------------ lifecycle
    def start(self) -> None:
        assert self._thread is None, "a recorder starts once"
        self._loop = asyncio.get_running_loop()
        self._thread = threading.Thread(target=self._write_all, name="recorder", daemon=True)
        self._thread.start()

    async def stop(self) -> None:
        for track in list(self.tracks.values()):
            track.end()
        thread, self._thread = self._thread, None
        if thread is not None:
            await asyncio.to_thread(self._queue.put, None)
            await asyncio.to_thread(thread.join)
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    def spawn(self, coro: Awaitable[Any]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # ------------------------------------------------------------ tracks
    def attach(self, attempt_id: int, track: str, tap: KeyframeTap) -> TrackRecording:
        """Record ``tap``'s frames as ``track`` of ``attempt_id`` until it ends."""
        assert track in TRACKS
        recording = TrackRecording(self, attempt_id, track, tap)
        self.tracks[recording.key] = recording
        tap.listen(recording.feed)
        previous = tap.on_ended

        def ended() -> None:
            recording.end()
            if previous is not None:
                previous()

        tap.on_ended = ended
        return recording

    def enqueue(self, track: TrackRecording, item: tuple[str, Any], force: bool = False) -> bool:
        if self._thread is None:
            return False
        try:
            self._queue.put_nowait((track, item))
        except queue.Full:
            if not force:
                return False
            self.spawn(asyncio.to_thread(self._queue.put, (track, item)))
        return True

    # ------------------------------------------------------------ the writer thread
    def _write_all(self) -> None:
        open_files: dict[str, tuple[SegmentWriter, TrackRecording, str, float]] = {}
        while True:
            entry = self._queue.get()
            if entry is None:
                break
            track, (kind, payload) = entry
            try:
                if kind == "open":
                    self._finish(open_files.pop(track.key, None))
                    name, started, width, height = payload
                    writer = SegmentWriter(self.root / name, width, height)
                    open_files[track.key] = (writer, track, name, started)
                elif kind == "frame":
                    current = open_files.get(track.key)
                    if current is not None:
                        current[0].write(*payload)
                else:  # "end"
                    self._finish(open_files.pop(track.key, None))
                    self._call_soon(functools.partial(self.tracks.pop, track.key, None))
            except (OSError, av.FFmpegError, ValueError):
                log.exception("recording %s failed; its segment is dropped", track.key)
                self.failures += 1
                open_files.pop(track.key, None)
        for current in open_files.values():
            self._finish(current)

    def _finish(self, current: tuple[SegmentWriter, TrackRecording, str, float] | None) -> None:
        if current is None:
            return
        writer, track, name, started = current
        try:
            size = writer.close()
        except (OSError, av.FFmpegError):
            log.exception("recording segment %s could not be closed", name)
            self.failures += 1
            return
        if writer.frames == 0:
            writer.path.unlink(missing_ok=True)
            return
        segment = SegmentFile(
            track.attempt_id,
            track.track,
            writer.path,
            name,
            started,
            max(writer.last_ms, 0) / 1000,
            writer.frames,
            size,
            writer.width,
            writer.height,
        )
        self.segments_written += 1
        self._call_soon(lambda: self.spawn(self._stored(segment)))

    def _call_soon(self, callback: Callable[[], Any]) -> None:
        if self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(callback)

    async def _stored(self, segment: SegmentFile) -> None:
        try:
            await self.on_segment(segment)
        except Exception:
            log.exception("recording segment %s could not be stored", segment.name)
            self.failures += 1
