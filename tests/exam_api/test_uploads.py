"""Rule B4: uploads are judged by content, size capped, stored with random names."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image

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


# ---------------------------------------------------------------- issue #9: trust


@pytest.mark.parametrize("name", sorted(files.ACTIVE_PDFS))
def test_pdf_with_active_content_is_refused(name: str) -> None:
    with pytest.raises(UploadError) as caught:
        sniff(files.ACTIVE_PDFS[name])
    assert caught.value.code == "upload_pdf_active"
    assert "安全" in caught.value.message
    assert 400 <= caught.value.status < 500


def test_pdf_opening_at_page_one_is_accepted() -> None:
    """``/OpenAction`` as a plain destination is what many producers write: not active."""
    assert sniff(files.pdf_with_goto_open_action()).kind == "pdf"


@pytest.mark.parametrize(
    ("data", "what"),
    [
        (files.pdf_html_polyglot(), "HTML"),
        (files.pdf_exe_polyglot(), "Windows"),
        (files.pdf_elf_polyglot(), "ELF"),
    ],
)
def test_polyglot_pdf_is_refused(data: bytes, what: str) -> None:
    with pytest.raises(UploadError) as caught:
        sniff(data)
    assert caught.value.code == "upload_pdf_polyglot"
    assert what in caught.value.message


def test_pdf_with_only_a_header_and_a_trailer_is_refused() -> None:
    with pytest.raises(UploadError) as caught:
        sniff(files.header_and_trailer_only())
    assert caught.value.code == "upload_pdf_broken"


def test_pdf_header_must_be_at_offset_zero() -> None:
    with pytest.raises(UploadError) as caught:
        sniff(b"\n" + files.pdf_bytes())
    assert caught.value.code == "upload_type"


def test_png_missing_most_of_its_rows_is_refused() -> None:
    """6300×6300 claimed, 100 rows sent: Pillow would fill in the rest."""
    with pytest.raises(UploadError) as caught:
        sniff(files.png_with_missing_rows())
    assert caught.value.code == "upload_image_broken"


def test_interlaced_png_is_accepted_whole() -> None:
    out = io.BytesIO()
    Image.new("RGB", (37, 23), (1, 2, 3)).save(out, format="PNG", interlace=1)
    assert (sniff(out.getvalue()).width, sniff(out.getvalue()).height) == (37, 23)


def test_a_very_long_side_is_refused_even_under_the_pixel_count() -> None:
    with pytest.raises(UploadError) as caught:
        sniff(files.png_bytes(13_000, 2))
    assert caught.value.code == "upload_image_too_large"
    assert "13000×2" in caught.value.message


def test_jpeg_is_stored_upright_without_exif_or_gps() -> None:
    original = files.jpeg_with_gps(width=64, height=32, orientation=6)
    assert Image.open(io.BytesIO(original)).getexif().get_ifd(0x8825)  # the sample has GPS
    sniffed = sniff(original)
    clean = Image.open(io.BytesIO(sniffed.content))
    assert clean.format == "JPEG"
    assert not clean.getexif()
    assert "exif" not in clean.info
    assert b"ProctorPhone" not in sniffed.content
    assert clean.size == (32, 64) == (sniffed.width, sniffed.height)  # orientation 6 applied


def test_png_is_stored_without_text_or_exif() -> None:
    sniffed = sniff(files.png_with_text_and_exif())
    clean = Image.open(io.BytesIO(sniffed.content))
    assert clean.format == "PNG"
    assert "Author" not in clean.info and "exif" not in clean.info
    assert b"ProctorPhone" not in sniffed.content
    assert "张三".encode() not in sniffed.content


def test_pdf_is_stored_as_sent() -> None:
    assert sniff(files.pdf_bytes()).content == files.pdf_bytes()
