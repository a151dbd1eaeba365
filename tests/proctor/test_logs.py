"""Structured logs (rule O2): one JSON object a line, the process on every
line and, inside a device's connection, the attempt and the device."""

from __future__ import annotations

import asyncio
import io
import json
import logging

from proctor.logs import JsonFormatter, bind


def _capture() -> tuple[logging.Logger, io.StringIO]:
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(JsonFormatter(role="web"))
    logger = logging.getLogger("test.logs")
    logger.handlers[:] = [handler]
    logger.propagate = False
    logger.setLevel(logging.INFO)
    return logger, out


def test_a_line_is_one_json_object_with_the_process() -> None:
    logger, out = _capture()
    logger.warning("Redis 不可用 %s", "now")
    line = json.loads(out.getvalue())
    assert line["msg"] == "Redis 不可用 now" and line["level"] == "warning"
    assert line["process"]["role"] == "web" and line["process"]["pid"] > 0
    assert "attempt" not in line


async def test_lines_inside_a_connection_carry_its_attempt_and_device() -> None:
    logger, out = _capture()

    async def connection(attempt_id: int, device: str) -> None:
        with bind(attempt_id, device):
            await asyncio.sleep(0)
            logger.info("inside")

    # two connections at once: each task keeps its own (contextvars)
    await asyncio.gather(connection(7, "pc"), connection(8, "phone"))
    logger.info("outside")
    lines = [json.loads(x) for x in out.getvalue().splitlines()]
    inside = sorted((x["attempt"], x["device"]) for x in lines if x["msg"] == "inside")
    assert inside == [(7, "pc"), (8, "phone")]
    assert "attempt" not in next(x for x in lines if x["msg"] == "outside")


def test_an_exception_is_kept_in_the_line() -> None:
    logger, out = _capture()
    try:
        raise ValueError("boom")
    except ValueError:
        logger.exception("failed")
    line = json.loads(out.getvalue())
    assert "ValueError: boom" in line["exc"]
