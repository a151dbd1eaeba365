"""HTTP routes of the WebRTC ingest (see ``webrtc/endpoints.py``)."""

from __future__ import annotations

from starlette.routing import BaseRoute, Route

from webrtc.endpoints import (
    attempt_snapshots,
    delete_evidence,
    offer,
    snapshot_image,
)
from webrtc.recordings import routes as recording_routes

routes: list[BaseRoute] = [
    Route("/api/rtc/offer", offer, methods=["POST"]),
    Route("/api/rtc/attempts/{attempt_id:int}/snapshots", attempt_snapshots, methods=["GET"]),
    Route("/api/rtc/snapshots/{snapshot_id:int}/image", snapshot_image, methods=["GET"]),
    Route("/api/rtc/attempts/{attempt_id:int}/evidence", delete_evidence, methods=["DELETE"]),
    *recording_routes,  # rule K1: the recording's segments and their playback
]
