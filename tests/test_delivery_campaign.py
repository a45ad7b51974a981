"""Delivery inside a whole campaign (in this process, as in test_campaign): S3 goes down while
calls finish; the profiles are held and stored when it returns, and every webhook arrives."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import boto3
import pytest
import redis.asyncio as aioredis

from tests.support import CALLER_ID, Collector, cooperative, emulator, fictional_numbers, write_csv
from tests.test_delivery import SECRET, Receiver
from tests.test_storage import S3Server, s3_environment
from voicedial.campaign.run import RunRequest, run_campaign
from voicedial.campaign.session import EXIT_DONE
from voicedial.http import running_server
from voicedial.options import CampaignOptions
from voicedial.settings import SIM_ACCOUNT_SID, SIM_AUTH_TOKEN, load_settings
from voicedial.state.keys import CampaignKeys


@pytest.mark.timeout(60)
async def test_s3_outage_during_a_campaign_loses_no_profile(
    redis_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    s3 = S3Server()
    s3.start()
    bucket = s3_environment(monkeypatch, s3)
    numbers = fictional_numbers(4)
    csv = write_csv(tmp_path / "outage.csv", numbers, extra={"team": "north"})
    receiver = Receiver()
    client = aioredis.from_url(redis_url)
    try:
        async with (
            emulator({n: cooperative(n) for n in numbers}) as (_, api),
            running_server(receiver.app) as hooks,
        ):
            for name, value in {
                "TWILIO_ACCOUNT_SID": SIM_ACCOUNT_SID,
                "TWILIO_AUTH_TOKEN": SIM_AUTH_TOKEN,
                "VOICEDIAL_TWILIO_API_URL": api,
                "VOICEDIAL_HOME": str(tmp_path / "home"),
                "VOICEDIAL_STORAGE_URL": f"s3://{bucket}/vd",
                "VOICEDIAL_WEBHOOK_SECRET": SECRET,
                "VOICEDIAL_ALLOW_PRIVATE_WEBHOOKS": "true",
            }.items():
                monkeypatch.setenv(name, value)
            settings = load_settings()
            options = CampaignOptions(
                name="outage",
                from_number=CALLER_ID,
                account_sid=SIM_ACCOUNT_SID,
                provider="twilio",
                windows_enforced=False,
                cps=50,
                max_concurrent=10,
                max_attempts=1,
                webhook_url=f"{hooks}/hook",
            )
            s3.stop()
            run = asyncio.create_task(
                run_campaign(settings, RunRequest(csv=csv, options=options, port=0), Collector())
            )
            keys = CampaignKeys("outage")
            deadline = time.monotonic() + 30
            while await client.zcard(keys.retry) < len(numbers):  # every profile held
                assert time.monotonic() < deadline and not run.done()
                await asyncio.sleep(0.02)
            assert receiver.attempts == []  # nothing is delivered before it is stored
            s3.start()
            assert await run == EXIT_DONE
    finally:
        await client.aclose()
        s3.stop()
    assert len(receiver.delivered) == len(numbers)
    s3.start()
    try:
        s3_client = boto3.client("s3", endpoint_url=s3.url)
        listed = s3_client.list_objects_v2(Bucket=bucket, Prefix="vd/")["Contents"]
        objects = {
            o["Key"]: s3_client.get_object(Bucket=bucket, Key=o["Key"])["Body"].read()
            for o in listed
        }
    finally:
        s3.stop()
    profiles = [k for k in objects if k.endswith("/worker_profile.json")]
    assert len(profiles) == len(numbers)
    assert len([k for k in objects if k.endswith("/transcript.json")]) == len(numbers)
    audit = b"".join(v for k, v in objects.items() if k.startswith("vd/audit/"))
    events = [json.loads(line)["event"] for line in audit.splitlines()]
    assert events.count("profile_stored") == len(numbers)
    assert events.count("webhook_delivered") == len(numbers)
    blob = b"".join(objects.values())
    for number in numbers:
        assert number.encode() not in blob and number[2:].encode() not in blob
