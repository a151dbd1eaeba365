"""Uploaded documents: what a file really is, and where it is kept (rule B4).

The kind is decided by content, never by the name the browser sends:

* JPEG and PNG must start with their magic bytes, stay under a pixel limit
  (each side and in total, so a decompression bomb is refused before it is
  decoded), hold every row their header claims (``png_rows``) and decode
  completely with Pillow.  What is stored is a fresh encoding without EXIF or
  other metadata, turned upright (``image_clean``).
* A PDF must be a plain document: parseable, no scripts, automatic actions or
  embedded files, no second file hidden in it (``pdf_check``).

Files live under ``data_dir/uploads`` with random names, out of any public
folder; the routes serve them only after an authorization check.
"""

from __future__ import annotations

import hashlib
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from PIL import Image

from exam_api import image_clean, pdf_check, png_rows

MAX_UPLOAD_BYTES = 10 * 1024 * 1024
MAX_IMAGE_PIXELS = 40_000_000  # a 48-megapixel phone photo is scaled; 20000×20000 is not
MAX_IMAGE_SIDE = 12_000  # an A4 page scanned at 1200 dpi is 9921 pixels high

Kind = Literal["jpg", "png", "pdf"]
CONTENT_TYPES: dict[Kind, str] = {
    "jpg": "image/jpeg",
    "png": "image/png",
    "pdf": "application/pdf",
}

_JPEG_MAGIC = b"\xff\xd8\xff"
_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
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
    """What a file is, and the bytes to store: for images a clean re-encoding."""

    kind: Kind
    width: int | None = None
    height: int | None = None
    content: bytes = field(default=b"", repr=False)


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


def _check_image(data: bytes, kind: Literal["jpg", "png"], max_pixels: int) -> Sniffed:
    broken = UploadError("upload_image_broken", "图片文件已损坏或不完整，请重新上传")
    if kind == "png":
        # The size from the header, before anything is inflated.
        try:
            _check_pixels(*png_rows.header_size(data), max_pixels)
            png_rows.check_complete(data)
        except png_rows.PngIncomplete:
            raise broken from None
    try:
        image = image_clean.open_image(data, kind)
        _check_pixels(image.width, image.height, max_pixels)
        image_clean.load_all(image)
    except UploadError:
        raise
    except Image.DecompressionBombError:
        raise UploadError(
            "upload_image_too_large",
            f"图片尺寸过大，像素总数不能超过 {max_pixels // 1_000_000} 百万",
        ) from None
    except (OSError, SyntaxError, ValueError):
        raise broken from None
    try:
        clean = image_clean.reencode(image, kind)
    except (OSError, ValueError):
        raise broken from None
    return Sniffed(kind=kind, width=clean.width, height=clean.height, content=clean.data)


def _check_pixels(width: int, height: int, max_pixels: int) -> None:
    if width * height > max_pixels or max(width, height) > MAX_IMAGE_SIDE:
        raise UploadError(
            "upload_image_too_large",
            f"图片尺寸过大（{width}×{height}），像素总数不能超过 {max_pixels // 1_000_000} 百万，"
            f"边长不能超过 {MAX_IMAGE_SIDE} 像素",
        )


def _check_pdf(data: bytes) -> Sniffed:
    tail = data[-_PDF_TAIL_WINDOW:].rstrip(b"\r\n\t \x00")
    if not tail.endswith(b"%%EOF") or b"startxref" not in tail:
        raise UploadError("upload_pdf_broken", "PDF 文件不完整（缺少文件结尾），请重新导出后上传")
    try:
        pdf_check.check_pdf(data)
    except pdf_check.PdfRefused as exc:
        raise UploadError(exc.code, exc.message) from None
    return Sniffed(kind="pdf", content=data)


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
