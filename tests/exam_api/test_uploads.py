"""Rule B4: uploads are judged by content, size capped, stored with random names."""

from __future__ import annotations

from pathlib import Path

import pytest

from exam_api.uploads import UploadError, resolve, sniff, store
from tests.support import files


@pytest.mark.parametrize(
    ("data", "kind"),
    [(files.jpeg_bytes(), "jpg"), (files.png_bytes(), "png"), (files.pdf_bytes(), "pdf")],
)
def test_accepted_kinds(data: bytes, kind: str) -> None:
    assert sniff(data).kind == kind


def test_image_dimensions_are_reported() -> None:
    sniffed = sniff(files.png_bytes(120, 80))
    assert (sniffed.width, sniffed.height) == (120, 80)


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (files.zip_bytes(), "upload_type"),  # a zip whatever its name says
        (b"GIF89a" + b"\x00" * 20, "upload_type"),
        (b"", "upload_empty"),
        (files.truncated_pdf(), "upload_pdf_broken"),
        (b"%PDF-x.y\n%%EOF", "upload_pdf_broken"),
        (files.truncated_jpeg(), "upload_image_broken"),
        (b"\xff\xd8\xff\xe0" + b"\x00" * 100, "upload_image_broken"),
    ],
)
def test_bad_files_are_refused_with_a_code(data: bytes, code: str) -> None:
    with pytest.raises(UploadError) as caught:
        sniff(data)
    assert caught.value.code == code
    assert caught.value.message


def test_size_cap_is_checked_before_content() -> None:
    with pytest.raises(UploadError) as caught:
        sniff(files.pdf_bytes() + b"\x00" * (50 * 1024 * 1024))
    assert caught.value.code == "upload_too_large"
    assert caught.value.status == 413


def test_20000_by_20000_png_is_refused_without_decoding() -> None:
    with pytest.raises(UploadError) as caught:
        sniff(files.huge_png())
    assert caught.value.code == "upload_image_too_large"
    assert "20000×20000" in caught.value.message


def test_pixel_limit_is_a_parameter() -> None:
    with pytest.raises(UploadError) as caught:
        sniff(files.png_bytes(200, 200), max_pixels=100 * 100)
    assert caught.value.code == "upload_image_too_large"
    assert "200×200" in caught.value.message


def test_store_uses_random_names_under_root(tmp_path: Path) -> None:
    data = files.pdf_bytes()
    first = store(tmp_path, data, "pdf")
    second = store(tmp_path, data, "pdf")
    assert first.relpath != second.relpath
    assert first.relpath.endswith(".pdf")
    assert resolve(tmp_path, first.relpath).read_bytes() == data
    assert first.sha256 == second.sha256 and first.size == len(data)


def test_resolve_refuses_paths_outside_root(tmp_path: Path) -> None:
    with pytest.raises(AssertionError):
        resolve(tmp_path, "../etc/passwd")
