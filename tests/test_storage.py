"""Object storage and the audit trail, on `file://` and on `s3://` (boto3 against moto's S3
server over HTTP): the same tests on both."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import boto3
import pytest
from moto.server import ThreadedMotoServer

from voicedial.delivery.audit import Audit
from voicedial.delivery.storage import FileStorage, S3Storage, Storage, open_storage
from voicedial.errors import ConfigError, StorageError


class S3Server:
    """moto's S3 server on loopback. `stop()` really closes the port (moto's own stop leaves
    the socket listening, so clients would hang instead of failing); `start()` again reuses
    the port, and the buckets survive (moto keeps them in this process)."""

    def __init__(self) -> None:
        self.port = 0
        self._server: ThreadedMotoServer | None = None

    def start(self) -> None:
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.port, verbose=False)
        self._server.start()
        self.port = self._server.get_host_and_port()[1]

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server._server.server_close()  # type: ignore[union-attr]
            self._server = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def s3_environment(monkeypatch: pytest.MonkeyPatch, server: S3Server) -> str:
    """Dummy credentials, the endpoint and a fresh bucket; returns the bucket name."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")  # fail fast when the server is down
    monkeypatch.setenv("S3_ENDPOINT_URL", server.url)
    bucket = f"vd-{uuid.uuid4().hex[:12]}"
    boto3.client("s3", endpoint_url=server.url).create_bucket(Bucket=bucket)
    return bucket


@pytest.fixture(scope="session")
def moto_s3() -> Iterator[S3Server]:
    """One moto S3 server for the session (a fresh bucket per test)."""
    server = S3Server()
    server.start()
    yield server
    server.stop()


@pytest.fixture(params=["file", "s3"])
def storage(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Storage:
    """The same interface over a folder, and over a bucket prefix on moto."""
    if request.param == "file":
        return open_storage(f"file://{tmp_path / 'data'}")
    server: S3Server = request.getfixturevalue("moto_s3")
    bucket = s3_environment(monkeypatch, server)
    return open_storage(f"s3://{bucket}/voicedial/", endpoint_url=server.url)


async def test_put_get_list(storage: Storage) -> None:
    await storage.put_json("calls/profiles/2026-11-25/CA1/worker_profile.json", {"a": "é"})
    await storage.put_bytes("calls/x.bin", b"\x00\x01", "application/octet-stream")
    await storage.put_bytes("calls/x.bin", b"\x02", "application/octet-stream")
    await storage.put_bytes("audit/2026-11-25/a.jsonl", b"{}\n", "application/x-ndjson")
    assert await storage.get_json("calls/profiles/2026-11-25/CA1/worker_profile.json") == {"a": "é"}
    assert await storage.get_bytes("calls/x.bin") == b"\x02"
    assert await storage.list_keys("calls/") == [
        "calls/profiles/2026-11-25/CA1/worker_profile.json",
        "calls/x.bin",
    ]
    assert len(await storage.list_keys()) == 3
    with pytest.raises(StorageError):
        await storage.get_bytes("calls/missing.json")


async def test_audit_batches_per_day_without_numbers(storage: Storage) -> None:
    days = iter(
        [datetime(2026, 11, 25, 23, 59, tzinfo=UTC), datetime(2026, 11, 26, 0, 1, tzinfo=UTC)]
    )
    now = [next(days)]
    audit = Audit(storage, campaign="spring", worker="w1", clock=lambda: now[0])
    audit.record("call_placed", call_id="CA1", contact_id="k1", phone_hash="ab" * 32)
    audit.record(
        "call_skipped",
        contact_id="k2",
        phone_hash="cd" * 32,
        reason="on the do-not-call list (+12015550101)",
    )
    now[0] = next(days)
    audit.record("consent_given", call_id="CA1", phone_hash="ab" * 32)
    with pytest.raises(ValueError, match="phone_hash"):
        audit.record("opted_out", e164="+12015550101")
    with pytest.raises(ValueError, match="unknown"):
        audit.record("lunch")
    assert await audit.flush() == 3
    assert await audit.flush() == 0
    keys = await storage.list_keys("audit/")
    assert [k.split("/")[1] for k in keys] == ["2026-11-25", "2026-11-26"]
    assert all(
        k.startswith("audit/2026-11-2") and "spring-w1-" in k and k.endswith(".jsonl") for k in keys
    )
    rows = [
        json.loads(line)
        for k in keys
        for line in (await storage.get_bytes(k)).decode().splitlines()
    ]
    assert [r["event"] for r in rows] == ["call_placed", "call_skipped", "consent_given"]
    assert rows[1]["reason"] == "on the do-not-call list ([number])"
    assert all(r["campaign"] == "spring" and r["phone_hash"] for r in rows)
    assert "5550101" not in json.dumps(rows)


async def test_audit_keeps_records_when_storage_fails(tmp_path: Path) -> None:
    root = tmp_path / "blocked"
    root.write_text("a file where the storage folder should be")
    audit = Audit(FileStorage(root), campaign="c", worker="w")
    audit.record("profile_stored", call_id="CA1", phone_hash="ab" * 32)
    assert await audit.flush() == 0 and audit.buffered == 1
    root.unlink()
    assert await audit.flush() == 1 and audit.buffered == 0


async def test_s3_unreachable_is_a_storage_error(
    moto_s3: S3Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    bucket = s3_environment(monkeypatch, moto_s3)
    down = S3Server()
    down.start()
    url = down.url
    down.stop()
    storage = S3Storage(bucket, "p", endpoint_url=url)
    with pytest.raises(StorageError, match=f"s3://{bucket}/p/k.json"):
        await storage.put_json("k.json", {})
    with pytest.raises(StorageError):
        await storage.list_keys()


def test_open_storage_urls(tmp_path: Path) -> None:
    relative = open_storage("file://./voicedial-data")
    assert isinstance(relative, FileStorage) and relative.root == tmp_path / "voicedial-data"
    assert isinstance(open_storage(f"file://{tmp_path}"), FileStorage)
    for bad in ("s3:///prefix", "http://example.com/x", "bucket/prefix"):
        with pytest.raises(ConfigError):
            open_storage(bad)


async def test_file_keys_cannot_escape_the_root(tmp_path: Path) -> None:
    storage = FileStorage(tmp_path / "data")
    with pytest.raises(StorageError, match="escapes"):
        await storage.put_json("../outside.json", {})
