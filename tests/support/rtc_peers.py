"""Real aiortc peers on loopback for WebRTC tests: a synthetic camera and a pair."""

from __future__ import annotations

import asyncio
import fractions
from collections.abc import Callable

import av
import numpy as np
from aiortc import RTCPeerConnection, RTCRtpReceiver, RTCSessionDescription, VideoStreamTrack
from aiortc.mediastreams import MediaStreamError

from webrtc.loopback import enable_loopback_candidates

WIDTH, HEIGHT = 640, 480


def solid_picture(bgr: tuple[int, int, int]) -> np.ndarray:
    picture = np.zeros((HEIGHT, WIDTH, 3), dtype=np.uint8)
    picture[:, :] = bgr
    return picture


class FakeCamera(VideoStreamTrack):
    """A synthetic 640x480 camera showing one solid colour or a given picture."""

    def __init__(
        self, bgr: tuple[int, int, int] = (40, 160, 220), picture: np.ndarray | None = None
    ) -> None:
        super().__init__()
        self.bgr = bgr
        self.picture = picture
        self.frames_sent = 0

    async def recv(self) -> av.VideoFrame:
        pts, time_base = await self.next_timestamp()
        picture = self.picture if self.picture is not None else solid_picture(self.bgr)
        frame = av.VideoFrame.from_ndarray(picture, format="bgr24")
        frame.pts = pts
        frame.time_base = time_base if time_base else fractions.Fraction(1, 90000)
        self.frames_sent += 1
        return frame


class FakeScreen(VideoStreamTrack):
    """A synthetic 1280x720 "whole screen" (a white page under a dark title
    bar) at ``fps`` frames a second, as a screen share sends (rule J1)."""

    def __init__(self, fps: int = 2) -> None:
        super().__init__()
        self.picture = np.full((720, 1280, 3), 245, dtype=np.uint8)
        self.picture[:60, :] = (90, 60, 30)
        self.fps = fps
        self.frames_sent = 0
        self._started: float | None = None

    async def recv(self) -> av.VideoFrame:
        if self.readyState != "live":  # stopped: the share ends, as in a browser
            raise MediaStreamError
        loop = asyncio.get_running_loop()
        if self._started is None:
            self._started = loop.time()
        else:  # the source's own pace: one frame every 1/fps seconds
            await asyncio.sleep(max(0.0, self._started + self.frames_sent / self.fps - loop.time()))
        frame = av.VideoFrame.from_ndarray(self.picture, format="bgr24")
        frame.pts = self.frames_sent * (90000 // self.fps)
        frame.time_base = fractions.Fraction(1, 90000)
        self.frames_sent += 1
        return frame


async def connect_pair(
    camera: VideoStreamTrack,
    on_remote_description: Callable[[RTCRtpReceiver], None],
) -> tuple[RTCPeerConnection, RTCPeerConnection]:
    """Sender pc (with ``camera``) → receiver pc; ICE without trickle.

    ``on_remote_description`` runs on the receiver's video receiver right after
    ``setRemoteDescription``, before the receiver starts (where taps go).
    """
    enable_loopback_candidates()
    sender = RTCPeerConnection()
    receiver = RTCPeerConnection()
    sender.addTrack(camera)
    await sender.setLocalDescription(await sender.createOffer())
    offer = sender.localDescription
    await receiver.setRemoteDescription(RTCSessionDescription(offer.sdp, offer.type))
    for transceiver in receiver.getTransceivers():
        if transceiver.kind == "video":
            on_remote_description(transceiver.receiver)
    await receiver.setLocalDescription(await receiver.createAnswer())
    answer = receiver.localDescription
    await sender.setRemoteDescription(RTCSessionDescription(answer.sdp, answer.type))
    return sender, receiver


async def offer_camera(
    pc: RTCPeerConnection, base_url: str, pc_token: str, client_id: str | None = None
) -> None:
    """The PC page's side of the signalling: the whole offer (ICE gathered, since
    aiortc does not trickle) posted with the PC token, and the answer applied."""
    import httpx

    await pc.setLocalDescription(await pc.createOffer())
    body: dict[str, str] = {"token": pc_token, "sdp": pc.localDescription.sdp, "type": "offer"}
    if client_id is not None:
        body["client_id"] = client_id
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as http:
        answer = await http.post("/api/rtc/offer", json=body)
    assert answer.status_code == 200, answer.text
    await pc.setRemoteDescription(RTCSessionDescription(**answer.json()))
