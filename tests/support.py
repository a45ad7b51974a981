"""Helpers for the integration tests: fictional numbers, CSV and persona files, the emulator
started in the test's own loop, and `voicedial` run as a real subprocess."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from voicedial.campaign.importer import ImportSummary
from voicedial.contacts.parse import Contact
from voicedial.emulator import Emulator, Persona
from voicedial.http import running_server
from voicedial.options import CampaignOptions
from voicedial.settings import SIM_ACCOUNT_SID, SIM_AUTH_TOKEN, Settings, load_settings

# 555-01XX numbers are reserved for fiction; these area codes span several US time zones.
AREA_CODES = ("201", "312", "303", "415", "617", "713", "206", "602")
CALLER_ID = "+15005550006"


def fictional_numbers(count: int) -> list[str]:
    """`count` distinct valid fictional US numbers in E.164."""
    out = [f"+1{area}55501{n:02d}" for area in AREA_CODES for n in range(100)]
    if count > len(out):
        raise ValueError("not enough fictional numbers")
    return out[:count]


def write_csv(path: Path, numbers: Iterable[str], extra: dict[str, str] | None = None) -> Path:
    """A contact list with id, name and phone columns (plus constant extra columns)."""
    extra = extra or {}
    header = ["id", "name", "phone", *extra]
    lines = [",".join(header)]
    for i, number in enumerate(numbers):
        lines.append(",".join([f"X{i}", f"Person {i}", number, *extra.values()]))
    path.write_text("\n".join(lines) + "\n")
    return path


def personas(numbers: Iterable[str], **fields: Any) -> dict[str, Persona]:
    """The same persona (fields) for every number."""
    return {n: Persona(phone=n, **fields) for n in numbers}


def cooperative(number: str) -> Persona:
    """A consenting human with one current job."""
    return Persona(
        phone=number,
        answer="human",
        consent=True,
        name="Jo Test",
        jobs=[{"title": "Welder", "company": "Acme", "start_year": 2018, "end_year": None}],
        skills=["welding"],
        style="cooperative",
    )


def sim_env(api_url: str, redis_url: str, home: Path) -> dict[str, str]:
    """Environment for a `voicedial` subprocess using the test's emulator as 'Twilio'."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("TWILIO_", "OPENAI_", "AWS_", "VOICEDIAL_"))
    }
    env.update(
        {
            "TWILIO_ACCOUNT_SID": SIM_ACCOUNT_SID,
            "TWILIO_AUTH_TOKEN": SIM_AUTH_TOKEN,
            "TWILIO_PHONE_NUMBER": CALLER_ID,
            "VOICEDIAL_TWILIO_API_URL": api_url,
            "REDIS_URL": redis_url,
            "VOICEDIAL_HOME": str(home),
            "VOICEDIAL_STORAGE_URL": f"file://{home / 'data'}",
        }
    )
    return env


@contextlib.asynccontextmanager
async def emulator(
    people: dict[str, Persona] | None = None, *, speed: float = 200.0
) -> AsyncIterator[tuple[Emulator, str]]:
    """The Twilio emulator over real HTTP in this test's loop."""
    emu = Emulator(
        account_sid=SIM_ACCOUNT_SID,
        auth_token=SIM_AUTH_TOKEN,
        personas=people or {},
        seed=7,
        speed=speed,
    )
    try:
        async with running_server(emu.app) as url:
            yield emu, url
    finally:
        await emu.aclose()


@dataclass
class Proc:
    """A finished `voicedial` subprocess."""

    code: int
    stdout: str
    stderr: str


async def spawn_voicedial(
    *args: str, env: dict[str, str], cwd: Path, stdout: int = asyncio.subprocess.DEVNULL
) -> asyncio.subprocess.Process:
    """Start `python -m voicedial ARGS` (stderr piped) and return at once: for a test that
    acts on the process while it runs (kills it, signals it, breaks what it depends on)."""
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "voicedial",
        *args,
        env=env,
        cwd=cwd,
        stdout=stdout,
        stderr=asyncio.subprocess.PIPE,
    )


async def voicedial(*args: str, env: dict[str, str], cwd: Path, timeout: float = 60.0) -> Proc:
    """Run `python -m voicedial ARGS` without blocking the loop (the emulator lives in it)."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "voicedial",
        *args,
        env=env,
        cwd=cwd,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        out, err = await asyncio.wait_for(proc.communicate(), timeout)
    except TimeoutError:
        proc.kill()
        out, err = await proc.communicate()
        detail = f"{out.decode()}\n{err.decode()}"
        raise AssertionError(f"voicedial {args} timed out:\n{detail}") from None
    assert proc.returncode is not None
    return Proc(proc.returncode, out.decode(), err.decode())


class Collector:
    """A Reporter that keeps what it was told."""

    def __init__(self) -> None:
        self.notices: list[str] = []
        self.summary: ImportSummary | None = None
        self.last: dict[str, Any] | None = None

    def notice(self, message: str) -> None:
        self.notices.append(message)

    def imported(self, summary: ImportSummary, *, final: bool) -> None:
        if final:
            self.summary = summary

    def update(self, status: dict[str, Any]) -> None:
        self.last = status

    def finished(self, status: dict[str, Any], exit_code: int) -> None:
        self.last = status
        self.exit_code = exit_code


def json_lines(text: str) -> list[dict[str, Any]]:
    """Parse JSON log lines (skipping anything else)."""
    out = []
    for line in text.splitlines():
        with contextlib.suppress(json.JSONDecodeError):
            out.append(json.loads(line))
    return out


def sim_settings(monkeypatch: pytest.MonkeyPatch, api_url: str, tmp_path: Path) -> Settings:
    """Settings of an in-process campaign that calls the test's emulator as "Twilio"."""
    monkeypatch.setenv("TWILIO_ACCOUNT_SID", SIM_ACCOUNT_SID)
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", SIM_AUTH_TOKEN)
    monkeypatch.setenv("VOICEDIAL_TWILIO_API_URL", api_url)
    monkeypatch.setenv("VOICEDIAL_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("VOICEDIAL_STORAGE_URL", f"file://{tmp_path / 'data'}")
    return load_settings()


def campaign_options(name: str, **kw: object) -> CampaignOptions:
    """A campaign's options for tests: fast, one attempt, no calling windows (unless `kw`)."""
    base: dict[str, object] = dict(
        name=name,
        from_number=CALLER_ID,
        account_sid=SIM_ACCOUNT_SID,
        provider="twilio",
        windows_enforced=False,
        cps=50,
        max_concurrent=50,
        max_attempts=1,
        retry_delay_s=0,
    )
    base.update(kw)
    return CampaignOptions(**base)  # type: ignore[arg-type]


def sliding_max(times: list[float], width: float = 1.0) -> int:
    """The most of `times` in any window `width` long."""
    times = sorted(times)
    best, lo = 0, 0
    for hi, t in enumerate(times):
        while t - times[lo] >= width:
            lo += 1
        best = max(best, hi - lo + 1)
    return best


def make_contact(contact_id: str, number: str, *, row: int = 1, **fields: Any) -> Contact:
    """A contact as the import makes it (phone hash derived from the id; no zones)."""
    values: dict[str, Any] = dict(
        contact_id=contact_id,
        e164=number,
        phone_hash=(contact_id * 64)[:64],
        external_id=None,
        name=None,
        timezones=(),
        webhook_url=None,
        context={},
        row=row,
    )
    values.update(fields)
    return Contact(**values)
