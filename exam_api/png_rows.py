"""Does a PNG hold every row it claims?  (rule B4, issue #9)

Pillow fills a picture whose compressed data ends early with zeros and calls
it loaded: a file claiming 6300×6300 pixels with 100 rows of data "decodes".
This module reads the chunk layout itself and inflates the image data,
counting bytes without keeping them, and compares with the size that the
header's width, height, bit depth, colour type and interlacing require.
"""

from __future__ import annotations

import struct
import zlib

SIGNATURE = b"\x89PNG\r\n\x1a\n"
_CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}
# Adam7 passes: x start, y start, x step, y step (PNG spec §8.2)
_ADAM7 = (
    (0, 0, 8, 8),
    (4, 0, 8, 8),
    (0, 4, 4, 8),
    (2, 0, 4, 4),
    (0, 2, 2, 4),
    (1, 0, 2, 2),
    (0, 1, 1, 2),
)
_INFLATE_STEP = 1 << 20


class PngIncomplete(ValueError):
    """The PNG's layout or its data does not match its header."""


def header_size(data: bytes) -> tuple[int, int]:
    """(width, height) from the IHDR chunk; raises ``PngIncomplete`` if there is none."""
    if not data.startswith(SIGNATURE) or data[12:16] != b"IHDR" or len(data) < 33:
        raise PngIncomplete("no IHDR chunk")
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def expected_raw_size(width: int, height: int, bit_depth: int, colour: int, interlace: int) -> int:
    """Bytes of filtered scanlines (filter byte included) that the header calls for."""
    if colour not in _CHANNELS:
        raise PngIncomplete(f"colour type {colour}")
    bits = bit_depth * _CHANNELS[colour]

    def rows(w: int, h: int) -> int:
        return 0 if w == 0 or h == 0 else h * (1 + (w * bits + 7) // 8)

    if interlace == 0:
        return rows(width, height)
    total = 0
    for x0, y0, dx, dy in _ADAM7:
        pass_w = (width - x0 + dx - 1) // dx if width > x0 else 0
        pass_h = (height - y0 + dy - 1) // dy if height > y0 else 0
        total += rows(pass_w, pass_h)
    return total


def check_complete(data: bytes) -> None:
    """Return if the image data inflates to exactly the header's size and IEND ends the file.

    Call after the pixel-count check: the inflated bytes are counted, not kept,
    but inflating a bomb still costs time.
    """
    header_size(data)
    width, height, bit_depth, colour, _compression, _filter, interlace = struct.unpack(
        ">IIBBBBB", data[16:29]
    )
    expected = expected_raw_size(width, height, bit_depth, colour, interlace)
    inflater = zlib.decompressobj()
    produced = 0
    pos = len(SIGNATURE)
    ended = False
    while pos + 12 <= len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind = data[pos + 4 : pos + 8]
        body = data[pos + 8 : pos + 8 + length]
        if len(body) != length or len(data) < pos + 12 + length:
            raise PngIncomplete(f"chunk {kind!r} cut short")
        pos += 12 + length
        if kind == b"IEND":
            ended = True
            break
        if kind != b"IDAT":
            continue
        pending = body
        try:
            while not inflater.eof:
                out = len(inflater.decompress(pending, _INFLATE_STEP))
                produced += out
                pending = inflater.unconsumed_tail
                if produced > expected:
                    raise PngIncomplete("more image data than the header allows")
                if not pending and out < _INFLATE_STEP:
                    break  # this chunk is used up and nothing is held back
        except zlib.error as exc:
            raise PngIncomplete(f"image data: {exc}") from None
    if not ended:
        raise PngIncomplete("no IEND chunk")
    if not inflater.eof or produced != expected:
        raise PngIncomplete(f"{produced} of {expected} bytes of image data")
