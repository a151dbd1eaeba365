"""Parse a question file (CSV or JSON) into validated drafts. Pure: bytes in.

The administrator's import (rule C4, issue #5 "Admin import of questions
from a CSV or JSON file") is all or nothing: :func:`parse_question_file`
returns every row's error at once, and the caller stores the questions only
when there is none, so a file is never half imported.

CSV: one question per row, a header row naming the columns in Chinese or
English (order free)::

    题型,题干,A,B,C,D,答案,分值,解析
    单选,施工现场……,选项一,选项二,选项三,选项四,B,2,……

Spreadsheets in China often save CSV as GBK: the bytes are read as UTF-8
(with or without BOM) and, failing that, as GB18030.

JSON: a list of objects, or ``{"questions": [...]}``, each with ``kind``,
``stem``, ``options`` (list), ``answer``, ``points``, ``explanation``
(Chinese keys 题型/题干/选项/答案/分值/解析 also accepted).
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field
from typing import Any

from exam_api.question_rules import (
    LETTERS,
    QuestionDraft,
    QuestionError,
    build_question,
    fingerprint,
)

MAX_FILE_BYTES = 2 * 1024 * 1024
MAX_QUESTIONS = 2000
MAX_ERRORS = 200

_COLUMN_ALIASES: dict[str, str] = {
    "题型": "kind",
    "类型": "kind",
    "type": "kind",
    "kind": "kind",
    "题干": "stem",
    "题目": "stem",
    "stem": "stem",
    "question": "stem",
    "答案": "answer",
    "正确答案": "answer",
    "answer": "answer",
    "分值": "points",
    "分数": "points",
    "points": "points",
    "score": "points",
    "解析": "explanation",
    "explanation": "explanation",
    "选项": "options",
    "options": "options",
}
for _letter in LETTERS:
    for _name in (_letter, f"选项{_letter}", f"option_{_letter}", f"option{_letter}"):
        _COLUMN_ALIASES[_name.lower()] = f"option:{_letter}"


@dataclass(frozen=True, slots=True)
class RowError:
    """One problem in the file. ``row`` is the line a spreadsheet shows
    (the CSV header is row 1) or the 1-based position in a JSON list; 0 for
    the file as a whole."""

    row: int
    field: str
    message: str

    def to_json(self) -> dict[str, Any]:
        return {"row": self.row, "field": self.field, "message": self.message}


@dataclass(slots=True)
class ParsedFile:
    questions: list[QuestionDraft] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


def decode_text(data: bytes) -> str:
    """UTF-8 (BOM optional), else GB18030; raises QuestionError on binary."""
    if b"\x00" in data[:4096]:
        raise QuestionError("file", "文件不是文本（CSV 或 JSON）")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("gb18030")
    except UnicodeDecodeError:
        raise QuestionError("file", "无法识别文件编码，请保存为 UTF-8 或 GBK") from None


def parse_question_file(data: bytes) -> ParsedFile:
    """Parse CSV or JSON (told apart by content, not by name)."""
    result = ParsedFile()
    if len(data) > MAX_FILE_BYTES:
        result.errors.append(
            RowError(0, "file", f"文件过大（最大 {MAX_FILE_BYTES // 1024 // 1024} MB）")
        )
        return result
    try:
        text = decode_text(data)
    except QuestionError as exc:
        result.errors.append(RowError(0, exc.field, exc.message))
        return result
    if not text.strip():
        result.errors.append(RowError(0, "file", "文件是空的"))
        return result
    if text.lstrip()[:1] in ("[", "{"):
        _parse_json(text, result)
    else:
        _parse_csv(text, result)
    if not result.errors and not result.questions:
        result.errors.append(RowError(0, "file", "文件中没有题目"))
    if len(result.errors) > MAX_ERRORS:
        dropped = len(result.errors) - MAX_ERRORS
        del result.errors[MAX_ERRORS:]
        result.errors.append(RowError(0, "file", f"另有 {dropped} 处错误未列出"))
    return result


def _add(result: ParsedFile, seen: dict[str, int], row: int, raw: dict[str, Any]) -> None:
    try:
        draft = build_question(
            kind=raw.get("kind"),
            stem=raw.get("stem"),
            options=raw.get("options", []),
            answer=raw.get("answer"),
            points=raw.get("points"),
            explanation=raw.get("explanation", ""),
        )
    except QuestionError as exc:
        result.errors.append(RowError(row, exc.field, exc.message))
        return
    key = fingerprint(draft)
    if key in seen:
        result.errors.append(RowError(row, "stem", f"与第 {seen[key]} 行的题目重复"))
        return
    seen[key] = row
    result.questions.append(draft)


def _parse_csv(text: str, result: ParsedFile) -> None:
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader)
    except (StopIteration, csv.Error):
        result.errors.append(RowError(1, "file", "CSV 缺少表头"))
        return
    columns = [_COLUMN_ALIASES.get(name.strip().lower()) for name in header]
    missing = [
        label
        for key, label in (
            ("kind", "题型"),
            ("stem", "题干"),
            ("answer", "答案"),
            ("points", "分值"),
        )
        if key not in columns
    ]
    if missing:
        result.errors.append(RowError(1, "header", f"表头缺少列：{'、'.join(missing)}"))
        return
    seen: dict[str, int] = {}
    row_number = 1
    try:
        for cells in reader:
            row_number += 1
            if not any(cell.strip() for cell in cells):
                continue
            if len(result.questions) + len(result.errors) >= MAX_QUESTIONS:
                result.errors.append(
                    RowError(row_number, "file", f"题目过多（最多 {MAX_QUESTIONS} 题）")
                )
                return
            _add(result, seen, row_number, _csv_row(columns, cells))
    except csv.Error as exc:
        result.errors.append(RowError(row_number, "file", f"CSV 格式错误：{exc}"))


def _csv_row(columns: list[str | None], cells: list[str]) -> dict[str, Any]:
    raw: dict[str, Any] = {}
    lettered: dict[str, str] = {}
    for name, cell in zip(columns, cells, strict=False):
        if name is None:
            continue
        if name.startswith("option:"):
            if cell.strip():
                lettered[name[-1]] = cell
        elif name == "options":
            raw["options"] = [part for part in cell.split("|") if part.strip()]
        else:
            raw[name] = cell
    if lettered:
        # Options must be contiguous from A: a gap (A, B, D) is an error, not a shift.
        letters = sorted(lettered)
        expected = list(LETTERS[: len(letters)])
        raw["options"] = (
            [lettered[letter] for letter in letters]
            if letters == expected
            else [lettered.get(letter, "") for letter in LETTERS[: LETTERS.index(letters[-1]) + 1]]
        )
    return raw


_JSON_KEYS: dict[str, str] = {
    **{k: v for k, v in _COLUMN_ALIASES.items() if not v.startswith("option:")},
}


def _parse_json(text: str, result: ParsedFile) -> None:
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        result.errors.append(RowError(0, "file", f"JSON 格式错误（第 {exc.lineno} 行）：{exc.msg}"))
        return
    items = document.get("questions") if isinstance(document, dict) else document
    if not isinstance(items, list):
        result.errors.append(RowError(0, "file", "JSON 应为题目列表，或含 questions 列表的对象"))
        return
    if len(items) > MAX_QUESTIONS:
        result.errors.append(RowError(0, "file", f"题目过多（最多 {MAX_QUESTIONS} 题）"))
        return
    seen: dict[str, int] = {}
    for position, item in enumerate(items, start=1):
        if not isinstance(item, dict):
            result.errors.append(RowError(position, "file", "每道题应为一个对象"))
            continue
        raw = {_JSON_KEYS[k.lower()]: v for k, v in item.items() if k.lower() in _JSON_KEYS}
        _add(result, seen, position, raw)
