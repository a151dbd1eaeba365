"""Offer checks: bad SDP, no video, codecs we do not accept → clear errors."""

from __future__ import annotations

import pytest
from aiortc import AudioStreamTrack, RTCPeerConnection

from tests.support.rtc_peers import FakeCamera
from tests.support.sdp import without_codec
from webrtc.errors import RtcError
from webrtc.offers import MAX_SDP_BYTES, check_offer


async def camera_offer() -> str:
    pc = RTCPeerConnection()
    pc.addTrack(FakeCamera())
    await pc.setLocalDescription(await pc.createOffer())
    sdp = pc.localDescription.sdp
    await pc.close()
    return sdp


async def test_a_camera_offer_passes() -> None:
    check_offer(await camera_offer())


@pytest.mark.parametrize(
    ("sdp", "code"),
    [
        ("", "bad_sdp"),
        ("hello", "bad_sdp"),
        ("v=0\r\nm=video\r\n", "bad_sdp"),
        ("v=0\r\n" + "a=x\r\n" * (MAX_SDP_BYTES // 4), "bad_sdp"),
        ("v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n", "no_video"),
    ],
)
def test_junk_is_refused(sdp: str, code: str) -> None:
    with pytest.raises(RtcError) as err:
        check_offer(sdp)
    assert err.value.code == code


async def test_an_offer_without_vp8_is_refused() -> None:
    with pytest.raises(RtcError) as err:
        check_offer(without_codec(await camera_offer(), "VP8"))
    assert err.value.code == "codec_not_accepted"
    assert "VP8" in err.value.reason


async def test_a_receive_only_video_offer_is_refused() -> None:
    sdp = (await camera_offer()).replace("a=sendrecv", "a=recvonly")
    with pytest.raises(RtcError) as err:
        check_offer(sdp)
    assert err.value.code == "no_video"


async def test_an_offer_with_audio_is_refused() -> None:
    pc = RTCPeerConnection()
    pc.addTrack(FakeCamera())
    pc.addTrack(AudioStreamTrack())
    await pc.setLocalDescription(await pc.createOffer())
    sdp = pc.localDescription.sdp
    await pc.close()
    with pytest.raises(RtcError) as err:
        check_offer(sdp)
    assert err.value.code == "bad_sdp"
