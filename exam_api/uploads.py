"""Uploaded documents: what a file really is, and where it is kept (rule B4).

The kind is decided by content, never by the name the browser sends: JPEG and
PNG must start with their magic bytes *and* decode completely with Pillow
under a pixel limit (so a truncated picture or a decompression bomb is
refused); a PDF must start with ``%PDF-1.x`` and end with ``%%EOF`` after a
``startxref``.  Files live under ``data_dir/uploads`` with random names, out
of any public folder; the routes serve them only after an authorization check.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import secrets
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from PIL import Image

MAX_UPLOAD_BYTES = 10 * 1024 * 1024
MAX_IMAGE_PIXELS = 40_000_000  # a 48-megapixel phone photo is scaled; 20000×20000 is not

Kind = Literal["jpg", "png", "pdf"]
CONTENT_TYPES: dict[Kind, str] = {
    "jpg": "image/jpeg",
    "png": "image/png",
    "pdf": "application/pdf",
}

_JPEG_MAGIC = b"\xff\xd8\xff"
_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
_PDF_HEADER = re.compile(rb"%PDF-[12]\.\d")
_PDF_TAIL_WINDOW = 1024


class UploadError(ValueError):
    """A refused upload; ``code`` for programs, ``message`` for the candidate."""

    def __init__(self, code: str, message: str, status: int = 422) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status


@dataclass(frozen=True)
class Sniffed:
    kind: Kind
    width: int | None = None
    height: int | None = None


def sniff(
    data: bytes, *, max_bytes: int = MAX_UPLOAD_BYTES, max_pixels: int = MAX_IMAGE_PIXELS
) -> Sniffed:
    """Decide what ``data`` is, or raise ``UploadError`` saying why it is refused.

    CPU-bound for large images: call it from a worker thread in async code.
    """
    if not data:
        raise UploadError("upload_empty", "文件为空，请重新选择")
    if len(data) > max_bytes:
        raise UploadError(
            "upload_too_large",
            f"文件过大：最大 {max_bytes // (1024 * 1024)} MB",
            status=413,
        )
    if data.startswith(_JPEG_MAGIC):
        return _check_image(data, "jpg", max_pixels)
    if data.startswith(_PNG_MAGIC):
        return _check_image(data, "png", max_pixels)
    if data.startswith(b"%PDF-"):
        return _check_pdf(data)
    raise UploadError(
        "upload_type",
        "文件类型不支持：只接受 jpg、png 或 pdf 文件（按文件内容识别，不看扩展名）",
    )


def _check_image(data: bytes, kind: Kind, max_pixels: int) -> Sniffed:
    broken = UploadError("upload_image_broken", "图片文件已损坏或不完整，请重新上传")
    try:
        with warnings.catch_warnings():
            # Pillow warns (and later raises) about bombs; the explicit check below decides.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data), formats=["JPEG" if kind == "jpg" else "PNG"])
            width, height = image.size
            if width * height > max_pixels:
                raise UploadError(
                    "upload_image_too_large",
                    f"图片尺寸过大（{width}×{height}），像素总数不能超过 {max_pixels // 1_000_000} 百万",
                )
            image.load()  # decodes every pixel: a truncated file fails here
    except UploadError:
        raise
    except Image.DecompressionBombError:
        # Pillow refuses before we can ask the size; a PNG states it in its header.
        size = ""
        if kind == "png" and len(data) >= 24:
            size = f"（{int.from_bytes(data[16:20], 'big')}×{int.from_bytes(data[20:24], 'big')}）"
        raise UploadError(
            "upload_image_too_large",
            f"图片尺寸过大{size}，像素总数不能超过 {max_pixels // 1_000_000} 百万",
        ) from None
    except (OSError, SyntaxError, ValueError):
        raise broken from None
    return Sniffed(kind=kind, width=width, height=height)


def _check_pdf(data: bytes) -> Sniffed:
    if not _PDF_HEADER.match(data):
        raise UploadError("upload_pdf_broken", "PDF 文件头不正确，文件可能已损坏")
    tail = data[-_PDF_TAIL_WINDOW:].rstrip(b"\r\n\t \x00")
    if not tail.endswith(b"%%EOF") or b"startxref" not in tail:
        raise UploadError("upload_pdf_broken", "PDF 文件不完整（缺少文件结尾），请重新导出后上传")
    return Sniffed(kind="pdf")


@dataclass(frozen=True)
class StoredFile:
    relpath: str  # relative to the uploads root, e.g. "ab/ab3f…e1.pdf"
    sha256: str
    size: int


def uploads_root(data_dir: Path) -> Path:
    return data_dir / "uploads"


def store(root: Path, data: bytes, kind: Kind) -> StoredFile:
    """Write ``data`` under ``root`` with a random name; returns where it went."""
    name = secrets.token_hex(16)
    relpath = f"{name[:2]}/{name}.{kind}"
    path = root / relpath
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_suffix(".part")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    return StoredFile(relpath=relpath, sha256=hashlib.sha256(data).hexdigest(), size=len(data))


def resolve(root: Path, relpath: str) -> Path:
    """The absolute path of a stored file; refuses anything outside ``root``."""
    path = (root / relpath).resolve()
    assert path.is_relative_to(root.resolve()), relpath
    return path
