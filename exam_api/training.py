"""Training records from the province's online training system (rule B7).

A record says, for one ID-card number, how many study hours are complete
and which exam category the training was for.  ``TrainingLookup`` is the
seam a real training-system client replaces; the default reads the
``training_records`` table, filled by ``proctor import-training FILE.csv``.
The import is idempotent (an upsert per ID-card number) and reports every
bad row with its line number instead of stopping.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, Protocol

from exam_api.idcard import IdCardError, parse_id_card

REQUIRED_HOURS = Decimal(32)  # rule B2
CATEGORIES = ("A", "B", "C1", "C2")
CATEGORY_NAMES = {
    "A": "企业主要负责人（A）",
    "B": "项目负责人（B）",
    "C1": "机械类专职安全员（C1）",
    "C2": "土建类专职安全员（C2）",
}

# Column names accepted in the CSV header (English or the training system's Chinese).
_COLUMNS = {
    "id_card": ("id_card", "身份证号", "身份证号码"),
    "real_name": ("real_name", "name", "姓名"),
    "category": ("category", "考试类别", "类别"),
    "hours": ("hours", "学时", "已完成学时"),
    "company_name": ("company_name", "company", "企业名称", "单位名称"),
}
_REQUIRED = ("id_card", "real_name", "category", "hours")


@dataclass(frozen=True)
class TrainingRecord:
    id_card: str
    real_name: str
    category: str
    hours: Decimal
    company_name: str | None = None

    @property
    def complete(self) -> bool:
        return self.hours >= REQUIRED_HOURS

    @property
    def missing_hours(self) -> Decimal:
        return max(Decimal(0), REQUIRED_HOURS - self.hours)


@dataclass(frozen=True)
class RowError:
    line: int
    message: str


class TrainingLookup(Protocol):
    async def lookup(self, conn: Any, id_card: str) -> TrainingRecord | None: ...


class TableLookup:
    """The default lookup: the imported ``training_records`` table."""

    async def lookup(self, conn: Any, id_card: str) -> TrainingRecord | None:
        row = await conn.fetchrow(
            "SELECT id_card, real_name, category, hours, company_name"
            " FROM training_records WHERE id_card = $1",
            id_card,
        )
        if row is None:
            return None
        return TrainingRecord(
            id_card=row["id_card"],
            real_name=row["real_name"],
            category=row["category"],
            hours=row["hours"],
            company_name=row["company_name"],
        )


def _header_map(header: list[str]) -> dict[str, int]:
    found: dict[str, int] = {}
    for index, name in enumerate(header):
        key = name.strip().lstrip("\ufeff").lower()
        for field, aliases in _COLUMNS.items():
            if key in (a.lower() for a in aliases):
                found[field] = index
    return found


class CsvFormatError(ValueError):
    """The file as a whole is unusable (no header, missing columns)."""


def parse_csv(text: str) -> tuple[list[TrainingRecord], list[RowError], int]:
    """Parse the CSV text; returns (records, row errors, data rows seen).

    Later rows for the same ID-card number win, as they would in the table.
    """
    reader = csv.reader(io.StringIO(text))
    header = next(reader, None)
    if header is None:
        raise CsvFormatError("文件为空")
    columns = _header_map(header)
    missing = [f for f in _REQUIRED if f not in columns]
    if missing:
        raise CsvFormatError("缺少列：" + "、".join(missing))
    records: dict[str, TrainingRecord] = {}
    errors: list[RowError] = []
    seen = 0
    for row in reader:
        if not any(cell.strip() for cell in row):
            continue
        seen += 1
        line = reader.line_num
        try:
            record = _record(row, columns)
        except ValueError as exc:
            errors.append(RowError(line, str(exc)))
            continue
        records[record.id_card] = record
    return list(records.values()), errors, seen


def _cell(row: list[str], columns: dict[str, int], field: str) -> str:
    index = columns.get(field)
    return row[index].strip() if index is not None and index < len(row) else ""


def _record(row: list[str], columns: dict[str, int]) -> TrainingRecord:
    try:
        id_card = parse_id_card(_cell(row, columns, "id_card")).number
    except IdCardError as exc:
        raise ValueError(exc.message) from None
    name = _cell(row, columns, "real_name")
    if not name or len(name) > 30:
        raise ValueError("姓名为空或超过30个字符")
    category = _cell(row, columns, "category").upper()
    if category not in CATEGORIES:
        raise ValueError(f"考试类别应为 A、B、C1 或 C2，实际为 {category!r}")
    try:
        hours = Decimal(_cell(row, columns, "hours"))
    except InvalidOperation:
        raise ValueError("学时不是数字") from None
    if not hours.is_finite() or hours < 0 or hours > 10_000:
        raise ValueError("学时应在 0 至 10000 之间")
    company = _cell(row, columns, "company_name") or None
    return TrainingRecord(id_card, name, category, hours.quantize(Decimal("0.1")), company)


async def upsert(conn: Any, records: Iterable[TrainingRecord]) -> None:
    await conn.executemany(
        """INSERT INTO training_records (id_card, real_name, category, hours, company_name, updated_at)
           VALUES ($1, $2, $3, $4, $5, now())
           ON CONFLICT (id_card) DO UPDATE SET real_name = EXCLUDED.real_name,
               category = EXCLUDED.category, hours = EXCLUDED.hours,
               company_name = EXCLUDED.company_name, updated_at = now()""",
        [(r.id_card, r.real_name, r.category, r.hours, r.company_name) for r in records],
    )


@dataclass(frozen=True)
class ImportReport:
    rows: int
    imported: int
    errors: list[RowError]


async def import_csv(
    conn: Any,
    text: str,
    progress: Callable[[int, int], None] | None = None,
    batch: int = 500,
) -> ImportReport:
    """Import every good row (one transaction per batch); bad rows are reported, not fatal."""
    records, errors, seen = parse_csv(text)
    done = 0
    for start in range(0, len(records), batch):
        chunk = records[start : start + batch]
        async with conn.transaction():
            await upsert(conn, chunk)
        done += len(chunk)
        if progress is not None:
            progress(done, len(records))
    if progress is not None and not records:
        progress(0, 0)
    return ImportReport(rows=seen, imported=done, errors=errors)
