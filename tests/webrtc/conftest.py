"""Fixtures of the WebRTC tests."""

from tests.support.rtc_server import rtc_server, rtc_settings

__all__ = ["rtc_server", "rtc_settings"]
