"""An S3-compatible server for the object-store tests: moto's standalone
server (``moto[server]``), a subprocess on loopback, spoken to over HTTP by
the real boto3 client. What it does not prove: docs/storage.md."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass

import boto3
import httpx
import pytest

from tests.support.live import free_port


@dataclass(frozen=True)
class S3Server:
    endpoint: str
    region: str = "us-east-1"
    access_key: str = "proctor-test"
    secret_key: str = "proctor-test-secret"

    def client(self) -> object:
        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            region_name=self.region,
            aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret_key,
        )


def _wait_until_up(endpoint: str, process: subprocess.Popen[bytes], within_s: float) -> None:
    deadline = time.monotonic() + within_s
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"moto_server exited with {process.returncode}")
        try:
            httpx.get(endpoint + "/moto-api/", timeout=1.0)
            return
        except httpx.TransportError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)  # a subprocess starting: its port opens when it is ready


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3Server]:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        endpoint = f"http://127.0.0.1:{port}"
        _wait_until_up(endpoint, process, 30.0)
        yield S3Server(endpoint)
    finally:
        process.terminate()
        process.wait(timeout=15)
