"""Training records (rule B7): CSV parsing with per-row errors, idempotent import, the CLI."""

from __future__ import annotations

import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import asyncpg
import pytest

from exam_api.training import CsvFormatError, TableLookup, import_csv, parse_csv
from proctor.settings import Settings
from tests.support.accounts import unique_id_card


def test_parse_reports_bad_rows_with_line_numbers() -> None:
    good = unique_id_card()
    text = (
        "身份证号,姓名,考试类别,学时,企业名称\n"
        f"{good},张三,c2,32,某建筑公司\n"
        "110105194912310021,李四,A,40,\n"  # bad check digit
        f"{unique_id_card()},王五,D,40,\n"  # bad category
        f"{unique_id_card()},赵六,B,abc,\n"  # hours not a number
        "\n"
    )
    records, errors, seen = parse_csv(text)
    assert seen == 4
    assert [(r.id_card, r.category, r.hours) for r in records] == [(good, "C2", Decimal("32.0"))]
    assert [e.line for e in errors] == [3, 4, 5]
    assert "校验位" in errors[0].message


def test_missing_columns_make_the_file_unusable() -> None:
    with pytest.raises(CsvFormatError):
        parse_csv("id_card,real_name\n")
    with pytest.raises(CsvFormatError):
        parse_csv("")


async def test_import_is_idempotent_and_updates(pool: asyncpg.Pool) -> None:
    card = unique_id_card()
    text = f"id_card,real_name,category,hours\n{card},张三,A,12\n"
    progress: list[tuple[int, int]] = []
    async with pool.acquire() as conn:
        first = await import_csv(conn, text, lambda done, total: progress.append((done, total)))
        again = await import_csv(conn, text)
        assert (first.imported, again.imported) == (1, 1)
        assert (
            await conn.fetchval("SELECT count(*) FROM training_records WHERE id_card = $1", card)
            == 1
        )
        await import_csv(conn, text.replace(",12", ",33.5"))
        record = await TableLookup().lookup(conn, card)
    assert progress == [(1, 1)]
    assert record is not None and record.hours == Decimal("33.5") and record.complete


def test_cli_import_training(settings: Settings, tmp_path: Path, pool: asyncpg.Pool) -> None:
    """``proctor import-training FILE.csv``: progress bar, per-row errors, exit code 1 on errors."""
    card = unique_id_card()
    csv_file = tmp_path / "training.csv"
    csv_file.write_text(
        f"id_card,real_name,category,hours\n{card},张三,C1,32\nbad,李四,A,1\n", encoding="utf-8"
    )
    env = {
        **os.environ,
        "PROCTOR_DATABASE_URL": settings.database_url or "",
        "PROCTOR_REDIS_URL": settings.redis_url or "",
        "PROCTOR_DATA_DIR": str(settings.data_dir),
    }
    done = subprocess.run(
        [sys.executable, "-m", "proctor.cli", "import-training", str(csv_file)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1, done.stderr
    assert "1/1" in done.stdout and "1 records imported, 1 rows with errors" in done.stdout
    assert "line 3" in done.stderr
