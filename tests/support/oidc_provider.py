"""The tests' real OpenID provider: Node's oidc-provider (tests/oidc/provider.mjs)
as a subprocess on 127.0.0.1 and a free port, stopped at teardown."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[2]
PROVIDER_DIR = ROOT / "tests" / "oidc"
CLIENT_ID = "proctor-exam"
CLIENT_SECRET = "test-client-secret-0123456789"
# the province's claim names (姓名, 身份证号, 手机号码) and how the settings map them
CLAIMS_SETTING = "real_name:xm,id_card:sfzh,phone:sjhm"
SCOPES = "openid msb_profile"
START_TIMEOUT_S = 30.0


@dataclass
class OidcProvider:
    issuer: str
    proc: asyncio.subprocess.Process

    async def sign_with_other_key(self, other: bool) -> None:
        """Make the token endpoint's ID tokens signed with a key the JWKS does
        not hold (under the published key id), or with the real one again."""
        async with httpx.AsyncClient() as client:
            response = await client.post(
                f"{self.issuer}/__test__/signing/{'other' if other else 'real'}"
            )
            response.raise_for_status()

    async def stop(self) -> None:
        if self.proc.returncode is None:
            self.proc.terminate()
            try:
                await asyncio.wait_for(self.proc.wait(), timeout=10)
            except TimeoutError:
                self.proc.kill()
                await self.proc.wait()


async def start_oidc_provider(
    workdir: Path, *, redirect_uri: str, post_logout_redirect_uri: str, users: dict[str, Any]
) -> OidcProvider:
    """Start the provider with a client for these URIs and these users (login → claims)."""
    subprocess.run(["bash", str(ROOT / "scripts" / "ensure-oidc-provider.sh")], check=True)
    config = workdir / "oidc-provider.json"
    config.write_text(
        json.dumps(
            {
                "client_id": CLIENT_ID,
                "client_secret": CLIENT_SECRET,
                "redirect_uri": redirect_uri,
                "post_logout_redirect_uri": post_logout_redirect_uri,
                "users": users,
            },
            ensure_ascii=False,
        ),
        encoding="utf-8",
    )
    # One retry: a provider that does not come up is started once more, and
    # the error names what its stderr said (CI saw one start that never printed
    # READY within 30 s, once in hundreds; the log tells where it stood next time).
    for attempt in (1, 2):
        log_path = workdir / f"oidc-provider-{attempt}.log"
        provider = await _start(config, log_path)
        try:
            line = await asyncio.wait_for(_ready_line(provider.proc), timeout=START_TIMEOUT_S)
        except (TimeoutError, RuntimeError) as exc:
            await provider.stop()
            said = log_path.read_text(encoding="utf-8", errors="replace")[-2000:]
            failure = f"the OpenID provider was not ready ({exc!r}); its stderr: {said!r}"
            if attempt == 2:
                raise RuntimeError(failure) from exc
            print(f"{failure}; starting it once more", file=sys.stderr)
            continue
        except BaseException:
            await provider.stop()
            raise
        provider.issuer = line.split(" ", 1)[1]
        return provider
    raise AssertionError("unreachable")


async def _start(config: Path, log_path: Path) -> OidcProvider:
    with log_path.open("wb") as log:
        proc = await asyncio.create_subprocess_exec(
            "node",
            str(PROVIDER_DIR / "provider.mjs"),
            str(config),
            cwd=PROVIDER_DIR,
            stdout=asyncio.subprocess.PIPE,
            stderr=log,  # its warnings and start-up stages, read back if it fails
        )
    return OidcProvider(issuer="", proc=proc)


async def _ready_line(proc: asyncio.subprocess.Process) -> str:
    stdout = proc.stdout
    if stdout is None:
        raise RuntimeError("no stdout")
    while True:
        raw = await stdout.readline()
        if not raw:
            raise RuntimeError("the OpenID provider stopped before it was ready")
        line = raw.decode().strip()
        if line.startswith("READY "):
            return line
