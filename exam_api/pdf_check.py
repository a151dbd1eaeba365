"""Is this PDF a plain document?  Structure, active content, polyglots (rule B4, issue #9).

A reviewer opens the commitment letter in a PDF viewer, so the file must be a
document and nothing else:

* it parses as a PDF (``pypdf``: header at offset 0, an xref table or object
  structure with a ``/Root`` catalogue and at least one page), and is not
  encrypted (we could not look inside);
* no object anywhere in it carries active content: JavaScript, launch or
  submit actions, additional actions (``/AA``), embedded files, rich media or
  XFA forms.  ``/OpenAction`` itself is allowed when it is a plain "go to
  page" (many producers write one); an action dictionary behind it is judged
  like every other;
* its raw bytes hold no second file a browser or an OS would run instead: HTML
  or script markup, a Windows PE or an ELF executable, a ZIP archive.

The checks are pure functions of the bytes; ``PdfRefused`` carries the code
and the zh-CN reason.
"""

from __future__ import annotations

import io
import re
import struct
from collections.abc import Iterator
from dataclasses import dataclass

from pypdf import PdfReader
from pypdf.generic import ArrayObject, DictionaryObject, IndirectObject, NameObject, PdfObject

MAX_OBJECTS = 200_000  # a budget for the walk: a 10 MB file has far fewer objects
MAX_PAGES = 500

# Keys whose mere presence means active content (PDF 32000-1 §12.6, §12.5.6.18, §7.11.4).
ACTIVE_KEYS = frozenset(
    {"/JS", "/JavaScript", "/AA", "/Launch", "/EmbeddedFile", "/EmbeddedFiles", "/EF",
     "/RichMedia", "/RichMediaContent", "/RichMediaSettings", "/XFA"}
)  # fmt: skip
# Action types (/S) that run code, open other files or send data away.
ACTIVE_ACTIONS = frozenset(
    {"/JavaScript", "/Launch", "/SubmitForm", "/ImportData", "/GoToR", "/GoToE",
     "/RichMediaExecute", "/Rendition", "/Movie", "/Sound"}
)  # fmt: skip
ACTIVE_TYPES = frozenset({"/EmbeddedFile", "/Filespec", "/RichMedia"})

# A second file inside the bytes.  HTML tags whose names hold a non-hex letter,
# so a PDF hex string (``<48656c6c6f>``) never matches.
_HTML = re.compile(
    rb"<\s*(?:script|html|body|iframe|object|embed|svg|meta|!doctype\s+html)\b", re.IGNORECASE
)
_HEADER = re.compile(rb"%PDF-[12]\.\d")  # at offset 0: ``match``, not ``search``
_ELF = re.compile(rb"\x7fELF[\x01\x02][\x01\x02]\x01")
_ZIP = re.compile(rb"PK\x03\x04[\x0a-\x3f]\x00")
_MZ = re.compile(rb"MZ")


@dataclass(frozen=True)
class PdfRefused(Exception):
    code: str
    message: str

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"


def check_pdf(data: bytes) -> None:
    """Return if ``data`` is a plain PDF document; raise ``PdfRefused`` saying why not."""
    if not _HEADER.match(data):
        raise PdfRefused("upload_pdf_broken", "PDF 文件头不正确，文件可能已损坏")
    embedded = embedded_foreign_file(data)
    if embedded is not None:
        raise PdfRefused(
            "upload_pdf_polyglot",
            f"PDF 文件中夹带了其他类型的内容（{embedded}），不予接收；请用打印或导出功能重新生成 PDF 后上传",
        )
    reader = _parse(data)
    found = first_active_content(reader)
    if found is not None:
        raise PdfRefused(
            "upload_pdf_active",
            f"PDF 含有脚本、自动执行的动作或嵌入文件（{found}），出于安全原因不予接收；"
            "请用打印为 PDF 的方式重新生成后上传",
        )


