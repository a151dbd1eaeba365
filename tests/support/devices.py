"""Both candidate devices connected with their cameras live as the server
measures them (rules D1, H9), for tests whose subject is answering rather
than the devices themselves: the PC sends real WebRTC video from a synthetic
camera (an aiortc peer), the phone answers the capture request its "camera
live" brings with a real JPEG."""

from __future__ import annotations

from contextlib import AsyncExitStack
from typing import Any

from aiortc import RTCPeerConnection

from hub.protocol import encode_photo
from tests.support.faces import jpeg_of, picture_with_faces
from tests.support.hub_client import DeviceClient, HubAttempt
from tests.support.rtc_peers import FakeCamera, FakeScreen, offer_camera

FACE_PHOTO = jpeg_of(picture_with_faces(1))  # the phone's view: one person (rule H6)


def http_url(ws_url: str) -> str:
    return "http" + ws_url.removeprefix("ws")


async def phone_proves_camera(phone: DeviceClient) -> dict[str, Any]:
    """The phone starts (rule D4: a photo at once), answers with a photo and
    says its camera is live; the photo, not the word, makes it live (rule
    H9). Returns the photo's ack."""
    start = await phone.call("phone_start")
    assert start["type"] == "ack", start
    capture = await phone.wait_for("capture", reason="start")
    reply = await send_photo(phone, capture["request_id"])
    hint = await phone.call("camera", state="live")
    assert hint["type"] == "ack", hint
    return reply


async def send_photo(
    phone: DeviceClient, request_id: int, jpeg: bytes | None = None
) -> dict[str, Any]:
    """Answer a capture request with a JPEG (the binary photo frame); the ack."""
    phone.seq += 1
    seq = phone.seq
    await phone.ws.send(encode_photo(seq, request_id, jpeg or FACE_PHOTO))
    while True:
        message = await phone.recv()
        if message["type"] in ("ack", "error") and message.get("seq") == seq:
            phone.inbox.remove(message)
            return message


async def pc_camera(ws_url: str, pc_token: str) -> RTCPeerConnection:
    """A real WebRTC camera and screen share for the attempt's PC (what the
    exam page sends)."""
    pc = RTCPeerConnection()
    pc.addTrack(FakeCamera(picture=picture_with_faces(1)))  # a candidate in view (H6)
    pc.addTrack(FakeScreen())  # rule J1: the whole screen, the offer's second video
    await offer_camera(pc, http_url(ws_url), pc_token)
    return pc


async def live_pair(
    ws_url: str, pc_token: str, phone_token: str
) -> tuple[DeviceClient, DeviceClient, RTCPeerConnection]:
    """Both devices connected, both cameras live as measured: (pc, phone,
    the PC's camera peer). The caller closes all three."""
    pc = await DeviceClient.connect(ws_url, "pc", pc_token)
    phone = await DeviceClient.connect(ws_url, "phone", phone_token)
    photo = await phone_proves_camera(phone)
    assert photo["type"] == "ack", photo
    peer = await pc_camera(ws_url, pc_token)
    await pc.wait_for("state", can_answer=True)
    return pc, phone, peer


class Devices:
    """Keeps every device socket and camera peer a test opened; the fixture
    closes them at teardown."""

    def __init__(self) -> None:
        self.stack = AsyncExitStack()
        self.opened: list[tuple[DeviceClient, DeviceClient]] = []  # (pc, phone) pairs

    async def live(
        self, ws_url: str, start: dict[str, Any] | HubAttempt
    ) -> tuple[DeviceClient, DeviceClient]:
        """Connect the PC and the phone of the attempt ``start`` (the start
        call's answer, or a ``HubAttempt``) and bring both cameras live as
        the server measures them; returns once answering is allowed."""
        tokens = (
            start
            if isinstance(start, dict)
            else {
                "pc_token": start.pc_token,
                "phone_token": start.phone_token,
            }
        )
        pc, phone, peer = await live_pair(ws_url, tokens["pc_token"], tokens["phone_token"])
        self.stack.push_async_callback(pc.close)
        self.stack.push_async_callback(phone.close)
        self.stack.push_async_callback(peer.close)
        self.opened.append((pc, phone))
        return pc, phone

    async def aclose(self) -> None:
        await self.stack.aclose()
