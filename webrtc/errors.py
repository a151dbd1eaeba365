"""Errors of the WebRTC ingest: a stable code, a reason a candidate can read."""

from __future__ import annotations

from proctor.errors import ProctorError

# code -> HTTP status for the signalling and upload endpoints.
HTTP_STATUS: dict[str, int] = {
    "bad_request": 400,
    "bad_sdp": 400,
    "no_video": 400,
    "codec_not_accepted": 415,
    "bad_photo": 400,
    "photo_too_large": 413,
    "wrong_attempt": 403,
    "bad_token": 401,
    "peer_exists": 409,
    "attempt_closed": 409,
    "no_peer": 404,
    "busy": 503,
    "too_many_photos": 429,
    "track_ended": 409,
    "keyframe_timeout": 504,
    "bad_keyframe": 502,
    "bad_offer": 400,
    "wrong_device": 403,
    "not_found": 404,
    "reason_required": 400,
    "range_not_satisfiable": 416,  # a recording's byte range (webrtc/recordings.py)
    "live_still_timeout": 503,
    "live_video_timeout": 503,
    "too_many_viewers": 503,
}


class RtcError(ProctorError):
    """A refused input or a failed media operation, with a code and a reason."""

    def __init__(self, code: str, reason: str) -> None:
        super().__init__(code, reason)
        self.http_status = HTTP_STATUS.get(code, 400)
