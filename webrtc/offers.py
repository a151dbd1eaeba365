"""Checks on a PC camera offer before any peer is built (bad input → clear error).

An offer must be SDP that aiortc can parse, carry one video section that
sends (the camera) or two (the camera, then the screen share, rule J1) and
no audio, and offer VP8 on each — the only codec whose keyframes
``webrtc/keyframes.py`` recognises (Chromium always offers it). Nothing is
created or changed when a check fails.
"""

from __future__ import annotations

from aiortc.sdp import SessionDescription

from webrtc.errors import RtcError

MAX_SDP_BYTES = 64 * 1024
ACCEPTED_VIDEO_CODECS = ("VP8",)
MAX_VIDEOS = 2  # the camera, then the screen share (rule J1, webrtc/screen.py)


def check_offer(sdp: str) -> None:
    """Raise ``RtcError`` (bad_sdp / no_video / codec_not_accepted) unless usable."""
    if len(sdp) > MAX_SDP_BYTES:
        raise RtcError("bad_sdp", "SDP 过长")
    if not sdp.startswith("v=0"):
        raise RtcError("bad_sdp", "不是有效的 SDP（应以 v=0 开头）")
    try:
        parsed = SessionDescription.parse(sdp)
    except Exception as exc:  # aiortc's parser asserts or raises anything on junk
        raise RtcError("bad_sdp", f"SDP 无法解析：{exc!r}") from None
    if any(m.kind == "audio" and m.port != 0 for m in parsed.media):
        # aiortc would decode audio too, into a queue nobody reads
        raise RtcError("bad_sdp", "只接受摄像头视频，不接受音频")
    videos = [m for m in parsed.media if m.kind == "video" and m.port != 0]
    if not videos:
        raise RtcError("no_video", "未包含摄像头视频，请允许使用摄像头后重试")
    if len(videos) > MAX_VIDEOS:
        raise RtcError("bad_sdp", "只接受摄像头和屏幕共享两路视频")
    for video in videos:
        if video.direction not in (None, "sendonly", "sendrecv"):
            raise RtcError("no_video", "视频未处于发送状态")
        names = {codec.name.upper() for codec in video.rtp.codecs}
        if not names.intersection(ACCEPTED_VIDEO_CODECS):
            offered = ", ".join(sorted(names)) or "无"
            raise RtcError("codec_not_accepted", f"不支持的视频编码（{offered}），需要 VP8")
        if video.ice is None or not video.ice.usernameFragment or video.dtls is None:
            raise RtcError("bad_sdp", "SDP 缺少 ICE 或 DTLS 参数")
