"""Sample upload files, made in memory: good ones and the bad inputs of issue #5."""

from __future__ import annotations

import io
import struct
import zipfile
import zlib

from PIL import Image


def build_pdf(*extra: bytes, catalog_extra: bytes = b"", header: bytes = b"%PDF-1.4\n") -> bytes:
    """A one-page PDF with a correct xref; ``extra`` objects are numbered from 4 on.

    ``catalog_extra`` goes into the catalogue dictionary (``/OpenAction 4 0 R`` …).
    """
    objects = [
        b"<</Type/Catalog/Pages 2 0 R" + catalog_extra + b">>",
        b"<</Type/Pages/Kids[3 0 R]/Count 1>>",
        b"<</Type/Page/Parent 2 0 R/MediaBox[0 0 200 200]>>",
        *extra,
    ]
    out = bytearray(header)
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj" % number + body + b"endobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer<</Size %d/Root 1 0 R>>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


MINIMAL_PDF = build_pdf()

# PDFs with active content (issue #9): each must be refused.
JS_OPEN_ACTION = build_pdf(
    b"<</Type/Action/S/JavaScript/JS(app.alert(1))>>", catalog_extra=b"/OpenAction 4 0 R"
)
ACTIVE_PDFS = {
    "open-action-javascript": JS_OPEN_ACTION,
    # the same, with the name spelt with a #-escape: only a real parser sees it
    "escaped-name": build_pdf(
        b"<</Type/Action/S/J#61vaScript/J#53(app.alert(1))>>", catalog_extra=b"/OpenAction 4 0 R"
    ),
    "names-javascript": build_pdf(
        b"<</JavaScript 5 0 R>>",
        b"<</Names[(a) 6 0 R]>>",
        b"<</S/JavaScript/JS(this.print())>>",
        catalog_extra=b"/Names 4 0 R",
    ),
    "launch": build_pdf(b"<</S/Launch/F(cmd.exe)>>", catalog_extra=b"/OpenAction 4 0 R"),
    "additional-actions": build_pdf(b"<</S/GoTo/D[3 0 R/Fit]>>", catalog_extra=b"/AA<</O 4 0 R>>"),
    "embedded-file": build_pdf(
        b"<</EmbeddedFiles<</Names[(x.exe) 5 0 R]>>>>",
        b"<</Type/Filespec/F(x.exe)/EF<</F 6 0 R>>>>",
        b"<</Type/EmbeddedFile/Length 2>>stream\nMZ\nendstream",
        catalog_extra=b"/Names 4 0 R",
    ),
    "rich-media": build_pdf(b"<</Type/Annot/Subtype/RichMedia/RichMediaContent<<>>>>"),
    "xfa": build_pdf(b"<</Fields[]/XFA 5 0 R>>", b"(<xdp/>)", catalog_extra=b"/AcroForm 4 0 R"),
}


def pdf_with_goto_open_action() -> bytes:
    """A plain "open at page 1" action, as many producers write: allowed."""
    return build_pdf(catalog_extra=b"/OpenAction[3 0 R/Fit]")


def pdf_html_polyglot() -> bytes:
    """A valid PDF whose bytes are also an HTML page with a script."""
    return build_pdf(
        b"<</Length 60>>stream\n<html><body><script>alert(document.cookie)</script></body></html>\nendstream"
    )


def pdf_exe_polyglot() -> bytes:
    """A valid PDF carrying a Windows executable (MZ header pointing at a PE header)."""
    exe = b"MZ" + b"\x90" * 58 + (64).to_bytes(4, "little") + b"PE\x00\x00" + b"\x00" * 60
    return build_pdf(b"<</Length %d>>stream\n" % len(exe) + exe + b"\nendstream")


def pdf_elf_polyglot() -> bytes:
    elf = b"\x7fELF\x02\x01\x01" + b"\x00" * 57
    return build_pdf(b"<</Length %d>>stream\n" % len(elf) + elf + b"\nendstream")


def header_and_trailer_only() -> bytes:
    """What passed as a PDF before issue #9: the right first and last bytes, nothing between."""
    return b"%PDF-1.7\n" + b"<!-- " + b"A" * 200 + b" -->\nstartxref\n0\n%%EOF\n"


def png_with_missing_rows(width: int = 6300, height: int = 6300, rows: int = 100) -> bytes:
    """A PNG whose header claims ``width``×``height`` but whose data holds ``rows`` rows.

    The zlib stream is complete, so Pillow fills the rest with zeros and calls it loaded.
    """
    row = b"\x00" + b"\x80" * (width * 3)
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", zlib.compress(row * rows, 9))
        + _chunk(b"IEND", b"")
    )


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


GPS_LATITUDE = (40.0, 49.0, 12.5)  # Hohhot


def jpeg_with_gps(width: int = 64, height: int = 32, orientation: int = 6) -> bytes:
    """A phone photo: EXIF with a GPS position, the camera model and an orientation."""
    exif = Image.Exif()
    exif[0x0110] = "ProctorPhone 12"  # Model
    exif[0x0112] = orientation  # 6: the camera was turned, show rotated 90° clockwise
    gps = exif.get_ifd(0x8825)
    gps[1], gps[2] = "N", GPS_LATITUDE
    gps[3], gps[4] = "E", (111.0, 40.0, 30.0)
    out = io.BytesIO()
    Image.new("RGB", (width, height), (200, 30, 30)).save(out, format="JPEG", exif=exif)
    return out.getvalue()


def png_with_text_and_exif() -> bytes:
    from PIL import PngImagePlugin

    info = PngImagePlugin.PngInfo()
    info.add_text("Author", "张三 13800000000")
    exif = Image.Exif()
    exif[0x0110] = "ProctorPhone 12"
    out = io.BytesIO()
    Image.new("RGB", (40, 20), (30, 200, 30)).save(out, format="PNG", pnginfo=info, exif=exif)
    return out.getvalue()


def jpeg_bytes(width: int = 64, height: int = 48) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (200, 30, 30)).save(out, format="JPEG")
    return out.getvalue()


def png_bytes(width: int = 64, height: int = 48) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (30, 200, 30)).save(out, format="PNG")
    return out.getvalue()


def pdf_bytes() -> bytes:
    return MINIMAL_PDF


def truncated_pdf() -> bytes:
    return MINIMAL_PDF[: len(MINIMAL_PDF) // 2]


def truncated_jpeg() -> bytes:
    data = jpeg_bytes(400, 300)
    return data[: len(data) // 2]


def zip_bytes() -> bytes:
    """A zip archive: what a file named ``letter.jpg`` may really be."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("letter.txt", "not a picture")
    return out.getvalue()


def huge_png(width: int = 20_000, height: int = 20_000) -> bytes:
    """A real, complete 1-bit PNG of ``width``×``height`` pixels (a decompression bomb).

    All-white rows compress to almost nothing, so the file is small while the
    decoded picture would be hundreds of megabytes.
    """

    row = b"\x00" + b"\xff" * ((width + 7) // 8)
    packer = zlib.compressobj(9)
    parts = [packer.compress(row) for _ in range(height)]
    parts.append(packer.flush())
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", b"".join(parts))
        + _chunk(b"IEND", b"")
    )
