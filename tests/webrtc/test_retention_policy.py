"""Rule K2: retention per kind of evidence — recordings swept on their own
retention, an administrator's deletion takes the recording too, both
audited; the dry-run report (and ``proctor retention report``) deletes
nothing. Real PostgreSQL, the local evidence store on disk."""

from __future__ import annotations

import argparse
import dataclasses
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import pytest

from proctor.cli import build_parser, cmd_retention_report
from proctor.settings import Settings
from tests.support.rtc_attempts import open_attempt
from tests.support.users import create_user
from webrtc.object_store import LocalObjectStore
from webrtc.retention import (
    RetentionPolicy,
    delete_attempt_evidence,
    retention_report,
    sweep_recordings,
)
from webrtc.storage import FileSnapshotStore

ANCIENT = datetime.now(UTC) - timedelta(days=3000)  # older than any other test's rows


async def segment(
    pool: asyncpg.Pool, objects: LocalObjectStore, attempt_id: int, ended_at: datetime
) -> str:
    key = f"recordings/{attempt_id}/camera-{int(ended_at.timestamp() * 1000)}.webm"
    objects.put_bytes(key, b"\x1aE\xdf\xa3 a segment")
    async with pool.acquire() as conn:
        await conn.execute(
            """INSERT INTO recording_segments
                   (attempt_id, track, started_at, ended_at, path, size_bytes, frames)
               VALUES ($1, 'camera', $2, $2, $3, 15, 10)""",
            attempt_id,
            ended_at,
            key,
        )
    return key


async def test_recordings_are_swept_on_their_own_retention(
    pool: asyncpg.Pool, settings: Settings, tmp_path: Path
) -> None:
    objects = LocalObjectStore(tmp_path)
    attempt = await open_attempt(pool, settings)
    old = await segment(pool, objects, attempt.id, ANCIENT)
    recent = await segment(pool, objects, attempt.id, datetime.now(UTC))
    result = await sweep_recordings(pool, objects, datetime.now(UTC), retention_days=2000)
    assert result == {"recordings": 1, "files": 1}
    assert objects.size(old) is None and objects.size(recent) is not None
    async with pool.acquire() as conn:
        left = await conn.fetch(
            "SELECT path FROM recording_segments WHERE attempt_id = $1", attempt.id
        )
        audit = await conn.fetchrow(
            """SELECT * FROM evidence_deletions WHERE kind = 'retention'
                AND evidence = 'recordings' ORDER BY id DESC LIMIT 1"""
        )
    assert [r["path"] for r in left] == [recent]
    assert audit["recordings"] == 1 and "2000 days" in audit["reason"]


async def test_an_administrators_deletion_takes_the_recording_and_is_audited(
    pool: asyncpg.Pool, settings: Settings, tmp_path: Path
) -> None:
    objects = LocalObjectStore(tmp_path)
    store = FileSnapshotStore(tmp_path / "snapshots")
    attempt = await open_attempt(pool, settings)
    admin = await create_user(pool, "admin")
    key = await segment(pool, objects, attempt.id, datetime.now(UTC))
    result = await delete_attempt_evidence(
        pool, store, attempt.id, admin.id, "考生申请删除（测试）", objects=objects
    )
    assert result == {"snapshots": 0, "recordings": 1, "files": 1}
    assert objects.size(key) is None
    async with pool.acquire() as conn:
        audit = await conn.fetchrow(
            "SELECT * FROM evidence_deletions WHERE attempt_id = $1", attempt.id
        )
    assert audit["kind"] == "admin" and audit["deleted_by"] == admin.id
    assert audit["evidence"] == "snapshots,recordings" and audit["recordings"] == 1


async def test_the_dry_run_reports_every_kind_and_deletes_nothing(
    pool: asyncpg.Pool, settings: Settings, tmp_path: Path
) -> None:
    objects = LocalObjectStore(tmp_path)
    attempt = await open_attempt(pool, settings)
    key = await segment(pool, objects, attempt.id, ANCIENT)
    policy = RetentionPolicy(snapshots=2500, recordings=2000, documents=2190, decisions=2190)
    async with pool.acquire() as conn:
        report = await retention_report(conn, policy, datetime.now(UTC))
        still = await conn.fetchval("SELECT count(*) FROM recording_segments WHERE path = $1", key)
    assert report["dry_run"] is True and still == 1 and objects.size(key) is not None
    kinds = report["kinds"]
    assert set(kinds) == {"snapshots", "recordings", "documents", "decisions"}
    assert kinds["recordings"]["retention_days"] == 2000
    assert kinds["recordings"]["expired"] >= 1 and kinds["recordings"]["expired_bytes"] >= 15
    assert kinds["decisions"]["deleted_by_sweep"] is False  # kept long, only reported
    assert kinds["recordings"]["deleted_by_sweep"] is True


def test_the_policy_comes_from_the_settings(settings: Settings) -> None:
    configured = dataclasses.replace(
        settings,
        snapshot_retention_days=30,
        evidence=dataclasses.replace(
            settings.evidence,
            retention_days={"recordings": 90, "documents": 2190, "decisions": 2190},
        ),
    )
    assert RetentionPolicy.from_settings(configured) == RetentionPolicy(30, 90, 2190, 2190)


def test_the_cli_prints_the_dry_run(settings: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    args = build_parser().parse_args(["retention", "report"])
    assert args.func is cmd_retention_report
    assert cmd_retention_report(settings, argparse.Namespace()) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["dry_run"] is True
    assert printed["kinds"]["decisions"]["retention_days"] == 2190  # 6 years by default
