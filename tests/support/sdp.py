"""SDP surgery for tests of refused offers."""

from __future__ import annotations

import re


def without_codec(sdp: str, name: str) -> str:
    """Drop every payload type of codec ``name`` (and its RTX) from the SDP."""
    lines = sdp.split("\r\n")
    drop = {
        m.group(1)
        for line in lines
        if (m := re.match(rf"a=rtpmap:(\d+) {name}/", line, re.IGNORECASE))
    }
    drop |= {
        m.group(1)
        for line in lines
        if (m := re.match(r"a=fmtp:(\d+) apt=(\d+)", line)) and m.group(2) in drop
    }
    out = []
    for line in lines:
        if line.startswith("m=video"):
            parts = line.split(" ")
            line = " ".join(parts[:3] + [p for p in parts[3:] if p not in drop])
        elif (m := re.match(r"a=(?:rtpmap|fmtp|rtcp-fb):(\d+) ", line)) and m.group(1) in drop:
            continue
        out.append(line)
    return "\r\n".join(out)