def embedded_foreign_file(data: bytes) -> str | None:
    """The kind of a second file hidden in the raw bytes (HTML, PE, ELF, ZIP), or None."""
    if _HTML.search(data):
        return "HTML/脚本"
    if _ELF.search(data):
        return "ELF 可执行文件"
    if _ZIP.search(data):
        return "ZIP 压缩包"
    for match in _MZ.finditer(data):
        start = match.start()
        header = data[start + 0x3C : start + 0x40]
        if len(header) < 4:
            break
        (pe_offset,) = struct.unpack("<I", header)
        if data[start + pe_offset : start + pe_offset + 4] == b"PE\x00\x00":
            return "Windows 可执行文件"
    return None


def _parse(data: bytes) -> PdfReader:
    broken = PdfRefused(
        "upload_pdf_broken", "PDF 文件结构无法解析，文件可能已损坏，请重新导出后上传"
    )
    try:
        # strict=False repairs a slightly wrong xref the way viewers do; a file
        # with no object structure at all still fails here.
        reader = PdfReader(io.BytesIO(data), strict=False)
        if reader.is_encrypted:
            raise PdfRefused("upload_pdf_encrypted", "PDF 已加密或设有密码，请去除密码后重新上传")
        pages = len(reader.pages)
    except PdfRefused:
        raise
    except Exception:  # a parser of hostile input fails in many ways; each means "broken"
        raise broken from None
    if pages == 0:
        raise PdfRefused("upload_pdf_broken", "PDF 文件没有任何页面，请重新导出后上传")
    if pages > MAX_PAGES:
        raise PdfRefused("upload_pdf_too_long", f"PDF 页数过多（{pages} 页），最多 {MAX_PAGES} 页")
    return reader


def first_active_content(reader: PdfReader) -> str | None:
    """The name of the first active-content marker in any object of ``reader``, or None."""
    try:
        for obj in _objects(reader):
            if isinstance(obj, DictionaryObject):
                found = _active_in(obj)
                if found is not None:
                    return found
    except PdfRefused:
        raise
    except Exception:
        raise PdfRefused(
            "upload_pdf_broken", "PDF 文件结构无法解析，文件可能已损坏，请重新导出后上传"
        ) from None
    return None


def _active_in(obj: DictionaryObject) -> str | None:
    # dict's own methods: pypdf's subclasses resolve references or iterate
    # outline children instead of keys.
    for key in dict.keys(obj):
        if key in ACTIVE_KEYS:
            return str(key)
    action = _resolved(dict.get(obj, "/S"))
    if isinstance(action, NameObject) and action in ACTIVE_ACTIONS:
        return str(action)
    kind = _resolved(dict.get(obj, "/Type"))
    if isinstance(kind, NameObject) and kind in ACTIVE_TYPES:
        return str(kind)
    return None


def _resolved(obj: object) -> object:
    return obj.get_object() if isinstance(obj, IndirectObject) else obj


def _objects(reader: PdfReader) -> Iterator[PdfObject]:
    """Every object reachable from the trailer and every object the xref lists, once each.

    Iterative with a budget: a hostile file can nest deeply or hold cycles.
    """
    roots: list[PdfObject] = [reader.trailer]
    for generation, table in reader.xref.items():
        roots.extend(IndirectObject(num, generation, reader) for num in table)
    roots.extend(IndirectObject(num, 0, reader) for num in reader.xref_objStm)
    stack = roots
    seen: set[tuple[int, int]] = set()
    budget = MAX_OBJECTS
    while stack:
        budget -= 1
        if budget < 0:
            raise PdfRefused("upload_pdf_too_complex", "PDF 文件结构过于复杂，请重新导出后上传")
        obj = stack.pop()
        if isinstance(obj, IndirectObject):
            ref = (obj.idnum, obj.generation)
            if ref in seen:
                continue
            seen.add(ref)
            resolved = obj.get_object()
            if resolved is None:
                continue
            obj = resolved
        yield obj
        if isinstance(obj, DictionaryObject):
            stack.extend(dict.values(obj))
        elif isinstance(obj, ArrayObject):
            stack.extend(list.__iter__(obj))
