"""Uploaded pictures: decoded completely, then re-encoded without metadata (rule B4, issue #9).

A phone photo of a commitment letter carries EXIF: the GPS position where it
was taken, the phone's model and serial, the time.  None of it is the
reviewer's business, so a stored picture is a fresh encoding of its pixels:
the EXIF orientation is applied first (so the letter stays upright), then the
pixels are written with no EXIF, XMP, text chunks or comments.  The colour
profile (ICC) is kept: it describes colours, not people, and the red of a seal
must look red.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass
from typing import Literal

from PIL import Image, ImageFile, ImageOps

JPEG_QUALITY = 90  # visually lossless for a scanned page; seals and small print stay sharp

ImageKind = Literal["jpg", "png"]
_FORMATS: dict[ImageKind, str] = {"jpg": "JPEG", "png": "PNG"}


@dataclass(frozen=True)
class CleanImage:
    data: bytes
    width: int
    height: int


def open_image(data: bytes, kind: ImageKind) -> Image.Image:
    """Read the header only (size, mode); the pixels are decoded by ``load_all``.

    The caller checks the size in between: Pillow's own bomb warning is
    silenced here, its error (at twice its limit) still raised.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        return Image.open(io.BytesIO(data), formats=[_FORMATS[kind]])


def load_all(image: Image.Image) -> None:
    """Decode every pixel; a truncated file raises ``OSError``, never filled in."""
    ImageFile.LOAD_TRUNCATED_IMAGES = False  # the default; stated because it is the point
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        image.load()


def reencode(image: Image.Image, kind: ImageKind) -> CleanImage:
    """The decoded ``image`` upright and written again with no metadata but its colour profile."""
    icc = image.info.get("icc_profile")
    upright = ImageOps.exif_transpose(image)  # a new image; ``image`` is left as it was
    # Pillow writes some of ``info`` back on save (JPEG comments); keep only
    # what the pixels need.
    upright.info = {k: v for k, v in upright.info.items() if k == "transparency"}
    out = io.BytesIO()
    options: dict[str, object] = {}
    if isinstance(icc, bytes):
        options["icc_profile"] = icc
    if kind == "jpg":
        if upright.mode not in ("RGB", "L", "CMYK"):
            upright = upright.convert("RGB")
        upright.save(out, format="JPEG", quality=JPEG_QUALITY, **options)
    else:
        upright.save(out, format="PNG", **options)
    return CleanImage(data=out.getvalue(), width=upright.width, height=upright.height)
